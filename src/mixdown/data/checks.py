"""Audio inspection for the dataset builders: metadata, silence, clipping, activity, NaNs, offsets.

Files are opened with :mod:`soundfile` and read in blocks (``AnalysisOptions.block_s``), so a
long file never sits in memory whole. Problems a builder must report rather than crash on raise
:class:`AudioError` whose ``reason`` goes into the build report.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import correlate, resample_poly

from mixdown.errors import MixdownError

_TINY = 1e-20


@dataclass(frozen=True)
class AnalysisOptions:
    """Thresholds and sizes of the analysis (part of the build cache key).

    Attributes:
        frame_s: RMS frame (hop) length in seconds for activity.
        threshold_db: a frame is active when its RMS (all channels) exceeds this, dBFS.
        min_gap_s: inactive gaps shorter than this inside activity are bridged.
        min_region_s: active regions shorter than this are dropped.
        clip_level: samples with ``|x| >= clip_level`` count as clipped.
        block_s: seconds read per block.
        excerpt_s: length of the excerpt used for offset estimation.
        max_lag_s: largest mix offset searched, seconds either way.
        decimate_to_hz: the coarse offset search runs near this rate.
        refine_s: length of the full-rate excerpt of the fine search.
        align_tolerance: ``|offset|`` up to this many samples counts as aligned.
        min_correlation: a weaker normalised correlation leaves the song not aligned.
    """

    frame_s: float = 0.05
    threshold_db: float = -60.0
    min_gap_s: float = 0.5
    min_region_s: float = 0.1
    clip_level: float = 0.999
    block_s: float = 10.0
    excerpt_s: float = 30.0
    max_lag_s: float = 1.0
    decimate_to_hz: int = 4000
    refine_s: float = 2.0
    align_tolerance: int = 2
    min_correlation: float = 0.2


DEFAULT_OPTIONS = AnalysisOptions()


class AudioError(MixdownError):
    """A file that cannot be used as audio; ``reason`` says why (for the skip list)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass
class AudioStats:
    """Whole-file statistics from one block pass.

    Attributes:
        channels, sample_rate (Hz), frames: samples per channel actually read.
        hop: samples per RMS frame; frame_rms: ``(ceil(frames / hop),)`` RMS over all channels
            (linear, non-finite samples counted as 0).
        peak: max ``|x|``; clipped: fraction of samples at or above the clip level;
        nonfinite: count of NaN/Inf samples.
    """

    channels: int
    sample_rate: int
    frames: int
    hop: int
    frame_rms: np.ndarray
    peak: float
    clipped: float
    nonfinite: int

    @property
    def rms_db(self) -> float:
        """Whole-file RMS in dBFS (-inf floor at -200)."""
        if self.frames == 0:
            return -200.0
        ms = float(np.sum(self.frame_rms**2 * self._frame_len())) / self.frames
        return max(-200.0, 10 * math.log10(ms + _TINY))

    def _frame_len(self) -> np.ndarray:
        n = np.full(len(self.frame_rms), self.hop, dtype=np.float64)
        if len(n) and self.frames % self.hop:
            n[-1] = self.frames % self.hop
        return n


