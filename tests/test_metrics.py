"""Metrics against hand-worked cases (never against the functions' own output)."""

import math

import numpy as np
import pytest
import torch

from mixdown.measure import loudness
from mixdown.measure import metrics as M
from mixdown.params import spec as S

SR = 16000
DB6 = 20.0 * math.log10(2.0)  # 6.0206 dB, an amplitude factor of 2


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's intra-op threads thrash on shared cores (100x slower STFTs); use one here."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _t(seconds=2.0, sr=SR):
    return np.arange(int(seconds * sr)) / sr


def _noise(seed=0, seconds=2.0, channels=2):
    return 0.1 * np.random.default_rng(seed).standard_normal((channels, int(seconds * SR)))


def _track_values(**overrides):
    vals = {**S.neutral_track_values(), **overrides}
    return np.array([vals[n] for n in S.TRACK_NAMES])


# ---------------------------------------------------------------------------------------------- audio
def test_identical_signals_have_zero_distances():
    x = _noise()
    assert M.mrstft_distance(x, x.copy(), SR) == pytest.approx(0.0, abs=1e-9)
    diff, mae = M.spectral_balance_error_db(x, x.copy(), SR)
    assert mae == 0.0 and np.all(diff == 0.0)
    assert all(v == 0.0 for v in M.mix_metrics(x, x.copy(), SR).values())


def test_gain_change_vanishes_after_loudness_matching():
    ref = _noise()
    est = ref * 10.0 ** (6.0 / 20.0)
    assert M.mrstft_distance(est, ref, SR) < 1e-5
    # unmatched: spectral convergence |g - 1| plus mean |ln g| with g = 10^(6/20)
    g = 10.0 ** (6.0 / 20.0)
    assert M.mrstft_distance(est, ref, SR, loudness_match=False) == pytest.approx(g - 1 + math.log(g), abs=1e-4)
    m = M.mix_metrics(est, ref, SR)
    assert m["loudness_diff_lu"] == pytest.approx(6.0, abs=1e-6)
    assert m["mrstft"] < 1e-5 and m["spectral_balance_mae_db"] < 1e-6
    assert m["crest_factor_diff_db"] == pytest.approx(0.0, abs=1e-9)
    assert m["stereo_width_diff_db"] == pytest.approx(0.0, abs=1e-9)
    assert set(m) == {"mrstft", "spectral_balance_mae_db", "stereo_width_diff_db", "lr_imbalance_diff_db",
                      "crest_factor_diff_db", "loudness_diff_lu", "loudness_range_diff_lu"}


@pytest.mark.parametrize("freq, bands, band", [(1000.0, "octave", 5), (100.0, "octave", 2),
                                               (4000.0, "octave", 7), (1000.0, "bark", 8)])
def test_tone_lands_in_its_band(freq, bands, band):
    x = np.sin(2 * np.pi * freq * _t())[None]
    e = M.band_energies_db(x, SR, bands)
    centres, lo, hi = M.band_edges_hz(bands)
    assert lo[band] <= freq < hi[band]
    assert int(np.argmax(e)) == band
    assert e[band] == pytest.approx(-3.0103, abs=0.02)  # full-scale sine: mean square 1/2
    others = np.delete(e, band)
    assert np.all(others < e[band] - 60.0)


def test_band_layout_and_bands_above_nyquist():
    centres, lo, hi = M.band_edges_hz("octave")
    assert centres[0] == 31.5 and centres[-1] == 16000.0 and len(centres) == 10
    assert np.allclose(hi / lo, 2.0)
    assert len(M.band_edges_hz("bark")[0]) == 24
    e = M.band_energies_db(_noise(), SR)  # Nyquist 8 kHz: the 16 kHz band (11.3k..22.6k) is empty
    assert e[-1] == -np.inf and np.isfinite(e[:-1]).all()
    with pytest.raises(ValueError, match="octave"):
        M.band_edges_hz("third")


def test_spectral_balance_of_one_band_raised_6db():
    t = _t()
    ref = (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 4000 * t))[None] * 0.5
    est = (np.sin(2 * np.pi * 1000 * t) + 2 * np.sin(2 * np.pi * 4000 * t))[None] * 0.5
    diff, mae = M.spectral_balance_error_db(est, ref, SR, loudness_match=False)
    assert diff[7] == pytest.approx(DB6, abs=1e-3)
    assert diff[5] == pytest.approx(0.0, abs=1e-3)
    assert np.all(np.delete(diff, [5, 7]) == 0.0)  # empty in both: left out
    assert mae == pytest.approx(DB6 / 2, abs=1e-3)  # two live bands, errors 0 and 6.02


