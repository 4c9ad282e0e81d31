"""Reading a session's audio files: validation with clear errors, streaming block reads.

Errors name the file and the fix. Files at another sample rate are an error unless resampling
is asked for; then they are resampled (polyphase, scipy) with a warning.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.errors import UsageError

log = logging.getLogger(__name__)

#: file name endings treated as audio (what libsndfile may read; unreadable ones are reported)
AUDIO_EXTS = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga", ".mp3", ".w64", ".rf64", ".caf")


class SessionError(UsageError):
    """A session's audio cannot be used as it is; the message names the file and the fix."""


@dataclass
class TrackInfo:
    path: Path
    channels: int
    sample_rate: int
    frames: int


def track_path(session_dir: str | os.PathLike, file: str, *, allow_outside: bool = False,
               track: str | None = None) -> Path:
    """The path of a track's ``file`` entry (relative to ``session_dir``), checked before anything is
    opened: unless ``allow_outside``, it must resolve (symlinks followed) inside the session folder.

    A file outside is refused with one message whatever it points at (a file, nothing, a folder),
    so the error tells nothing about what exists outside the session.
    """
    session_dir = Path(session_dir)
    who = f"track {track!r}: " if track is not None else ""
    try:
        if "\x00" in file:
            raise ValueError("NUL character")
        os.fsencode(file)
    except (ValueError, TypeError):  # NUL, or a lone surrogate no file name can hold (UnicodeEncodeError)
        raise SessionError(f"{who}file {file!r} holds a character no file name can (a NUL or a lone surrogate); "
                           "fix the 'file' entry") from None
    path = session_dir / file
    if not allow_outside:
        root = os.path.realpath(session_dir)
        real = os.path.realpath(path)
        if real != root and os.path.commonpath([root, real]) == root:
            return path
        raise SessionError(f"{who}file {file!r} is outside the session folder {session_dir}; a track's file must "
                           "lie inside the session folder (symbolic links resolved): copy or move it there, or "
                           "pass --allow-outside-session")
    return path


def probe(path: Path) -> TrackInfo:
    """Header of one audio file; :class:`SessionError` when missing, not a regular file, unreadable
    or not 1-2 channels. Only regular files are opened (a pipe would block forever)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SessionError(f"{path}: file not found; check the 'file' entry or the session folder") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SessionError(f"{path}: a symbolic link loop (the link leads back to itself); replace it with "
                               "the audio file or a link to it") from None
        raise SessionError(f"{path}: cannot be opened ({e.strerror}); check its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise SessionError(f"{path}: is a folder, expected an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise SessionError(f"{path}: not a regular file (a pipe, socket or device); mixdown reads audio only from "
                           "regular files: give the audio file itself")
    if not os.access(path, os.R_OK):
        raise SessionError(f"{path}: cannot be opened (permission denied); make it readable")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises its own error types
        raise SessionError(f"{path}: not readable as audio ({e}); convert it to WAV or FLAC") from e
    if info.channels not in (1, 2):
        raise SessionError(f"{path}: has {info.channels} channels; mixdown takes mono or stereo tracks "
                           "(split multichannel files into mono or stereo files)")
    if info.frames <= 0:
        raise SessionError(f"{path}: contains no audio frames; remove it from the session")
    declared = wav_declared_frames(path)
    if declared is not None and declared > info.frames:
        log.warning("%s: truncated: its header declares %d frames (%.2f s) but the file holds %d (%.2f s); the "
                    "missing %.2f s are silence in the mix; re-copy or re-export the file", path, declared,
                    declared / info.samplerate, info.frames, info.frames / info.samplerate,
                    (declared - info.frames) / info.samplerate)
    return TrackInfo(path, info.channels, int(info.samplerate), int(info.frames))


def wav_declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE file's ``data`` chunk header declares (None: not a WAV file, or a size
    the writer left open); more than libsndfile finds means the file was cut short."""
    try:
        with open(path, "rb") as fh:
            found = wav_data_chunk(fh)
    except OSError:
        return None
    if found is None:
        return None
    fmt, size = found
    block_align = struct.unpack("<H", fmt[12:14])[0] if fmt is not None and len(fmt) >= 14 else None
    if not block_align or size in (0, 0xFFFFFFFF):
        return None
    return size // block_align