def probe(path: Path) -> sf._SoundFileInfo:
    """``soundfile.info`` of ``path``; AudioError for a missing, empty or non-audio file."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise AudioError(path, f"cannot stat file ({e.strerror})") from e
    if not stat.S_ISREG(st.st_mode):  # a pipe would block forever
        raise AudioError(path, "not a regular file (a pipe, socket, device or folder)")
    size = st.st_size
    if size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises several types for junk input
        raise AudioError(path, f"not readable as audio by libsndfile ({_msg(e)})") from e
    if info.frames <= 0:
        raise AudioError(path, "no audio frames")
    if info.channels not in (1, 2):
        raise AudioError(path, f"{info.channels} channels; mixdown takes mono or stereo files (split it into mono "
                               "or stereo files)")
    return info


def analyse_audio(path: Path, opts: AnalysisOptions = DEFAULT_OPTIONS) -> AudioStats:
    """Read ``path`` block by block: frame RMS, peak, clipping and non-finite samples."""
    info = probe(path)
    sr, ch = int(info.samplerate), int(info.channels)
    hop = max(1, int(round(opts.frame_s * sr)))
    block = hop * max(1, int(opts.block_s * sr) // hop)
    sums, counts = [], []
    peak, n_clip, n_bad, frames = 0.0, 0, 0, 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                x = f.read(block, dtype="float32", always_2d=True)
                if x.shape[0] == 0:
                    break
                bad = ~np.isfinite(x)
                if bad.any():
                    n_bad += int(bad.sum())
                    x = np.where(bad, np.float32(0), x)
                a = np.abs(x)
                peak = max(peak, float(a.max()))
                n_clip += int(np.count_nonzero(a >= opts.clip_level))
                s, c = _frame_power(x, hop)
                sums.append(s)
                counts.append(c)
                frames += x.shape[0]
    except AudioError:
        raise
    except Exception as e:
        raise AudioError(path, f"read failed after {frames} frames ({_msg(e)})") from e
    if frames == 0:
        raise AudioError(path, "no audio frames could be read")
    power = np.concatenate(sums) / np.concatenate(counts)
    return AudioStats(ch, sr, frames, hop, np.sqrt(power), peak, n_clip / (frames * ch), n_bad)


def _frame_power(x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame sum of squares over samples and channels, and sample counts; ``x`` is ``(n, ch)``."""
    n = x.shape[0]
    n_frames = -(-n // hop)
    pad = n_frames * hop - n
    per_sample = np.einsum("ij,ij->i", x, x)
    if pad:
        per_sample = np.pad(per_sample, (0, pad))
    sq = per_sample.reshape(n_frames, hop).sum(axis=1, dtype=np.float64)
    cnt = np.full(n_frames, hop * x.shape[1], dtype=np.float64)
    if pad:
        cnt[-1] = (hop - pad) * x.shape[1]
    return sq, cnt


def active_regions(frame_rms: np.ndarray, hop_s: float, opts: AnalysisOptions = DEFAULT_OPTIONS,
                   duration_s: float | None = None) -> list[list[float]]:
    """Active regions ``[[start_s, end_s], ...]`` from frame RMS ``(n_frames,)`` (hop ``hop_s`` s).

    Frames above ``threshold_db`` are active; gaps under ``min_gap_s`` are bridged, regions under
    ``min_region_s`` dropped. Times are rounded to milliseconds and clipped to ``duration_s``.
    """
    active = 20 * np.log10(np.asarray(frame_rms, dtype=np.float64) + _TINY) > opts.threshold_db
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and (a - merged[-1][1]) * hop_s < opts.min_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    end = duration_s if duration_s is not None else len(active) * hop_s
    return [[round(a * hop_s, 3), round(min(b * hop_s, end), 3)] for a, b in merged
            if (b - a) * hop_s >= opts.min_region_s]


def read_mono(path: Path, start: int, n: int) -> np.ndarray:
    """Samples ``[start, start + n)`` of ``path`` averaged over channels, ``(n,)`` float64.

    Positions before 0 or past the end read as zeros; non-finite samples as zeros.
    """
    out = np.zeros(n, dtype=np.float64)
    lo = max(0, start)
    with sf.SoundFile(str(path)) as f:
        if lo >= f.frames or start + n <= 0:
            return out
        f.seek(lo)
        x = f.read(start + n - lo, dtype="float64", always_2d=True)
    out[lo - start: lo - start + x.shape[0]] = np.nan_to_num(x.mean(axis=1), nan=0.0, posinf=0.0, neginf=0.0)
    return out


def excerpt_start(frame_rms: np.ndarray, hop: int, frames: int, length: int) -> int:
    """Start sample of the ``length``-sample window with the most energy (frame RMS ``(n,)``)."""
    if frames <= length:
        return 0
    w = max(1, length // hop)
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(frame_rms, dtype=np.float64) ** 2)])
    score = (cum[w:] - cum[:-w])[: max(1, (frames - length) // hop + 1)]
    return int(np.argmax(score)) * hop if len(score) else 0


def _xcorr_lag(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Lag ``d`` in ``[-max_lag, max_lag]`` maximising the normalised correlation of ``x`` and ``y``.

    ``x`` is ``(n,)``; ``y`` is ``(n + 2 max_lag,)`` and starts ``max_lag`` samples before ``x``, so
    ``y[max_lag + d + i] ~ x[i]``. Returns ``(d, correlation in [-1, 1])``.
    """
    c = correlate(y, x, mode="valid", method="fft")
    cum = np.concatenate([[0.0], np.cumsum(y * y)])
    ey = cum[len(x):] - cum[: len(cum) - len(x)]
    ey = np.maximum(ey, 1e-3 * ey.max() + _TINY)
    ncc = c / np.sqrt(float(np.dot(x, x)) * ey + _TINY)
    k = int(np.argmax(ncc))
    return k - max_lag, float(ncc[k])


def estimate_offset(tracks: list[Path], mix: Path, sample_rate: int, start: int, length: int,
                    opts: AnalysisOptions = DEFAULT_OPTIONS) -> tuple[int, float] | None:
    """Lag of ``mix`` behind the sum of ``tracks`` (all at ``sample_rate``), in samples.

    A coarse FFT cross-correlation of the mono downmix, decimated to about ``decimate_to_hz``, on
    samples ``[start, start + length)`` (lags up to ``max_lag_s``), refined at the full rate on
    the loudest ``refine_s`` of the excerpt. Positive: ``mix[n] ~ sum[n - offset]`` (the mix is
    late). Returns ``(offset, normalised correlation)``, or None when the excerpt is silent.
    """
    max_lag = max(1, int(opts.max_lag_s * sample_rate))
    total = sum(read_mono(p, start, length) for p in tracks)
    ref = read_mono(mix, start - max_lag, length + 2 * max_lag)
    if float(np.dot(total, total)) < 1e-12 or float(np.dot(ref, ref)) < 1e-12:
        return None
    q = max(1, sample_rate // max(1, opts.decimate_to_hz))
    lag_q = max(1, max_lag // q)
    xd = resample_poly(total, 1, q) if q > 1 else total
    yd = resample_poly(ref[max_lag - lag_q * q:], 1, q)[: len(xd) + 2 * lag_q] if q > 1 else ref
    coarse = _xcorr_lag(xd, np.pad(yd, (0, len(xd) + 2 * lag_q - len(yd))), lag_q)[0] * q
    r = min(length, max(1, int(opts.refine_s * sample_rate)))
    h = max(1, r // 8)
    sq, cnt = _frame_power(total[:, None], h)
    a = excerpt_start(np.sqrt(sq / cnt), h, length, r)
    pad = 2 * q
    seg = total[a: a + r]
    win = read_mono(mix, start + a + coarse - pad, len(seg) + 2 * pad)
    if float(np.dot(seg, seg)) < 1e-12 or float(np.dot(win, win)) < 1e-12:
        return None
    fine, corr = _xcorr_lag(seg, win, pad)
    return coarse + fine, corr


def _msg(e: Exception) -> str:
    """Short reason of a soundfile/OS exception (libsndfile's own text, without the path)."""
    text = getattr(e, "error_string", None) or (str(e).strip().splitlines() or [""])[-1]
    return f"{type(e).__name__}: {str(text).strip()}".rstrip(": ")
