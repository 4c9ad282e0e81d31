"""The channel strip's physics, written once (``docs/console.md``).

Every path uses these: the differentiable console (torch), the full-length renderer (numpy,
:mod:`mixdown.dsp.render`), the report's curves, the metrics and reference mode. Functions that
take arrays accept numpy arrays or torch tensors and return the same kind.

- :func:`pole`: the compressor's attack/release one-pole coefficient;
- :func:`pan_gains`: the constant-power pan law;
- :func:`static_gain_db`: the soft-knee gain computer (its scalar definition is
  :func:`mixdown.dsp.kernels.soft_knee_gain_db`, compiled for the CPU and CUDA kernels);
- :func:`strip_coefficients` / :func:`strip_response_db`: the strip's filters (high-pass where
  present, then the 6 EQ bands) and their magnitude response;
- :data:`OCTAVE_CENTRES_HZ`: the octave bands of the metrics, the report and reference mode.
"""

from __future__ import annotations

import math

import numpy as np

from mixdown.dsp.coefficients import eq_coefficients, highpass_coefficients
from mixdown.params import spec as S

#: nominal octave-band centres (IEC 61260), 31.5 Hz .. 16 kHz
OCTAVE_CENTRES_HZ = (31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def pole(time_ms, sample_rate: float):
    """One-pole smoothing coefficient ``exp(-1 / (0.001 * time_ms * fs))``, float64 (shape kept)."""
    if _is_torch(time_ms):
        import torch

        return torch.exp(-1.0 / (0.001 * time_ms.to(torch.float64) * sample_rate))
    return np.exp(-1.0 / (0.001 * np.asarray(time_ms, dtype=np.float64) * sample_rate))


def pan_gains(pan):
    """Constant-power law: ``theta = (pan + 1) pi / 4``; returns ``(cos theta, sin theta)`` (left, right)."""
    theta = (pan + 1.0) * (math.pi / 4.0)
    if _is_torch(theta):
        import torch

        return torch.cos(theta), torch.sin(theta)
    return np.cos(theta), np.sin(theta)


def static_gain_db(levels_db, threshold_db, ratio, knee_db):
    """Target gain ``G(L) - L`` (dB, <= 0) of the soft-knee static curve at each of ``levels_db``.

    numpy (scalar settings): the compiled kernels' own definition, run as plain Python (no JIT
    needed) -> ``np.ndarray`` of ``levels_db``'s shape. torch tensors (any broadcast shapes, the
    settings too): the same formula element by element -> a tensor (the decision models' curves).
    """
    if any(_is_torch(v) for v in (levels_db, threshold_db, ratio, knee_db)):
        import torch

        over = levels_db - threshold_db
        slope = 1.0 / ratio - 1.0
        knee = torch.as_tensor(knee_db).clamp(min=1e-6)
        inside = slope * (over + knee / 2) ** 2 / (2 * knee)
        outside = torch.where(2 * over < -knee, torch.zeros_like(over), slope * over)
        return torch.where(2 * over.abs() <= knee, inside, outside)
    from mixdown.dsp.kernels import soft_knee_gain_db as gc

    return np.array([gc(float(lv), float(threshold_db), float(ratio), float(knee_db))
                     for lv in np.ravel(levels_db)]).reshape(np.shape(levels_db))


def strip_coefficients(values: np.ndarray, names, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Biquads of strips, in processing order: the high-pass (when ``names`` has ``highpass_hz``: a
    track strip) then the 6 EQ bands. Shape: ``values`` ``(M, len(names))`` physical ->
    ``b, a`` ``(M, K, 3)`` with K = 7 (track) or 6 (master)."""
    names = list(names)
    f, g, q = (np.stack([values[:, names.index(f"eq.{i}.{k}")] for i in range(S.N_EQ_BANDS)], -1)
               for k in ("freq_hz", "gain_db", "q"))
    b, a = eq_coefficients(f, g, q, sample_rate, S.EQ_BAND_TYPES)
    if "highpass_hz" in names:
        hb, ha = highpass_coefficients(values[:, names.index("highpass_hz")], sample_rate)
        b, a = np.concatenate([hb[:, None], b], 1), np.concatenate([ha[:, None], a], 1)
    return b, a


def strip_response_db(values: np.ndarray, names, sample_rate: float, freqs_hz: np.ndarray,
                      per_section: bool = False) -> np.ndarray:
    """Magnitude response (dB) of the strips' filters at ``freqs_hz``.

    Shape: ``values`` ``(M, len(names))`` -> ``(M, F)``, or ``(M, K, F)`` per section.
    """
    import scipy.signal

    b, a = strip_coefficients(values, names, sample_rate)
    freqz = getattr(scipy.signal, "freqz_sos", None) or scipy.signal.sosfreqz
    w = np.asarray(freqs_hz, np.float64)
    mag = np.array([[np.abs(freqz(np.r_[bb, aa][None], worN=w, fs=sample_rate)[1]) for bb, aa in zip(bs, as_)]
                    for bs, as_ in zip(b, a)])
    if per_section:
        return 20.0 * np.log10(np.maximum(mag, 1e-12))
    return 20.0 * np.log10(np.maximum(mag.prod(1), 1e-12))
