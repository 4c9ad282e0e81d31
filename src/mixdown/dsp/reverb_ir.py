"""The reverb's impulse response, exactly as ``docs/console.md`` defines it (numpy).

This module is the one place that holds the reverb's physics shared by both render paths:

- :func:`reverb_noise`: counter-based SplitMix64 noise ``u_c[m]`` in (-1, 1);
- :func:`band_sections`: the three fourth-order Butterworth bands (two RBJ sections each);
- :func:`reverb_bands`: the noise of both channels filtered by each band from zero state
  (parameter-free, cached per sample rate; the torch path reads it too);
- :func:`reverb_body_length`, :func:`predelay_split`, :func:`reverb_send_gain`: the spec's
  integer/fractional bookkeeping, written once;
- :func:`reverb_impulse_response`: the numpy reference impulse response ``h``, shape ``(2, L)``.

No torch import: the full-length renderer uses this module.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mixdown.dsp.coefficients import biquad_coefficients

#: Q of the two RBJ sections of a fourth-order Butterworth filter (spec).
BUTTERWORTH4_Q: tuple[float, float] = (1.0 / (2.0 * math.cos(math.pi / 8.0)),
                                       1.0 / (2.0 * math.cos(3.0 * math.pi / 8.0)))
#: Band edges in Hz: low = LP 500; mid = HP 500 then LP 4000; high = HP 4000 (spec).
BAND_EDGES_HZ: tuple[float, float] = (500.0, 4000.0)
#: Band names, in the order of every ``(3, ...)`` axis in the reverb code.
BAND_NAMES: tuple[str, str, str] = ("low", "mid", "high")
#: ``reverb_send_db`` at or below this means no send (gain 0) (spec).
SEND_OFF_DB = -60.0

_MASK64 = (1 << 64) - 1


def reverb_noise(channel: int, n: int) -> np.ndarray:
    """The spec's counter-based noise ``u_c[m]`` for ``m = 0 .. n-1``.

    SplitMix64 finaliser of the key ``k = c * 2^32 + m + 1`` (arithmetic modulo 2^64), mapped to
    ``u = ((z >> 11) + 0.5) * 2^-52 - 1`` in (-1, 1).

    Args:
        channel: ``c``, 0 (left) or 1 (right).
        n: number of samples.

    Returns:
        ``(n,)`` float64.
    """
    if channel not in (0, 1):
        raise ValueError(f"reverb noise channel must be 0 or 1, got {channel}")
    u64 = np.uint64
    k = np.arange(1, n + 1, dtype=u64) + u64((channel << 32) & _MASK64)
    with np.errstate(over="ignore"):
        z = k * u64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        z = z ^ (z >> u64(31))
    return ((z >> u64(11)).astype(np.float64) + 0.5) * 2.0 ** -52 - 1.0


def _lowpass_ba(freq_hz: float, q: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """RBJ cookbook low-pass (``mixdown.dsp.coefficients`` has no low-pass kind yet; move it
    there when the package is next restructured). Returns ``(b, a)``, each ``(3,)``, ``a[0] = 1``."""
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w0, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    b = np.array([(1.0 - cos_w0) / 2.0, 1.0 - cos_w0, (1.0 - cos_w0) / 2.0])
    a = np.array([1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha])
    return b / a[0], a / a[0]


def _butterworth4(kind: str, freq_hz: float, sample_rate: float) -> list[np.ndarray]:
    """Two RBJ sections (spec Qs) as sos rows ``[b0, b1, b2, 1, a1, a2]``."""
    rows = []
    for q in BUTTERWORTH4_Q:
        if kind == "highpass":
            b, a = biquad_coefficients("highpass", np.float64(freq_hz), None, q, sample_rate)
        else:
            b, a = _lowpass_ba(freq_hz, q, sample_rate)
        rows.append(np.r_[b, a])
    return rows


def band_sections(sample_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-order sections of the low, mid and high bands.

    Returns:
        ``(low, mid, high)`` sos arrays of shapes ``(2, 6)``, ``(4, 6)``, ``(2, 6)`` (scipy layout
        ``[b0, b1, b2, 1, a1, a2]``; the mid band is the 500 Hz high-pass then the 4 kHz low-pass).
    """
    lo, hi = BAND_EDGES_HZ
    if hi >= 0.45 * sample_rate:
        raise ValueError(f"the reverb needs a sample rate above {hi / 0.45:.0f} Hz (its 4 kHz band edge "
                         f"must lie below 0.45 x sample_rate), got {sample_rate}")
    low = np.array(_butterworth4("lowpass", lo, sample_rate))
    mid = np.array(_butterworth4("highpass", lo, sample_rate) + _butterworth4("lowpass", hi, sample_rate))
    high = np.array(_butterworth4("highpass", hi, sample_rate))
    return low, mid, high


