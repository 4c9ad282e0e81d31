"""Gain staging (``mixdown.inference.staging``): raising every fader and the master compressor's
threshold by d dB and lowering the output gain by d renders the same mix (the console spec's
maths: linear up to the master compressor, whose curve depends on level minus threshold), checked
on a render with a compressing master, a reverb send, EQ and pans; the loudest fader lands at
0 dB within the ranges; locks keep it off; `mixdown mix` stages the model's settings."""

import numpy as np
import pytest

from mixdown.dsp.render import render_arrays
from mixdown.inference.staging import stage_gain, staging_shift_db
from mixdown.params import spec as S
from mixdown.params.io import MixParams

SR = 44100
T = {n: i for i, n in enumerate(S.TRACK_NAMES)}
M = {n: i for i, n in enumerate(S.MASTER_NAMES)}


def _settings(faders=(-25.0, -22.0, -30.0), threshold=-30.0, output=20.0):
    tv = np.array([[S.neutral_track_values(SR)[n] for n in S.TRACK_NAMES] for _ in faders])
    mv = np.array([S.neutral_master_values(SR)[n] for n in S.MASTER_NAMES])
    tv[:, T["fader_db"]] = faders
    tv[:, T["pan"]] = [-0.6, 0.0, 0.8]
    tv[:, T["reverb_send_db"]] = [-12.0, -60.0, -20.0]
    tv[:, T["eq.2.gain_db"]] = [4.0, -3.0, 0.0]
    mv[M["compressor.threshold_db"]] = threshold  # the bus (around -30 dBFS) is compressed hard
    mv[M["compressor.ratio"]] = 4.0
    mv[M["compressor.knee_db"]] = 6.0
    mv[M["compressor.attack_ms"]] = 5.0
    mv[M["compressor.release_ms"]] = 80.0
    mv[M["output_gain_db"]] = output
    mv[M["eq.0.gain_db"]] = 3.0
    return tv, mv


def _mix(tv, mv, audio):
    params = MixParams.from_arrays(SR, ["a", "b", "c"], ["a.wav", "b.wav", "c.wav"], tv, mv)
    return render_arrays(audio, params).audio


def test_staged_settings_render_the_same_mix():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    env = (1 + np.sin(2 * np.pi * 2 * t)) / 2  # level changes for the compressor to follow
    audio = [(0.5 * env * np.sin(2 * np.pi * 110 * t))[None], rng.standard_normal((2, SR)) * 0.2 * env,
             (0.4 * np.sign(np.sin(2 * np.pi * 3 * t)) * rng.standard_normal(SR))[None]]
    audio = [a.astype(np.float32) for a in audio]
    tv, mv = _settings()
    before = _mix(tv, mv, audio)
    d = stage_gain(tv, mv, ["a", "b", "c"])
    assert d == pytest.approx(22.0) and tv[:, T["fader_db"]].max() == pytest.approx(0.0)
    assert mv[M["compressor.threshold_db"]] == pytest.approx(-8.0) and mv[M["output_gain_db"]] == pytest.approx(-2.0)
    after = _mix(tv, mv, audio)
    peak = np.abs(before).max()
    assert peak > 0.05
    np.testing.assert_allclose(after, before, atol=2e-5 * peak)
    # the same shift without the threshold's does change the mix: the compressor is working
    tv2, mv2 = _settings()
    tv2[:, T["fader_db"]] += 22.0
    mv2[M["output_gain_db"]] -= 22.0
    assert np.abs(_mix(tv2, mv2, audio) - before).max() > 0.05 * peak


def test_the_shift_stays_inside_the_ranges_and_locks_keep_it_off():
    tv, mv = _settings(threshold=-5.0)  # the threshold can rise only 5 dB
    assert staging_shift_db(tv, mv) == pytest.approx(5.0)
    tv, mv = _settings(faders=(10.0, 20.0, 0.0), threshold=-30.0, output=10.0)  # down 20 would lift the output
    assert staging_shift_db(tv, mv) == pytest.approx(-14.0)  # to 30 dB: its ceiling (24 dB) stops it at -14
    tv, mv = _settings()
    before = (tv.copy(), mv.copy())
    for lock in ({("b", "fader_db"): -22.0}, {("master", "output_gain_db"): 20.0},
                 {("master", "compressor.threshold_db"): -30.0}):
        assert stage_gain(tv, mv, ["a", "b", "c"], lock) == 0.0
        np.testing.assert_array_equal(tv, before[0])
        np.testing.assert_array_equal(mv, before[1])
    assert stage_gain(tv, mv, ["a", "b", "c"], {("a", "pan"): 0.0}) == pytest.approx(22.0)


def test_mix_stages_the_models_settings(tmp_path):
    """The shipped example through `mixdown mix`'s pipeline: the loudest fader at 0 dB."""
    from pathlib import Path

    from mixdown.inference.pipeline import mix_session

    example = Path(__file__).resolve().parents[1] / "data" / "examples" / "rock-8beat"
    params, _ = mix_session(example, progress=False)
    faders = [t.values["fader_db"] for t in params.tracks]
    threshold = params.master.values["compressor.threshold_db"]
    # as far as the ranges allow: the loudest fader at 0 dB, or the master threshold at its 0-dB ceiling
    assert max(faders) == pytest.approx(0.0, abs=1e-6) or threshold == pytest.approx(0.0, abs=1e-6)
    assert params.extra["notes"]["gain_staging_db"] > 5.0 and max(faders) > -12.0
