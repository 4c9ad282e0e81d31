"""Exact biquad-cascade frequency response in plain batched torch ops (any device, used on CUDA).

The same definition and analytic backward as :func:`mixdown.dsp.kernels.cascade_response_forward`
/ :func:`~mixdown.dsp.kernels.cascade_response_backward`, written as complex128 tensor ops so it
runs where the tensors live: on a GPU every bin is one lane and nothing goes through the host.
The backward recomputes the section responses instead of saving them (memory stays at a few
``(M, F)`` arrays for any number of sections) and reduces over bins with one complex matmul per
section.
"""

from __future__ import annotations

import math

import torch


def _powers(n_fft: int, device: torch.device) -> torch.Tensor:
    """``z^-i = e^{-j i w}`` for i = 0, 1, 2 at the rfft bins. Shape ``(F, 3)`` complex128."""
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=device) * (2.0 * math.pi / n_fft)
    i = torch.arange(3, dtype=torch.float64, device=device)
    return torch.polar(torch.ones(w.shape[0], 3, dtype=torch.float64, device=device), -w[:, None] * i)


def _sections(b: torch.Tensor, a: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerators and denominators ``(M, K, F)`` complex128 of every section at the bins."""
    zt = z.transpose(0, 1)  # (3, F)
    return b.to(z.dtype) @ zt, a.to(z.dtype) @ zt


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
        z = _powers(ctx.n_fft, b.device)
        num, den = _sections(b.detach(), a.detach(), z)
        g = grad_h.to(torch.complex128)
        q = num[:, 1:] / den[:, 1:]
        rest = torch.ones_like(num[:, 0])
        for k in range(q.shape[1]):  # sections 1..K-1
            rest = rest * q[:, k]
        h = rest * num[:, 0] / den[:, 0]
        # dH/dN_0 = rest / D_0 (section 0 may have zeros on the unit circle); dH/dN_k = H / N_k
        dn = torch.cat([(rest / den[:, 0])[:, None], h[:, None] / num[:, 1:]], 1)
        dd = -h[:, None] / den  # dH/dD_k
        # dL/dc_ki = Re(sum_f conj(dH/dX_k z^-i) g): one matmul per side
        zc = z.conj()
        grad_b = ((dn.conj() * g[:, None]) @ zc).real
        grad_a = ((dd.conj() * g[:, None]) @ zc).real
        grad_a[:, :, 0] = 0.0  # a0 is normalised to 1
        return grad_b.to(b.dtype), grad_a.to(a.dtype), None
