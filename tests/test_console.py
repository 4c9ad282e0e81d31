"""The training-path console: pan law, batching, masks, agreement with the full-length renderer,
and gradients reaching every parameter."""

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.dsp import functional as fx
from mixdown.dsp.console import Console
from mixdown.dsp.render import render
from mixdown.params import spec as S
from mixdown.params.io import MixParams

SR = 22050


def active_params(n_tracks, seed=0):
    """Physical values with every effect engaged (HPF on, EQ moves, compressor working)."""
    rng = np.random.default_rng(seed)
    tv = S.denormalize(rng.uniform(0.15, 0.85, (n_tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
    tv[:, S.index(S.TRACK_SPECS, "highpass_hz")] = rng.uniform(40, 200, n_tracks)
    tv[:, S.index(S.TRACK_SPECS, "compressor.threshold_db")] = rng.uniform(-40, -20, n_tracks)
    tv[:, S.index(S.TRACK_SPECS, "input_gain_db")] = rng.uniform(-6, 6, n_tracks)
    tv[:, S.index(S.TRACK_SPECS, "fader_db")] = rng.uniform(-12, 0, n_tracks)
    mv = S.denormalize(rng.uniform(0.15, 0.85, S.N_MASTER_PARAMS), S.MASTER_SPECS, SR)
    mv[S.index(S.MASTER_SPECS, "compressor.threshold_db")] = -30.0
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -6.0
    return tv, mv


def test_pan_law_constant_power():
    p = torch.linspace(-1, 1, 41)
    left, right = fx.pan_gains(p)
    torch.testing.assert_close(left ** 2 + right ** 2, torch.ones(41))
    assert 20 * math.log10(left[20]) == pytest.approx(-3.0103, abs=1e-3)
    assert right[0] == pytest.approx(0.0, abs=1e-7) and left[-1] == pytest.approx(0.0, abs=1e-7)
    stereo = fx.pan(torch.ones(2, 10), torch.tensor(0.5))  # balance: each side keeps its channel
    torch.testing.assert_close(stereo[:, 0], torch.stack(fx.pan_gains(torch.tensor(0.5))))


def test_batched_equals_looped_and_mask_drops_tracks():
    torch.manual_seed(0)
    con = Console(SR)
    x = torch.randn(3, 4, 2, 4000) * 0.3
    tp = torch.rand(3, 4, S.N_TRACK_PARAMS)
    mp = torch.rand(3, S.N_MASTER_PARAMS)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    batched = con(x, tp, mp, mask)
    for b in range(3):
        k = int(mask[b].sum())
        single = con(x[b:b + 1, :k], tp[b:b + 1, :k], mp[b:b + 1])
        torch.testing.assert_close(batched[b:b + 1], single, rtol=1e-4, atol=1e-5)


def test_mono_track_equals_duplicated_channels():
    torch.manual_seed(1)
    con = Console(SR)
    x = torch.randn(1, 1, 1, 3000) * 0.5
    tp, mp = torch.rand(1, 1, S.N_TRACK_PARAMS), torch.rand(1, S.N_MASTER_PARAMS)
    torch.testing.assert_close(con(x, tp, mp), con(x.repeat(1, 1, 2, 1), tp, mp), rtol=1e-5, atol=1e-6)


def test_training_and_full_length_paths_agree(tmp_path):
    """Mono and stereo tracks of different lengths, every effect active: better than -60 dB."""
    rng = np.random.default_rng(3)
    n = SR * 2
    lengths, chans, tracks = [n, n - 5000, n // 2], [2, 1, 2], []
    for i, (m, c) in enumerate(zip(lengths, chans)):
        env = np.repeat(rng.uniform(0.05, 1.0, m // 1000 + 1), 1000)[:m, None]
        x = (rng.standard_normal((m, c)) * env * 0.4).astype(np.float32)
        sf.write(tmp_path / f"t{i}.wav", x, SR, subtype="FLOAT")
        pad = np.zeros((n, 2), np.float32)
        pad[:m, :c] = x
        if c == 1:
            pad[:m, 1] = x[:, 0]
        tracks.append(pad.T)
    tv, mv = active_params(3)
    params = MixParams.from_arrays(SR, ["a", "b", "c"], ["t0.wav", "t1.wav", "t2.wav"], tv, mv)
    full = render(tmp_path, params, block_frames=7000).audio.T
    train = Console(SR)(torch.tensor(np.stack(tracks))[None], torch.tensor(tv, dtype=torch.float32)[None],
                        torch.tensor(mv, dtype=torch.float32)[None], normalized=False)[0].numpy()
    assert full.shape == train.shape == (2, n)
    err_db = 10 * np.log10(np.sum((full - train) ** 2) / np.sum(full ** 2))
    assert err_db < -60, err_db


def test_every_parameter_gets_a_finite_nonzero_gradient():
    torch.manual_seed(0)
    con = Console(SR)
    tv, mv = active_params(2, seed=5)
    tp = torch.tensor(S.normalize(tv, S.TRACK_SPECS, SR), dtype=torch.float32)[None].requires_grad_(True)
    mp = torch.tensor(S.normalize(mv, S.MASTER_SPECS, SR), dtype=torch.float32)[None].requires_grad_(True)
    t = torch.arange(SR) / SR
    tones = sum(torch.sin(2 * math.pi * f * t) for f in (35, 90, 300, 1000, 3000, 7000, 9500))
    x = torch.stack([tones * 0.3, torch.randn(SR) * 0.3])[None, :, None].repeat(1, 1, 2, 1)
    y = con(x, tp, mp)
    target = torch.randn_like(y) * 0.1
    (y - target).pow(2).mean().backward()
    for grad, names in ((tp.grad[0], S.TRACK_NAMES), (mp.grad[0], S.MASTER_NAMES)):
        assert torch.isfinite(grad).all()
        zero = [n for n, g in zip(names, grad.reshape(-1, len(names)).abs().amax(0)) if g == 0]
        assert not zero, f"no gradient for {zero}"
