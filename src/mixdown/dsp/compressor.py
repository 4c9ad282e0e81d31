"""The console's compressor (feed-forward, soft knee, branching attack/release in dB).

After Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor Design - A Tutorial and
Analysis", JAES 60(6), 2012; exact equations in ``docs/console.md``. The recursion runs
in a compiled kernel with an exact backward: numba on the CPU (:mod:`mixdown.dsp.kernels`),
numba.cuda on a CUDA tensor (:mod:`mixdown.dsp.cuda_kernels`, no host round trip).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from mixdown.dsp import kernels
from mixdown.dsp.strip import pole


def _on_device(x: torch.Tensor) -> bool:
    """CUDA tensors take the device kernels; so does everything under numba's CUDA simulator."""
    return x.is_cuda or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


class _CompressorGain(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, params):
        work = torch.float64 if x.dtype == torch.float64 else torch.float32
        if _on_device(x):
            from mixdown.dsp import cuda_kernels

            xw, pw = x.detach().to(work).contiguous(), params.detach().to(torch.float64).contiguous()
            g, attack = cuda_kernels.compressor_gain_forward(xw, pw)
            ctx.save_for_backward(xw, g, attack, pw)
            ctx.meta = (x.device, x.dtype, params.dtype)
            return g.to(x.dtype)
        x_np = np.ascontiguousarray(x.detach().to("cpu", work).numpy())
        p_np = np.ascontiguousarray(params.detach().cpu().numpy(), dtype=np.float64)
        g = np.empty((x_np.shape[0], x_np.shape[2]), dtype=x_np.dtype)
        attack = np.empty(g.shape, dtype=np.uint8)
        kernels.compressor_gain_forward(x_np, p_np, g, attack)
        g_t = torch.from_numpy(g)
        ctx.save_for_backward(torch.from_numpy(x_np), g_t, torch.from_numpy(attack), torch.from_numpy(p_np))
        ctx.meta = (x.device, x.dtype, params.dtype)
        return g_t.to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_g):
        x, g, attack, p = ctx.saved_tensors
        device, dtype, p_dtype = ctx.meta
        if _on_device(x):
            from mixdown.dsp import cuda_kernels

            grad_x, grad_p = cuda_kernels.compressor_gain_backward(grad_g.detach().to(g.dtype), x, g, attack, p)
            return grad_x.to(dtype), grad_p.to(p_dtype)
        grad_np = np.ascontiguousarray(grad_g.detach().to("cpu", g.dtype).numpy())
        grad_x = np.empty(x.shape, dtype=x.numpy().dtype)
        grad_p = np.empty(p.shape, dtype=np.float64)
        kernels.compressor_gain_backward(grad_np, x.numpy(), g.numpy(), attack.numpy(), p.numpy(),
                                         grad_x, grad_p)
        return (torch.from_numpy(grad_x).to(device=device, dtype=dtype),
                torch.from_numpy(grad_p).to(device=device, dtype=p_dtype))


def compressor_gain_db(x: torch.Tensor, threshold_db, ratio, attack_ms, release_ms, knee_db,
                       sample_rate: float) -> torch.Tensor:
    """Smoothed compressor gain in dB (without makeup) of audio ``x``.

    One compiled pass: linked side chain (max over channels of |x|), level in dB, soft-knee
    static curve, branching ballistics; exact backward.

    Shape: ``x`` ``(..., C, T)``; parameters ``(...)`` -> ``(..., T)`` dB (<= 0).
    """
    lead = x.shape[:-2]
    cols = [torch.broadcast_to(torch.as_tensor(v, device=x.device), lead).to(torch.float64)
            for v in (threshold_db, ratio, knee_db)]
    cols += [torch.broadcast_to(pole(torch.as_tensor(t, device=x.device), sample_rate), lead)
             for t in (attack_ms, release_ms)]
    params = torch.stack(cols, -1).reshape(-1, 5)
    g = _CompressorGain.apply(x.reshape(-1, *x.shape[-2:]), params)
    return g.reshape(*lead, x.shape[-1])


def compressor(x: torch.Tensor, threshold_db, ratio, attack_ms, release_ms, knee_db, makeup_db,
               sample_rate: float) -> torch.Tensor:
    """The spec's compressor with a linked (max over channels) side chain.

    Args:
        x: ``(..., C, T)`` audio.
        threshold_db, ratio, attack_ms, release_ms, knee_db, makeup_db: tensors of shape ``(...)``.
        sample_rate: Hz.

    Returns:
        ``(..., C, T)`` compressed audio.
    """
    g = compressor_gain_db(x, threshold_db, ratio, attack_ms, release_ms, knee_db,
                           sample_rate)
    return x * torch.pow(10.0, (g + torch.as_tensor(makeup_db)[..., None]) / 20.0).unsqueeze(-2)
