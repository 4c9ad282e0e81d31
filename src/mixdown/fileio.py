"""Atomic file writes: the one place that writes a temporary file beside the target and renames it.

A reader never sees a half-written file, an interrupted write leaves nothing behind, and the file
gets the permissions ``open()`` would give it (``0666 & ~umask``; ``tempfile.mkstemp``'s 0600
would survive the rename and hide a mix or a project from other users).

Several outputs of one run (a mix and its parameter file) go through :func:`atomic_write_all`:
every file is written to its temporary first, and only when all of them are complete are they
renamed into place, one after the other, with SIGINT/SIGTERM/SIGHUP held back and an exclusive
lock on each target folder, so an interrupt or a second run writing the same outputs cannot
leave one run's file beside another run's. Two renames are still two steps: a SIGKILL or a power
cut between them leaves a complete new first file beside the complete old second file.

Temporaries are named ``.NAME.PID.RANDOM.tmpSUFFIX``; the writer holds an exclusive ``flock`` on
its temporary from the moment it appears until it is renamed or removed. A process killed while
writing (SIGKILL) leaves its temporary behind, unlocked (the kernel drops a dead process's
locks); the next write of the same target removes the temporaries whose process no longer exists
and whose lock is free (see :func:`remove_stale_temporaries`), at once. Only where the file system
has no locks is a temporary kept until it is :data:`STALE_AFTER_S` old (a writer in another PID
namespace may own it).

Outputs are regular files or absent: a target that exists as a folder, a device, a pipe or a
socket is refused before anything is written (a rename would replace the device node).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mixdown.errors import UsageError

__all__ = ["OutputError", "atomic_write", "atomic_write_all", "atomic_write_text", "check_target",
           "probe_target", "remove_stale_temporaries"]
log = logging.getLogger(__name__)

#: where a temporary's lock cannot be tested (a file system without locks), it is removed as stale
#: only when older than this (a writer in another PID namespace may own it)
STALE_AFTER_S = 60.0


class OutputError(UsageError, OSError):
    """An output file could not be written; the message names the file and the fix."""


def _tmp_path(path: Path) -> Path:
    return path.parent / f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}"


def _create_locked(tmp: Path) -> int:
    """Create the empty temporary ``tmp`` already locked (created under ``tmp~``, locked, renamed:
    no other process ever sees it unlocked); returns the descriptor holding the lock (closing it
    releases the lock). Permissions: ``0666 & ~umask``, as ``open()`` gives."""
    pre = tmp.with_name(tmp.name + "~")
    fd = os.open(pre, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        _flock(fd, pre, "a killed writer's temporary is then removed only when old", blocking=False)
        os.rename(pre, tmp)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(pre)
        raise
    return fd


def _lock_free(path: str) -> bool | None:
    """Whether no process holds a lock on ``path`` (True: free; False: held; None: cannot tell)."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # no locks on this file system
        return None
    finally:
        os.close(fd)  # releases the lock just taken
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries that killed writers of ``path`` left beside it.

    Only files named like this module's temporaries for ``path`` (``.STEM.PID.8HEX.tmpSUFFIX``)
    whose process no longer exists and that no process holds locked (a live writer in another
    PID namespace holds its lock) are removed, however recent; where the lock cannot be tested
    (no locks on the file system), only those not modified in the last :data:`STALE_AFTER_S`
    seconds. Each removal is logged. Returns the removed paths.
    """
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.(\d+)\.[0-9a-f]{{8}}\.tmp{re.escape(path.suffix)}~?$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if pid == os.getpid() or _pid_alive(pid):
            continue
        free = _lock_free(entry.path)
        if free is False or (free is None and now - st.st_mtime < STALE_AFTER_S):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
            log.info("removed %s, left by an interrupted run (process %d) writing %s", entry.path, pid, path)
    return removed


def _output_error(path: Path, e: OSError) -> OutputError:
    why = e.strerror or str(e)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a folder you can write to"
    elif e.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = "a part of the path is a file, not a folder; choose another path"
    elif e.errno == errno.EISDIR:
        fix = "it is a folder; give a file name"
    else:
        fix = "check that the folder exists, is writable and has free space"
    return OutputError(f"{path}: cannot write ({why}); {fix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_HELD_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP until the block is done, then deliver them.

    Python-level handlers, not a thread's signal mask: the kernel may hand a process-directed
    signal to any thread (torch and BLAS start their own), and Python runs its handlers in the main
    thread whichever thread received it, so a mask on the main thread alone does not hold Ctrl-C
    back. Handlers can only be set from the main thread; elsewhere nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in _HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():  # None: the handler was set outside Python (restore the default)
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)  # now, to the handler the program had (Ctrl-C: KeyboardInterrupt)


def _flock(fd: int, folder: str | os.PathLike, without: str, blocking: bool = True) -> None:
    """Take an exclusive ``flock`` on the open folder (or file) ``fd`` (released when ``fd`` is
    closed); where the file system has none (some network mounts) go on ``without`` it, logged at
    debug level."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except (ImportError, OSError) as e:
        log.debug("%s: cannot lock (%s); %s", folder, e, without)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if missing) while the block runs: work that
    several processes may start at once (one song's render shared by its excerpts when a build
    runs ``--jobs 2``) is done by one, and the others wait and then find it done. Advisory
    (``flock``); where the file system has no locks the block runs unlocked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        _flock(fd, folder, "running unlocked")
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _publishing(folders: Sequence[Path]) -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back (main thread) and lock every folder (sorted, exclusive)."""
    fds = []
    with _signals_held():
        try:
            for folder in sorted({str(f) for f in folders}):
                try:
                    fd = os.open(folder, os.O_RDONLY)
                except OSError:  # a folder we may write into but not open: publish unlocked
                    continue
                fds.append(fd)
                _flock(fd, folder, "publishing without the lock")
            yield
        finally:
            for fd in fds:
                os.close(fd)  # closing releases the lock


def atomic_write_all(items: Sequence[tuple[str | os.PathLike, Callable[[Path], None]]]) -> list[Path]:
    """Write several files and publish them together.

    ``items``: ``(path, write)`` pairs; ``write(tmp)`` creates ``tmp`` (a path in ``path``'s folder
    with ``path``'s suffix). Every file is written (and flushed to disk) before any is renamed
    into place; on an error nothing is published and every temporary is removed. The renames
    run with interrupts held back and the target folders locked (see the module docstring for
    what a reader can rely on). Paths that are the same file are refused (:class:`UsageError`).
    OS errors (unwritable folder, no space) become :class:`OutputError` naming the file.
    """
    paths = [Path(p) for p, _ in items]
    seen: dict[str, Path] = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            raise UsageError(f"{p}: the same file as the output {seen[key]}; give each output its own path")
        seen[key] = p
    tmps: list[Path] = []
    locks: list[int] = []
    created: list[Path] = []
    current = paths[0] if paths else None
    try:
        for path in paths:  # every target checked before anything is written or created
            current = path
            check_target(path)
        for path, (_, write) in zip(paths, items):
            current = path
            _make_parents(path.parent, created)
            remove_stale_temporaries(path)
            tmp = _tmp_path(path)
            locks.append(_create_locked(tmp))
            tmps.append(tmp)
            write(tmp)
            _fsync(tmp)
        with _publishing([p.parent for p in paths]):
            for path, tmp in zip(paths, tmps):
                current = path
                os.replace(tmp, path)
        for folder in {str(p.parent) for p in paths}:
            with contextlib.suppress(OSError):
                _fsync(Path(folder))
    except OSError as e:
        _discard(tmps, created)
        raise _output_error(current, e) from e
    except BaseException:
        _discard(tmps, created)
        raise
    finally:
        for fd in locks:
            os.close(fd)  # releases the temporary's lock
    return paths


def check_target(path: str | os.PathLike) -> None:
    """Raise ``OSError`` (:class:`OutputError` once named by the writers) unless ``path`` can become
    a regular file by a rename: it must be absent or a regular file (symbolic links followed; a
    folder, device, pipe or socket is refused, since a rename would replace it), and the nearest
    existing folder above it must be a folder. Nothing is created."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{path}: not a regular file (a device, pipe or socket); mixdown writes only regular "
                              "files and never replaces anything else: give the path of a file")
        return
    parent = path.parent
    while True:
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            if parent == parent.parent:
                return
            parent = parent.parent
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
        return


