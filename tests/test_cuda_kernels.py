"""The console's device path without a GPU (numba's CUDA simulator) and with one (``gpu`` marker).

numba chooses the simulator when it is first imported, so the ``test_sim_*`` cases run in a
subprocess started by :func:`test_device_kernels_under_the_cuda_simulator` with
``NUMBA_ENABLE_CUDASIM=1``; in the main run they are skipped. Under the simulator the compressor
sends CPU tensors to :mod:`mixdown.dsp.cuda_kernels`, so the cases exercise the device kernels and
the autograd dispatch that CUDA tensors take (and the cascade response takes its torch path, so
the whole console runs as on a GPU). The torch cascade response is also checked on the CPU directly.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mixdown.dsp import kernels
from mixdown.dsp.compressor import compressor_gain_db
from mixdown.dsp.filters import _CascadeResponse, eq_coefficients, highpass_coefficients
from mixdown.dsp.response import CascadeResponseTorch
from mixdown.dsp.strip import pole

SR = 8000
SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
sim_only = pytest.mark.skipif(not SIM, reason="runs in a subprocess under numba's CUDA simulator")
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CORNERS = [  # threshold, ratio, attack_ms, release_ms, knee_db
    (-20.0, 4.0, 1.0, 10.0, 6.0),
    (-30.0, 20.0, 0.1, 10.0, 0.0),
    (-6.0, 2.0, 5.0, 40.0, 12.0),
]


def reference_gain_db(x, thr, ratio, att_ms, rel_ms, knee, sr=SR):
    """The spec's side chain, static curve and ballistics, sample by sample. x: (C, T) -> (T,)."""
    a_a, a_r = math.exp(-1 / (0.001 * att_ms * sr)), math.exp(-1 / (0.001 * rel_ms * sr))
    g, out = 0.0, np.empty(x.shape[1])
    for n in range(x.shape[1]):
        level = 20 * math.log10(max(max(abs(float(v)) for v in x[:, n]), 1e-6))
        if 2 * (level - thr) < -knee:
            gc = 0.0
        elif knee > 0 and 2 * abs(level - thr) <= knee:
            gc = (1 / ratio - 1) * (level - thr + knee / 2) ** 2 / (2 * knee)
        else:
            gc = (1 / ratio - 1) * (level - thr)
        g = (a_a if gc < g else a_r) * g + (1 - (a_a if gc < g else a_r)) * gc
        out[n] = g
    return out


