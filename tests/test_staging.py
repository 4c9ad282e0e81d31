"""Gain staging (``mixdown.inference.staging``): raising every fader and the master compressor's
threshold by d dB and lowering the output gain by d renders the same mix (the console spec's
maths: linear up to the master compressor, whose curve depends on level minus threshold), checked
on a render with a compressing master, a reverb send, EQ and pans; the loudest fader lands at
0 dB within the ranges; locked values stay and the rest moves around them (on the shipped
example: a fader locked at its value moves no other fader); the true peak is kept at or below
-1 dBTP unless the output gain is locked; `mixdown mix` stages the model's settings."""

import numpy as np
import pytest

from mixdown.dsp.render import render_arrays
from mixdown.inference.staging import stage_gain, staging_shift_db, true_peak_trim_db
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


def test_the_shift_stays_inside_the_ranges_and_ignores_locks():
    tv, mv = _settings(threshold=-5.0)  # the threshold can rise only 5 dB
    assert staging_shift_db(tv, mv) == pytest.approx(5.0)
    tv, mv = _settings(faders=(10.0, 20.0, 0.0), threshold=-30.0, output=10.0)  # down 20 would lift the output
    assert staging_shift_db(tv, mv) == pytest.approx(-14.0)  # to 30 dB: its ceiling (24 dB) stops it at -14
    # the shift is the one the model's own values get: a lock is written over it afterwards
    for lock in ({("b", "fader_db"): -22.0}, {("master", "output_gain_db"): 20.0},
                 {("master", "compressor.threshold_db"): -30.0}, {("a", "pan"): 0.0}):
        tv, mv = _settings()
        assert stage_gain(tv, mv, ["a", "b", "c"], lock) == pytest.approx(22.0)


def test_locks_keep_their_values_and_the_rest_moves_around_them():
    """Stage, then lock one fader at its staged value and stage the model's values again: nothing
    moves. Lock it 6 dB higher: only it moves."""
    from mixdown.params.locks import apply_locks

    names = ["a", "b", "c"]
    tv0, mv0 = _settings()
    stage_gain(tv0, mv0)
    for i, name in enumerate(names):
        for offset in (0.0, 6.0):
            lock = {(name, "fader_db"): float(tv0[i, T["fader_db"]] + offset)}
            tv, mv = _settings()
            stage_gain(tv, mv)
            apply_locks(tv, mv, names, lock)
            moved = tv[:, T["fader_db"]] - tv0[:, T["fader_db"]]
            assert moved[i] == pytest.approx(offset) and np.allclose(np.delete(moved, i), 0.0)
            np.testing.assert_array_equal(mv, mv0)


def test_true_peak_trim_lowers_the_output_only_above_the_ceiling():
    assert true_peak_trim_db(-3.0, 0.0) == 0.0 and true_peak_trim_db(float("-inf"), 0.0) == 0.0
    assert true_peak_trim_db(2.3, 0.0) == pytest.approx(-3.31)  # to -1 dBTP, less a 0.01 dB margin
    assert true_peak_trim_db(10.0, -45.0) == pytest.approx(-3.0)  # the output gain's floor (-48 dB) stops it


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


@pytest.fixture(scope="module")
def example_mix():
    """The shipped model's mix of the shipped example, without locks (model loaded once)."""
    from pathlib import Path

    import mixdown

    example = Path(__file__).resolve().parents[1] / "data" / "examples" / "rock-8beat"
    model = mixdown.load_model(None)
    params, audio = mixdown.mix(example, model=model, progress=False)
    return example, model, params, audio


def _true_peak(audio, sr):
    from mixdown.measure import loudness

    return float(loudness.true_peak_dbtp(np.ascontiguousarray(audio.T), sr))


def test_locking_any_fader_at_its_value_keeps_the_balance_on_the_example(example_mix):
    """Issue 26's acceptance: lock each track's fader at the value the model gave it, mix again:
    no other fader moves by more than 1 dB relative to it, and the mix stays at or below 0 dBTP
    (at or below -1 dBTP: the output gain is free)."""
    import mixdown

    example, model, p0, a0 = example_mix
    f0 = {t.name: t.values["fader_db"] for t in p0.tracks}
    assert _true_peak(a0, p0.sample_rate) <= -1.0 + 1e-3
    for name, value in f0.items():
        params, audio = mixdown.mix(example, model=model, locks={f"{name}.fader_db": value}, progress=False)
        f = {t.name: t.values["fader_db"] for t in params.tracks}
        assert f[name] == value
        moved = {n: (f[n] - f[name]) - (f0[n] - f0[name]) for n in f}
        assert max(abs(v) for v in moved.values()) <= 1.0, (name, moved)
        tp = _true_peak(audio, params.sample_rate)
        assert tp <= 0.0 and tp <= -1.0 + 1e-3, (name, tp)


def test_a_fader_locked_louder_is_kept_and_the_output_keeps_the_true_peak(example_mix):
    """Lock the lead 12 dB above the model's value: the others do not follow it, and the output
    gain comes down so the mix stays at or below -1 dBTP; with the output gain locked too, it stays."""
    import mixdown

    example, model, p0, _ = example_mix
    lead = next(t.values["fader_db"] for t in p0.tracks if t.name == "lead") + 12.0
    params, audio = mixdown.mix(example, model=model, locks={"lead.fader_db": lead}, progress=False)
    assert {t.name: t.values["fader_db"] for t in params.tracks if t.name != "lead"} == \
        {t.name: t.values["fader_db"] for t in p0.tracks if t.name != "lead"}
    assert params.extra["notes"]["true_peak_trim_db"] < 0.0
    assert _true_peak(audio, params.sample_rate) <= -1.0 + 1e-3
    np.testing.assert_allclose(audio, mixdown.render(example, params), atol=1e-5)
    out = p0.master.values["output_gain_db"]
    params, audio = mixdown.mix(example, model=model, progress=False,
                                locks={"lead.fader_db": lead, "master.output_gain_db": out})
    assert params.master.values["output_gain_db"] == out and _true_peak(audio, params.sample_rate) > -1.0
