"""Instrument roles: a small vocabulary and a keyword normaliser for labels and file names.

Corpora label instruments in their own words (MedleyDB ``"distorted electric guitar"``, Slakh
``"Synth Pad"``, Mixing Secrets file names ``"07_ElecGtr2_DI.wav"``). :func:`normalise_role` maps
any such text to one of :data:`ROLES` with ordered keyword rules (first match wins), so
``"bass drum"`` is drums, ``"bass clarinet"`` winds and ``"synth bass"`` bass.
"""

from __future__ import annotations

import re

from mixdown.errors import UsageError

#: the role vocabulary of manifest tracks
ROLES = ("drums", "bass", "keys", "guitar", "strings", "vocals", "lead", "brass", "winds", "synth",
         "percussion", "fx", "other")

# ordered (role, pattern) rules, matched against the normalised text (see _words); first match wins
_RULES: tuple[tuple[str, str], ...] = (
    ("fx", r"\b(fx|sfx|effects?|sound effects?|processed( sound)?|scratch(es|ing)?|riser|foley|noise)\b"),
    ("drums", r"\b(drums?|drum ?(set|kit|machine|loop)s?|kit|kick\w*|kik|bd|bass ?drum|snares?|snr|sn|sd|"
              r"hh|hi ?-?hats?|high ?hats?|hats?|overheads?|ovh|oh[lr]?|toms?|floor ?tom|rack ?tom|ride|"
              r"crash|cymbals?|rooms?|breakbeat)\b"),
    ("vocals", r"\b(vocals?|vocalists?|vox|voc|voices?|voix|vo|singers?|choir|chorus vox|rap(per)?|bvs?|b vs|bg ?vs?|"
               r"backing|speakers?|speech|spoken|narrat\w*|beatbox\w*)\b"),
    ("brass", r"\b(brass|trumpets?|tpt|trombones?|tbn|tuba|horns?|french horn|flugel\w*|cornet|euphonium)\b"),
    ("winds", r"\b(winds?|woodwinds?|reeds?|pipe|sax\w*|flutes?|piccolo|clarinets?|bass clarinet|oboe|"
              r"bassoon|recorder|harmonica|melodica|accordion|dizi|whistle|bagpipes?|pan ?flute)\b"),
    ("bass", r"\b(bass(es)?|bs|double bass|contrabass|upright|sub ?bass|808)\b"),
    ("guitar", r"\b(guitars?|gtrs?|guit\w*|banjo|mandolin|ukulele|uke|lap steel|dobro|oud|lute|"
               r"zhongruan|liuqin|sitar)\b"),
    ("keys", r"\b(keys|keyboards?|kbd|piano|pianos|pno|e ?piano|organ|hammond|b3|rhodes|wurli\w*|clav\w*|"
             r"harpsichord|celesta|mellotron)\b"),
    ("lead", r"\b(synth ?lead|lead ?synth)\b"),  # General MIDI's "Synth Lead" family names a melody
    ("synth", r"\b(synths?|synthesi[sz]ers?|pads?|arp\w*|sampler|moog|juno)\b"),
    ("strings", r"\b(strings?|strg|violins?|vln|vl|violas?|vla|cellos?|vc|vlc|violoncello|fiddle|harp|"
                r"erhu|guzheng|yangqin|orchestra\w*)\b"),
    ("percussion", r"\b(perc\w*|shakers?|tamb\w*|congas?|bongos?|cajon|timbales|timpani|glock\w*|vibes|"
                   r"vibraphone|marimba|xylophone|claps?|handclaps?|snaps?|cowbell|triangle|woodblock|guiro|"
                   r"djembe|tabla|darbuka|doumbek|gong|chimes|bells?|castanets?)\b"),
    ("lead", r"\b(lead|solo|melody)\b"),
)
# a second pass for run-together names ("elecgtr", "leadvox"): distinctive fragments anywhere
_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("drums", r"kick|snare|hihat|drum|overhead"), ("vocals", r"vox|vocal|bgv"), ("guitar", r"gtr|guitar"),
    ("keys", r"piano|organ"), ("bass", r"bass"), ("synth", r"synth"), ("strings", r"violin|cello|string"),
    ("percussion", r"perc|shaker|conga"), ("brass", r"trumpet|trombone"), ("winds", r"sax|flute"),
)
_COMPILED = tuple((role, re.compile(p)) for role, p in _RULES)
_COMPILED_FRAGMENTS = tuple((role, re.compile(p)) for role, p in _FRAGMENTS)


def _words(text: str) -> str:
    """Lower-case words of a label or file name: camel case, digits and separators split.

    ``"07_ElecGtr2_DI"`` -> ``"07 elec gtr 2 di"``, ``"HiHat"`` -> ``"hi hat"``.
    """
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", s)
    s = re.sub(r"([^\W\d_])(\d)", r"\1 \2", s)
    s = re.sub(r"(\d)([^\W\d_])", r"\1 \2", s)
    s = re.sub(r"[\W_]+", " ", s.lower())
    return " ".join(s.split())


