"""Reading a session's audio files: validation with clear errors, streaming block reads.

Errors name the file and the fix. Files at another sample rate are an error unless resampling
is asked for; then they are resampled (polyphase, scipy) with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)


class SessionError(ValueError):
    """A session's audio cannot be used as it is; the message names the file and the fix."""


@dataclass
class TrackInfo:
    path: Path
    channels: int
    sample_rate: int
    frames: int


def probe(path: Path) -> TrackInfo:
    """Header of one audio file; :class:`SessionError` when missing, unreadable or not 1-2 channels."""
    if not path.exists():
        raise SessionError(f"{path}: file not found; check the 'file' entry or the session folder")
    if path.is_dir():
        raise SessionError(f"{path}: is a folder, expected an audio file")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises its own error types
        raise SessionError(f"{path}: not readable as audio ({e}); convert it to WAV or FLAC") from e
    if info.channels not in (1, 2):
        raise SessionError(f"{path}: has {info.channels} channels; mixdown takes mono or stereo tracks "
                           "(split multichannel files into mono or stereo files)")
    if info.frames <= 0:
        raise SessionError(f"{path}: contains no audio frames; remove it from the session")
    return TrackInfo(path, info.channels, int(info.samplerate), int(info.frames))


def resample_ratio(src_rate: int, dst_rate: int) -> Fraction:
    return Fraction(dst_rate, src_rate)


def load_resampled(info: TrackInfo, sample_rate: int) -> np.ndarray:
    """Whole file resampled to ``sample_rate``. Shape: ``(frames, channels)`` float32."""
    from scipy.signal import resample_poly

    data, _ = sf.read(str(info.path), dtype="float32", always_2d=True)
    check_finite(data, info.path)
    r = resample_ratio(info.sample_rate, sample_rate)
    return resample_poly(data, r.numerator, r.denominator, axis=0).astype(np.float32)


def check_finite(block: np.ndarray, path: Path) -> None:
    if not np.isfinite(block).all():
        raise SessionError(f"{path}: contains NaN or infinite samples; repair or re-export the file")


class TrackReader:
    """Sequential block reader that pads with silence after the file ends.

    ``read_into(buf)`` fills ``buf`` (shape ``(n, 2)`` float32; only column 0 for mono files).
    """

    def __init__(self, info: TrackInfo, sample_rate: int, resample: bool):
        self.info = info
        self.channels = info.channels
        self._data: np.ndarray | None = None
        self._pos = 0
        self.peak = 0.0  # largest |sample| read so far
        self._file: sf.SoundFile | None = None
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
            self._file = sf.SoundFile(str(info.path))
            self._tmp = np.empty((0, info.channels), dtype=np.float32)

    def read_into(self, buf: np.ndarray) -> None:
        n = buf.shape[0]
        got = 0
        if self._data is not None:
            chunk = self._data[self._pos:self._pos + n]
            got = chunk.shape[0]
            buf[:got, :self.channels] = chunk
        elif self._file is not None:
            if self._tmp.shape[0] != n:
                self._tmp = np.empty((n, self.channels), dtype=np.float32)
            got = self._file.read(n, dtype="float32", always_2d=True, out=self._tmp).shape[0]
            check_finite(self._tmp[:got], self.info.path)
            buf[:got, :self.channels] = self._tmp[:got]
        if got:
            self.peak = max(self.peak, float(np.abs(buf[:got, :self.channels]).max()))
        self._pos += got
        buf[got:] = 0.0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