def wav_data_chunk(fh) -> tuple[bytes | None, int] | None:
    """Walk an open RIFF/WAVE file's chunks from its start: its ``fmt `` chunk's bytes (None when
    none comes before the data) and the ``data`` chunk's declared size, ``fh`` left at the first
    sample; None for a file that is not RIFF/WAVE or ends before its data."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt = None
    while True:
        chunk = fh.read(8)
        if len(chunk) < 8:
            return None
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            fmt = fh.read(size + (size & 1))
        elif cid == b"data":
            return fmt, size
        else:
            fh.seek(size + (size & 1), os.SEEK_CUR)


def read_error(path: Path, e: Exception, at_frame: int | None = None) -> SessionError:
    """The error for a file libsndfile fails to decode part-way (truncated or corrupt)."""
    where = f" at frame {at_frame}" if at_frame is not None else ""
    return SessionError(f"{path}: cannot be decoded{where} ({e}); the file is truncated or corrupt: re-copy or "
                        "re-export it")


def read_audio(path: Path, start: int = 0, frames: int = -1) -> np.ndarray:
    """``frames`` frames (-1: to the end) from ``start`` as ``(frames, channels)`` float32; decoding
    errors become :class:`SessionError` naming the file."""
    try:
        with sf.SoundFile(str(path)) as f:
            f.seek(min(start, f.frames))
            return f.read(frames, dtype="float32", always_2d=True)
    except sf.SoundFileError as e:
        raise read_error(path, e) from e


def resample_ratio(src_rate: int, dst_rate: int) -> Fraction:
    return Fraction(dst_rate, src_rate)


def load_resampled(info: TrackInfo, sample_rate: int) -> np.ndarray:
    """Whole file resampled to ``sample_rate``. Shape: ``(frames, channels)`` float32."""
    from scipy.signal import resample_poly

    data = read_audio(info.path)
    check_finite(data, info.path)
    r = resample_ratio(info.sample_rate, sample_rate)
    return resample_poly(data, r.numerator, r.denominator, axis=0).astype(np.float32)


def check_finite(block: np.ndarray, path: Path) -> None:
    if not np.isfinite(block).all():
        raise SessionError(f"{path}: contains NaN or infinite samples; repair or re-export the file")


class TrackReader:
    """Sequential block reader that pads with silence after the file ends.

    ``read_into(buf)`` fills ``buf`` (shape ``(n, 2)`` float32; only column 0 for mono files).
    ``keep_open=False`` opens the file for each block and closes it again (slower; for more tracks
    than the process may hold open files, see :func:`mixdown.dsp.render.render`).

    16- and 24-bit PCM WAV files held open are decoded by a compiled kernel straight from their
    bytes (:func:`mixdown.dsp.kernels.decode_pcm`: libsndfile's samples, bit for bit, in one pass
    with the block's statistics); other files through libsndfile. Every block is checked (finite
    samples) and measured (peak, DC detection) in one compiled pass.
    """

    def __init__(self, info: TrackInfo, sample_rate: int, resample: bool, keep_open: bool = True):
        from mixdown.dsp import kernels

        self._kernels = kernels
        self.info = info
        self.channels = info.channels
        self._data: np.ndarray | None = None
        self._pos = 0
        self.peak = 0.0  # largest |sample| read so far
        self._mean = np.zeros(info.channels)  # per channel: running mean and squared deviations
        self._m2 = np.zeros(info.channels)    # (DC detection; blocks merged as Chan et al. 1979)
        self._n = 0
        self._sums = np.zeros((2, info.channels))
        self._file: sf.SoundFile | None = None
        self._raw = None  # the open file of a PCM WAV decoded here: (file, data offset, bytes per sample)
        if info.sample_rate != sample_rate:
            if not resample:
                raise SessionError(
                    f"{info.path}: sample rate {info.sample_rate} Hz differs from the session's "
                    f"{sample_rate} Hz; pass --resample (resample=True) or convert the file")
            log.warning("%s: resampling %d Hz -> %d Hz", info.path, info.sample_rate, sample_rate)
            self._data = load_resampled(info, sample_rate)
            self.frames = self._data.shape[0]
        else:
            self.frames = info.frames
            self._keep_open = keep_open
            if keep_open:
                self._file = self._open()
                self._raw = _pcm_wav(self._file, info)
                if self._raw is not None:  # the bytes are read here: libsndfile's handle is not needed
                    self._file.close()
                    self._file = None
                    self._bytes = np.empty(0, dtype=np.uint8)
            self._tmp = np.empty((0, info.channels), dtype=np.float32)

    def _open(self) -> sf.SoundFile:
        try:
            return sf.SoundFile(str(self.info.path))
        except sf.SoundFileError as e:
            raise read_error(self.info.path, e, self._pos) from e

    def read_into(self, buf: np.ndarray) -> None:
        n = buf.shape[0]
        got = 0
        if self._data is not None:
            chunk = self._data[self._pos:self._pos + n]
            got = chunk.shape[0]
            buf[:got, :self.channels] = chunk
            if got:
                self._measure(buf[:got, :self.channels])
        elif self._raw is not None:
            got = self._read_pcm(buf)
        elif self._file is not None or not getattr(self, "_keep_open", True):
            if self._tmp.shape[0] != n:
                self._tmp = np.empty((n, self.channels), dtype=np.float32)
            if self._file is None:  # opened for this block only
                f = self._open()
                try:
                    f.seek(min(self._pos, f.frames))
                    got = f.read(n, dtype="float32", always_2d=True, out=self._tmp).shape[0]
                except sf.SoundFileError as e:
                    raise read_error(self.info.path, e, self._pos) from e
                finally:
                    f.close()
            else:
                try:
                    got = self._file.read(n, dtype="float32", always_2d=True, out=self._tmp).shape[0]
                except sf.SoundFileError as e:
                    raise read_error(self.info.path, e, self._pos) from e
            buf[:got, :self.channels] = self._tmp[:got]
            if got:
                self._measure(buf[:got, :self.channels])
        self._pos += got
        buf[got:] = 0.0

    def _read_pcm(self, buf: np.ndarray) -> int:
        """The next block of a PCM WAV file into ``buf``, decoded and measured in one pass."""
        fh, offset, width = self._raw
        got = min(buf.shape[0], self.frames - self._pos)
        if got <= 0:
            return 0
        size = got * self.channels * width
        if self._bytes.shape[0] < size:
            self._bytes = np.empty(size, dtype=np.uint8)
        try:
            read = fh.readinto(memoryview(self._bytes)[:size])
        except OSError as e:
            raise read_error(self.info.path, e, self._pos) from e
        if read != size:
            raise read_error(self.info.path, EOFError(f"{read} of {size} bytes: the file shrank while being read"),
                             self._pos)
        self._sums[:] = 0.0
        peak = self._kernels.decode_pcm(self._bytes[:size], width, buf[:got, :self.channels], self._sums)
        first = buf[0, :self.channels].astype(np.float64)
        self._merge(got, first, float(peak))
        return got

    def _measure(self, block: np.ndarray) -> None:
        """Check a block read through libsndfile (finite samples) and add it to the statistics."""
        self._sums[:] = 0.0
        finite, peak = self._kernels.block_stats(block, self._sums)
        if not finite:
            raise SessionError(f"{self.info.path}: contains NaN or infinite samples; repair or re-export the file")
        self._merge(block.shape[0], block[0].astype(np.float64), float(peak))

    def _merge(self, n: int, first: np.ndarray, peak: float) -> None:
        """Merge a block's per-channel mean and squared deviations (from :attr:`_sums`, the sums of
        the samples' differences from the block's ``first`` ones and of their squares: exact for
        a constant signal, so an offset never shows variance from rounding) into the running ones."""
        self.peak = max(self.peak, peak)
        s, q = self._sums
        m2 = q - s * s / n
        mean = first + s / n
        total = self._n + n
        delta = mean - self._mean
        self._m2 += np.maximum(m2, 0.0) + delta * delta * self._n * n / total
        self._mean += delta * n / total
        self._n = total

    @property
    def dc_only(self) -> bool:
        """True when the samples read (at least 1024) are a constant offset: a nonzero mean with (next
        to) no signal around it (less than -60 dB of the offset's power)."""
        if self._n < 1024 or self.peak == 0.0:  # a few samples are not "a constant signal"
            return False
        mean = self._mean
        var = self._m2 / self._n
        return bool(np.all(var <= 1e-6 * np.maximum(mean ** 2, 1e-30)) and np.any(mean != 0))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._raw is not None:
            self._raw[0].close()
            self._raw = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pcm_wav(f: sf.SoundFile, info: TrackInfo):
    """For a little-endian 16- or 24-bit PCM WAV file (plain or extensible) whose ``data`` chunk holds every frame
    libsndfile counts: ``(the file opened at its first frame, the data's offset, bytes per
    sample)``; else None (libsndfile reads it)."""
    width = {"PCM_16": 2, "PCM_24": 3}.get(f.subtype)
    if f.format not in ("WAV", "WAVEX") or width is None or f.endian not in ("FILE", "LITTLE"):
        return None
    align = info.channels * width
    try:
        fh = open(info.path, "rb")
    except OSError:
        return None
    try:
        found = wav_data_chunk(fh)
        if found is None or found[0] is None:
            raise ValueError
        fmt, size = found
        tag, channels, _, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
        fmt_ok = tag in (1, 0xFFFE) and channels == info.channels and block_align == align and bits == 8 * width
        if not fmt_ok or size == 0xFFFFFFFF or size < info.frames * align:
            raise ValueError
        return fh, fh.tell(), width
    except (ValueError, struct.error, OSError):
        fh.close()
        return None


def is_audio(path: Path) -> bool:
    """True for a visible file whose name ends in one of :data:`AUDIO_EXTS`."""
    return path.name.lower().endswith(AUDIO_EXTS) and not path.name.startswith(".")


#: files in a session folder that are references, not tracks
REFERENCE_STEMS = {"mix", "reference_mix", "reference"}
#: analysis windows are at least this long (zero-padded past the end), enough for the models' STFTs
MIN_WINDOW = 8192
#: a reference mix shorter than this is refused: its balance, level and decay (measured over lags up to
#: 0.4 s, with STFTs of 4096 samples) cannot be told from less
MIN_REFERENCE_S = 1.0


@dataclass
class Session:
    """Tracks of a session folder, read lazily: :meth:`window` reads only what analysis needs
    (tracks at another rate are resampled once, in memory); :attr:`audio` loads everything."""

    folder: Path
    names: list[str]
    files: list[str]
    infos: list[TrackInfo]
    sample_rate: int
    frames: int
    #: tracks held in memory (resampled ones, or all of a :meth:`from_arrays` session), ``(channels, frames)``
    resampled_audio: dict[int, np.ndarray]

    @property
    def resampled(self) -> bool:
        return bool(self.resampled_audio)

    def track_frames(self) -> list[int]:
        """Each track's own length in frames at the session's rate (before padding)."""
        return [self.resampled_audio[i].shape[1] if i in self.resampled_audio else info.frames
                for i, info in enumerate(self.infos)]

    @classmethod
    def from_arrays(cls, tracks, sample_rate: int, names: list[str] | None = None) -> "Session":
        """A session held in memory: ``tracks`` is ``(N, channels, frames)`` or a list of
        ``(channels, frames)`` / ``(frames,)`` arrays (1 or 2 channels); ``names`` default to
        ``track1``, ``track2``, ... (files ``<name>.wav``, for the parameter file)."""
        audio = [as_track(x, i) for i, x in enumerate(tracks)]
        if not audio:
            raise SessionError("no tracks given")
        names = list(names) if names is not None else [f"track{i + 1}" for i in range(len(audio))]
        if len(names) != len(audio) or len(set(names)) != len(names):
            raise SessionError(f"names {names}: expected {len(audio)} distinct names, one per track")
        infos = [TrackInfo(Path(f"{n}.wav"), a.shape[0], int(sample_rate), a.shape[1]) for n, a in zip(names, audio)]
        return cls(Path("."), names, [f"{n}.wav" for n in names], infos, int(sample_rate),
                   max(a.shape[1] for a in audio), dict(enumerate(audio)))

    def window(self, i: int, start: int, n: int) -> np.ndarray:
        """Frames ``start .. start + n`` of track ``i`` as ``(2, n)`` float32 (mono duplicated,
        zero-padded past the end)."""
        if i in self.resampled_audio:
            return segment(self.resampled_audio[i], start, n)
        seg = read_audio(self.infos[i].path, start, n).T  # decoding errors name the file
        check_finite(seg, self.infos[i].path)
        return segment(seg, 0, n)

    @property
    def audio(self) -> list[np.ndarray]:
        """Every whole track, ``(channels, frames)`` float32 (loads all files; cached)."""
        if not hasattr(self, "_audio"):
            self._audio = [self.resampled_audio[i] if i in self.resampled_audio else
                           np.ascontiguousarray(read_audio(info.path).T)
                           for i, info in enumerate(self.infos)]
        return self._audio


def find_tracks(folder: str | os.PathLike, allow_outside_session: bool = False) -> tuple[Path, list[Path]]:
    """Audio files of a session: ``folder/tracks/*`` if that exists, else ``folder/*``.

    Non-audio files and entries that are not regular files are listed in a warning and skipped;
    reference mixes (``mix.*``, ``reference_mix.*``) and audio that mixdown wrote (an earlier
    mix: :func:`mixdown.outputs.is_mixdown_audio`) are not tracks. A link leading outside the
    session folder is refused unless ``allow_outside_session`` (see :func:`track_path`).
    """
    from mixdown.outputs import is_mixdown_audio

    folder = Path(folder)
    if not folder.is_dir():
        raise SessionError(f"{folder}: session folder not found")
    root = folder / "tracks" if (folder / "tracks").is_dir() else folder
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file()]
    others = [p.name for p in entries if not p.is_file() and not p.is_dir()]  # pipes, sockets, broken links
    if others:
        log.warning("%s: skipping entries that are not regular files: %s", root, ", ".join(others))
    audio = [p for p in files if is_audio(p) and p.stem.lower() not in REFERENCE_STEMS]
    ours = [p for p in audio if is_mixdown_audio(p)]
    if ours:
        log.warning("%s: skipping mixes that mixdown wrote (not tracks): %s", root, ", ".join(p.name for p in ours))
        audio = [p for p in audio if p not in ours]
    skipped = [p.name for p in files if not is_audio(p)]
    if skipped:
        log.warning("%s: skipping non-audio files: %s", root, ", ".join(skipped))
    if not audio:
        raise SessionError(f"{root}: no audio files (expected {', '.join(AUDIO_EXTS)})")
    stems = [p.stem for p in audio]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise SessionError(f"{root}: several files share the track names {dupes}; rename them (track names "
                           "are file names without extension)")
    for p in audio:  # a link that leads outside the session folder is refused like a 'file' entry
        track_path(folder, os.path.relpath(p, folder), allow_outside=allow_outside_session, track=p.stem)
    return root, audio


