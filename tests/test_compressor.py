"""The compressor against a plain Python loop written straight from the console spec,
on transients, sines and noise, over the knee/ratio/attack/release corners; plus its gradient."""

import math

import numpy as np
import pytest
import torch

from mixdown.dsp.compressor import compressor, compressor_gain_db
from mixdown.dsp.kernels import strip_block

SR = 16000


def reference_compressor(x, thr, ratio, att_ms, rel_ms, knee, makeup, sr=SR):
    """The spec, sample by sample, in float64. x: (C, T)."""
    a_a = math.exp(-1 / (0.001 * att_ms * sr))
    a_r = math.exp(-1 / (0.001 * rel_ms * sr))
    g_prev = 0.0
    y = np.empty_like(x, dtype=np.float64)
    for n in range(x.shape[1]):
        s = max(abs(float(v)) for v in x[:, n])
        L = 20 * math.log10(max(s, 1e-6))
        if 2 * (L - thr) < -knee:
            G = L
        elif knee > 0 and 2 * abs(L - thr) <= knee:
            G = L + (1 / ratio - 1) * (L - thr + knee / 2) ** 2 / (2 * knee)
        else:
            G = thr + (L - thr) / ratio
        gc = G - L
        if gc < g_prev:
            g = a_a * g_prev + (1 - a_a) * gc
        else:
            g = a_r * g_prev + (1 - a_r) * gc
        y[:, n] = x[:, n] * 10 ** ((g + makeup) / 20)
        g_prev = g
    return y