def signals(n=240, seed=0):
    """``(3, 2, n)`` float64: a tone burst, a swelling sine, enveloped noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    burst = np.zeros((2, n))
    burst[:, n // 4: n // 2] = 0.9 * np.sin(2 * np.pi * 220 * t[n // 4: n // 2])
    burst[1] *= 0.3
    sine = np.stack([0.5 * np.sin(2 * np.pi * 100 * t) * np.linspace(0.1, 1.5, n)] * 2)
    noise = rng.standard_normal((2, n)) * np.repeat(rng.uniform(0.01, 1, n // 40 + 1), 40)[:n]
    return np.stack([burst, sine, noise])


def _params(corner, m):
    thr, ratio, att, rel, knee = corner
    cols = [torch.full((m,), v, dtype=torch.float64) for v in (thr, ratio, knee)]
    cols += [pole(torch.full((m,), t, dtype=torch.float64), SR) for t in (att, rel)]
    return torch.stack(cols, -1)


def test_device_kernels_under_the_cuda_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "test_sim_", __file__]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and "skipped" not in res.stdout.splitlines()[-1], res.stdout[-2000:]


@sim_only
@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sim_forward_matches_cpu_kernel_and_reference_loop(corner, dtype):
    from mixdown.dsp import cuda_kernels

    x = torch.tensor(signals(), dtype=dtype)
    p = _params(corner, 3)
    g_dev, att_dev = cuda_kernels.compressor_gain_forward(x, p)
    g_cpu, att_cpu = np.empty((3, x.shape[-1]), dtype=x.numpy().dtype), np.empty((3, x.shape[-1]), np.uint8)
    kernels.compressor_gain_forward(x.numpy(), p.numpy(), g_cpu, att_cpu)
    np.testing.assert_array_equal(att_dev.numpy(), att_cpu)
    np.testing.assert_allclose(g_dev.numpy(), g_cpu, rtol=1e-12, atol=1e-12)
    for m in range(3):
        ref = reference_gain_db(x[m].double().numpy(), *corner)
        np.testing.assert_allclose(g_dev[m].numpy(), ref, rtol=1e-5 if dtype == torch.float32 else 1e-10,
                                   atol=1e-5 if dtype == torch.float32 else 1e-10)
    assert (g_dev < -0.5).any()  # the corners do compress these signals


@sim_only
@pytest.mark.parametrize("corner", CORNERS[:2])
def test_sim_backward_matches_cpu_kernel(corner):
    from mixdown.dsp import cuda_kernels

    x = torch.tensor(signals(), dtype=torch.float64)
    p = _params(corner, 3)
    grad = torch.randn(3, x.shape[-1], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    g, att = cuda_kernels.compressor_gain_forward(x, p)
    gx, gp = cuda_kernels.compressor_gain_backward(grad, x, g, att, p)
    gx_cpu, gp_cpu = np.empty(x.shape), np.empty(p.shape)
    kernels.compressor_gain_backward(grad.numpy(), x.numpy(), g.numpy(), att.numpy(), p.numpy(), gx_cpu, gp_cpu)
    np.testing.assert_allclose(gx.numpy(), gx_cpu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gp.numpy(), gp_cpu, rtol=1e-12, atol=1e-12)
    assert np.abs(gp_cpu).max() > 1e-6 and np.abs(gx_cpu).max() > 1e-6


@sim_only
def test_sim_dispatch_gradients_match_finite_differences():
    """Through ``compressor_gain_db`` (which takes the device kernels here): every input and
    parameter gradient against central differences of the forward."""
    x = torch.tensor(signals(n=80)[:2], dtype=torch.float64, requires_grad=True)
    vals = {"thr": [-20.0, -12.0], "ratio": [4.0, 8.0], "att": [1.0, 3.0], "rel": [10.0, 30.0], "knee": [6.0, 3.0]}
    args = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals.values()]
    w = torch.randn(2, 80, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def loss(x, *a):
        return (compressor_gain_db(x, *a, SR) * w).sum()

    grads = torch.autograd.grad(loss(x, *args), [x, *args])
    assert grads[0].abs().max() > 0
    for i, (name, a) in enumerate(zip(vals, args), start=1):
        for j in range(2):
            eps = 1e-5 * max(1.0, abs(float(a[j].detach())))
            hi, lo = [t.detach().clone() for t in args], [t.detach().clone() for t in args]
            hi[i - 1][j] += eps
            lo[i - 1][j] -= eps
            fd = (loss(x.detach(), *hi) - loss(x.detach(), *lo)) / (2 * eps)
            assert float(grads[i][j]) == pytest.approx(float(fd), rel=1e-4, abs=1e-6), (name, j)
    xi = (0, 0, 30)  # a sample inside the burst, in the louder channel
    hi, lo = x.detach().clone(), x.detach().clone()
    hi[xi] += 1e-6
    lo[xi] -= 1e-6
    fd = (loss(hi, *args) - loss(lo, *args)) / 2e-6
    assert float(grads[0][xi]) == pytest.approx(float(fd), rel=1e-4, abs=1e-6)


@sim_only
def test_sim_console_device_dispatch_matches_cpu_path(monkeypatch):
    """The whole console (forward and parameter gradients) through the device dispatch equals the
    CPU kernels' path (switched back in by patching the dispatch)."""
    from mixdown.dsp import compressor, filters
    from mixdown.dsp.console import Console
    from mixdown.params import spec as S

    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 2, 2, 300, generator=gen) * 0.3
    tp = torch.rand(1, 2, len(S.TRACK_SPECS), generator=gen)
    mp = torch.rand(1, len(S.MASTER_SPECS), generator=gen)
    console = Console(SR)

    def run():
        t, m = tp.clone().requires_grad_(True), mp.clone().requires_grad_(True)
        y = console(x, t, m)
        y.square().mean().backward()
        return y.detach(), t.grad, m.grad

    dev = run()
    monkeypatch.setattr(compressor, "_on_device", lambda x: False)
    monkeypatch.setattr(filters, "_on_device", lambda b: False)
    cpu = run()
    assert cpu[0].abs().max() > 1e-3 and cpu[1].abs().max() > 0
    for d, c in zip(dev, cpu):
        torch.testing.assert_close(d, c, rtol=1e-4, atol=1e-6)


def _cascade(m=3, n_fft=512):
    """Real console cascades: high-pass then six EQ bands, ``(m, 7, 3)`` b and a, float64."""
    g = torch.Generator().manual_seed(3)
    hp = torch.tensor([30.0, 120.0, 400.0][:m], dtype=torch.float64)
    freqs = torch.tensor([100.0, 300.0, 900.0, 1800.0, 2500.0, 3000.0], dtype=torch.float64).expand(m, 6)
    gains = torch.rand(m, 6, generator=g, dtype=torch.float64) * 24 - 12
    qs = torch.rand(m, 6, generator=g, dtype=torch.float64) + 0.5
    bh, ah = highpass_coefficients(hp, SR)
    be, ae = eq_coefficients(freqs, gains, qs, SR, ("low_shelf", "peak", "peak", "peak", "peak", "high_shelf"))
    return torch.cat([bh[:, None], be], 1), torch.cat([ah[:, None], ae], 1)


