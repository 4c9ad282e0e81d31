"""Device (numba.cuda) kernels for the compressor ballistics, forward and exact backward.

The same maths as :func:`mixdown.dsp.kernels.compressor_gain_forward` /
:func:`~mixdown.dsp.kernels.compressor_gain_backward`, with one GPU thread per ``(batch x track)``
row running sequentially in time (the torchcomp/torchlpc approach). Torch CUDA tensors are passed
zero-copy through ``__cuda_array_interface__`` (:func:`numba.cuda.as_cuda_array`) and the kernels
are launched on torch's current stream, so nothing goes through the host and no synchronisation
is added.

Installation: numba compiles these kernels with NVVM at first use; it needs the CUDA driver at run
time and the NVVM/NVRTC libraries, which the ``gpu`` extra brings (``pip install
'mixdown[gpu]'``: ``numba-cuda[cu12]``, pip wheels next to torch's own CUDA libraries). Nothing
here is imported on the CPU path.

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` in the environment before numba is
imported) the kernels run in Python threads on CPU tensors (viewed as numpy arrays, still
zero-copy), and :func:`simulated` is true: the compressor then sends CPU tensors here too, so the
default tests exercise the device path without a GPU.
"""

from __future__ import annotations

import math
import os

import torch
from numba import cuda

from mixdown.dsp.kernels import soft_knee_gain_db

_FLUSH = 1e-300  # as in mixdown.dsp.kernels: states this close to 0 dB are flushed to 0
_THREADS = 64