def read_session(folder: str | os.PathLike, sample_rate: int | None = None,
                 allow_outside_session: bool = False) -> Session:
    """Read every track of a session folder (see :func:`find_tracks` and :func:`read_tracks`)."""
    return read_tracks(find_tracks(folder, allow_outside_session)[1], folder, sample_rate)


def read_tracks(paths: list[Path], folder: str | os.PathLike, sample_rate: int | None = None) -> Session:
    """Read tracks (resampled with a warning to ``sample_rate`` or the most common rate; shorter
    tracks padded with silence at the end, with a warning); ``file`` entries are relative to
    ``folder``."""
    folder = Path(folder)
    infos = [probe(p) for p in paths]
    rates = [i.sample_rate for i in infos]
    sr = sample_rate or max(set(rates), key=rates.count)
    resampled = {}
    for i, info in enumerate(infos):
        if info.sample_rate != sr:
            log.warning("%s: resampling %d Hz -> %d Hz", info.path, info.sample_rate, sr)
            resampled[i] = np.ascontiguousarray(load_resampled(info, sr).T)
    lengths = [resampled[i].shape[1] if i in resampled else info.frames for i, info in enumerate(infos)]
    n = max(lengths)
    for p, m in zip(paths, lengths):
        if m < n:
            log.warning("%s: %.2f s shorter than the longest track; padded with silence at the end",
                        p.name, (n - m) / sr)
    return Session(folder, [p.stem for p in paths], [os.path.relpath(p, folder) for p in paths], infos, sr, n,
                   resampled)


