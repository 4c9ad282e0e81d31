"""What both project exporters share: the stems on disk, number formatting, safe strings."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mixdown.params.io import MixParams
from mixdown.session import SessionError, probe, track_path

log = logging.getLogger("mixdown.export")
#: characters no project file may carry: C0/C1 control characters (newline, tab, ...), line and
#: paragraph separators, lone surrogates (undecodable file-name bytes) and XML's non-characters
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def safe_text(text: str, what: str) -> str:
    """``text`` with every character a project file cannot carry replaced by a space (with a
    warning naming ``what``): a name can never break out of its field."""
    clean = _UNSAFE.sub(" ", text)
    if clean != text:
        log.warning("%s %r: control characters replaced by spaces in the project: %r", what, text, clean)
    return clean


def check_path_text(path: str, track: str) -> str:
    """``path`` unchanged, or :class:`SessionError` when it holds a character a project file cannot
    carry (a path cannot be altered: the DAW would not find the file)."""
    if _UNSAFE.search(path):
        raise SessionError(f"track {track!r}: the file path {path!r} holds a control character (newline, tab, ...) "
                           "or undecodable bytes that a project file cannot carry; rename the file (and its "
                           "'file' entry)")
    return path


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


def stem_files(params: MixParams, session_dir: Path, allow_outside_session: bool = False) -> list[_Stem]:
    """Probe every track's file (raises :class:`mixdown.session.SessionError` naming a bad one);
    files outside ``session_dir`` are refused unless ``allow_outside_session``."""
    out = []
    for t in params.tracks:
        info = probe(track_path(session_dir, t.file, allow_outside=allow_outside_session, track=t.name))
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
