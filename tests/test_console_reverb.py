"""The reverb wired into both render paths: post-fader, post-pan sends, the return joining the bus
before the master, against the spec text (scipy's ``fftconvolve`` with an impulse response built
directly from the spec, in ``test_reverb.py``); the paths against each other with every setting
active; sends off changing nothing; batching, masks and gradients through the whole console."""

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.dsp.console import Console
from mixdown.dsp.render import render
from mixdown.params import spec as S
from mixdown.params.io import MixParams, read_params, write_params
from test_reverb import _rel_db, _spec_return

SR = 22050
REVERB = {"predelay_ms": 23.71, "decay_low_s": 1.1, "decay_mid_s": 0.8, "decay_high_s": 0.35,
          "highpass_hz": 240.0, "return_db": -4.0}


def _tracks(tmp_path, lengths, chans, seed=0):
    """Noise bursts with gaps (so tails show) written as float WAVs; returns ``(B=1, N, 2, T)`` padded."""
    rng = np.random.default_rng(seed)
    n = max(lengths)
    padded = []
    for i, (m, c) in enumerate(zip(lengths, chans)):
        env = (rng.uniform(size=m // 2000 + 1) < 0.5).repeat(2000)[:m, None] * rng.uniform(0.1, 0.5)
        x = (rng.standard_normal((m, c)) * env).astype(np.float32)
        sf.write(tmp_path / f"t{i}.wav", x, SR, subtype="FLOAT")
        pad = np.zeros((n, 2), np.float32)
        pad[:m] = x if c == 2 else np.repeat(x, 2, 1)
        padded.append(pad.T)
    return np.stack(padded)[None]


def _values(n, reverb=REVERB, sends=None):
    tv = np.tile([S.neutral_track_values(SR)[k] for k in S.TRACK_NAMES], (n, 1))
    mv = np.array([S.neutral_master_values(SR)[k] for k in S.MASTER_NAMES])
    for k, v in reverb.items():
        mv[S.MASTER_NAMES.index(f"reverb.{k}")] = v
    if sends is not None:
        tv[:, S.TRACK_NAMES.index("reverb_send_db")] = sends
    return tv, mv


def _console(x, tv, mv):
    return Console(SR)(torch.tensor(x), torch.tensor(tv, dtype=torch.float32)[None],
                       torch.tensor(mv, dtype=torch.float32)[None], normalized=False)[0].numpy().T


def test_sends_are_post_fader_post_pan_and_the_return_joins_the_bus(tmp_path):
    """Neutral strips but fader, pan and send; neutral master: the mix is the panned sum plus the
    spec's return of the sends' sum (scipy reference), on both paths."""
    x = _tracks(tmp_path, [SR * 2, SR * 2 - 3000], [1, 2])
    tv, mv = _values(2, sends=[-6.0, -15.0])
    fader, pan = np.array([-3.0, 2.0]), np.array([-0.6, 0.3])
    tv[:, S.TRACK_NAMES.index("fader_db")] = fader
    tv[:, S.TRACK_NAMES.index("pan")] = pan
    theta = (pan + 1) * np.pi / 4
    panned = x[0] * (10 ** (fader / 20))[:, None, None] * np.stack([np.cos(theta), np.sin(theta)], 1)[..., None]
    sends = (panned * (10 ** (np.array([-6.0, -15.0]) / 20))[:, None, None]).sum(0)
    ref = panned.sum(0).T + _spec_return(sends.T.astype(np.float64), SR,
                                         {k: REVERB[k] for k in ("predelay_ms", "decay_low_s", "decay_mid_s",
                                                                 "decay_high_s")},
                                         REVERB["highpass_hz"], REVERB["return_db"])
    params = MixParams.from_arrays(SR, ["a", "b"], ["t0.wav", "t1.wav"], tv, mv)
    full = render(tmp_path, params, block_frames=5000).audio
    assert _rel_db(full, ref) < -80
    assert _rel_db(_console(x, tv, mv), ref) < -80


def test_both_paths_agree_with_every_send_and_reverb_setting_active(tmp_path):
    """Every strip effect, every send (mono and stereo tracks of different lengths), the master
    compressor, a fractional pre-delay, the return high-pass and gain: better than -60 dB."""
    rng = np.random.default_rng(4)
    x = _tracks(tmp_path, [SR * 2, SR * 2 - 5000, SR], [2, 1, 2], seed=4)
    tv = S.denormalize(rng.uniform(0.15, 0.85, (3, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
    tv[:, S.TRACK_NAMES.index("highpass_hz")] = [60.0, 120.0, 45.0]
    tv[:, S.TRACK_NAMES.index("compressor.threshold_db")] = -30.0
    tv[:, S.TRACK_NAMES.index("reverb_send_db")] = [-3.0, -12.0, -30.0]
    mv = S.denormalize(rng.uniform(0.15, 0.85, S.N_MASTER_PARAMS), S.MASTER_SPECS, SR)
    mv[S.MASTER_NAMES.index("compressor.threshold_db")] = -30.0
    mv[S.MASTER_NAMES.index("output_gain_db")] = -6.0
    for k, v in REVERB.items():
        mv[S.MASTER_NAMES.index(f"reverb.{k}")] = v
    params = MixParams.from_arrays(SR, ["a", "b", "c"], ["t0.wav", "t1.wav", "t2.wav"], tv, mv)
    full = render(tmp_path, params, block_frames=7000).audio
    dry = render(tmp_path, MixParams.from_arrays(SR, ["a", "b", "c"], ["t0.wav", "t1.wav", "t2.wav"],
                                                 _sends_off(tv), mv), block_frames=7000).audio
    assert _rel_db(dry, full) > -20  # the reverb is a clear part of this mix
    assert _rel_db(_console(x, tv, mv), full) < -60


def _sends_off(tv):
    out = tv.copy()
    out[:, S.TRACK_NAMES.index("reverb_send_db")] = -60.0
    return out


def test_sends_off_change_nothing_and_version_1_files_render_as_before(tmp_path):
    """With every send at -60 dB the reverb's settings cannot matter (exactly), on both paths; a
    ``mixdown.params/1`` file renders bit for bit like the same settings written as ``/2``."""
    x = _tracks(tmp_path, [SR, SR], [2, 1], seed=2)
    tv, mv = _values(2, sends=-60.0)
    tv[:, S.TRACK_NAMES.index("fader_db")] = [-2.0, -5.0]
    loud = dict(REVERB, return_db=12.0, decay_mid_s=10.0)
    _, mv_loud = _values(2, reverb=loud)
    names, files = ["a", "b"], ["t0.wav", "t1.wav"]
    base = render(tmp_path, MixParams.from_arrays(SR, names, files, tv, mv)).audio
    np.testing.assert_array_equal(render(tmp_path, MixParams.from_arrays(SR, names, files, tv, mv_loud)).audio, base)
    np.testing.assert_array_equal(_console(x, tv, mv), _console(x, tv, mv_loud))
    write_params(MixParams.from_arrays(SR, names, files, tv, mv), tmp_path / "v2.json")
    doc = (tmp_path / "v2.json").read_text().replace("mixdown.params/2", "mixdown.params/1")
    (tmp_path / "v1.json").write_text(doc)  # /1 readers ignore the keys /1 did not have
    np.testing.assert_array_equal(render(tmp_path, read_params(tmp_path / "v1.json")).audio, base)


def test_batched_equals_looped_and_masked_tracks_send_nothing():
    torch.manual_seed(3)
    con = Console(SR)
    x = torch.randn(3, 4, 2, 6000) * 0.3
    tp = torch.rand(3, 4, S.N_TRACK_PARAMS)
    tp[..., S.TRACK_NAMES.index("reverb_send_db")] = torch.rand(3, 4) * 0.5 + 0.5  # -30 .. 0 dB
    mp = torch.rand(3, S.N_MASTER_PARAMS)
    for k in ("decay_low_s", "decay_mid_s", "decay_high_s"):  # 0.1 .. 0.4 s: short, cheap, audible
        mp[:, S.MASTER_NAMES.index(f"reverb.{k}")] = torch.rand(3) * 0.3
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    batched = con(x, tp, mp, mask)
    for b in range(3):
        k = int(mask[b].sum())
        torch.testing.assert_close(batched[b:b + 1], con(x[b:b + 1, :k], tp[b:b + 1, :k], mp[b:b + 1]),
                                   rtol=1e-4, atol=1e-5)


def test_every_send_and_reverb_setting_gets_a_gradient_through_the_console():
    torch.manual_seed(0)
    con = Console(SR)
    tv, mv = _values(3, sends=[-20.0, -8.0, -40.0])
    u_t = torch.tensor(S.normalize(tv, S.TRACK_SPECS, SR))[None].requires_grad_(True)
    u_m = torch.tensor(S.normalize(mv, S.MASTER_SPECS, SR))[None].requires_grad_(True)
    x = (torch.randn(1, 3, 2, SR) * (torch.rand(1, 3, 1, SR // 1000 + 1) < 0.5).repeat_interleave(1000, -1)
         [..., :SR]).double()
    target = torch.randn(1, 2, SR, dtype=torch.float64) * 0.1
    (con(x, u_t, u_m) - target).pow(2).mean().backward()
    g_send = u_t.grad[0, :, S.TRACK_NAMES.index("reverb_send_db")]
    g_rev = u_m.grad[0, [S.MASTER_NAMES.index(n) for n in S.REVERB_MASTER_NAMES]]
    for g in (g_send, g_rev):
        assert torch.isfinite(g).all() and (g != 0).all(), g


@pytest.mark.parametrize("send_db", [-60.0, -75.0])
def test_send_at_or_below_minus_60_is_no_send(tmp_path, send_db):
    x = _tracks(tmp_path, [SR], [1])
    tv, mv = _values(1, sends=send_db)
    tv_off = tv.copy()
    tv_off[0, S.TRACK_NAMES.index("reverb_send_db")] = -60.0
    np.testing.assert_array_equal(_console(x, tv, mv), _console(x, tv_off, mv))


def test_below_8889_hz_the_console_has_no_reverb():
    """The spec's 4 kHz band edge must lie below 0.45 x the rate: at 8 kHz there is no reverb (files
    may not send there), and the training path ignores sends."""
    x = torch.randn(1, 2, 2, 4000)
    tv = np.tile([S.neutral_track_values(8000)[k] for k in S.TRACK_NAMES], (2, 1))
    mv = np.array([S.neutral_master_values(8000)[k] for k in S.MASTER_NAMES])
    wet = tv.copy()
    wet[:, S.TRACK_NAMES.index("reverb_send_db")] = -6.0
    con = Console(8000)
    out = [con(x, torch.tensor(v, dtype=torch.float32)[None], torch.tensor(mv, dtype=torch.float32)[None],
               normalized=False) for v in (tv, wet)]
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)
