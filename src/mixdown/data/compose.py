"""Composition for the synthetic corpus: multi-part MIDI from MMA chord charts (grooves across
genres, a generated lead and pad) or music21 corpus pieces (General MIDI programs per part).

:func:`plan_song` draws what to make; :func:`compose` makes the :class:`Song`;
:mod:`mixdown.data.synth` splits, renders, "records" and mixes it.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixdown.data.vocals import REGISTER_CENTRE, harmony_pitch

log = logging.getLogger(__name__)
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
KICK, SNARE = frozenset({35, 36}), frozenset({37, 38, 39, 40})
FX_CC = frozenset({0, 10, 32, 91, 92, 93, 94, 95})  # bank select, pan, effect sends: dry, centred stems
_POP = ("I V vi IV", "I vi IV V", "vi IV I V", "I IV vi V", "I bVII IV I", "I IV I V")
_MINOR = ("i bVI bIII bVII", "i iv v i", "i bVII bVI V7", "i iv bVII bIII")
_JAZZ = ("ii7 V7 Imaj7 vi7", "Imaj7 vi7 ii7 V7", "iii7 vi7 ii7 V7", "Imaj7 IV7 iii7 vi7")
_BLUES = ("I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7", "I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7")
_LATIN = ("ii7 V7 Imaj7 Imaj7", "i iv V7 i", "Imaj7 ii7 iii7 ii7", "i bVII bVI V7")
_COUNTRY = ("I IV I V", "I I IV I V IV I V", "I IV V I")
#: genre: (MMA grooves, tempo range, progressions, GM drum kits)
GENRES: dict[str, tuple] = {
    "rock": (("8Beat", "BasicRock", "50sRock", "60sRock", "SoftRock", "FolkRock", "Rock128", "Twist"),
             (96, 140), _POP + _MINOR, (0, 8, 16)),
    "pop": (("PopBallad", "Ballad", "RockBallad", "PianoBallad", "GuitarBallad", "DSoul", "LFusion"),
            (70, 100), _POP + _MINOR, (0, 8, 24)),
    "jazz": (("JazzCombo", "Swing", "EasySwing", "ModernJazz", "Bebop", "JazzRock"),
             (100, 180), _JAZZ, (32, 40, 0)),
    "latin": (("BossaNova", "Samba", "Salsa", "Mambo", "Beguine", "Merengue", "Calypso"),
              (90, 130), _LATIN, (0, 8)),
    "blues": (("Blues", "SlowBlues", "ShuffleBoggie", "Strut"), (70, 120), _BLUES, (0, 8)),
    "country": (("CountrySwing", "Bluegrass", "WesternSwing", "HillCountry", "Folk"),
                (90, 140), _COUNTRY, (0, 8, 40)),
    "funk": (("R&B", "BVFunk", "Ska", "Jive", "Zydeco"), (90, 120), _POP + _MINOR, (0, 24, 25)),
    "waltz": (("Waltz", "RockWaltz", "JazzWaltz"), (90, 150), _POP + _JAZZ, (0, 32)),
}
#: lead GM programs and the centre of their melodic range (MIDI note)
LEADS = ((73, 79), (65, 70), (66, 62), (56, 70), (80, 72), (81, 72), (71, 67), (40, 76), (29, 67), (68, 74),
         (11, 74), (22, 69), (64, 72), (30, 67))
PADS = (48, 49, 50, 89, 91, 52, 19)
#: music21 corpus composers: (quarter-note tempo range, weight)
COMPOSERS = {"bach": ((60, 88), 0.45), "monteverdi": ((70, 110), 0.2), "haydn": ((80, 120), 0.1),
             "mozart": ((80, 120), 0.1), "beethoven": ((80, 120), 0.15)}
#: ensemble: GM programs for (top voice, inner voices, bottom voice)
ENSEMBLES = {"strings": ((40,), (40, 41, 48), (42, 43)), "winds": ((73, 68), (71, 68, 69, 60), (70,)),
             "brass": ((56,), (60, 57, 56), (58, 57)),
             "mixed": ((73, 40, 68, 56, 71, 11, 65), (0, 6, 19, 24, 25, 46, 41, 48, 60, 71, 89),
                       (32, 33, 42, 43, 70)),
             "band": ((65, 66, 56, 80, 29, 73), (0, 4, 24, 27, 48, 89, 16, 61), (32, 33, 34, 35))}
#: one bar of melody rhythm, in beats (negative: a rest)
_RHYTHMS = {4: ((1, 1, 1, 1), (2, 1, 1), (1.5, .5, 1, 1), (.5, .5, 1, 1, 1), (1, .5, .5, 2), (2, 2),
                (1, 1, 2), (.5, .5, .5, .5, 2), (3, 1), (-1, 1, 1, 1), (.5, 1, .5, 2)),
            3: ((1, 1, 1), (2, 1), (1.5, .5, 1), (.5, .5, 1, 1), (3,), (-1, 1, 1), (1, .5, .5, 1))}
_STEPS, _STEP_P = (-3, -2, -1, 0, 1, 2, 3), (.05, .15, .3, .1, .25, .1, .05)


def gm_role(program: int) -> str:
    """Mixing role of a General MIDI melodic program (0-127)."""
    for hi, role in ((23, "keys"), (31, "guitar"), (39, "bass"), (46, "strings"), (47, "perc"),
                     (51, "strings"), (54, "pad"), (55, "perc"), (63, "brass"), (79, "winds"), (87, "lead"),
                     (103, "pad"), (107, "guitar"), (108, "keys"), (109, "winds"), (110, "strings"),
                     (111, "winds")):
        if program <= hi:
            return role
    return "perc"


@dataclass
class Part:
    role: str
    program: int                      # GM program; drum kit number when ``drum``
    events: list                      # [(abs_tick, mido.Message)]
    drum: bool = False


@dataclass
class Song:
    tpb: int
    conductor: list                   # [(abs_tick, MetaMessage)]: tempo, metre, key
    parts: list[Part]
    limit_tick: int                   # no note starts at or after this tick
    length_s: float                   # end of the last note (capped at the target length)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stem:
    name: str
    role: str
    midi: Any                         # mido.MidiFile, one stem


def _pick(rng: np.random.Generator, seq, p=None):
    return seq[int(rng.choice(len(seq), p=p))]


def _has_rights_notice(path: Path) -> bool:
    """True when a MusicXML file carries a non-empty ``<rights>`` element (a copyrighted encoding)."""
    if path.suffix == ".mxl":
        with zipfile.ZipFile(path) as z:
            text = b"".join(z.read(n)[:20000] for n in z.namelist()
                            if n.endswith(".xml") and not n.startswith("META-INF"))
    else:
        text = path.read_bytes()[:20000]
    return re.search(rb"<rights>\s*[^<\s]", text) is not None


@functools.lru_cache(maxsize=None)
def _m21_pieces(composer: str) -> tuple[str, ...]:
    """MusicXML pieces of a composer in music21's corpus, without Humdrum ``.krn`` files (their
    CCARH/Miller encodings reserve derivative formats) or files with a rights notice."""
    from music21 import corpus

    root = Path(corpus.__file__).parent
    return tuple(sorted(str(Path(p).relative_to(root)) for p in corpus.getComposer(composer)
                        if Path(p).suffix in (".mxl", ".xml") and not _has_rights_notice(Path(p))))


def plan_song(rng: np.random.Generator, **overrides: Any) -> dict[str, Any]:
    """Draw a song's recipe (source, style, tempo, key, instruments). ``overrides`` fix any key.

    Within a source, every draw is made whatever the overrides, so overriding one choice (a groove,
    a piece) leaves the generator's stream, and so every later draw, unchanged.
    """
    source = "mma" if rng.random() < 0.65 else "music21"
    source = overrides.get("source", source)
    if source == "mma":
        genre = overrides.get("genre", _pick(rng, sorted(GENRES)))
        grooves, tempo, progs, kits = GENRES[genre]
        lead = _pick(rng, LEADS)[0]
        plan = {"source": "mma", "genre": genre, "groove": _pick(rng, grooves),
                "tempo": int(rng.integers(tempo[0], tempo[1] + 1)), "key": int(rng.integers(12)),
                "progression": _pick(rng, progs), "kit": int(_pick(rng, kits)), "lead": int(lead),
                "lead_start_bar": int(_pick(rng, (0, 0, 2, 4))),
                "pad": int(_pick(rng, PADS)) if rng.random() < 0.5 else None,
                "split_drums": bool(rng.random() < 0.5), "mma_seed": int(rng.integers(1, 2 ** 31 - 1))}
        # a sung lead (else the lead instrument), its register, backing vocals and a recorded kit,
        # drawn from their own stream so that ``rng`` (and every song without them) is as before
        more = np.random.default_rng([plan["mma_seed"], 1])
        plan.update({"vocal": bool(more.random() < 0.7), "voice": _pick(more, ("low", "high")),
                     "backing": _pick(more, (None, "third", "third", "double")),
                     "sampled_drums": bool(more.random() < 0.6), "kit_pick": float(more.random())})
    else:
        names = sorted(COMPOSERS)
        w = np.array([COMPOSERS[c][1] for c in names])
        composer = overrides.get("composer", _pick(rng, names, w / w.sum()))
        lo, hi = COMPOSERS[composer][0]
        plan = {"source": "music21", "composer": composer, "piece": _pick(rng, _m21_pieces(composer)),
                "tempo": int(rng.integers(lo, hi + 1)), "ensemble": _pick(rng, sorted(ENSEMBLES)),
                "split_drums": False}
    plan.update(overrides)
    slug = plan["groove"] if source == "mma" else plan["composer"]
    plan["slug"] = "".join(c if c.isalnum() or c in ".-" else "-" for c in slug.lower())
    return plan


def _chord(symbol: str, key: int) -> tuple[str, frozenset]:
    """Roman numeral (``bVII``, ``ii7``, ``Imaj7``) in ``key`` -> (MMA chord name, pitch classes)."""
    m = re.fullmatch(r"(b?)([ivIV]+)(maj7|7)?", symbol)
    if m is None:
        raise ValueError(f"bad chord symbol {symbol!r}")
    flat, num, ext = m.groups()
    degree = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}[num.lower()]
    root = (key + degree - bool(flat)) % 12
    qual = ("m" if num.islower() else "") + (ext or "")
    steps = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10),
             "maj7": (0, 4, 7, 11)}[qual]
    return NOTE_NAMES[root] + qual, frozenset((root + s) % 12 for s in steps)


def _abs(track) -> list:
    t, out = 0, []
    for m in track:
        t += m.time
        if m.type != "end_of_track":
            out.append((t, m))
    return out


def midi_file(tpb: int, events: list):
    """Type-0 ``mido.MidiFile`` from ``[(abs_tick, msg)]`` (metas, then programs, offs, ons at a tick)."""
    import mido

    order = {"program_change": 1, "control_change": 2, "note_off": 3}

    def key(e):
        return e[0], 0 if e[1].is_meta else 4 if is_on(e[1]) else order.get(e[1].type, 2)

    track, last = mido.MidiTrack(), 0
    for t, m in sorted(events, key=key):
        track.append(m.copy(time=int(t - last)))
        last = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    mf = mido.MidiFile(type=0, ticks_per_beat=tpb)
    mf.tracks.append(track)
    return mf


def is_on(m) -> bool:
    return m.type == "note_on" and m.velocity > 0


def _seconds_ticks(conductor: list, tpb: int):
    """(tick -> seconds, seconds -> tick) functions of a tempo map."""
    pts = [(0, 0.0, 500000)]
    for t, m in sorted([e for e in conductor if e[1].type == "set_tempo"], key=lambda e: e[0]):
        t0, s0, tempo = pts[-1]
        pts.append((t, s0 + (t - t0) * tempo / tpb / 1e6, m.tempo))

    def sec(tick):
        t0, s0, tempo = [p for p in pts if p[0] <= tick][-1]
        return s0 + (tick - t0) * tempo / tpb / 1e6

    def tick(s):
        t0, s0, tempo = [p for p in pts if p[1] <= s][-1]
        return int(t0 + (s - s0) * 1e6 * tpb / tempo)
    return sec, tick


def _melody(rng, chords, beats: int, tpb: int, scale, key: int, centre: int, start_bar: int) -> list:
    """A lead line in 4-bar phrases (motif, answer, motif, cadence); chord tones on strong beats."""
    import mido

    pool = [p for p in range(centre - 9, centre + 10) if (p - key) % 12 in scale]
    idx, ev, motif = len(pool) // 2, [], _RHYTHMS[beats][0]
    for bar, (_, pcs) in enumerate(chords):
        if bar < start_bar:
            continue
        pos = (bar - start_bar) % 4
        if pos in (0, 1):
            pick = _pick(rng, _RHYTHMS[beats])
            motif = pick if pos == 0 else motif
        rhythm = (2, -(beats - 2)) if pos == 3 else (pick if pos == 1 else motif)
        beat = 0.0
        for d in rhythm:
            if d > 0 and rng.random() > 0.07:
                idx = int(np.clip(idx + _pick(rng, _STEPS, _STEP_P), 0, len(pool) - 1))
                if beat == 0 or d >= 2:
                    idx = min((j for j, p in enumerate(pool) if p % 12 in pcs), key=lambda j: abs(j - idx))
                t = int((bar * beats + beat) * tpb)
                vel = int(np.clip(rng.normal(84, 8) + (8 if beat == 0 else 0), 40, 120))
                ev += [(t, mido.Message("note_on", note=pool[idx], velocity=vel)),
                       (t + int(d * tpb * rng.uniform(0.8, 0.95)), mido.Message("note_off", note=pool[idx]))]
            beat += abs(d)
    return ev


def _pad(rng, chords, beats: int, tpb: int) -> list:
    import mido

    ev = []
    for bar, (_, pcs) in enumerate(chords):
        t, vel = bar * beats * tpb, int(rng.integers(50, 70))
        for pc in sorted(pcs):
            n = 55 + (pc - 55) % 12
            ev += [(t, mido.Message("note_on", note=n, velocity=vel)),
                   (t + beats * tpb - 4, mido.Message("note_off", note=n))]
    return ev


def _backing(melody: list, plan: dict, diatonic, bar_ticks: int) -> list:
    """Backing vocal events: the melody a diatonic third above (``plan["backing"] == "third"``) or
    doubled in unison, sung in every second 4-bar phrase (the "chorus")."""
    steps = 2 if plan["backing"] == "third" else 0
    out = []
    for (t, on), (t_off, off) in zip(melody[::2], melody[1::2]):   # _melody writes (on, off) pairs
        if (t // bar_ticks - plan["lead_start_bar"]) // 4 % 2 == 1:
            note = harmony_pitch(on.note, plan["key"], diatonic, steps)
            out += [(t, on.copy(note=note)), (t_off, off.copy(note=note))]
    return out


def _song(tpb, conductor, parts, seconds, meta) -> Song:
    sec, tick = _seconds_ticks(conductor, tpb)
    end = max(t for p in parts for t, m in p.events if m.type in ("note_on", "note_off"))
    return Song(tpb, conductor, parts, tick(seconds), min(seconds, sec(end)), meta)


def _mma_song(plan: dict, rng: np.random.Generator, seconds: float) -> Song:
    import mido

    beats = 3 if plan["genre"] == "waltz" else 4
    prog = plan["progression"].split()
    bars = math.ceil(seconds * plan["tempo"] / 60 / beats) + 1
    chords = [_chord(prog[b % len(prog)], plan["key"]) for b in range(bars)]
    chart = [f"RndSeed {plan['mma_seed']}", f"Tempo {plan['tempo']}", f"Groove {plan['groove']}"]
    chart += [f"{b + 1} {name}" for b, (name, _) in enumerate(chords)]
    with tempfile.TemporaryDirectory(prefix="mixdown-mma-") as tmp:
        (Path(tmp) / "song.mma").write_text("\n".join(chart) + "\n")
        res = subprocess.run(["mma", "song.mma", "-f", "song.mid"], cwd=tmp, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=300)
        if res.returncode != 0 or not (Path(tmp) / "song.mid").exists():
            raise RuntimeError(f"mma failed on groove {plan['groove']!r}: {(res.stdout + res.stderr)[-500:]}")
        mf = mido.MidiFile(str(Path(tmp) / "song.mid"))
    conductor, parts = [], []
    for tr in mf.tracks:
        ev = _abs(tr)
        conductor += [e for e in ev if e[1].type in ("set_tempo", "time_signature", "key_signature")]
        notes = [e for e in ev if not e[1].is_meta]
        if not any(is_on(m) for _, m in notes):
            continue
        if {m.channel for _, m in notes if hasattr(m, "channel")} == {9}:
            parts.append(Part("drums", plan["kit"], notes, drum=True))
        else:
            program = next((m.program for _, m in notes if m.type == "program_change"), 0)
            parts.append(Part(gm_role(program), program, notes))
    minor = re.fullmatch(r"i7?", prog[0]) is not None
    scale = {"blues": (0, 3, 5, 7, 10), "country": (0, 2, 4, 7, 9)}.get(
        plan["genre"], (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11))
    vocal = plan.get("vocal", False)
    centre = REGISTER_CENTRE[plan["voice"]] if vocal else dict(LEADS).get(plan["lead"], 72)
    tpb = mf.ticks_per_beat
    melody = _melody(rng, chords, beats, tpb, scale, plan["key"], centre, plan["lead_start_bar"])
    parts.append(Part("lead_vocal" if vocal else "lead", 0 if vocal else plan["lead"], melody))
    diatonic = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    backing = _backing(melody, plan, diatonic, beats * tpb) if vocal and plan.get("backing") else []
    if backing:
        parts.append(Part("backing_vocal", 0, backing))
    if plan.get("pad") is not None:
        parts.append(Part(gm_role(plan["pad"]), plan["pad"], _pad(rng, chords, beats, tpb)))
    meta = {k: plan.get(k) for k in ("source", "genre", "groove", "tempo", "progression", "kit", "lead", "pad",
                                     "vocal", "voice", "backing")}
    meta["key"] = NOTE_NAMES[plan["key"]] + (" minor" if minor else " major")
    return _song(tpb, conductor, parts, seconds, meta)


def _m21_song(plan: dict, rng: np.random.Generator, seconds: float) -> Song:
    import mido
    from music21 import bar, corpus, meter, repeat, stream
    from music21.midi.translate import streamToMidiFile

    def to_midi(piece: str):
        score = corpus.parse(str(Path(corpus.__file__).parent / piece))
        if len(score.parts) < 3:
            raise ValueError(f"{len(score.parts)} parts")
        ts = score.recurse().getElementsByClass(meter.TimeSignature).first()
        bars = math.ceil(seconds * plan["tempo"] / 60 / (ts.barDuration.quarterLength if ts else 4.0)) + 2
        score = score.measures(0, bars)   # an excerpt: repeats cut in half cannot be expanded
        for m in score.recurse().getElementsByClass(stream.Measure):
            m.leftBarline = None if isinstance(m.leftBarline, bar.Repeat) else m.leftBarline
            m.rightBarline = None if isinstance(m.rightBarline, bar.Repeat) else m.rightBarline
        for e in list(score.recurse().getElementsByClass(repeat.RepeatExpression)):
            e.activeSite.remove(e)
        with tempfile.TemporaryDirectory(prefix="mixdown-m21-") as tmp:
            m = streamToMidiFile(score)
            m.open(str(Path(tmp) / "piece.mid"), "wb")
            m.write()
            m.close()
            return mido.MidiFile(str(Path(tmp) / "piece.mid"))

    pieces = _m21_pieces(plan["composer"]) if "composer" in plan else ()
    tries = [plan["piece"]] + [_pick(rng, pieces) for _ in range(3 if pieces else 0)] + ["bach/bwv66.6.mxl"]
    for piece in tries:          # the planned piece, else others by the composer, else a chorale
        try:
            mf = to_midi(piece)
        except Exception as e:  # music21 raises many types on odd encodings
            log.info("music21 piece %s unusable (%s)", piece, e)
            continue
        song = _m21_parts(mf, plan, rng, seconds)
        if song.length_s >= 0.5 * seconds or piece == tries[-1]:
            song.meta["piece"] = piece
            return song
        log.info("music21 piece %s is only %.1f s long", piece, song.length_s)
    raise RuntimeError("no usable music21 piece")


def _m21_parts(mf, plan: dict, rng: np.random.Generator, seconds: float) -> Song:
    import mido

    conductor = [e for tr in mf.tracks for e in _abs(tr) if e[1].type in ("time_signature", "key_signature")]
    conductor.append((0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(plan["tempo"]))))
    voices = [[e for e in _abs(tr) if not e[1].is_meta] for tr in mf.tracks]
    voices = [v for v in voices if any(is_on(m) for _, m in v)]
    voices = voices[:5] + voices[-1:] if len(voices) > 6 else voices
    top, inner, bottom = ENSEMBLES[plan["ensemble"]]
    parts = []
    for i, v in enumerate(voices):
        pool, role = (top, "lead") if i == 0 else (bottom, "bass") if i == len(voices) - 1 else (inner, None)
        program = int(_pick(rng, pool))
        phase, events = rng.uniform(0, 2 * np.pi), []
        for t, msg in v:            # humanised velocities: jitter plus a slow phrase swell
            if is_on(msg):
                swell = 10 * np.sin(2 * np.pi * t / (16 * mf.ticks_per_beat) + phase)
                msg = msg.copy(velocity=int(np.clip(msg.velocity * 0.9 + rng.normal(0, 7) + swell, 25, 120)))
            events.append((t, msg))
        parts.append(Part(role or gm_role(program), program, events))
    meta = {"source": "music21", "piece": plan["piece"], "tempo": plan["tempo"], "ensemble": plan["ensemble"],
            "programs": [p.program for p in parts]}
    return _song(mf.ticks_per_beat, conductor, parts, seconds, meta)


def compose(plan: dict[str, Any], rng: np.random.Generator, seconds: float) -> Song:
    """The multi-part MIDI of a planned song (MMA groove or music21 piece)."""
    return (_mma_song if plan["source"] == "mma" else _m21_song)(plan, rng, seconds)
