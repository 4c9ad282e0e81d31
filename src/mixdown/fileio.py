"""Atomic file writes: the one place that writes a temporary file beside the target and renames it.

A reader never sees a half-written file, an interrupted write leaves nothing behind, and the file
gets the permissions ``open()`` would give it (``0666 & ~umask``; ``tempfile.mkstemp``'s 0600
would survive the rename and hide a mix or a project from other users).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` (it creates ``tmp``, a path in ``path``'s folder with ``path``'s suffix),
    then rename ``tmp`` onto ``path``; on any error ``tmp`` is removed and the error re-raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8, atomically (flushed to disk before the rename)."""

    def write(tmp: Path) -> None:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)
