"""What both project exporters share: the stems on disk, number formatting, atomic writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mixdown.params.io import MixParams
from mixdown.session import probe


@dataclass
class _Stem:
    """One track's audio file as found on disk."""

    name: str
    path: Path
    channels: int
    sample_rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def stem_files(params: MixParams, session_dir: Path) -> list[_Stem]:
    """Probe every track's file (raises :class:`mixdown.session.SessionError` naming a bad one)."""
    out = []
    for t in params.tracks:
        info = probe(Path(session_dir) / t.file)
        out.append(_Stem(t.name, info.path.resolve(), info.channels, info.sample_rate, info.frames))
    return out


def fmt_num(x: float) -> str:
    """A float as written to the files: 12 significant digits."""
    return format(float(x), ".12g")


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def session_tempo(params: MixParams) -> float:
    source = params.extra.get("source")
    tempo = source.get("tempo") if isinstance(source, dict) else None
    return float(tempo) if isinstance(tempo, (int, float)) and 20 <= tempo <= 999 else 120.0


def rel_path(target: Path, start: Path) -> str:
    """``target`` relative to folder ``start`` (POSIX separators), absolute when impossible."""
    try:
        return Path(os.path.relpath(target, start.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_posix()
