"""One model batch: a model declares what it hears, and one step function (``models.batch.step``)
feeds it in training, validation and prediction; a model with a new input needs no change to the
trainer or the predictor. Heads are found by structure for fine-tuning."""

import numpy as np
import torch

from mixdown.inference.predict import predict_params
from mixdown.models.base import MixModel, head, head_outputs, transfer_head_rows
from mixdown.models.batch import ModelBatch, inputs_of, step
from mixdown.params import spec as S
from mixdown.session import Session
from mixdown.training.trainer import Trainer

SR = 16000


class Loudness(MixModel):
    """A model with an input no other model has: each track's ``loudness`` (here, from its name)."""

    inputs = ("tracks", "mask", "loudness")

    def __init__(self, sample_rate: int = SR):
        super().__init__(sample_rate)
        self.tracks_out = head(1, 8, self.n_track_params)  # heads named unlike the other models'
        self.master_out = head(1, 8, self.n_master_params)
        self.heard: list[tuple] = []

    @staticmethod
    def encode_loudness(names):
        return [float(len(n)) for n in names]

    def forward(self, tracks, mask, reference=None, loudness=None):
        self.heard.append((tuple(tracks.shape[:2]), None if loudness is None else loudness.detach().clone()))
        x = loudness.float()[..., None] / 10.0
        return self.complete(self.tracks_out(x), self.master_out(x.mean(1)))


class Songs(torch.utils.data.Dataset):
    """Three-track songs whose items carry the new input under its name (the trainer passes it on)."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"tracks": torch.randn(3, 2, 800), "mask": torch.tensor([True, True, False]),
                "mix": torch.randn(2, 800), "track_params": torch.rand(3, S.N_TRACK_PARAMS),
                "master_params": torch.rand(S.N_MASTER_PARAMS), "loudness": torch.tensor([1.0, 2.0, 0.0]) * (i + 1)}


def settings_loss(mix, ref, pred, target, mask):
    loss = ((pred[0] - target[0]) ** 2)[mask].mean() + ((pred[1] - target[1]) ** 2).mean()
    return loss, {"settings": float(loss.detach())}


settings_loss.needs_audio = False


def test_a_new_input_reaches_the_model_in_training_validation_and_prediction(tmp_path):
    model = Loudness()
    trainer = Trainer(max_steps=2, val_every=2, batch_size=2, device="cpu", out_dir=str(tmp_path), progress=False,
                      amp=False)
    trainer.fit(model, {}, settings_loss, lambda p: torch.optim.Adam(p, 1e-3), Songs(), Songs(), sample_rate=SR)
    shapes = [s for s, _ in model.heard]
    assert shapes[:2] == [(2, 2), (2, 2)]  # training: the all-padding third column dropped
    assert all(v is not None for _, v in model.heard)
    assert any(torch.equal(v[0], torch.tensor([1.0, 2.0])) for _, v in model.heard)
    model.heard.clear()
    rng = np.random.default_rng(0)
    session = Session.from_arrays([0.1 * rng.standard_normal((2, SR)) for _ in range(2)], SR, ["kick", "guitar"])
    tv, mv = predict_params(model.eval(), session)
    assert tv.shape == (2, S.N_TRACK_PARAMS) and np.isfinite(tv).all()
    assert all(torch.equal(v[0], torch.tensor([4.0, 6.0])) for _, v in model.heard)  # from encode_loudness


def test_what_each_model_hears():
    from mixdown.models.dmc import DMC
    from mixdown.models.mixformer import Mixformer

    assert inputs_of(DMC(SR)) == ("tracks", "mask")
    assert inputs_of(Mixformer(SR, dim=16, use_reference=True, use_roles=True)) == ("tracks", "mask", "reference",
                                                                                  "roles")
    model = Mixformer(SR, dim=16, use_roles=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    batch = ModelBatch.for_session(model, ["Kick In", "Lead Vox"], torch.zeros(1, 2, 2, 4096), mask)
    from mixdown.data.roles import role_indices

    assert batch.roles.tolist() == [role_indices(["Kick In", "Lead Vox"])]
    tp, mp = step(model, batch)
    assert tp.shape == (1, 2, S.N_TRACK_PARAMS) and mp.shape == (1, S.N_MASTER_PARAMS)


def test_heads_are_found_by_structure():
    model = Loudness()
    assert head_outputs(model) == {"tracks_out.4": "track_names", "master_out.4": "master_names"}
    old_names = tuple(n for n in S.TRACK_NAMES if n != "pan")
    old = Loudness()
    old.track_names, old.n_track_params = old_names, len(old_names)
    old.tracks_out = head(1, 8, len(old_names))
    state = transfer_head_rows(old.state_dict(), (old_names, S.MASTER_NAMES), model)
    w = state["tracks_out.4.weight"]
    assert w.shape[0] == S.N_TRACK_PARAMS
    kept = S.TRACK_NAMES.index("fader_db")
    assert torch.equal(w[kept], old.state_dict()["tracks_out.4.weight"][old_names.index("fader_db")])
