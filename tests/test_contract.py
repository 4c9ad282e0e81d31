"""The model's input contract: one object for the dataset and prediction, stored in and read from
checkpoints; the parameter ranges a checkpoint was trained with are checked at load."""

import numpy as np
import pytest
import torch

from mixdown.inference.checkpoint import CheckpointError, read_checkpoint
from mixdown.inference.contract import InputContract, analysis_batch, contract_of
from mixdown.inference.predict import DEFAULT_CHECKPOINT, load_default_model, predict_params
from mixdown.models import Heuristic
from mixdown.session import Session


def test_shipped_models_read_back_the_contract_they_were_trained_with():
    """synthetic-v1.pt predates the stored contract: its training config says 4 s segments at -20 dBFS,
    each track on its own; default.pt stores its contract: one gain per window of tracks."""
    old = load_default_model(DEFAULT_CHECKPOINT.with_name("synthetic-v1.pt"))
    assert old.input_contract == InputContract(sample_rate=44100, window_s=4.0, n_windows=4, target_rms_db=-20.0)
    model = load_default_model()
    assert model.input_contract == InputContract(sample_rate=44100, window_s=4.0, n_windows=4, target_rms_db=-20.0,
                                                 normalize="song")
    assert "input_contract" in read_checkpoint(DEFAULT_CHECKPOINT)
    assert contract_of(model) is model.input_contract


def test_round_trip_and_defaults():
    c = InputContract(sample_rate=22050, window_s=3.0, n_windows=2, target_rms_db=-18.0)
    assert InputContract.from_dict(c.to_dict()) == c
    assert contract_of(Heuristic(16000)) == InputContract(sample_rate=16000)
    assert InputContract().describe() == "median of up to 4 windows of 6 s"


def test_analysis_windows_are_normalised_to_the_contract_level():
    rng = np.random.default_rng(0)
    tracks = [rng.normal(0, s, (2, 8000)).astype(np.float32) for s in (0.01, 0.3)] + [np.zeros((1, 8000))]
    session = Session.from_arrays(tracks, 8000)
    c = InputContract(target_rms_db=-14.0)
    x, mask, gains = analysis_batch(session, [0], 8000, c)
    rms_db = 20 * np.log10(np.sqrt((x[0, :2].double() ** 2).mean(dim=(-1, -2)).numpy()))
    np.testing.assert_allclose(rms_db, -14.0, atol=1e-3)
    assert gains[0, 2] == 0.0 and mask.all()


def test_prediction_cuts_the_windows_the_contract_says():
    seen = []

    class Probe(Heuristic):
        def forward(self, tracks, mask, reference=None):
            seen.append(tuple(tracks.shape))
            return super().forward(tracks, mask, reference)

    model = Probe(8000)
    model.input_contract = InputContract(sample_rate=8000, window_s=1.5, n_windows=3)
    session = Session.from_arrays(np.random.default_rng(1).normal(0, 0.1, (2, 2, 8000 * 10)), 8000)
    predict_params(model, session)
    assert sum(s[0] for s in seen) == 3 and all(s[-1] == 12000 for s in seen)


def test_checkpoint_trained_with_other_ranges_is_refused_naming_the_parameter(tmp_path):
    state = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    row = next(r for r in state["track_specs"] if r[0] == "eq.2.freq_hz")
    row[3] = row[3] * 2
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"'eq\.2\.freq_hz'.*retrain"):
        read_checkpoint(tmp_path / "other.pt")
