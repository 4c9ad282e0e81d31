"""ITU-R BS.1770-4 / EBU R128 loudness, loudness range and true peak in numpy/scipy.

All signal arguments ``x`` are numpy arrays shaped ``(channels, time)`` of float32 or float64
samples in full-scale units (1.0 = 0 dBFS); ``sample_rate`` is in Hz. Mono and stereo are weighted
1.0 per channel as BS.1770 specifies for L/R/C. Signals with more than two channels are accepted,
but every channel is weighted 1.0: the BS.1770 surround weights (1.41 for Ls/Rs) and LFE exclusion
are *not* applied, since the channel order is unknown here.

Loudness values are in LUFS (LKFS), ranges in LU, peaks in dBFS / dBTP. Results that are undefined
because nothing is audible (digital silence, everything gated, or a signal shorter than one
measurement window) are ``-inf`` for levels and ``0.0`` for the loudness range.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

logger = logging.getLogger(__name__)

__all__ = ["k_weighting_sos", "integrated_loudness", "momentary_loudness", "short_term_loudness",
           "loudness_range", "true_peak_dbtp", "sample_peak_dbfs", "loudness_stats"]

_LUFS_OFFSET = -0.691  # BS.1770 eq. (2): makes a 997 Hz full-scale sine in one channel read -3.01 LKFS
_ABS_GATE_LUFS = -70.0
_REL_GATE_LU = -10.0  # integrated loudness (BS.1770-4)
_LRA_REL_GATE_LU = -20.0  # loudness range (EBU Tech 3342)
_LRA_PERCENTILES = (10.0, 95.0)

# Analog-prototype parameters of the two K-weighting stages, as derived by Brecht De Man and used by
# libebur128 / pyloudnorm("DeMan"); the bilinear designs reproduce the BS.1770 48 kHz table.
_SHELF_F0, _SHELF_GAIN_DB, _SHELF_Q, _SHELF_VB_EXP = 1681.974450955533, 3.999843853973347, \
    0.7071752369554196, 0.4996667741545416
_HP_F0, _HP_Q = 38.13547087602444, 0.5003270373238773

_TP_TAPS = 48  # taps per polyphase branch of the true-peak interpolator
_TP_KAISER_BETA = 8.0
_TP_NFFT = 4096  # overlap-save FFT length
_TP_GROUP = 128  # frames per FFT batch (bounds memory to a few MB)


# ----------------------------------------------------------------------------------------------
# validation
def _positive(value, name: str, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a positive finite number of {unit}, got {value!r}")
    return v


def _check_rate(sample_rate: float) -> float:
    return _positive(sample_rate, "sample_rate", "Hz")


def _check_signal(x) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be shaped (channels, time), got ndim={x.ndim} shape={x.shape}")
    if x.shape[0] < 1:
        raise ValueError("x must have at least one channel")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x must hold float samples (float32/float64), got dtype {x.dtype}")
    # Cheap test first: a finite float64 sum implies every sample is finite.
    if x.size and not math.isfinite(float(x.sum(dtype=np.float64))) and not np.isfinite(x).all():
        raise ValueError("x contains non-finite samples (NaN or inf)")
    return x


def _check_hop(hop_s: float) -> float:
    return _positive(hop_s, "hop_s", "seconds")


# ----------------------------------------------------------------------------------------------
# K-weighting and block powers
def k_weighting_sos(sample_rate: float) -> np.ndarray:
    """BS.1770 K-weighting filter for ``sample_rate`` Hz as a (2, 6) float64 sos array.

    Row 0 is the high-shelf pre-filter (+4 dB above ~1.7 kHz), row 1 the RLB high-pass (~38 Hz);
    each row is ``[b0, b1, b2, 1, a1, a2]``. Both are bilinear transforms of the analog prototypes,
    so at 48 kHz they equal the coefficients tabulated in BS.1770-4.
    """
    fs = _check_rate(sample_rate)
    if fs <= 2.0 * _SHELF_F0:
        raise ValueError(f"sample_rate {fs} Hz is too low for K-weighting (needs > {2 * _SHELF_F0:.0f} Hz)")
    k = math.tan(math.pi * _SHELF_F0 / fs)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXP
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [(vh + vb * k / _SHELF_Q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / _SHELF_Q + k * k) / a0, 1.0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / _SHELF_Q + k * k) / a0]
    k = math.tan(math.pi * _HP_F0 / fs)
    a0 = 1.0 + k / _HP_Q + k * k
    # The tabulated RLB numerator [1, -2, 1] is not divided by a0, which leaves a passband gain of
    # a0(48 kHz) (+0.043 dB) that the -0.691 offset absorbs. Keep exactly that gain at every rate,
    # so loudness does not depend on the sample rate (libebur128 keeps [1, -2, 1]: -0.02 dB at 96 kHz).
    k48 = math.tan(math.pi * _HP_F0 / 48000.0)
    g = (1.0 + k48 / _HP_Q + k48 * k48) / a0
    highpass = [g, -2.0 * g, g, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HP_Q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def _weighted_power(x: np.ndarray, fs: float) -> np.ndarray:
    """Channel-summed K-weighted instantaneous power, shape (time,), float64."""
    from mixdown.dsp.kernels import sos2_power, sosfilt  # scipy.signal.sosfilt's samples, without its import time

    sos = k_weighting_sos(fs)
    if x.shape[0] <= 2 and x.dtype in (np.float32, np.float64):  # the same samples in one compiled pass
        return sos2_power(sos, x)
    y = sosfilt(sos, np.ascontiguousarray(x, dtype=np.float64))
    return np.einsum("ct,ct->t", y, y)


def _window_powers(power: np.ndarray, fs: float, window_s: float, hop_s: float) -> np.ndarray:
    """Mean power of every full window of ``window_s`` starting at multiples of ``hop_s``."""
    n = power.shape[0]
    win = int(round(window_s * fs))
    hop = hop_s * fs
    if win < 1 or n < win:
        return np.zeros(0)
    count = int(math.floor((n - win) / hop + 1e-9)) + 1
    starts = np.round(np.arange(count) * hop).astype(np.int64)
    starts = starts[starts + win <= n]
    csum = np.concatenate(([0.0], np.cumsum(power)))  # monotone, so differences are >= 0
    return (csum[starts + win] - csum[starts]) / win


def _to_lufs(mean_power):
    with np.errstate(divide="ignore"):
        return _LUFS_OFFSET + 10.0 * np.log10(mean_power)


def _gated_integrated(power: np.ndarray, fs: float) -> float:
    z = _window_powers(power, fs, 0.4, 0.1)  # 400 ms blocks, 75 % overlap
    if z.size == 0:
        return -math.inf
    lk = _to_lufs(z)
    above_abs = lk > _ABS_GATE_LUFS
    if not above_abs.any():
        return -math.inf
    rel_gate = float(_to_lufs(z[above_abs].mean())) + _REL_GATE_LU
    gated = above_abs & (lk > rel_gate)  # never empty: the loudest block exceeds the mean
    return float(_to_lufs(z[gated].mean()))


def _lra(power: np.ndarray, fs: float) -> float:
    st = _to_lufs(_window_powers(power, fs, 3.0, 0.1))
    st = st[st > _ABS_GATE_LUFS]
    if st.size == 0:
        return 0.0
    rel_gate = 10.0 * math.log10(float(np.mean(10.0 ** (st / 10.0)))) + _LRA_REL_GATE_LU
    st = st[st >= rel_gate]
    lo, hi = np.percentile(st, _LRA_PERCENTILES)
    return float(hi - lo)


# ----------------------------------------------------------------------------------------------
# public loudness API
def integrated_loudness(x: np.ndarray, sample_rate: float) -> float:
    """Gated integrated loudness (BS.1770-4) of ``x`` (channels, time) in LUFS.

    400 ms blocks every 100 ms, absolute gate -70 LUFS, relative gate -10 LU. Returns ``-inf`` for
    silence (every block gated out) and for signals shorter than one 400 ms block.
    """
    fs = _check_rate(sample_rate)
    x = _check_signal(x)
    return _gated_integrated(_weighted_power(x, fs), fs)


def momentary_loudness(x: np.ndarray, sample_rate: float, hop_s: float = 0.1) -> np.ndarray:
    """Ungated momentary loudness (400 ms windows) in LUFS, shape (n_windows,), float64.

    Window ``k`` covers samples ``[round(k * hop_s * fs), + round(0.4 * fs))``; only windows fully
    inside the signal are measured (empty array if ``x`` is shorter than 400 ms). Silent windows
    read ``-inf``.
    """
    fs, hop = _check_rate(sample_rate), _check_hop(hop_s)
    x = _check_signal(x)
    return _to_lufs(_window_powers(_weighted_power(x, fs), fs, 0.4, hop))


def short_term_loudness(x: np.ndarray, sample_rate: float, hop_s: float = 0.1) -> np.ndarray:
    """Ungated short-term loudness (3 s windows) in LUFS, shape (n_windows,), float64.

    Same window placement as :func:`momentary_loudness` with a 3 s window.
    """
    fs, hop = _check_rate(sample_rate), _check_hop(hop_s)
    x = _check_signal(x)
    return _to_lufs(_window_powers(_weighted_power(x, fs), fs, 3.0, hop))


def loudness_range(x: np.ndarray, sample_rate: float) -> float:
    """Loudness range (EBU Tech 3342) of ``x`` (channels, time) in LU.

    Short-term loudness (3 s windows, 10 Hz), absolute gate -70 LUFS, relative gate -20 LU below the
    power mean of the absolutely gated values, then the 95th minus the 10th percentile (linear
    interpolation). Returns 0.0 when no window survives the gates (silence or shorter than 3 s).
    """
    fs = _check_rate(sample_rate)
    x = _check_signal(x)
    return _lra(_weighted_power(x, fs), fs)


# ----------------------------------------------------------------------------------------------
# peaks
def sample_peak_dbfs(x: np.ndarray) -> float:
    """Largest absolute sample of ``x`` (channels, time) in dBFS; ``-inf`` for silence or no samples."""
    x = _check_signal(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


def _oversampling_factor(fs: float) -> int:
    """4x below 88.2 kHz, 2x below 176.4 kHz, none above (BS.1770-4 Annex 2: reach >= 176.4 kHz)."""
    if fs < 88200.0:
        return 4
    if fs < 176400.0:
        return 2
    return 1


@functools.lru_cache(maxsize=4)
def _tp_kernels(factor: int) -> tuple[np.ndarray, float]:
    """Polyphase branches of a Kaiser-windowed sinc interpolator (cutoff at the input Nyquist).

    Row ``p`` (fraction ``d = (p + 1) / factor``) gives ``y[n + L + d] = sum_i x[n + i] * h[p, i]``
    with ``L = taps // 2 - 1``. Branch 0 (``d = 0``) is the identity and is not included. Each branch is
    normalised to unit DC gain. Also returns the largest branch L1 norm (a bound on |y| / max|x|).
    """
    half = _TP_TAPS // 2
    j = np.arange(-(half - 1), half + 1, dtype=np.float64)
    d = np.arange(1, factor, dtype=np.float64)[:, None] / factor
    t = j[None, :] - d
    window = np.i0(_TP_KAISER_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None)))
    h = np.sinc(t) * window
    h /= h.sum(axis=1, keepdims=True)
    return h, float(np.abs(h).sum(axis=1).max())


def true_peak_dbtp(x: np.ndarray, sample_rate: float) -> float:
    """True peak (BS.1770-4 Annex 2) of ``x`` (channels, time) in dBTP.

    The signal is oversampled 4x (fs < 88.2 kHz), 2x (fs < 176.4 kHz) or not at all with a 48-tap
    per branch Kaiser-windowed sinc polyphase interpolator, evaluated by overlap-save FFT convolution
    in float32. The result is never below the sample peak. Inter-sample values are evaluated only where
    the interpolator's 48 taps lie inside the signal (not within 24 samples of either end), so a clip
    that starts or stops mid-waveform reports no overshoot from an implied step; only the samples count
    there. Frames whose samples cannot interpolate above the sample peak are skipped. ``-inf`` for
    silence.
    """
    fs = _check_rate(sample_rate)
    x = _check_signal(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return -math.inf
    factor, taps, nfft = _oversampling_factor(fs), _TP_TAPS, _TP_NFFT
    n_out = x.shape[1] - taps + 1  # interpolation positions with full filter support
    if factor == 1 or n_out < 1:
        return 20.0 * math.log10(peak)
    h, l1 = _tp_kernels(factor)
    # y[n] = sum_i x[n + i] h[i] is a correlation: convolve with the reversed kernels.
    spectra = scipy.fft.rfft(h[:, ::-1], nfft, axis=-1).astype(np.complex64)
    step = nfft - taps + 1  # valid outputs per overlap-save frame
    n_frames = -(-n_out // step)
    best = peak
    for row in x:
        xp = np.zeros(n_frames * step + taps - 1, dtype=np.float32)
        xp[: row.shape[0]] = row
        frames = sliding_window_view(xp, nfft)[::step]
        # frame i lies within segments i and i+1 (`step` samples each; the last is the taps-1 tail)
        ax = np.abs(xp)
        seg = np.append(ax[: n_frames * step].reshape(n_frames, step).max(axis=1), ax[n_frames * step:].max())
        bound = np.maximum(seg[:-1], seg[1:]) * l1  # |y| <= max|x| * sum|h| within a frame
        candidates = np.flatnonzero(bound > best)
        for start in range(0, candidates.size, _TP_GROUP):
            group = candidates[start:start + _TP_GROUP]
            group = group[bound[group] > best]  # best may have grown meanwhile
            if group.size == 0:
                continue
            spec = scipy.fft.rfft(frames[group], axis=-1, workers=-1)
            y = scipy.fft.irfft(spec[:, None, :] * spectra, nfft, axis=-1, workers=-1)[..., taps - 1:]
            if group[-1] == n_frames - 1:  # the last frame holds fewer valid outputs
                y[-1, :, n_out - (n_frames - 1) * step:] = 0.0
            best = max(best, float(y.max()), float(-y.min()))
    logger.debug("true peak %.6g (sample peak %.6g, %dx oversampling)", best, peak, factor)
    return 20.0 * math.log10(best)


# ----------------------------------------------------------------------------------------------
def loudness_stats(x: np.ndarray, sample_rate: float) -> dict:
    """Summary of ``x`` (channels, time): ``integrated_lufs`` (LUFS), ``true_peak_dbtp`` (dBTP),
    ``sample_peak_dbfs`` (dBFS) and ``loudness_range_lu`` (LU), all Python floats.

    The K-weighted power is computed once and shared by the integrated loudness and the range.
    """
    fs = _check_rate(sample_rate)
    x = _check_signal(x)
    power = _weighted_power(x, fs)
    return {
        "integrated_lufs": _gated_integrated(power, fs),
        "true_peak_dbtp": true_peak_dbtp(x, fs),
        "sample_peak_dbfs": sample_peak_dbfs(x),
        "loudness_range_lu": _lra(power, fs),
    }
