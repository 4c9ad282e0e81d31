"""The parameter table's ranges and normalisation, against ``docs/console.md``: every range
enforced by the reader (ends included), the table typed in again from the spec, normalise /
denormalise inverse in numpy and torch, never outside the range, finite gradients."""

import math

import numpy as np
import pytest
import torch

from mixdown.params import spec as S
from mixdown.params.io import MixParams, read_params, write_params
from test_params import example, json_key, read_doc, rejected, set_flat


def _range_cases():
    for section, specs in (("track", S.TRACK_SPECS), ("master", S.MASTER_SPECS)):
        for s in specs:
            yield pytest.param(section, s, id=f"{section}-{s.name}")


@pytest.mark.parametrize("section,s", list(_range_cases()))
def test_every_range_enforced_ends_included(tmp_path, section, s):
    assert s.lo < s.hi
    eps = (s.hi - s.lo) * 1e-6
    where = "bass" if section == "track" else "master"
    for value, ok in ((s.lo, True), (s.hi, True), (s.lo - eps, False), (s.hi + eps, False)):
        doc = example()
        obj = doc["tracks"][0] if section == "track" else doc["master"]
        set_flat(obj, s.name, value)
        if ok:
            p = read_doc(tmp_path, doc)
            got = p.tracks[0].values if section == "track" else p.master.values
            assert got[s.name] == value
        else:
            msg = rejected(tmp_path, doc, where, json_key(s.name))
            assert "outside" in msg


def test_spec_ranges_match_the_console_spec_table():
    """The table in docs/console.md, typed in again independently."""
    expect = {"input_gain_db": (-48, 24), "fader_db": (-48, 24), "highpass_hz": (20, 500),
              "pan": (-1, 1), "compressor.threshold_db": (-60, 0), "compressor.ratio": (1, 20),
              "compressor.attack_ms": (0.1, 100), "compressor.release_ms": (10, 1000),
              "compressor.knee_db": (0, 12), "compressor.makeup_db": (0, 24), "reverb_send_db": (-60, 0)}
    for i, kind in enumerate(("low_shelf", "peak", "peak", "peak", "peak", "high_shelf")):
        expect[f"eq.{i}.freq_hz"] = {"low_shelf": (30, 500), "peak": (40, 18000),
                                     "high_shelf": (1500, 16000)}[kind]
        expect[f"eq.{i}.gain_db"] = (-15, 15)
        expect[f"eq.{i}.q"] = (0.3, 6) if kind == "peak" else (0.5, 1.5)
    assert {s.name: (s.lo, s.hi) for s in S.TRACK_SPECS} == expect
    master = {k: v for k, v in expect.items() if k.startswith(("eq.", "compressor."))}
    master.update({"reverb.predelay_ms": (0, 100), "reverb.decay_low_s": (0.1, 10), "reverb.decay_mid_s": (0.1, 10),
                   "reverb.decay_high_s": (0.1, 10), "reverb.highpass_hz": (20, 1000), "reverb.return_db": (-48, 12)})
    master["output_gain_db"] = (-48, 24)
    assert {s.name: (s.lo, s.hi) for s in S.MASTER_SPECS} == master
    assert S.N_TRACK_PARAMS == 4 + 18 + 6 + 1 and S.N_MASTER_PARAMS == 18 + 6 + 6 + 1


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("specs", [S.TRACK_SPECS, S.MASTER_SPECS], ids=["track", "master"])
@pytest.mark.parametrize("sample_rate", [None, 22050])
def test_normalize_denormalize_inverse_numpy_and_torch(specs, sample_rate):
    rng = np.random.default_rng(3)
    u = rng.uniform(0, 1, (4, 5, len(specs)))
    x = S.denormalize(u, specs, sample_rate)
    np.testing.assert_allclose(S.normalize(x, specs, sample_rate), u, rtol=0, atol=1e-12)
    ut = torch.tensor(u, dtype=torch.float64)
    xt = S.denormalize(ut, specs, sample_rate)
    assert isinstance(xt, torch.Tensor) and xt.dtype == torch.float64
    np.testing.assert_allclose(xt.numpy(), x, rtol=1e-12)
    torch.testing.assert_close(S.normalize(xt, specs, sample_rate), ut, rtol=0, atol=1e-12)
    # float32 keeps its dtype and is close (compared on the 0..1 scale)
    xt32 = S.denormalize(ut.float(), specs, sample_rate)
    assert xt32.dtype == torch.float32
    np.testing.assert_allclose(S.normalize(xt32.double().numpy(), specs, sample_rate), u, atol=1e-5)