@lru_cache(maxsize=2)
def _bands_cached(sample_rate: float, n: int) -> np.ndarray:
    from mixdown.dsp.kernels import sosfilt  # scipy.signal.sosfilt's samples, without its import time

    noise = np.stack([reverb_noise(c, n) for c in (0, 1)])
    out = np.stack([sosfilt(np.ascontiguousarray(sos, dtype=np.float64), noise) for sos in band_sections(sample_rate)])
    out.flags.writeable = False
    return out


def reverb_bands(sample_rate: float, n: int) -> np.ndarray:
    """The noise of both channels through each band, filtered from zero state (time domain).

    Independent of every parameter; cached per sample rate (computed for whole seconds, at least
    10 s, the longest decay of the default ranges, so a longer request only extends the cache).
    Filtering is causal, so the first ``n`` samples do not depend on how many were computed.

    Returns:
        ``(3, 2, n)`` float64, read-only: ``[band (low, mid, high), channel, m]``.
    """
    n_alloc = max(int(n), int(10 * sample_rate))
    n_alloc = int(math.ceil(n_alloc / sample_rate) * sample_rate)
    return _bands_cached(float(sample_rate), n_alloc)[..., :n]


def reverb_body_length(sample_rate: float, decay_s) -> int | np.ndarray:
    """``M = ceil(fs * max(T_low, T_mid, T_high))``: samples of the decaying body before pre-delay.

    Shape: ``decay_s`` ``(..., 3)`` -> ``(...)`` int (a Python int for a single set).
    """
    m = np.ceil(sample_rate * np.max(np.asarray(decay_s, dtype=np.float64), axis=-1)).astype(np.int64)
    return int(m) if m.ndim == 0 else m


def predelay_split(sample_rate: float, predelay_ms):
    """``P = predelay_ms * fs / 1000``, split into ``(P0, a)``: ``P0 = floor(P)``, ``a = P - P0``.

    Works on floats, numpy arrays and torch tensors (``a`` keeps the gradient, ``P0`` is a
    float without one).
    """
    p = predelay_ms * sample_rate / 1000.0
    if type(p).__module__.startswith("torch"):
        p0 = p.detach().floor()
    else:
        p0 = np.floor(p)
    return p0, p - p0


def reverb_send_gain(send_db):
    """Linear send gain ``10 ** (send_db / 20)``, 0 where ``send_db <= -60`` (no send).

    Works on floats, numpy arrays and torch tensors (differentiable above -60 dB). Shape kept.
    """
    if type(send_db).__module__.startswith("torch"):
        import torch

        return torch.where(send_db > SEND_OFF_DB, torch.pow(10.0, send_db / 20.0), torch.zeros_like(send_db))
    send_db = np.asarray(send_db, dtype=np.float64)
    return np.where(send_db > SEND_OFF_DB, 10.0 ** (send_db / 20.0), 0.0)


def _check(predelay_ms: float, decays: np.ndarray) -> None:
    if not (math.isfinite(predelay_ms) and predelay_ms >= 0.0):
        raise ValueError(f"reverb predelay_ms must be finite and >= 0, got {predelay_ms}")
    if not (np.all(np.isfinite(decays)) and np.all(decays > 0.0)):
        raise ValueError(f"reverb decay times must be finite and > 0 s, got {decays.tolist()}")


def reverb_impulse_response(sample_rate: float, predelay_ms: float, decay_low_s: float, decay_mid_s: float,
                            decay_high_s: float) -> np.ndarray:
    """The spec's stereo impulse response (numpy reference, float64).

    ``r_c[m] = sum_b 10^(-3 m / (fs T_b)) band_b,c[m]`` for ``m < M = ceil(fs max T_b)``;
    ``q_c[n] = (1 - a) r_c[n - P0] + a r_c[n - P0 - 1]`` for ``n = 0 .. M + P0``;
    ``h_c = q_c / sqrt(sum_n q_c[n]^2)`` (unit energy per channel).

    Args:
        sample_rate: Hz.
        predelay_ms: pre-delay (may be fractional in samples: linear interpolation).
        decay_low_s, decay_mid_s, decay_high_s: 60 dB decay time of each band, seconds.

    Returns:
        ``(2, M + P0 + 1)`` float64, rows left and right.
    """
    decays = np.array([decay_low_s, decay_mid_s, decay_high_s], dtype=np.float64)
    _check(float(predelay_ms), decays)
    m_len = reverb_body_length(sample_rate, decays)
    bands = reverb_bands(sample_rate, m_len)
    m = np.arange(m_len, dtype=np.float64)
    env = 10.0 ** (-3.0 * m / (sample_rate * decays[:, None]))
    r = np.einsum("bm,bcm->cm", env, bands)
    p0, a = predelay_split(sample_rate, float(predelay_ms))
    p0 = int(p0)
    q = np.zeros((2, m_len + p0 + 1))
    q[:, p0:p0 + m_len] += (1.0 - a) * r
    q[:, p0 + 1:p0 + 1 + m_len] += a * r
    return q / np.sqrt(np.sum(q * q, axis=-1, keepdims=True))