def windows(n_frames: int, window: int, count: int) -> list[int]:
    """Start frames of up to ``count`` analysis windows spread evenly over the song."""
    if n_frames <= window:
        return [0]
    starts = np.linspace(0, n_frames - window, count).astype(int)
    return sorted(set(int(s) for s in starts))


def raw_windows(session: Session, starts: list[int], window: int) -> np.ndarray:
    """Unscaled windows of every track (mono duplicated), shape ``(W, N, 2, window)`` float32."""
    return np.stack([[session.window(i, s, window) for i in range(len(session.names))] for s in starts])


def segment(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """Frames ``start .. start + n`` of ``(channels, T)`` audio as ``(2, n)`` float32 (mono duplicated,
    zero-padded past the end)."""
    out = np.zeros((2, n), dtype=np.float32)
    seg = x[:, start:start + n]
    out[:, :seg.shape[1]] = seg
    return out


def load_reference(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, int]:
    """The reference mix as ``(frames, 2)`` float32 at ``sample_rate`` (mono in both channels).

    A file at another rate is resampled (polyphase) with a warning; ``mixdown mix --reference`` and
    the report both read it here. Returns ``(audio, the file's own sample rate)``.

    Raises:
        SessionError: the file is missing, unreadable as audio, not mono or stereo, not finite, or
            shorter than :data:`MIN_REFERENCE_S`; the message names it.
    """
    import soundfile as sf

    path = Path(path)
    try:
        info = probe(path)
        if info.sample_rate != sample_rate:
            log.warning("%s: reference at %d Hz, resampling to the mix's %d Hz", path, info.sample_rate,
                        sample_rate)
            x = load_resampled(info, sample_rate)
        else:
            x = sf.read(str(path), dtype="float32", always_2d=True)[0]
            check_finite(x, path)
        if x.shape[0] < MIN_REFERENCE_S * sample_rate:
            raise SessionError(f"{path}: {info.frames} frames ({info.frames / info.sample_rate:.3f} s) is too short "
                               f"to compare a mix with; a reference needs at least {MIN_REFERENCE_S:g} s: give a "
                               "longer mix")
    except SessionError as e:
        raise SessionError(f"reference mix: {e}") from e
    return (np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x), info.sample_rate


def as_track(x, i: int = 0) -> np.ndarray:
    """One track as contiguous ``(channels, frames)`` float32 (a 1-D array is mono); finite, 1-2 channels."""
    a = np.asarray(x, dtype=np.float32)
    a = a[None] if a.ndim == 1 else a
    if a.ndim != 2 or a.shape[0] not in (1, 2):
        raise SessionError(f"track {i}: shape {np.shape(x)}; expected (channels, frames) with 1 or 2 channels")
    if not np.isfinite(a).all():
        raise SessionError(f"track {i}: contains NaN or infinite samples")
    return np.ascontiguousarray(a)


class ArrayReader:
    """:class:`TrackReader`'s interface over a track held in memory, ``(channels, frames)``."""

    def __init__(self, audio: np.ndarray, name: str = "track"):
        self.audio = audio
        self.channels, self.frames = audio.shape
        self.info = TrackInfo(Path(f"{name}.wav"), self.channels, 0, self.frames)
        self.peak = 0.0
        self._pos = 0

    def read_into(self, buf: np.ndarray) -> None:
        chunk = self.audio[:, self._pos:self._pos + buf.shape[0]].T
        got = chunk.shape[0]
        buf[:got, :self.channels] = chunk
        if got:
            self.peak = max(self.peak, float(np.abs(chunk).max()))
        self._pos += got
        buf[got:] = 0.0

    def close(self) -> None:
        pass
