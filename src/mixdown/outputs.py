"""Where a command's outputs may go, and what they are written as.

* An output may never be one of the command's inputs (the same file after resolving symbolic
  links, or a hard link to it) nor the same file as another output: :func:`check_outputs`,
  called before any work, which also refuses an output that exists as a folder, device, pipe or
  socket (a rename would replace it) or lies where no file can be created (``/proc``, a read-only
  folder): nothing is written for a run that is refused.
* Audio outputs are ``.wav`` (32-bit float unless asked otherwise) or ``.flac`` (24-bit: FLAC has
  no float samples, so a mix above 0 dBFS is clipped there, with a warning):
  :func:`audio_subtype`, checked before any work.
* Audio that mixdown writes carries ``mixdown`` in its ``software`` metadata and the run's id in
  its ``comment`` (the parameter file written beside it records the same id in
  ``notes.run_id``), so a mix left in a session folder is recognised and never read back as a
  track (:func:`is_mixdown_audio`), and a reader can check that a mix and a parameter file
  belong together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from mixdown.errors import UsageError

log = logging.getLogger(__name__)

#: output suffix -> (libsndfile format, default subtype)
AUDIO_OUTPUTS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24")}
#: start of the ``software`` metadata of audio written by mixdown
SOFTWARE_TAG = "mixdown"


class OutputPathError(UsageError):
    """An output path cannot be used (it is an input, another output, or an unknown format)."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """``a`` and ``b`` name the same file: equal after resolving links, or one inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_outputs(outputs: Sequence[tuple[str, str | os.PathLike]],
                  inputs: Sequence[tuple[str, str | os.PathLike]], probe: bool = True) -> None:
    """Refuse (:class:`OutputPathError`) an output that is an input or the same file as another
    output, then (``probe``) one that cannot be written: an existing folder, device, pipe or
    socket, a path under a file, or a folder that takes no new file (:func:`check_writable`).
    ``outputs``, ``inputs``: ``(label, path)`` pairs; labels appear in the message
    (``"--out"``, ``"track 'bass'"``). Nothing is left behind."""
    for i, (label, out) in enumerate(outputs):
        for label2, out2 in outputs[:i]:
            if same_file(out, out2):
                raise OutputPathError(f"{label} {out} is the same file as {label2} {out2}; give each output its "
                                      "own path")
        for in_label, inp in inputs:
            if same_file(out, inp):
                raise OutputPathError(f"{label} {out} is the input {in_label} ({inp}); writing it would destroy "
                                      "that input: choose another output path")
    if probe:
        for label, out in outputs:
            check_writable(label, out)


def check_writable(label: str, path: str | os.PathLike) -> None:
    """Refuse (:class:`OutputPathError`, naming ``label``, the path and the fix) an output path that
    cannot be written (:func:`mixdown.fileio.probe_target`); called before any work."""
    from mixdown.fileio import OutputError, probe_target

    try:
        probe_target(path)
    except OutputError as e:
        raise OutputPathError(f"{label} {e}") from None


def check_output_folder(label: str, folder: str | os.PathLike) -> None:
    """Refuse (:class:`OutputPathError`) a folder an output writes files into (the report's
    ``NAME_figures/``) when it exists as something other than a folder."""
    folder = Path(folder)
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputPathError(f"{label} {folder}: exists and is not a folder, but the output's files go there; "
                              "remove it or choose another output name")


def audio_subtype(path: str | os.PathLike, bit_depth: str | None = None) -> str:
    """The libsndfile subtype to write ``path`` with (``bit_depth``: ``"32f"``, ``"24"``, ``"16"``
    or None for the format's default); :class:`OutputPathError` for a format mixdown does not
    write or a sample format the file format cannot hold."""
    import soundfile as sf

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_OUTPUTS:
        raise OutputPathError(f"{path}: unknown output format {path.suffix!r}; name the file .wav or .flac")
    fmt, default = AUDIO_OUTPUTS[suffix]
    subtypes = {"32f": "FLOAT", "24": "PCM_24", "16": "PCM_16"}
    subtype = default if bit_depth is None else subtypes[bit_depth]
    if not sf.check_format(fmt, subtype):
        ok = [b for b, st in subtypes.items() if sf.check_format(fmt, st)]
        raise OutputPathError(f"{path}: {fmt} files cannot hold --bit-depth {bit_depth} samples; pass --bit-depth "
                              f"{' or '.join(ok)} (or write a .wav file, which holds 32-bit float)")
    return subtype


def write_tagged_audio(tmp: Path, audio, sample_rate: int, subtype: str, run_id: str | None = None) -> None:
    """Write ``(frames, channels)`` audio to ``tmp`` (format from its suffix), tagged as mixdown's."""
    import soundfile as sf

    from mixdown import __version__

    fmt = AUDIO_OUTPUTS.get(tmp.suffix.lower(), ("WAV", subtype))[0]
    try:
        with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=audio.shape[1], subtype=subtype,
                          format=fmt) as f:
            f.software = f"{SOFTWARE_TAG} {__version__}"
            if run_id:
                f.comment = f"mixdown run {run_id}"
            f.write(audio)
    except sf.SoundFileError as e:  # libsndfile's own error type: a file-system failure (no space, ...)
        raise OSError(_libsndfile_errno(str(e)), f"libsndfile: {e}") from e


def _libsndfile_errno(message: str) -> int:
    """The errno behind a libsndfile write error's text (``System error : No space left on device``)."""
    import errno

    for code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.ENOENT, errno.EIO):
        if os.strerror(code) in message:
            return code
    return errno.EIO



def is_mixdown_audio(path: str | os.PathLike) -> bool:
    """True for an audio file that mixdown wrote (its ``software`` metadata says so)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            return (f.software or "").startswith(SOFTWARE_TAG + " ")
    except Exception:  # unreadable files are reported by whoever reads them
        return False


def run_id_of(path: str | os.PathLike) -> str | None:
    """The run id in a mixdown audio file's ``comment`` (None when absent)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            comment = f.comment or ""
    except Exception:
        return None
    return comment[len("mixdown run "):] if comment.startswith("mixdown run ") else None
