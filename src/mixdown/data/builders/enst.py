"""ENST-drums: multi-microphone drum takes with dry and wet (processed) mixes.

Layout (``root`` holds ``drummer_N`` folders, possibly one level down)::

    drummer_N/audio/<mic>/<take>.wav     mic: kick, snare, hi-hat, overhead_L, overhead_R, tom_1, tom_2, ...
    drummer_N/audio/dry_mix/<take>.wav
    drummer_N/audio/wet_mix/<take>.wav
    drummer_N/audio/accompaniment/<take>.wav   (optional; recorded in meta, not a track)

A song is one take of one drummer (id ``drummer_N/<take>``); its tracks are the mic folders (named
after the folder, role drums) and its reference is ``wet_mix`` (preferred) or ``dry_mix``.

Split by drummer, so no drummer is in both training and evaluation: drummer_1 and drummer_2 are
train; takes of every other drummer (drummer_3 in the public release) go to val or test, half each
by a hash of the song id.
"""

from __future__ import annotations

import re
from pathlib import Path

from mixdown.data.builders import Discovery, SongSpec, TrackSpec, audio_files, audio_stem, song_id, walk_dirs
from mixdown.data.manifest import Skip, hash_split

NAME = "enst"
LAYOUT = ("drummer_N/audio/<mic>/<take>.wav with mic folders such as kick, snare, hi-hat, overhead_L, "
          "overhead_R, tom_1, tom_2, plus drummer_N/audio/wet_mix and/or dry_mix")
REFERENCES = ("wet_mix", "dry_mix")
NOT_TRACKS = REFERENCES + ("accompaniment",)
TRAIN_DRUMMERS = (1, 2)
_DRUMMER = re.compile(r"^drummer_?(\d+)$", re.IGNORECASE)


def split_for(drummer: int, song: str) -> str:
    """train for :data:`TRAIN_DRUMMERS`, else val or test (half each, by hash of ``song``)."""
    return "train" if drummer in TRAIN_DRUMMERS else hash_split(song, (0.0, 0.5, 0.5))


def _drummer(d: Path, root: Path) -> tuple[list[SongSpec], list[Skip]]:
    number = int(_DRUMMER.match(d.name)[1])
    audio = d / "audio"
    folders = {p.name: p for p in sorted(audio.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    files = {name: {audio_stem(f): f for f in audio_files(p)} for name, p in folders.items()}
    mics = sorted(n for n in folders if n not in NOT_TRACKS)
    takes = sorted({t for name in mics + list(REFERENCES) for t in files.get(name, {})})
    base = song_id(d, root)
    songs, skipped = [], []
    for take in takes:
        sid = f"{base}/{take}"
        tracks = [TrackSpec(files[m][take], m, "drums", {"mic": m}) for m in mics if take in files[m]]
        if not tracks:
            skipped.append(Skip(sid, None, "a mix without any microphone tracks"))
            continue
        spec = SongSpec(song=sid, source=NAME, split=split_for(number, sid), root=root, tracks=tracks)
        ref = next((r for r in REFERENCES if take in files.get(r, {})), None)
        spec.mix = files[ref][take] if ref else None
        if ref is None:
            spec.warnings.append("no wet_mix or dry_mix for this take")
        elif ref == "dry_mix":
            spec.warnings.append("no wet_mix; the dry_mix is the reference")
        acc = files.get("accompaniment", {}).get(take)
        spec.meta = {"drummer": number, "take": take, "reference": ref,
                     "accompaniment": acc.relative_to(root).as_posix() if acc else None}
        songs.append(spec)
    return songs, skipped


def discover(root: Path) -> Discovery:
    """Takes of every ``drummer_N`` folder (with an ``audio`` sub-folder) down to two levels."""
    out = Discovery([])
    for d in walk_dirs(root, 2):
        if _DRUMMER.match(d.name) and (d / "audio").is_dir():
            songs, skipped = _drummer(d, root)
            out.songs += songs
            out.skipped += skipped
    return out