def probe_target(path: str | os.PathLike) -> None:
    """Check before any work that ``path`` can be written: :func:`check_target`, then an empty
    temporary is created (locked, as :func:`atomic_write_all` creates its own) in the nearest existing
    folder above it and removed at once, so a folder that refuses new files (``/proc``, a
    read-only mount, no permission, no free inodes) is named now rather than after the work.
    Raises :class:`OutputError` naming ``path`` and the fix; nothing is left behind. (A disk that
    fills up during the write is still only found then; the writers report it the same way.)"""
    path = Path(path)
    try:
        check_target(path)
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        tmp = (_tmp_path(path) if folder == path.parent
               else folder / f".mixdown-probe.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = _create_locked(tmp)
        try:
            os.unlink(tmp)
        finally:
            os.close(fd)
    except OutputError:
        raise
    except OSError as e:
        raise _output_error(path, e) from e


def _make_parents(folder: Path, created: list[Path]) -> None:
    """Create ``folder`` and its missing parents, appending each one created to ``created``."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder == folder.parent:
            break
        folder = folder.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError as e:
            if not d.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(d)) from e
            continue
        created.append(d)


def _discard(tmps: list[Path], created: list[Path]) -> None:
    """After a failed write: remove the temporaries, then the folders created for them (if empty)."""
    for tmp in tmps:
        tmp.unlink(missing_ok=True)
    for d in reversed(created):
        with contextlib.suppress(OSError):
            d.rmdir()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` (it creates ``tmp``, a path in ``path``'s folder with ``path``'s suffix),
    then rename ``tmp`` onto ``path``; on any error ``tmp`` is removed and the error re-raised
    (OS errors as :class:`OutputError` naming ``path`` and the fix)."""
    return atomic_write_all([(path, write)])[0]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8, atomically (flushed to disk before the rename)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:  # the temporary exists (empty, locked)
            fh.write(text)

    return atomic_write(path, write)
