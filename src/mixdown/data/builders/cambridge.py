"""Cambridge-MT / Mixing Secrets style multitracks with a reference mix.

Layouts (songs found down to three levels below ``root``)::

    <song>/tracks/*.wav            or  <song>/<Artist_Song>_Full/*.wav  (also *Multitrack*, *Stems*)
    <song>/mix.wav | reference_mix.wav | <Artist_Song>_Mix.wav           (mix.* in any audio format)

    <Artist_Song>_Full/*.wav       a bare multitrack folder; its mix is a *_Mix* file inside it or
    <Artist_Song>_Mix*.wav         next to it, named after the folder

Track roles come from file name keywords (kick, snare, bass, gtr, vox, keys, pno, ...; see
:mod:`mixdown.data.roles`). No standard split: 80/10/10 by a hash of the song name.
"""

from __future__ import annotations

import re
from pathlib import Path

from mixdown.data.builders import (
    Discovery,
    SongSpec,
    TrackSpec,
    audio_files,
    audio_stem,
    song_id,
    unique_names,
    walk_dirs,
)
from mixdown.data.manifest import Skip, hash_split
from mixdown.data.roles import normalise_role

NAME = "cambridge"
LAYOUT = ("<song>/tracks/*.wav (or <song>/<Artist_Song>_Full/*.wav) plus a mix <song>/mix.*, "
          "<song>/reference_mix.wav or <song>/*_Mix*.wav; or bare <Artist_Song>_Full/ folders with a *_Mix* file")
_MIX = re.compile(r"(^|[\W_])(reference[\W_]?mix|final[\W_]?mix|mixdown|mix|master)([\W_]|\d|$)", re.IGNORECASE)
_MULTI = re.compile(r"^(tracks|multitracks?|stems)$|_full$|multitrack|_stems$", re.IGNORECASE)


def is_mix(path: Path) -> bool:
    """True for names like ``mix.wav``, ``reference_mix.flac``, ``Artist_Song_Mix.wav``, ``Final Mix 2.wav``."""
    return bool(_MIX.search(audio_stem(path)))


def _mix_rank(path: Path) -> tuple[int, str]:
    stem = audio_stem(path).lower()
    first = 0 if stem == "reference_mix" else 1 if stem == "mix" else 2
    return first, path.name


def _multitrack_dir(d: Path) -> Path | None:
    """The multitrack sub-folder of a song folder, if it holds audio: ``tracks``, else a
    ``*_Full`` / ``*Multitrack*`` / ``stems`` folder that is ``d``'s only sub-folder (other
    sub-folders mean ``d`` is a collection of songs)."""
    dirs = [p for p in sorted(d.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    subs = [p for p in dirs if _MULTI.search(p.name) and _track_files(p)]
    tracks = [p for p in subs if p.name.lower() == "tracks"]
    if tracks:
        return tracks[0]
    return subs[0] if len(dirs) == 1 and subs else None


def _track_files(folder: Path) -> list[Path]:
    """Audio files of a multitrack folder, or of its sub-folders when it has none directly."""
    files = [f for f in audio_files(folder) if not is_mix(f)]
    if files:
        return files
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [f for s in subs for f in audio_files(s) if not is_mix(f)]


def _song(d: Path, multi: Path, root: Path, mixes: list[Path]) -> SongSpec:
    name = re.sub(r"_full$", "", d.name, flags=re.IGNORECASE)
    spec = SongSpec(song=song_id(d, root), source=NAME, split=hash_split(name), root=root, tracks=[])
    files = _track_files(multi)
    names = unique_names([audio_stem(f) for f in files])
    spec.tracks = [TrackSpec(f, n, normalise_role(audio_stem(f))) for f, n in zip(files, names)]
    mixes = sorted(mixes, key=_mix_rank)
    spec.mix = mixes[0] if mixes else None
    if len(mixes) > 1:
        spec.warnings.append(f"several mixes {[m.name for m in mixes]}; using {mixes[0].name}")
    if spec.mix is None:
        spec.warnings.append("no mix file (mix.*, reference_mix.*, *_Mix*)")
    spec.meta = {"multitrack_folder": multi.name}
    return spec


def _bare_full_mixes(d: Path) -> list[Path]:
    prefix = re.sub(r"_full$", "", d.name, flags=re.IGNORECASE).lower()
    inside = [f for f in audio_files(d) if is_mix(f)]
    beside = [f for f in audio_files(d.parent) if is_mix(f) and audio_stem(f).lower().startswith(prefix)]
    return inside + beside


def discover(root: Path) -> Discovery:
    """Song folders with a multitrack sub-folder, and bare ``*_Full`` folders."""
    out = Discovery([])
    claimed: set[Path] = set()
    for d in walk_dirs(root, 3):
        if d in claimed or any(p in claimed for p in d.parents):
            continue
        multi = _multitrack_dir(d)
        if multi is not None:
            loose = audio_files(d)
            mixes = [f for f in loose if is_mix(f)]
            if not mixes and len(loose) == 1:
                mixes = loose
            spec = _song(d, multi, root, mixes)
            if not [f for f in loose if is_mix(f)] and mixes:
                spec.warnings.append(f"taking the only loose audio file {mixes[0].name} as the mix")
        elif re.search(r"_full$", d.name, re.IGNORECASE) and _track_files(d):
            spec = _song(d, d, root, _bare_full_mixes(d))
        else:
            continue
        claimed.add(d)
        if spec.tracks:
            out.songs.append(spec)
        else:
            out.skipped.append(Skip(spec.song, None, "no track audio files"))
    return out
