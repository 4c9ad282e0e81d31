"""Issue 27 (speed) for ``mixdown mix``: the shortcuts taken change no result and drop no safety check."""

import hashlib

import numpy as np
import pytest
import torch

from mixdown.inference import checkpoint
from mixdown.inference.checkpoint import SHIPPED_MODELS, CheckpointError, load_model
from mixdown.inference.contract import InputContract
from mixdown.inference.predict import DEFAULT_CHECKPOINT


def test_the_default_model_is_known_as_shipped():
    digest = hashlib.sha256(DEFAULT_CHECKPOINT.read_bytes()).hexdigest()
    assert digest in SHIPPED_MODELS, (f"{DEFAULT_CHECKPOINT.name} (sha256 {digest}) is not in "
                                      "mixdown.inference.checkpoint.SHIPPED_MODELS: add it when shipping new weights")


def test_shipped_weights_skip_the_meta_build_and_other_files_do_not(tmp_path, monkeypatch):
    calls = []
    real = checkpoint._check_shapes
    monkeypatch.setattr(checkpoint, "_check_shapes", lambda *a: calls.append(a[0]) or real(*a))
    shipped = load_model(DEFAULT_CHECKPOINT)
    assert calls == []
    copy = tmp_path / "copy.pt"  # the same tensors, written again: other bytes, so not trusted
    torch.save(torch.load(DEFAULT_CHECKPOINT, weights_only=True), copy)
    again = load_model(copy)
    assert calls == [copy]
    for (k, a), b in zip(shipped.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_doctored_shipped_model_is_refused_before_allocation(tmp_path):
    state = torch.load(DEFAULT_CHECKPOINT, weights_only=True)
    state["model"]["kwargs"].update(dim=8000, hidden=8000)  # the shipped weights, kwargs for a huge model
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_model(bad)


@pytest.mark.parametrize("shape", [(4, 16, 2, 20000), (3, 5, 2, 1001), (2, 3, 1, 777), (6, 2, 513)])
def test_input_gains_are_the_whole_batch_formula_to_the_bit(shape):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * rng.uniform(0, 1, shape[:-2] + (1, 1))).astype(np.float32)
    frames = rng.integers(0, shape[-1] + 50, shape[:-2])
    frames.flat[0], frames.flat[-1] = shape[-1], 0
    x64 = x.astype(np.float64)  # the formula as written before (whole-batch float64 temporaries)
    n = np.clip(frames, 0, shape[-1])
    power = np.sum(np.mean(x64 ** 2, axis=-2) * (np.arange(shape[-1]) < n[..., None]), axis=-1) / np.maximum(n, 1)
    c = InputContract()
    want = np.where(power > 1e-10, c.target_rms_db - 10 * np.log10(np.maximum(power, 1e-24)), 0.0)
    assert np.array_equal(c.input_gains_db(x, frames), want)
    song = InputContract(normalize="song").input_gains_db(x, frames)
    assert song.shape == shape[:-2] and np.isfinite(song).all()


@pytest.mark.parametrize("layout", ["interleaved float32", "mono float32", "planar float64", "short"])
def test_k_weighted_power_in_one_pass_is_sosfilt_then_einsum_to_the_bit(layout):
    from mixdown.dsp import kernels
    from mixdown.measure import loudness

    rng = np.random.default_rng(7)
    audio = (rng.standard_normal((48000 + 17, 2)) * 0.3).astype(np.float32)  # (frames, 2), as a mix
    x = {"interleaved float32": audio.T, "mono float32": audio[:, :1].T,
         "planar float64": np.ascontiguousarray(audio.T, dtype=np.float64), "short": audio[:3].T}[layout]
    sos = loudness.k_weighting_sos(44100)
    y = kernels.sosfilt(sos, np.ascontiguousarray(x, dtype=np.float64))
    assert np.array_equal(loudness._weighted_power(x, 44100), np.einsum("ct,ct->t", y, y))
