"""RBJ Audio-EQ-Cookbook biquad coefficients, shared by both render paths.

Works on numpy arrays and torch tensors alike (differentiably), without importing torch for
numpy callers (the full-length renderer starts without torch). Coefficients are normalised by
``a0``. Reference: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients".
"""

from __future__ import annotations

import math

import numpy as np

#: ``highpass_hz`` at or below this switches the high-pass off (console spec).
HIGHPASS_OFF_HZ = 20.0
#: the spec's high-pass is a Butterworth: Q = 1/sqrt(2)
HIGHPASS_Q = 1.0 / math.sqrt(2.0)


def _ns(x):
    """The array namespace of ``x``: torch for tensors, else numpy."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def biquad_coefficients(kind: str, freq_hz, gain_db, q, sample_rate: float):
    """Cookbook coefficients of one band type.

    Args:
        kind: ``"peak"``, ``"low_shelf"``, ``"high_shelf"`` or ``"highpass"`` (gain ignored).
        freq_hz, gain_db, q: arrays or tensors of one shape ``S`` (broadcastable).
        sample_rate: Hz.

    Returns:
        ``(b, a)``, each of shape ``S + (3,)``, normalised so ``a[..., 0] == 1``.
    """
    xp = _ns(freq_hz)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w0, sin_w0 = xp.cos(w0), xp.sin(w0)
    alpha = sin_w0 / (2.0 * q)
    if kind == "highpass":
        one = xp.ones_like(cos_w0)
        b = ((1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2)
        a = (1 + alpha, -2 * cos_w0 * one, 1 - alpha)
    elif kind == "peak":
        A = 10.0 ** (gain_db / 40.0)
        b = (1 + alpha * A, -2 * cos_w0, 1 - alpha * A)
        a = (1 + alpha / A, -2 * cos_w0 + 0 * A, 1 - alpha / A)
    elif kind in ("low_shelf", "high_shelf"):
        A = 10.0 ** (gain_db / 40.0)
        two_sqrt_a_alpha = 2 * xp.sqrt(A) * alpha
        s = 1.0 if kind == "low_shelf" else -1.0
        b = (A * ((A + 1) - s * (A - 1) * cos_w0 + two_sqrt_a_alpha),
             s * 2 * A * ((A - 1) - s * (A + 1) * cos_w0),
             A * ((A + 1) - s * (A - 1) * cos_w0 - two_sqrt_a_alpha))
        a = ((A + 1) + s * (A - 1) * cos_w0 + two_sqrt_a_alpha,
             -s * 2 * ((A - 1) + s * (A + 1) * cos_w0),
             (A + 1) + s * (A - 1) * cos_w0 - two_sqrt_a_alpha)
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    b_arr = xp.stack(b, -1) if xp is not np else np.stack(np.broadcast_arrays(*b), -1)
    a_arr = xp.stack(a, -1) if xp is not np else np.stack(np.broadcast_arrays(*a), -1)
    return b_arr / a_arr[..., :1], a_arr / a_arr[..., :1]


def highpass_coefficients(freq_hz, sample_rate: float):
    """Butterworth (Q = 1/sqrt 2) high-pass; identity where ``freq_hz <= 20`` (off).

    Shape: ``freq_hz`` ``S`` -> ``(b, a)`` each ``S + (3,)``.
    """
    xp = _ns(freq_hz)
    b, a = biquad_coefficients("highpass", freq_hz, None, HIGHPASS_Q, sample_rate)
    off = (freq_hz <= HIGHPASS_OFF_HZ)[..., None]
    ident = xp.zeros_like(b)
    ident[..., 0] = 1.0
    return xp.where(off, ident, b), xp.where(off, ident, a)


def eq_coefficients(freq_hz, gain_db, q, sample_rate: float, band_types):
    """Coefficients of a series of bands.

    Shape: ``freq_hz, gain_db, q`` ``S + (K,)`` -> ``(b, a)`` each ``S + (K, 3)``.
    """
    xp = _ns(freq_hz)
    bs, as_ = zip(*(biquad_coefficients(kind, freq_hz[..., i], gain_db[..., i], q[..., i], sample_rate)
                    for i, kind in enumerate(band_types)))
    return xp.stack(bs, -2), xp.stack(as_, -2)