def test_stereo_width_and_imbalance():
    s = np.sin(2 * np.pi * 440 * _t())
    mono = np.stack([s, s])
    assert M.stereo_width(mono) == -np.inf and M.lr_imbalance_db(mono) == 0.0
    assert M.stereo_width(s[None]) == -np.inf and M.lr_imbalance_db(s[None]) == 0.0
    left = np.stack([s, np.zeros_like(s)])
    assert M.lr_imbalance_db(left) == np.inf
    assert M.lr_imbalance_db(left[::-1]) == -np.inf
    assert M.stereo_width(left) == pytest.approx(0.0, abs=1e-9)  # M = S = L/2
    assert M.stereo_width(np.stack([s, -s])) == np.inf
    theta = (0.5 + 1) * np.pi / 4  # constant-power pan 0.5: right louder by 20 log10(tan theta)
    panned = np.stack([np.cos(theta) * s, np.sin(theta) * s])
    assert M.lr_imbalance_db(panned) == pytest.approx(-20 * math.log10(math.tan(theta)), abs=1e-9)
    n = _noise(seconds=4.0)
    assert M.stereo_width(n) == pytest.approx(0.0, abs=0.1)  # independent equal channels
    with pytest.raises(ValueError, match="mono or stereo"):
        M.stereo_width(np.zeros((3, 100)))


def test_crest_factor():
    t = _t(1.0)
    assert M.crest_factor_db(np.sin(2 * np.pi * 1000 * t)[None]) == pytest.approx(10 * math.log10(2), abs=1e-6)
    square = np.sign(np.sin(2 * np.pi * 100 * t + 0.1))[None]
    assert M.crest_factor_db(square) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(M.crest_factor_db(np.zeros((2, 100))))


def test_loudness_range_is_reexported():
    assert M.loudness_range is loudness.loudness_range


def test_input_validation():
    x = _noise()
    with pytest.raises(ValueError, match="one shape"):
        M.mrstft_distance(x, x[:, :-1], SR)
    bad = x.copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        M.mix_metrics(bad, x, SR)
    with pytest.raises(ValueError, match="channels, time"):
        M.crest_factor_db(x[0])
    with pytest.raises(ValueError, match="hop_ratio"):
        M.mrstft_distance(x, x, SR, hop_ratio=0.0)


# ---------------------------------------------------------------------------------------------- loss
def test_mrstft_loss_zero_for_identical_and_gradients_flow():
    g = torch.Generator().manual_seed(0)
    ref = 0.1 * torch.randn(2, 2, 4096, generator=g, dtype=torch.float64)
    assert float(M.mrstft_loss(ref, ref.clone(), fft_sizes=(256, 1024))) == 0.0
    est = (ref + 0.05 * torch.randn(2, 2, 4096, generator=g, dtype=torch.float64)).requires_grad_(True)
    loss = M.mrstft_loss(est, ref, fft_sizes=(256, 1024))
    loss.backward()
    assert loss.item() > 0 and torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0
    # identical inputs: the gradient exists and is finite too
    same = ref.clone().requires_grad_(True)
    M.mrstft_loss(same, ref, fft_sizes=(256,)).backward()
    assert torch.isfinite(same.grad).all()
    with pytest.raises(ValueError, match=r"\(batch, 2, time\)"):
        M.mrstft_loss(ref[:, :1], ref[:, :1])


# ---------------------------------------------------------------------------------------------- tracks
def test_track_balance():
    t = _t(2.0)
    a, b = np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)  # orthogonal: powers add
    ref = [0.3 * np.stack([a, a]), 0.3 * np.stack([b, b])]
    same = M.track_balance_error_db(ref, [r.copy() for r in ref], SR)
    assert same.mae_db == 0.0 and np.all(same.error_db == 0.0)
    assert same.rel_ref_db == pytest.approx([-10 * math.log10(2)] * 2, abs=0.01)
    # est: track a 6 dB up. Powers 4:1, so rel_a = 10 log10(4/5), rel_b = 10 log10(1/5), against
    # 10 log10(1/2) each in the reference; the two errors add up to 6.02 dB.
    est = [2 * ref[0], ref[1]]
    res = M.track_balance_error_db(est, ref, SR)
    assert res.error_db == pytest.approx([10 * math.log10(8 / 5), 10 * math.log10(5 / 2)], abs=0.01)
    assert res.rel_est_db[0] - res.rel_est_db[1] == pytest.approx(DB6, abs=0.01)
    assert res.error_db.sum() == pytest.approx(DB6, abs=0.01)
    with pytest.raises(ValueError, match="per track"):
        M.track_balance_error_db(est, ref[:1], SR)


# ---------------------------------------------------------------------------------------------- params
def test_gain_and_pan_errors():
    ref = np.stack([_track_values(), _track_values(pan=-1.0)])
    est = np.stack([_track_values(input_gain_db=3.0, fader_db=-3.0), _track_values(fader_db=2.0, pan=0.5)])
    g = M.gain_error_db(est, ref)
    assert np.allclose(g["input_gain_db"], [3.0, 0.0]) and np.allclose(g["fader_db"], [3.0, 2.0])
    assert np.allclose(g["combined_db"], [0.0, 2.0])
    assert np.allclose(M.pan_error(est, ref), [0.0, 1.5])
    with pytest.raises(ValueError, match="one shape"):
        M.pan_error(est, ref[:1])
    with pytest.raises(ValueError, match="N|29"):
        M.gain_error_db(est[:, :5], ref[:, :5])


