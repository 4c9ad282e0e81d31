"""Time alignment of a reference mix with its tracks: envelope cross-correlation.

Human mixes go through effects that change phase (EQ, reverb) and through master look-ahead
limiters that delay them (LMMS: about 220 samples), so waveforms correlate poorly while short-time
power envelopes still do. :func:`envelope_lag` finds the lag; :func:`align` applies it.
"""

from __future__ import annotations

import numpy as np


def _onsets(x: np.ndarray, hop: int, win: int) -> np.ndarray:
    """Rises of the log power envelope (frames of ``win`` samples every ``hop``), ``(channels, T)`` -> ``(F,)``."""
    p = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64).mean(0) ** 2)])
    starts = np.arange(0, len(p) - 1 - win, hop)
    e = (p[starts + win] - p[starts]) / win
    env = np.log10(e + 1e-4 * e.mean() + 1e-12)
    d = np.maximum(np.diff(env), 0.0)
    return d - d.mean()


def envelope_lag(tracks_sum: np.ndarray, reference: np.ndarray, sample_rate: int, max_lag_s: float = 0.1,
                 max_s: float = 60.0, hop: int = 2, win: int = 64) -> tuple[int, float]:
    """Lag (samples) of ``reference`` behind ``tracks_sum`` and the normalised peak correlation.

    Onset envelopes (rises of 1.5 ms log power, every ``hop`` samples) of the two are
    cross-correlated over lags up to ``max_lag_s``; positive: the reference is late. Resolution:
    ``hop`` samples. Shapes: ``(channels, time)`` each (channels are averaged).
    """
    n = int(min(tracks_sum.shape[-1], reference.shape[-1], max_s * sample_rate))
    a, b = _onsets(tracks_sum[..., :n], hop, win), _onsets(reference[..., :n], hop, win)
    m = int(max_lag_s * sample_rate / hop)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    xc = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.r_[np.arange(0, m + 1), np.arange(-m, 0)]
    vals = xc[lags % size]
    k = int(np.argmax(vals))
    norm = float(np.sqrt((a ** 2).sum() * (b ** 2).sum())) or 1.0
    return int(lags[k]) * hop, float(vals[k] / norm)


def shift(reference: np.ndarray, lag: int) -> np.ndarray:
    """``reference`` moved ``lag`` samples earlier (later when negative), length kept, zero-filled."""
    out = np.zeros_like(reference)
    if lag >= 0:
        out[..., : reference.shape[-1] - lag] = reference[..., lag:]
    else:
        out[..., -lag:] = reference[..., : reference.shape[-1] + lag]
    return out