def role_of(text: str | None) -> str | None:
    """The role one label names, or None when no keyword matches."""
    if not text:
        return None
    words = _words(str(text))
    if words in ROLES:
        return words
    for rules in (_COMPILED, _COMPILED_FRAGMENTS):
        for role, pattern in rules:
            if pattern.search(words):
                return role
    return None


def role_indices(names: list[str] | tuple[str, ...]) -> list[int]:
    """Each track name's role as an index into :data:`ROLES` (``"other"`` where the name says
    nothing): what a model conditioned on roles hears, the same at training and at mixing time."""
    return [ROLES.index(normalise_role(n)) for n in names]


def read_role_levels(path) -> dict[str, float]:
    """Per-role level offsets (dB) from a JSON file: ``{"offsets_db": {role: dB}}`` as
    ``scripts/role_levels.py --out`` writes it (``weights/role_levels.json``), or the mapping
    itself. :class:`mixdown.errors.UsageError` naming the file for one that is unreadable or malformed."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable JSON file ({e}); write one with "
                         "'python scripts/role_levels.py ... --out FILE'") from e
    offsets = data.get("offsets_db", data) if isinstance(data, dict) else None
    if not isinstance(offsets, dict) or not all(isinstance(v, (int, float)) for v in offsets.values()):
        raise UsageError(f"{path}: expected {{\"offsets_db\": {{role: dB, ...}}}}")
    return {str(k): float(v) for k, v in offsets.items()}


#: The finer roles the synthetic corpus's engineering prior (:mod:`mixdown.data.prior`) sets a track
#: by, each under one of :data:`ROLES`: the same vocabulary at a finer grain (the kick, snare, kit
#: and overall drums, lead and backing vocals, pads), with which the synthetic corpus names tracks.
PRIOR_ROLES: dict[str, str] = {
    "kick": "drums", "snare": "drums", "drums": "drums", "kit": "drums", "perc": "percussion", "bass": "bass",
    "keys": "keys", "guitar": "guitar", "strings": "strings", "pad": "synth", "brass": "brass", "winds": "winds",
    "lead": "lead", "lead_vocal": "vocals", "backing_vocal": "vocals", "other": "other"}
#: The prior role a track of each role gets when its name names no finer one.
ROLE_PRIOR: dict[str, str] = {
    "drums": "drums", "bass": "bass", "keys": "keys", "guitar": "guitar", "strings": "strings", "vocals": "lead",
    "lead": "lead", "brass": "brass", "winds": "winds", "synth": "keys", "percussion": "perc", "fx": "other",
    "other": "other"}


def prior_role_of(name: str) -> str:
    """The prior role a synthetic corpus's track name gives (``"guitar_2"`` -> ``"guitar"``,
    ``"backing_vocal_2"`` -> ``"backing_vocal"``); ``"other"`` for any other name."""
    base = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name
    return base if base in PRIOR_ROLES else "other"


def prior_role(name: str, role: str | None = None) -> str:
    """The prior role of a track: the kick or snare its name says, else ``role`` when it is a prior
    role already, else the prior role of ``role`` (or of the role its name says, :func:`normalise_role`)."""
    own = prior_role_of(name)
    if own in ("kick", "snare"):
        return own
    return role if role in PRIOR_ROLES else ROLE_PRIOR.get(role or normalise_role(name), "other")


def normalise_role(*labels: str | None) -> str:
    """The first role found in ``labels`` (tried in order, e.g. instrument label then file name).

    Returns one of :data:`ROLES`; ``"other"`` when nothing matches.
    """
    for label in labels:
        role = role_of(label)
        if role is not None:
            return role
    return "other"


#: Finer roles ("parts") as engineers' sessions name them (MixologyDB's instrument subtypes): the
#: separate microphones of one drum kit, lead and backing vocals, electric and acoustic guitars.
#: Each part belongs to one of :data:`ROLES` (:data:`PART_ROLE`).
PARTS = ("kick", "snare", "tom", "hihat", "overheads", "room", "percussion", "bass",
         "electric_guitar", "acoustic_guitar", "keys", "lead_vocal", "backing_vocal", "other")
PART_ROLE = {"kick": "drums", "snare": "drums", "tom": "drums", "hihat": "drums", "overheads": "drums",
             "room": "drums", "percussion": "percussion", "bass": "bass", "electric_guitar": "guitar",
             "acoustic_guitar": "guitar", "keys": "keys", "lead_vocal": "vocals", "backing_vocal": "vocals",
             "other": "other"}
#: the prior role (:data:`PRIOR_ROLES`) of each part
PART_PRIOR = {
    "kick": "kick",
    "snare": "snare",
    "tom": "drums",
    "hihat": "kit",
    "overheads": "kit",
    "room": "kit",
    "percussion": "perc",
    "bass": "bass",
    "electric_guitar": "guitar",
    "acoustic_guitar": "guitar",
    "keys": "keys",
    "lead_vocal": "lead_vocal",
    "backing_vocal": "backing_vocal",
    "other": "other",
}
# ordered (part, pattern) rules on the words of a track name (see _words); first match wins
_PART_RULES: tuple[tuple[str, str], ...] = (
    ("kick", r"\b(kick\w*|kik|bd|bass ?drum|k ?(in|out)|kin|kout)\b"),
    ("backing_vocal", r"\b(bg\w*|bgv|bk ?v\w*|bck ?v?\w*|bvs?|backing|back|backs|harm\w*|choir|gang ?m?|"
                      r"ahs?|a+h+|oohs?|bops?|vamp|chorus vox)\b"),
    ("lead_vocal", r"\b(vocals?|vox|voc|vo|ld ?v\w*|ldc\w*|lead ?(vox|voc\w*|v)|voices?|singers?|rap)\b"),
    ("acoustic_guitar", r"\b(ac|act|acoustic|a ?gtr|a ?guit\w*|ac ?(gtr|guit\w*|git))\b"),
    ("electric_guitar", r"\b(e ?gtrs?|gtrs?|guitars?|guit\w*|gits?|slide|leslie|gel)\b"),
    ("bass", r"\b(bass(es)?|bs|upright|sub ?bass|808)\b"),
    ("keys", r"\b(e ?keys|keys?|keyz|keyboards?|piano|pno|organ|org\w*|hammond|b3|rhodes|wu?rl\w*|"
             r"synth\w*|pad|accord\w*|clav\w*)\b"),
    ("snare", r"\b(snares?|snr|sn ?[tb]?|sd|sn ?(top|bot\w*|up|down))\b"),
    ("tom", r"\b(toms?|floor|flr|fl ?tom|rack|t [1-4])\b"),
    ("hihat", r"\b(hh|hi ?-?hats?|high ?hats?|hats?)\b"),
    ("room", r"\b(rooms?|rm|dr ?rm|amb\w*|mono ?dr)\b"),
    ("overheads", r"\b(overheads?|over ?heads?|oh[lr]?|st ?oh|ride|crash|cymbals?|coles|kit)\b"),
    ("percussion", r"\b(perc\w*|shakers?|tamb\w*|tmb|congas?|bongos?|bells?|snaps?|claps?|cowbell|"
                   r"rain ?stick|triangle|cajon)\b"),
)
_PART_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("kick", r"kick"), ("snare", r"snare"), ("hihat", r"hihat"), ("overheads", r"overhead"),
    ("backing_vocal", r"bgv|backvo"), ("lead_vocal", r"leadvo|ldvo|vox|vocal"), ("bass", r"bass"),
    ("acoustic_guitar", r"acgtr|acguit|acgit"), ("electric_guitar", r"gtr|guitar"),
    ("keys", r"piano|organ|keys"), ("percussion", r"tamb|shaker"),
)
_COMPILED_PARTS = tuple((p, re.compile(r)) for p, r in _PART_RULES)
_COMPILED_PART_FRAGMENTS = tuple((p, re.compile(r)) for p, r in _PART_FRAGMENTS)
#: a role (of :data:`ROLES`) -> the part a name with no finer clue gets
ROLE_PART = {"drums": "overheads", "bass": "bass", "keys": "keys", "guitar": "electric_guitar",
             "vocals": "lead_vocal", "lead": "lead_vocal", "percussion": "percussion", "synth": "keys"}


def part_of(name: str | None) -> str:
    """The part (of :data:`PARTS`) a track name says: ``"Kin.09"`` -> kick, ``"OH L"`` ->
    overheads, ``"BG vox 2"`` -> backing_vocal, ``"Act Guit (Stereo)"`` -> acoustic_guitar;
    a name that only says its role gets that role's usual part (:data:`ROLE_PART`), one that says
    nothing ``"other"``."""
    if not name:
        return "other"
    words = _words(str(name))
    for rules in (_COMPILED_PARTS, _COMPILED_PART_FRAGMENTS):
        for part, pattern in rules:
            if pattern.search(words):
                return part
    return ROLE_PART.get(normalise_role(name), "other")


def side_of(name: str | None) -> int:
    """-1 / +1 where a track name ends by saying left / right ("OH L", "Room1 R", "OrgODL",
    "OHR_02", "Keys CONS.L", "John Hi L"), 0 otherwise ("Paul GTR R84" names a microphone, "R Gtr"
    a rhythm guitar: neither is a side)."""
    if not name:
        return 0
    tokens = [t for t in re.split(r"[\s_.\-()]+", str(name)) if t]
    while tokens and (tokens[-1].isdigit() or tokens[-1].lower() in _SIDE_SUFFIXES):
        tokens.pop()
    if not tokens:
        return 0
    last = tokens[-1].lower()
    if last in ("l", "left") or re.search(r"(oh|od|rm|room|ovh)\d*l$", last):
        return -1
    if last in ("r", "right") or re.search(r"(oh|od|rm|room|ovh)\d*r$", last):
        return 1
    return 0


#: words after a side letter that name a take or a process, not the track ("OHL COMP_01")
_SIDE_SUFFIXES = frozenset({"cons", "comp", "cmp", "dup", "dup1", "edit", "stereo", "st", "s"})
