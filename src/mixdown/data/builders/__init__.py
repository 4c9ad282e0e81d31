"""Corpus builders: each module reads one corpus's own layout and lists its songs.

A builder module has ``NAME``, ``LAYOUT`` (the expected folder layout, quoted in errors) and
``discover(root) -> Discovery``; discovery only lists files and reads small metadata (no audio).
A builder whose songs need preparing (decoding) also has ``prepare(spec, out) -> SongSpec``,
run in the worker before analysis and only when the song is not cached.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from mixdown.data.manifest import Skip
from mixdown.errors import UsageError
from mixdown.session import AUDIO_EXTS, is_audio

#: --source names -> builder modules
BUILDERS = {name: f"mixdown.data.builders.{name}" for name in
            ("medleydb", "enst", "musdb", "cambridge", "slakh", "folder")}
#: sources rendered from project files (LMMS projects, MIDI songs): raw tracks and the mix as composed
BUILDERS.update({"lmms": "mixdown.data.builders.lmms", "lmms-reserved": "mixdown.data.builders.lmms_reserved",
                 "midi": "mixdown.data.builders.midi"})


class BuildError(UsageError):
    """A user error in a build (bad root, wrong layout, nothing usable); the message says the fix."""


@dataclass
class TrackSpec:
    """An input track found by discovery: its file, name (unique in the song), role and labels."""

    path: Path
    name: str
    role: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SongSpec:
    """A song found by discovery, before any audio is read.

    Attributes:
        song: unique id (song folder relative to the root, posix); source; split.
        root: corpus root (record paths are relative to it when inside it).
        tracks, mix (reference or None), params (mixdown.params file or None).
        meta: song facts for the record; extra_files: other inputs (metadata files) whose change
            invalidates the cache; warnings and skips found during discovery;
        decode: builder-specific preparation input (e.g. a MUSDB ``.stem.mp4``), else None.
    """

    song: str
    source: str
    split: str
    root: Path
    tracks: list[TrackSpec]
    mix: Path | None = None
    params: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    decode: Path | None = None

    def files(self) -> list[Path]:
        """Every input file of the song (the cache key stats them); for an encoded song, the source file."""
        if self.decode is not None:
            return [self.decode] + self.extra_files
        out = [t.path for t in self.tracks] + self.extra_files
        return out + [p for p in (self.mix, self.params) if p is not None]


@dataclass
class Discovery:
    """What a builder found: songs, and whole songs or files left out with a reason."""

    songs: list[SongSpec]
    skipped: list[Skip] = field(default_factory=list)


def get_builder(source: str) -> ModuleType:
    """The builder module for ``source``; BuildError listing the choices for an unknown name."""
    if source not in BUILDERS:
        raise BuildError(f"unknown source {source!r}; choose one of {', '.join(BUILDERS)}")
    return importlib.import_module(BUILDERS[source])


# ----------------------------------------------------------------------------- helpers for builders
def audio_files(folder: Path) -> list[Path]:
    """Audio files directly in ``folder``, sorted by name (hidden ones ignored). Entries that are not
    regular files (pipes, broken links, link loops) are kept, so the analysis reports them as
    skipped with the reason instead of dropping them silently."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if not p.is_dir() and is_audio(p)), key=lambda p: p.name)


def walk_dirs(root: Path, max_depth: int) -> Iterator[Path]:
    """``root`` and its sub-folders down to ``max_depth`` levels, sorted, hidden ones skipped."""
    yield root
    if max_depth <= 0:
        return
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for sub in subs:
        yield from walk_dirs(sub, max_depth - 1)


def song_id(folder: Path, root: Path, fallback: str | None = None) -> str:
    """Posix path of ``folder`` relative to ``root`` (``fallback`` or the folder name at the root)."""
    rel = Path(os.path.relpath(folder, root)).as_posix()
    return (fallback or folder.name) if rel == "." else rel


def audio_stem(path: Path) -> str:
    """File name without its audio extension(s): ``"a.b.wav"`` -> ``"a.b"``, ``"x.stem.mp4"`` -> ``"x"``."""
    name = path.name
    for ext in (".stem.mp4",) + AUDIO_EXTS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats made unique by ``_2``, ``_3``... suffixes (order kept)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def load_yaml(path: Path) -> Any:
    """Parsed YAML of ``path``; raises ValueError with the reason for unreadable YAML."""
    try:
        import yaml
    except ModuleNotFoundError as e:  # pragma: no cover - pyyaml is a dependency
        raise BuildError("reading corpus metadata needs pyyaml: pip install pyyaml") from e
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"unreadable YAML ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
