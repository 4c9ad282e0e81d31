"""Biquad cascades in the frequency domain: exact responses and FFT-domain filtering (torch).

Coefficients come from :mod:`mixdown.dsp.coefficients` (re-exported here), shared with the
full-length renderer so both paths implement one definition of the console's filters.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import numpy as np
import torch

from mixdown.dsp.coefficients import (  # noqa: F401  (re-exported)
    HIGHPASS_OFF_HZ,
    biquad_coefficients,
    eq_coefficients,
    highpass_coefficients,
)


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


def _on_device(b: torch.Tensor) -> bool:
    """CUDA tensors take the torch path; so does everything under numba's CUDA simulator (tests)."""
    return b.is_cuda or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def cascade_response(b: torch.Tensor, a: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Frequency response of biquads in series at the ``n_fft`` rfft bins.

    Computed in float64 (low-frequency poles lose precision in float32) and returned as
    complex64: numba kernels on the CPU, batched torch ops (:mod:`mixdown.dsp.response`) on CUDA.
    Only the first section may have zeros on the unit circle.

    Shape: ``b, a`` ``(..., K, 3)`` -> ``(..., n_fft // 2 + 1)`` complex64.
    """
    lead = b.shape[:-2]
    b64 = b.to(torch.float64).reshape(-1, *b.shape[-2:])
    a64 = a.to(torch.float64).reshape(-1, *a.shape[-2:])
    if _on_device(b64):  # batched torch ops where the tensors live: no host round trip
        from mixdown.dsp.response import CascadeResponseTorch

        h = CascadeResponseTorch.apply(b64, a64, int(n_fft))
    else:
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
