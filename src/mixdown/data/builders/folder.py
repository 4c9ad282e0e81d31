"""Generic session folders (your own multitracks, the synthetic corpus, any loose export).

A session is a folder with audio files (wav, flac, aiff, ogg, mp3 where libsndfile reads them)::

    <song>/*.wav [+ <song>/mix.* or reference_mix.*] [+ <song>/params.json]
    <song>/tracks/*.wav [+ <song>/reference_mix.wav] [+ <song>/params.json]

``root`` may be one session or a folder of sessions (down to three levels). Files named
``mix.*`` / ``reference_mix.*`` are the reference (``reference_mix`` preferred) and never tracks;
``params.json`` (a mixdown.params file) is recorded as ``params``. Track names are the file
names without extension (so they match the names in ``params.json``); roles come from keywords.
Splits: sessions under ``train/``, ``val/`` (or ``valid``/``validation``) and ``test/`` folders of
``root`` take that split; others are split 80/10/10 by a hash of the session folder name.
"""

from __future__ import annotations

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

NAME = "folder"
LAYOUT = ("a session folder of audio files (or <song>/tracks/*.wav) with an optional mix.* or "
          "reference_mix.* and params.json, or a folder of such session folders")
MIX_NAMES = ("reference_mix", "mix")
_SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def is_mix(path: Path) -> bool:
    """True for ``mix.*`` and ``reference_mix.*`` (any case)."""
    return audio_stem(path).lower() in MIX_NAMES


def _session_files(d: Path) -> tuple[list[Path], list[Path], Path | None]:
    """Track files, mix candidates (best first) and the tracks folder of a candidate session."""
    tracks_dir = d / "tracks" if (d / "tracks").is_dir() else None
    loose = audio_files(d)
    mixes = sorted((f for f in loose if is_mix(f)), key=lambda f: (MIX_NAMES.index(audio_stem(f).lower()), f.name))
    if tracks_dir is not None:
        return [f for f in audio_files(tracks_dir) if not is_mix(f)], mixes, tracks_dir
    return [f for f in loose if not is_mix(f)], mixes, None


def _song(d: Path, root: Path, split: str | None) -> SongSpec | None:
    tracks, mixes, tracks_dir = _session_files(d)
    if not tracks:
        return None
    spec = SongSpec(song=song_id(d, root), source=NAME, split=split or hash_split(d.name), root=root, tracks=[])
    names = unique_names([audio_stem(f) for f in tracks])
    spec.tracks = [TrackSpec(f, n, normalise_role(n)) for f, n in zip(tracks, names)]
    spec.mix = mixes[0] if mixes else None
    if len(mixes) > 1:
        spec.warnings.append(f"several mixes {[m.name for m in mixes]}; using {mixes[0].name}")
    if tracks_dir is not None:
        ignored = [f.name for f in audio_files(d) if not is_mix(f)]
        if ignored:
            spec.warnings.append(f"audio beside tracks/ ignored (not a mix name): {ignored}")
    params = d / "params.json"
    spec.params = params if params.is_file() else None
    spec.meta = {"layout": "tracks" if tracks_dir is not None else "flat"}
    return spec


def _sessions(top: Path, root: Path, split: str | None, out: Discovery) -> None:
    claimed: list[Path] = []
    for d in walk_dirs(top, 3):
        if d.name == "tracks" or any(c in d.parents for c in claimed):
            continue
        spec = _song(d, root, split)
        if spec is not None:
            claimed.append(d)
            out.songs.append(spec)
        elif (d / "tracks").is_dir() or any(is_mix(f) for f in audio_files(d)):
            out.skipped.append(Skip(song_id(d, root), None, "a session folder without any track audio"))


def discover(root: Path) -> Discovery:
    """Sessions under ``root`` (or ``root`` itself), split by ``train/val/test`` folders when present."""
    out = Discovery([])
    split_dirs = [p for p in sorted(root.iterdir()) if p.is_dir() and p.name.lower() in _SPLIT_DIRS]
    if split_dirs:
        for p in split_dirs:
            _sessions(p, root, _SPLIT_DIRS[p.name.lower()], out)
    else:
        _sessions(root, root, None, out)
    return out