@pytest.mark.parametrize("specs", [S.TRACK_SPECS, S.MASTER_SPECS], ids=["track", "master"])
def test_range_ends_and_midpoints(specs):
    lo = np.array([s.lo for s in specs])
    hi = np.array([s.hi for s in specs])
    np.testing.assert_allclose(S.denormalize(np.zeros(len(specs)), specs), lo, rtol=1e-12)
    np.testing.assert_allclose(S.denormalize(np.ones(len(specs)), specs), hi, rtol=1e-12)
    np.testing.assert_allclose(S.normalize(lo, specs), 0.0, atol=1e-12)
    np.testing.assert_allclose(S.normalize(hi, specs), 1.0, atol=1e-12)
    mid = S.denormalize(np.full(len(specs), 0.5), specs)
    mid_t = S.denormalize(torch.full((len(specs),), 0.5, dtype=torch.float64), specs).numpy()
    for i, s in enumerate(specs):
        want = math.sqrt(s.lo * s.hi) if s.scale == "log" else (s.lo + s.hi) / 2
        assert mid[i] == pytest.approx(want, rel=1e-12, abs=1e-12), s.name
        assert mid_t[i] == pytest.approx(want, rel=1e-12, abs=1e-12), s.name
    # every frequency, q, ratio and time is log-scaled (but the pre-delay, whose range starts at 0,
    # which a log scale cannot reach); gains and pan are linear
    for s in specs:
        assert s.scale == ("log" if s.unit in ("Hz", "q", "ratio", "ms", "s") and s.lo > 0 else "lin"), s.name


def test_denormalize_caps_frequencies_below_0p45_sample_rate(tmp_path, make_mix_params):
    sr = 16000
    tv = S.denormalize(np.ones((1, S.N_TRACK_PARAMS)), S.TRACK_SPECS, sr)
    mv = S.denormalize(np.ones(S.N_MASTER_PARAMS), S.MASTER_SPECS, sr)
    for s, v in zip(S.TRACK_SPECS, tv[0]):
        assert v < 0.45 * sr if s.is_frequency else v == pytest.approx(s.hi), s.name
    # the largest values the network can produce are accepted by the reader
    p = MixParams.from_arrays(sr, ["a"], ["a.wav"], tv, mv)
    write_params(p, tmp_path / "p.json")
    np.testing.assert_array_equal(read_params(tmp_path / "p.json").track_matrix(), tv)


@pytest.mark.parametrize("specs", [S.TRACK_SPECS, S.MASTER_SPECS], ids=["track", "master"])
def test_denormalize_never_leaves_the_range(specs):
    """Values a network can produce (u in [0, 1], many just below 1) must all be readable."""
    tiny = np.finfo(np.float64).eps * np.arange(0, 64)
    u = np.concatenate([tiny, 1.0 - tiny, np.random.default_rng(0).uniform(0, 1, 2000)])
    u = np.repeat(u[:, None], len(specs), 1)
    lo = np.array([s.lo for s in specs])
    hi = np.array([s.hi for s in specs])
    for x in (S.denormalize(u, specs), S.denormalize(torch.tensor(u), specs).numpy()):
        assert (x >= lo).all() and (x <= hi).all()
        assert (np.diff(x[:64], axis=0) >= 0).all()  # monotone
    # float32 cannot hold every bound (-0.3 rounds outwards) but stays inside what the reader accepts
    defaults = S.TRACK_SPECS if len(specs) == S.N_TRACK_PARAMS else S.MASTER_SPECS
    x32 = S.denormalize(torch.tensor(u, dtype=torch.float32), specs).double().numpy()
    assert (x32 >= [s.lo for s in defaults]).all() and (x32 <= [s.hi for s in defaults]).all()


def test_torch_gradients_are_finite_for_every_parameter():
    u = torch.full((2, S.N_TRACK_PARAMS), 0.3, dtype=torch.float64, requires_grad=True)
    S.denormalize(u, S.TRACK_SPECS, 44100).sum().backward()
    assert torch.isfinite(u.grad).all() and (u.grad > 0).all()
    x = torch.tensor(S.denormalize(np.full(S.N_TRACK_PARAMS, 0.4), S.TRACK_SPECS), requires_grad=True)
    S.normalize(x, S.TRACK_SPECS).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad > 0).all()
