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
def _trig(n_fft: int) -> np.ndarray:
    """``[cos w, sin w, cos 2w, sin 2w]`` at the rfft bins, shape ``(F, 4)`` float64."""
    w = np.arange(n_fft // 2 + 1) * (2.0 * math.pi / n_fft)
    return np.ascontiguousarray(np.stack([np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1))


class _CascadeResponse(torch.autograd.Function):
    """Exact frequency response of a biquad cascade (compiled kernels, analytic backward)."""

    @staticmethod
    def forward(ctx, b, a, n_fft: int):
        from mixdown.dsp import kernels

        bn = np.ascontiguousarray(b.detach().cpu().numpy())
        an = np.ascontiguousarray(a.detach().cpu().numpy())
        trig = _trig(n_fft)
        h_re = np.empty((bn.shape[0], trig.shape[0]))
        h_im = np.empty_like(h_re)
        kernels.cascade_response_forward(bn, an, trig, h_re, h_im)
        ctx.save_for_backward(b, a)
        ctx.n_fft = n_fft
        return torch.complex(torch.from_numpy(h_re).float(), torch.from_numpy(h_im).float()).to(b.device)

    @staticmethod
    def backward(ctx, grad_h):
        from mixdown.dsp import kernels

        b, a = ctx.saved_tensors
        g = grad_h.detach().cpu()
        bn = np.ascontiguousarray(b.detach().cpu().numpy())
        an = np.ascontiguousarray(a.detach().cpu().numpy())
        grad_b = np.empty_like(bn)
        grad_a = np.empty_like(an)
        kernels.cascade_response_backward(bn, an, _trig(ctx.n_fft), np.ascontiguousarray(g.real.double().numpy()),
                                          np.ascontiguousarray(g.imag.double().numpy()), grad_b, grad_a)
        grad_a[:, :, 0] = 0.0
        return torch.from_numpy(grad_b).to(b.device), torch.from_numpy(grad_a).to(a.device), None


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