def test_torch_cascade_response_matches_cpu_kernel_forward_and_backward():
    b, a = _cascade()
    b.requires_grad_(True)
    a.requires_grad_(True)
    h_cpu = _CascadeResponse.apply(b, a, 512)
    h_dev = CascadeResponseTorch.apply(b, a, 512)
    torch.testing.assert_close(h_dev, h_cpu, rtol=1e-5, atol=1e-6)
    w = torch.randn(h_cpu.shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(4))
    ref = torch.autograd.grad((h_cpu * w).real.sum(), (b, a))
    ours = torch.autograd.grad((h_dev * w).real.sum(), (b, a))
    for o, r in zip(ours, ref):
        torch.testing.assert_close(o, r, rtol=1e-6, atol=1e-9)
    assert ref[0].abs().max() > 1e-3 and ref[1][..., 1:].abs().max() > 1e-3


def test_torch_cascade_response_directional_finite_differences():
    b, a = _cascade(m=2, n_fft=64)
    b, a = b[:, 1:].clone(), a[:, 1:].clone()  # the EQ bands: poles away from the unit circle
    b.requires_grad_(True)
    a.requires_grad_(True)
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(2, 33, dtype=torch.complex64, generator=gen)
    vb = torch.randn(b.shape, dtype=torch.float64, generator=gen)
    va = torch.randn(a.shape, dtype=torch.float64, generator=gen)
    va[..., 0] = 0.0  # a0 is fixed at 1

    def loss64(b, a):  # the cascade's definition in float64 (the module returns complex64: too coarse for FD)
        zi = torch.exp(-1j * torch.arange(33, dtype=torch.float64)[:, None] * (2 * math.pi / 64) * torch.arange(3.0))
        return (torch.prod((b.to(zi.dtype) @ zi.T) / (a.to(zi.dtype) @ zi.T), 1) * w).real.sum()

    gb, ga = torch.autograd.grad((CascadeResponseTorch.apply(b, a, 64) * w).real.double().sum(), (b, a))
    eps = 1e-7
    b0, a0 = b.detach(), a.detach()
    fd = (loss64(b0 + eps * vb, a0 + eps * va) - loss64(b0 - eps * vb, a0 - eps * va)) / (2 * eps)
    assert float((gb * vb).sum() + (ga * va).sum()) == pytest.approx(float(fd), rel=1e-6)


@gpu
@needs_cuda
def test_gpu_compressor_matches_cpu_without_host_copies(monkeypatch):
    x = torch.tensor(signals(n=4000), dtype=torch.float32)
    args = [torch.tensor(v, dtype=torch.float32) for v in ([-20.0] * 3, [4.0] * 3, [2.0] * 3, [30.0] * 3, [6.0] * 3)]
    w = torch.randn(3, 4000)
    xc = x.clone().requires_grad_(True)
    ac = [a.clone().requires_grad_(True) for a in args]
    (compressor_gain_db(xc, *ac, SR) * w).sum().backward()
    xd = x.cuda().requires_grad_(True)
    ad = [a.cuda().requires_grad_(True) for a in args]

    def no_host(self, *a, **k):
        raise AssertionError("host copy on the device path")

    monkeypatch.setattr(torch.Tensor, "cpu", no_host)
    monkeypatch.setattr(torch.Tensor, "numpy", no_host)
    g = compressor_gain_db(xd, *ad, SR)
    (g * w.cuda()).sum().backward()
    torch.cuda.synchronize()
    monkeypatch.undo()
    ref = compressor_gain_db(x, *args, SR)
    torch.testing.assert_close(g.detach().cpu(), ref, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(xd.grad.cpu(), xc.grad, rtol=1e-4, atol=1e-4)
    for d, c in zip(ad, ac):
        torch.testing.assert_close(d.grad.cpu(), c.grad, rtol=1e-4, atol=1e-3)


@gpu
@needs_cuda
def test_gpu_console_forward_backward_matches_cpu(monkeypatch):
    from mixdown.dsp.console import Console
    from mixdown.params import spec as S

    torch.manual_seed(0)
    x = torch.randn(2, 3, 2, 6000) * 0.2
    tp = S.denormalize(torch.rand(2, 3, len(S.TRACK_SPECS)), S.TRACK_SPECS, 44100).float()
    mp = S.denormalize(torch.rand(2, len(S.MASTER_SPECS)), S.MASTER_SPECS, 44100).float()
    console = Console(44100)
    cpu_tp, cpu_mp = tp.clone().requires_grad_(True), mp.clone().requires_grad_(True)
    console(x, cpu_tp, cpu_mp).square().mean().backward()
    dev_tp, dev_mp = tp.cuda().requires_grad_(True), mp.cuda().requires_grad_(True)
    monkeypatch.setattr(torch.Tensor, "numpy", lambda *a, **k: (_ for _ in ()).throw(AssertionError("host copy")))
    out = console(x.cuda(), dev_tp, dev_mp)
    out.square().mean().backward()
    monkeypatch.undo()
    torch.testing.assert_close(out.detach().cpu(), console(x, tp, mp), rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(dev_tp.grad.cpu(), cpu_tp.grad, rtol=1e-2, atol=1e-5)
