"""Reference mode hears the tail: the decay profile against the definition of a decay time, and
refinement moving the sends and the decay towards a reference mixed with reverb."""

import math

import numpy as np
import pytest
import torch

from mixdown.dsp.console import Console
from mixdown.inference.refine import refine_to_reference
from mixdown.measure.decay import DECAY_LAGS_S, decay_profile_db
from mixdown.params import spec as S
from mixdown.session import Session

SR = 22050


@pytest.mark.parametrize("decay_s", [2.0, 3.0, 5.0])
def test_fall_of_a_free_decay_is_60_db_per_decay_time(decay_s):
    """Noise decaying by 60 dB per ``decay_s`` (the definition of the decay time, every band): the
    fall after lags of 0.2 and 0.4 s is ``60 lag / decay_s`` dB within 5 %."""
    t = torch.arange(2 * SR) / SR
    x = torch.randn(1, 2, len(t), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fall = decay_profile_db(x * 10 ** (-3 * t / decay_s), SR)[0]
    for j, lag in enumerate(DECAY_LAGS_S):
        if lag >= 0.2:
            np.testing.assert_allclose(fall[:, j].numpy(), 60 * lag / decay_s, rtol=0.05)


def test_gain_and_tone_do_not_move_it_a_tail_does():
    rng = np.random.default_rng(0)
    bursts = (rng.uniform(size=SR * 2 // 2205 + 1) < 0.4).repeat(2205)[:SR * 2]
    x = torch.tensor(rng.standard_normal((1, 2, SR * 2)) * bursts)
    dry = decay_profile_db(x, SR)
    torch.testing.assert_close(decay_profile_db(x * 0.1, SR), dry)
    tail = torch.tensor(np.exp(-np.arange(SR) / (SR * 0.3)))  # a 2 s-ish tail smears the falls
    wet = x + 0.3 * torch.stack([torch.tensor(np.convolve(x[0, c].numpy(), tail.numpy() * rng.standard_normal(SR))
                                              [:SR * 2]) for c in range(2)])[None] / math.sqrt(SR * 0.15)
    assert (decay_profile_db(wet, SR) < dry - 3).all()


def _plucks(n_tracks=2, seconds=4.0, seed=0):
    """Percussive tracks: decaying noise and tone plucks with gaps between them."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = []
    for i in range(n_tracks):
        x = np.zeros(n)
        for start in np.arange(0.1 + 0.17 * i, seconds - 0.3, 0.6):
            k = int(start * SR)
            m = int(0.25 * SR)
            env = np.exp(-np.arange(m) / (0.04 * SR))
            x[k:k + m] += env * (rng.standard_normal(m) * 0.5 + np.sin(2 * np.pi * (220 * (i + 1)) * t[:m]))
        out.append((0.3 * x[None]).astype(np.float32))
    return out


@pytest.mark.slow  # reference-mode refinement: gradient steps through the console
def test_refinement_moves_sends_and_decay_towards_a_reverberant_reference():
    """Everything but the reverb locked at the reference's values; sends start off (as a model
    trained before the reverb predicts them), the decay short; the reference has sends at -8 dB and
    a 1.6 s decay: refinement raises the sends and lengthens the decay towards them."""
    tracks = _plucks()
    session = Session.from_arrays(tracks, SR, names=["a", "b"])
    tv = np.tile([S.neutral_track_values(SR)[k] for k in S.TRACK_NAMES], (2, 1))
    tv[:, S.TRACK_NAMES.index("fader_db")] = -6.0
    mv = np.array([S.neutral_master_values(SR)[k] for k in S.MASTER_NAMES])
    ref_tv, ref_mv = tv.copy(), mv.copy()
    ref_tv[:, S.TRACK_NAMES.index("reverb_send_db")] = -8.0
    for k, v in {"decay_low_s": 1.6, "decay_mid_s": 1.6, "decay_high_s": 1.6}.items():
        ref_mv[S.MASTER_NAMES.index(f"reverb.{k}")] = v
    x = torch.tensor(np.stack([np.repeat(a, 2, 0) for a in tracks]))[None]
    ref = Console(SR)(x, torch.tensor(ref_tv, dtype=torch.float32)[None],
                      torch.tensor(ref_mv, dtype=torch.float32)[None],
                      normalized=False)[0].numpy()
    start_mv = mv.copy()
    for k in ("decay_low_s", "decay_mid_s", "decay_high_s"):
        start_mv[S.MASTER_NAMES.index(f"reverb.{k}")] = 0.4
    reverb = {"send": "reverb_send_db", **{k: f"reverb.{k}" for k in ("decay_low_s", "decay_mid_s", "decay_high_s")}}
    locks = {(t, k): float(tv[i, j]) for i, t in enumerate(["a", "b"]) for j, k in enumerate(S.TRACK_NAMES)
             if k != reverb["send"]}
    locks.update({("master", k): float(mv[j]) for j, k in enumerate(S.MASTER_NAMES)
                  if k not in reverb.values()})
    got_tv, got_mv, report = refine_to_reference(session, tv, start_mv, ref, locks, steps=12, window_s=1.5,
                                                 n_windows=2, lr=0.15, progress=False)
    assert report["loss_after"] < report["loss_before"] and report["best_step"] > 0
    sends = got_tv[:, S.TRACK_NAMES.index("reverb_send_db")]
    assert (sends > -30.0).all() and (np.abs(sends + 8.0) < 15.0).all(), sends
    decay = got_mv[S.MASTER_NAMES.index("reverb.decay_mid_s")]
    assert abs(math.log(decay / 1.6)) < 0.5 * abs(math.log(0.4 / 1.6)), decay