def signals():
    rng = np.random.default_rng(0)
    n = 3000
    t = np.arange(n) / SR
    burst = np.zeros((2, n))
    burst[:, 500:1500] = 0.9 * np.sin(2 * np.pi * 220 * t[500:1500])
    burst[1, 500:1500] *= 0.3  # the side chain is the max over channels
    sine = np.stack([0.5 * np.sin(2 * np.pi * 100 * t) * np.linspace(0.1, 1.5, n)] * 2)
    noise = rng.standard_normal((2, n)) * np.repeat(rng.uniform(0.01, 1, n // 250 + 1), 250)[:n]
    clicks = np.zeros((1, n))
    clicks[0, ::700] = 1.0
    return {"transient": burst, "sine": sine, "noise": noise, "clicks": clicks}


CORNERS = [  # threshold, ratio, attack, release, knee, makeup
    (-20.0, 4.0, 10.0, 100.0, 6.0, 3.0),
    (-30.0, 20.0, 0.1, 10.0, 0.0, 0.0),
    (-10.0, 1.0, 100.0, 1000.0, 12.0, 24.0),
    (-40.0, 2.0, 100.0, 10.0, 12.0, 0.0),
    (0.0, 20.0, 0.1, 1000.0, 0.0, 6.0),
    (-60.0, 1.5, 5.0, 50.0, 3.0, 12.0),
]


@pytest.mark.parametrize("corner", CORNERS)
@pytest.mark.parametrize("name", ["transient", "sine", "noise", "clicks"])
def test_training_path_matches_reference_loop(name, corner):
    x = signals()[name]
    ref = reference_compressor(x, *corner)
    params = [torch.tensor(v, dtype=torch.float32) for v in corner]
    y = compressor(torch.tensor(x, dtype=torch.float32), *params, SR).numpy()
    np.testing.assert_allclose(y, ref, atol=2e-5 * max(1.0, np.abs(ref).max()), rtol=1e-4)


@pytest.mark.parametrize("corner", CORNERS)
def test_render_kernel_matches_reference_loop(corner):
    x = signals()["noise"]
    thr, ratio, att, rel, knee, makeup = corner
    ref = reference_compressor(x, *corner)
    comp = np.array([[thr, ratio, knee, makeup, math.exp(-1 / (0.001 * att * SR)),
                      math.exp(-1 / (0.001 * rel * SR)), float(ratio != 1.0)]])
    out = np.empty((1, x.shape[1], 2), dtype=np.float32)
    g = np.zeros(1)
    xs = np.ascontiguousarray(x.T[None], dtype=np.float32)
    for s in range(0, x.shape[1], 1000):  # blocks: the gain state must carry over
        strip_block(xs[:, s:s + 1000], np.array([2]), np.zeros((1, 1, 5)), np.zeros(1, dtype=np.int64),
                    np.zeros((1, 1, 2, 2)), comp, g, np.ones(1), np.ones((1, 2)), out[:, s:s + 1000])
    np.testing.assert_allclose(out[0].T, ref, atol=2e-5 * np.abs(ref).max(), rtol=1e-4)


def test_hard_knee_static_curve_on_steady_tone():
    """After the attack settles, a tone 20 dB over threshold at 4:1 comes out 15 dB quieter."""
    n = 8000
    x = np.full((1, n), 10 ** (-10 / 20))  # DC at -10 dBFS, threshold -30 dB
    y = compressor(torch.tensor(x), torch.tensor(-30.0), torch.tensor(4.0), torch.tensor(1.0),
                   torch.tensor(50.0), torch.tensor(0.0), torch.tensor(0.0), SR).numpy()
    assert 20 * math.log10(y[0, -1]) == pytest.approx(-10 - 15, abs=1e-3)


def test_compressor_gain_backward_matches_autograd_through_a_loop():
    """The compiled backward against autograd through a plain loop of the spec (the reference)."""
    torch.manual_seed(0)
    x = (torch.randn(2, 2, 300, dtype=torch.float64) * torch.linspace(0.01, 1.0, 300)).requires_grad_(True)
    thr = torch.tensor([-30.0, -20.0], dtype=torch.float64, requires_grad=True)
    ratio = torch.tensor([4.0, 10.0], dtype=torch.float64, requires_grad=True)
    att = torch.tensor([0.5, 5.0], dtype=torch.float64, requires_grad=True)
    rel = torch.tensor([20.0, 200.0], dtype=torch.float64, requires_grad=True)
    knee = torch.tensor([6.0, 0.0], dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 300, dtype=torch.float64)

    def loop(x, thr, ratio, att, rel, knee):
        level = 20 * torch.log10(x.abs().amax(1).clamp(min=1e-6))
        over = level - thr[:, None]
        k = knee[:, None]
        slope = 1 / ratio[:, None] - 1
        in_knee = (k > 0) & (2 * over.abs() <= k)
        knee_curve = slope * (over + k / 2) ** 2 / (2 * k.clamp(min=1e-9))
        gc = torch.where(2 * over < -k, torch.zeros_like(over), torch.where(in_knee, knee_curve, slope * over))
        a_att, a_rel = torch.exp(-1 / (0.001 * att * SR)), torch.exp(-1 / (0.001 * rel * SR))
        g, outs = torch.zeros(2, dtype=torch.float64), []
        for n in range(gc.shape[1]):
            a = torch.where(gc[:, n] < g, a_att, a_rel)
            g = a * g + (1 - a) * gc[:, n]
            outs.append(g)
        return torch.stack(outs, 1)

    args = [x, thr, ratio, att, rel, knee]
    ours = torch.autograd.grad((compressor_gain_db(x, thr, ratio, att, rel, knee, SR) * w).sum(), args)
    ref = torch.autograd.grad((loop(*args) * w).sum(), args)
    for name, o, r in zip(("x", "threshold", "ratio", "attack", "release", "knee"), ours, ref):
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)


def test_compressor_parameter_gradients_match_finite_differences():
    x = torch.tensor(signals()["transient"][:, :1500], dtype=torch.float64)
    base = {"thr": -25.0, "ratio": 4.0, "att": 5.0, "rel": 60.0, "knee": 6.0, "makeup": 2.0}

    def loss(**kw):
        p = {**base, **kw}
        args = [torch.as_tensor(p[k], dtype=torch.float64) for k in ("thr", "ratio", "att", "rel", "knee", "makeup")]
        return compressor(x, *args, SR).pow(2).sum()

    for key in base:
        p = torch.tensor(base[key], dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(loss(**{key: p}), [p])
        h = 1e-3 * max(1.0, abs(base[key]))
        fd = (loss(**{key: base[key] + h}) - loss(**{key: base[key] - h})) / (2 * h)
        assert g.item() == pytest.approx(fd.item(), rel=2e-2, abs=1e-4), key
        assert g.item() != 0.0, key
