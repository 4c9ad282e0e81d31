"""Exact biquad-cascade frequency response in plain batched torch ops (any device, used on CUDA).

The same definition and analytic backward as :func:`mixdown.dsp.kernels.cascade_response_forward`
/ :func:`~mixdown.dsp.kernels.cascade_response_backward`, written as complex128 tensor ops so it
runs where the tensors live: on a GPU every bin is one lane and nothing goes through the host.
Forward and backward go one section at a time and the backward recomputes the section responses
instead of saving them, so memory stays at a few ``(M, F)`` complex128 arrays (about 2.6 MB each
per track at 6 s, 44.1 kHz) for any number of sections; the backward reduces over bins with one
complex matmul per section.
"""

from __future__ import annotations

import math

import torch


def _powers(n_fft: int, device: torch.device) -> torch.Tensor:
    """``z^-i = e^{-j i w}`` for i = 0, 1, 2 at the rfft bins. Shape ``(F, 3)`` complex128."""
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=device) * (2.0 * math.pi / n_fft)
    i = torch.arange(3, dtype=torch.float64, device=device)
    return torch.polar(torch.ones(w.shape[0], 3, dtype=torch.float64, device=device), -w[:, None] * i)


class CascadeResponseTorch(torch.autograd.Function):
    """``H = prod_k N_k / D_k`` at the rfft bins; backward as in the CPU kernel.

    Shape: ``b, a`` ``(M, K, 3)`` float64 -> ``(M, n_fft // 2 + 1)`` complex64.
    """

    @staticmethod
    def forward(ctx, b, a, n_fft: int):
        zt = _powers(n_fft, b.device).transpose(0, 1)
        bd, ad = b.detach().to(zt.dtype), a.detach().to(zt.dtype)
        h = (bd[:, 0] @ zt) / (ad[:, 0] @ zt)
        for k in range(1, b.shape[1]):  # one section at a time: a few (M, F) arrays in memory
            h = h * ((bd[:, k] @ zt) / (ad[:, k] @ zt))
        ctx.save_for_backward(b, a)
        ctx.n_fft = n_fft
        return h.to(torch.complex64)

    @staticmethod
    def backward(ctx, grad_h):
        b, a = ctx.saved_tensors
        zt = _powers(ctx.n_fft, b.device).transpose(0, 1)  # (3, F)
        zc = zt.conj().transpose(0, 1)  # (F, 3)
        bd, ad = b.detach().to(zt.dtype), a.detach().to(zt.dtype)
        g = grad_h.to(torch.complex128)
        rest = torch.ones_like(g)  # sections 1..K-1
        for k in range(1, b.shape[1]):
            rest = rest * ((bd[:, k] @ zt) / (ad[:, k] @ zt))
        den0 = ad[:, 0] @ zt
        h = rest * (bd[:, 0] @ zt) / den0
        grad_b = torch.empty(b.shape, dtype=torch.float64, device=b.device)
        grad_a = torch.empty_like(grad_b)
        for k in range(b.shape[1]):  # one section at a time: memory stays at a few (M, F) arrays
            den = den0 if k == 0 else ad[:, k] @ zt
            # dH/dN_0 = rest / D_0 (section 0 may have zeros on the unit circle); dH/dN_k = H / N_k
            dn = rest / den0 if k == 0 else h / (bd[:, k] @ zt)
            dd = -h / den  # dH/dD_k
            # dL/dc_ki = Re(sum_f conj(dH/dX_k z^-i) g): one (M, F) x (F, 3) matmul per side
            grad_b[:, k] = ((dn.conj() * g) @ zc).real
            grad_a[:, k] = ((dd.conj() * g) @ zc).real
        grad_a[:, :, 0] = 0.0  # a0 is normalised to 1
        return grad_b.to(b.dtype), grad_a.to(a.dtype), None