def simulated() -> bool:
    """True when numba's CUDA simulator was requested (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


#: the static curve: the one definition the CPU kernels compile too
_gain_computer = cuda.jit(device=True)(soft_knee_gain_db)


@cuda.jit(device=True)
def _side_level(x, m, n):
    """``(level_db, argmax channel, side)`` of the linked side chain at sample ``n`` of row ``m``."""
    s = 0.0
    arg = 0
    for c in range(x.shape[1]):
        v = abs(float(x[m, c, n]))
        if v > s:
            s = v
            arg = c
    return 20.0 * math.log10(max(s, 1e-6)), arg, s


@cuda.jit
def _forward_kernel(x, params, g_out, attack):
    """One thread per row ``m``: side chain -> static curve -> branching ballistics over time."""
    m = cuda.grid(1)
    if m >= x.shape[0]:
        return
    thr, ratio, knee, aa, ar = params[m, 0], params[m, 1], params[m, 2], params[m, 3], params[m, 4]
    g = 0.0
    for n in range(x.shape[2]):
        level, _arg, _s = _side_level(x, m, n)
        target = _gain_computer(level, thr, ratio, knee)
        att = target < g
        a = aa if att else ar
        g = a * g + (1.0 - a) * target
        if g > -_FLUSH:
            g = 0.0
        attack[m, n] = 1 if att else 0
        g_out[m, n] = g


@cuda.jit
def _backward_kernel(grad_g, x, g, attack, params, grad_x, grad_params):
    """One thread per row ``m``: the adjoint recursion in reverse time (see the CPU kernel)."""
    m = cuda.grid(1)
    if m >= x.shape[0]:
        return
    C, N = x.shape[1], x.shape[2]
    thr, ratio, knee, aa, ar = params[m, 0], params[m, 1], params[m, 2], params[m, 3], params[m, 4]
    k_db = 20.0 / math.log(10.0)
    slope = 1.0 / ratio - 1.0
    carry = 0.0
    d_thr = 0.0
    d_ratio = 0.0
    d_knee = 0.0
    d_aa = 0.0
    d_ar = 0.0
    for i in range(N):
        n = N - 1 - i
        level, arg, s = _side_level(x, m, n)
        gc = _gain_computer(level, thr, ratio, knee)
        lam = float(grad_g[m, n]) + carry
        prev = float(g[m, n - 1]) if n > 0 else 0.0
        if attack[m, n]:
            a = aa
            d_aa += lam * (prev - gc)
        else:
            a = ar
            d_ar += lam * (prev - gc)
        carry = a * lam
        d = (1.0 - a) * lam  # dL/dgc
        over = level - thr
        d_level = 0.0
        if 2.0 * over < -knee:
            d_level = 0.0
        elif knee > 0.0 and 2.0 * abs(over) <= knee:
            u = over + 0.5 * knee
            d_level = slope * u / knee
            d_thr -= d * d_level
            d_ratio -= d * u * u / (2.0 * knee * ratio * ratio)
            d_knee += d * slope * (u / (2.0 * knee) - u * u / (2.0 * knee * knee))
        else:
            d_level = slope
            d_thr -= d * slope
            d_ratio -= d * over / (ratio * ratio)
        for c in range(C):
            grad_x[m, c, n] = 0.0
        if s > 1e-6:
            grad_x[m, arg, n] = d * d_level * k_db / float(x[m, arg, n])
    grad_params[m, 0] = d_thr
    grad_params[m, 1] = d_ratio
    grad_params[m, 2] = d_knee
    grad_params[m, 3] = d_aa
    grad_params[m, 4] = d_ar


def _view(t: torch.Tensor):
    """A zero-copy numba view of a contiguous tensor (device array, or numpy in the simulator)."""
    if t.is_cuda:
        return cuda.as_cuda_array(t.detach(), sync=False)  # launched on the same stream: no wait
    if not simulated():
        raise RuntimeError("mixdown.dsp.cuda_kernels takes CUDA tensors (CPU tensors only under the simulator)")
    return t.detach().numpy()


def _launch(kernel, ref: torch.Tensor, rows: int, *args: torch.Tensor) -> None:
    """Launch ``kernel`` over ``rows`` threads on torch's current stream of ``ref``'s device."""
    blocks = max(1, (rows + _THREADS - 1) // _THREADS)
    views = [_view(a) for a in args]
    if not ref.is_cuda:
        kernel[blocks, _THREADS](*views)
        return
    with cuda.gpus[ref.device.index if ref.device.index is not None else torch.cuda.current_device()]:
        stream = cuda.external_stream(torch.cuda.current_stream(ref.device).cuda_stream)
        kernel[blocks, _THREADS, stream](*views)


def compressor_gain_forward(x: torch.Tensor, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Smoothed compressor gain in dB and the attack/release branch taken, on ``x``'s device.

    Shape:
        x: ``(M, C, N)`` float32/float64, contiguous; params: ``(M, 5)`` float64
        ``[threshold_db, ratio, knee_db, a_att, a_rel]`` ->
        ``g`` ``(M, N)`` in ``x``'s dtype and ``attack`` ``(M, N)`` uint8.
    """
    x, params = x.contiguous(), params.contiguous()
    g = torch.empty(x.shape[0], x.shape[2], dtype=x.dtype, device=x.device)
    attack = torch.empty(g.shape, dtype=torch.uint8, device=x.device)
    if x.shape[0] and x.shape[2]:
        _launch(_forward_kernel, x, x.shape[0], x, params, g, attack)
    return g, attack


def compressor_gain_backward(grad_g: torch.Tensor, x: torch.Tensor, g: torch.Tensor, attack: torch.Tensor,
                             params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact backward of :func:`compressor_gain_forward`.

    Shape: ``grad_g`` ``(M, N)`` (``g``'s dtype); ``x``, ``g``, ``attack``, ``params`` as saved by
    the forward -> ``grad_x`` ``(M, C, N)`` (``x``'s dtype) and ``grad_params`` ``(M, 5)`` float64
    (w.r.t. threshold, ratio, knee, a_att, a_rel).
    """
    grad_g = grad_g.contiguous()
    grad_x = torch.empty_like(x)
    grad_p = torch.empty(params.shape, dtype=torch.float64, device=x.device)
    if x.shape[0] and x.shape[2]:
        _launch(_backward_kernel, x, x.shape[0], grad_g, x, g, attack, params, grad_x, grad_p)
    elif x.shape[0]:
        grad_p.zero_()
    return grad_x, grad_p