def test_eq_response_error():
    ref = _track_values()
    assert M.eq_response_error_db(ref, ref.copy(), 44100) == 0.0
    peak = _track_values(**{"eq.2.gain_db": 6.0, "eq.2.q": 1.0, "eq.2.freq_hz": 1000.0})
    err = M.eq_response_error_db(peak, ref, 44100)
    assert 0.5 < err < 6.0
    both = M.eq_response_error_db(np.stack([ref, peak]), np.stack([ref, ref]), 44100)
    assert both.shape == (2,) and both[0] == 0.0 and both[1] == pytest.approx(err)
    master = np.array([{**S.neutral_master_values()}[n] for n in S.MASTER_NAMES])
    assert M.eq_response_error_db(master, master, 44100) == 0.0


def test_highpass_on_vs_off_matches_the_butterworth_formula():
    sr, fc = 44100, 200.0
    err = M.eq_response_error_db(_track_values(highpass_hz=fc), _track_values(), sr, n_points=256)
    f = np.geomspace(20.0, 20000.0, 256)
    r = np.tan(np.pi * f / sr) / np.tan(np.pi * fc / sr)  # bilinear-warped frequency ratio
    expected = np.mean(10 * np.log10(1 + r**-4))  # |H|^2 = r^4 / (1 + r^4)
    assert err == pytest.approx(expected, abs=1e-6)
    assert err > 5.0


def test_compressor_curve_error():
    ref = _track_values(**{"compressor.ratio": 1.0})
    est = _track_values(**{"compressor.ratio": 1.0, "compressor.makeup_db": 3.0})
    assert M.compressor_curve_error_db(est, ref) == 3.0
    assert M.compressor_curve_error_db(ref, ref) == 0.0
    hard = _track_values(**{"compressor.threshold_db": -20.0, "compressor.ratio": 2.0, "compressor.knee_db": 0.0})
    levels = np.linspace(-60, 0, 121)
    expected = np.mean(np.maximum(levels + 20.0, 0.0) / 2.0)  # reduction (L - T)(1 - 1/R) above T
    assert M.compressor_curve_error_db(hard, ref) == pytest.approx(expected, abs=1e-12)


def test_short_signals_fall_back_to_mean_square_levels():
    ref = _noise(seconds=0.2)  # shorter than one 400 ms loudness block: loudness undefined
    m = M.mix_metrics(2 * ref, ref, SR)
    assert m["loudness_diff_lu"] == pytest.approx(DB6, abs=1e-9)
    assert m["mrstft"] < 1e-5
    silent = M.mix_metrics(np.zeros_like(ref), ref, SR)
    assert silent["loudness_diff_lu"] == -np.inf and silent["stereo_width_diff_db"] == -np.inf


def test_mrstft_compares_what_can_be_heard_not_a_dc_offset():
    """A DC offset (as the soundfont stems of the MIDI pairs carry) and 8 Hz rumble are not sound:
    above 20 Hz the distance barely moves, where the old measure (DC included) moved by 0.2, a third
    of a 6 dB change at 1 kHz; a high-pass at 200 Hz on a mix with a 100 Hz tone still counts."""
    t = _t(4.0)
    mono = 0.3 * np.sin(2 * np.pi * 100 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t) + 0.02 * _noise(1, 4.0, 1)[0]
    ref = np.stack([mono, mono])
    offset = ref + 0.05
    rumble = ref + 0.05 * np.sin(2 * np.pi * 8 * t)
    louder_1k = ref + 0.2 * np.sin(2 * np.pi * 1000 * t)  # the 1 kHz tone 6 dB up
    no_100 = ref - 0.3 * np.sin(2 * np.pi * 100 * t)  # the 100 Hz tone gone (a high-pass at 200 Hz)
    d = {k: M.mrstft_distance(x, ref, SR) for k, x in
         {"offset": offset, "rumble": rumble, "louder_1k": louder_1k, "no_100": no_100}.items()}
    raw = M.mrstft_distance(offset, ref, SR, audible_from_hz=None)
    assert d["offset"] < 0.02 and d["rumble"] < 0.05, d
    assert raw > 0.1 and d["louder_1k"] > 0.3 and d["no_100"] > 0.3, (raw, d)
    # the filter itself: -3 dB at 20 Hz (Butterworth, run twice: -6 dB), DC gone, 1 kHz untouched
    for hz, want_db in ((20.0, -6.02), (1000.0, 0.0)):
        y = M.audible(np.sin(2 * np.pi * hz * t)[None], SR)[0, SR:-SR]
        got = 20 * np.log10(np.sqrt(2 * np.mean(y**2)))
        assert abs(got - want_db) < 0.1, (hz, got)
    assert abs(M.audible(np.full((1, 4 * SR), 0.5), SR).mean()) < 1e-6
    with pytest.raises(ValueError, match="audible_from_hz"):
        M.mrstft_distance(ref, ref, SR, audible_from_hz=SR)
