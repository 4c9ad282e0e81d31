"""RBJ Audio-EQ-Cookbook biquads: coefficients, exact frequency responses and FFT-domain filtering.

Coefficient functions work on numpy arrays and torch tensors alike (differentiably), so the
training path (torch) and the full-length path (numba) share one definition of the console's
filters. Coefficients are returned normalised by ``a0``.

References: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients".
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

#: ``highpass_hz`` at or below this switches the high-pass off (console spec).
HIGHPASS_OFF_HZ = 20.0


def _ns(x):
    return torch if isinstance(x, torch.Tensor) else np


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
    b_arr = xp.stack(b, -1) if xp is torch else np.stack(np.broadcast_arrays(*b), -1)
    a_arr = xp.stack(a, -1) if xp is torch else np.stack(np.broadcast_arrays(*a), -1)
    return b_arr / a_arr[..., :1], a_arr / a_arr[..., :1]


def highpass_coefficients(freq_hz, sample_rate: float):
    """Butterworth (Q = 1/sqrt 2) high-pass; identity where ``freq_hz <= 20`` (off).

    Shape: ``freq_hz`` ``S`` -> ``(b, a)`` each ``S + (3,)``.
    """
    xp = _ns(freq_hz)
    b, a = biquad_coefficients("highpass", freq_hz, None, 1.0 / math.sqrt(2.0), sample_rate)
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


@lru_cache(maxsize=8)
def _unit_circle(n_fft: int, device: str) -> torch.Tensor:
    """``z^-i`` for i = 0, 1, 2 at the rfft bins, shape ``(F, 3)`` complex128."""
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (2.0 * math.pi / n_fft)
    i = torch.arange(3, dtype=torch.float64)
    ang = -w[:, None] * i
    return torch.polar(torch.ones_like(ang), ang).to(device)


def _section_terms(b, a, zpow):
    """Numerator and denominator of every section at every bin: ``(M, K, F)`` complex128."""
    return (torch.einsum("mki,fi->mkf", b.to(torch.complex128), zpow),
            torch.einsum("mki,fi->mkf", a.to(torch.complex128), zpow))


class _CascadeResponse(torch.autograd.Function):
    """Exact frequency response of a biquad cascade, with a memory-light analytic backward."""

    @staticmethod
    def forward(ctx, b, a, n_fft: int):
        zpow = _unit_circle(n_fft, str(b.device))
        h_rest = torch.ones(b.shape[0], zpow.shape[0], dtype=torch.complex128, device=b.device)
        for k in range(1, b.shape[1]):
            num, den = _section_terms(b[:, k:k + 1], a[:, k:k + 1], zpow)
            h_rest *= num[:, 0] / den[:, 0]
        num0, den0 = _section_terms(b[:, :1], a[:, :1], zpow)
        h = h_rest * (num0[:, 0] / den0[:, 0])
        ctx.save_for_backward(b, a, h, h_rest)
        ctx.n_fft = n_fft
        return h.to(torch.complex64)

    @staticmethod
    def backward(ctx, grad_h):
        b, a, h, h_rest = ctx.saved_tensors
        zpow = _unit_circle(ctx.n_fft, str(b.device))
        g = grad_h.to(torch.complex128)
        grad_b = torch.zeros_like(b)
        grad_a = torch.zeros_like(a)
        for k in range(b.shape[1]):
            num, den = _section_terms(b[:, k:k + 1], a[:, k:k + 1], zpow)
            num, den = num[:, 0], den[:, 0]
            # dH/db_i = (prod of the other sections) z^-i / den_k; section 0 may have zeros on
            # the unit circle (the high-pass), so its "others" product is kept explicitly.
            d_num = h_rest / den if k == 0 else h / num
            d_den = -h / den
            grad_b[:, k] = torch.real((d_num.conj() * g) @ zpow.conj())
            grad_a[:, k] = torch.real((d_den.conj() * g) @ zpow.conj())
        grad_a[:, :, 0] = 0.0
        return grad_b, grad_a, None


def cascade_response(b: torch.Tensor, a: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Frequency response of biquads in series at the ``n_fft`` rfft bins.

    Computed in float64 (low-frequency poles lose precision in float32) and returned as
    complex64. Only the first section may have zeros on the unit circle.

    Shape: ``b, a`` ``(..., K, 3)`` -> ``(..., n_fft // 2 + 1)`` complex64.
    """
    lead = b.shape[:-2]
    b64 = b.to(torch.float64).reshape(-1, *b.shape[-2:])
    a64 = a.to(torch.float64).reshape(-1, *a.shape[-2:])
    h = _CascadeResponse.apply(b64, a64, int(n_fft))
    return h.reshape(*lead, h.shape[-1])


def fft_size(n_samples: int, tail: int = 65536) -> int:
    """FFT length for filtering ``n_samples`` with IIR tails up to ``tail`` samples."""
    from scipy.fft import next_fast_len

    return int(next_fast_len(n_samples + tail, real=True))


def fft_filter(x: torch.Tensor, b: torch.Tensor, a: torch.Tensor, n_fft: int | None = None) -> torch.Tensor:
    """Filter ``x`` through a biquad cascade in the frequency domain (zero initial state).

    Matches time-domain IIR filtering to better than -100 dB while impulse responses decay
    within the padding (``tail`` in :func:`fft_size`).

    Shape: ``x`` ``(..., C, T)``; ``b, a`` ``(..., K, 3)`` -> ``(..., C, T)``.
    """
    T = x.shape[-1]
    n_fft = n_fft or fft_size(T)
    h = cascade_response(b, a, n_fft)
    spec = torch.fft.rfft(x, n=n_fft)
    return torch.fft.irfft(spec * h.unsqueeze(-2), n=n_fft)[..., :T]
