"""Models and checkpoints with the reverb in the table: heads sized from the table, checkpoints
trained before the reverb (the shipped ``human-v1.pt`` and ``synthetic-v1.pt``) still load and predict (every send off,
the default reverb), new checkpoints store the whole table, fine-tuning keeps the old rows."""

import numpy as np
import pytest
import torch

from mixdown.inference.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from mixdown.inference.predict import DEFAULT_CHECKPOINT, predict_params
from mixdown.models import DMC, Mixformer
from mixdown.models.base import transfer_head_rows
from mixdown.params import spec as S
from mixdown.session import Session

#: a shipped checkpoint trained before the reverb (the default model until human-v2)
PRE_REVERB = DEFAULT_CHECKPOINT.with_name("human-v1.pt")
REVERB_TRACK = ["reverb_send_db"]
REVERB_MASTER = ["reverb.predelay_ms", "reverb.decay_low_s", "reverb.decay_mid_s", "reverb.decay_high_s",
                 "reverb.highpass_hz", "reverb.return_db"]


def _batch(n=3, seconds=1.0, sr=44100, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, n, 2, int(seconds * sr), generator=g) * 0.1, torch.ones(1, n, dtype=torch.bool)


def test_heads_are_sized_from_the_table():
    for model in (DMC(), Mixformer()):
        assert model.track_head[-2].out_features == S.N_TRACK_PARAMS == 29
        assert model.master_head[-2].out_features == S.N_MASTER_PARAMS == 31


def test_pre_reverb_checkpoint_loads_and_predicts_sends_off():
    state = read_checkpoint(PRE_REVERB)
    stored_t, stored_m = [r[0] for r in state["track_specs"]], [r[0] for r in state["master_specs"]]
    assert stored_t == [n for n in S.TRACK_NAMES if n not in REVERB_TRACK]
    assert stored_m == [n for n in S.MASTER_NAMES if n not in REVERB_MASTER]
    model = load_model(PRE_REVERB)
    x, mask = _batch()
    tp, mp = model(x, mask)
    assert tp.shape == (1, 3, 29) and mp.shape == (1, 31)
    tv = S.denormalize(tp.double().detach().numpy(), S.TRACK_SPECS, 44100)
    mv = S.denormalize(mp.double().detach().numpy(), S.MASTER_SPECS, 44100)
    assert (tv[..., S.TRACK_NAMES.index("reverb_send_db")] == -60.0).all()
    for name, value in {"reverb.predelay_ms": 20.0, "reverb.decay_low_s": 1.8, "reverb.decay_mid_s": 1.5,
                        "reverb.decay_high_s": 0.7, "reverb.highpass_hz": 200.0, "reverb.return_db": 0.0}.items():
        assert mv[0, S.MASTER_NAMES.index(name)] == pytest.approx(value, rel=1e-6, abs=1e-5), name  # float32
    # every other output is exactly what the trained heads give
    raw = Mixformer(**state["model"]["kwargs"], track_names=stored_t, master_names=stored_m)
    raw.load_state_dict(state["state_dict"])
    raw.eval()
    h = raw.transformer(torch.cat([raw.master_token.expand(1, 1, -1), raw.encoder(x)], 1),
                        src_key_padding_mask=~torch.cat([torch.ones(1, 1, dtype=torch.bool), mask], 1))
    torch.testing.assert_close(tp[..., [S.TRACK_NAMES.index(n) for n in stored_t]], raw.track_head(h[:, 1:]))
    torch.testing.assert_close(mp[..., [S.MASTER_NAMES.index(n) for n in stored_m]], raw.master_head(h[:, 0]))


def test_prediction_with_a_pre_reverb_model_keeps_every_send_off():
    session = Session.from_arrays(np.random.default_rng(1).normal(0, 0.1, (2, 2, 44100 * 3)), 44100)
    tv, mv = predict_params(load_model(PRE_REVERB), session)
    assert (tv[:, S.TRACK_NAMES.index("reverb_send_db")] == -60.0).all()
    assert mv[S.MASTER_NAMES.index("reverb.decay_mid_s")] == pytest.approx(1.5, rel=1e-6)


def test_new_checkpoints_store_the_whole_table(tmp_path):
    model = DMC(dim=32, hidden=32)
    save_checkpoint(tmp_path / "new.pt", model, {"dim": 32, "hidden": 32}, sample_rate=44100)
    state = read_checkpoint(tmp_path / "new.pt")
    assert [r[0] for r in state["track_specs"]] == list(S.TRACK_NAMES)
    assert [r[0] for r in state["master_specs"]] == list(S.MASTER_NAMES)
    loaded = load_model(tmp_path / "new.pt")
    assert loaded.track_names == S.TRACK_NAMES and loaded.master_names == S.MASTER_NAMES
    x, mask = _batch(2)
    torch.testing.assert_close(loaded(x, mask), model.eval()(x, mask))


def test_other_tables_are_refused(tmp_path):
    state = torch.load(PRE_REVERB, map_location="cpu", weights_only=True)
    state["track_specs"] = [r for r in state["track_specs"] if r[0] != "pan"]
    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="parameter table differs"):
        read_checkpoint(tmp_path / "odd.pt")


def test_fine_tuning_a_pre_reverb_checkpoint_keeps_its_rows():
    old = DMC(dim=32, hidden=32, track_names=[n for n in S.TRACK_NAMES if n not in REVERB_TRACK],
              master_names=[n for n in S.MASTER_NAMES if n not in REVERB_MASTER])
    new = DMC(dim=32, hidden=32)
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    state = transfer_head_rows(old.state_dict(), (old.track_names, old.master_names), new)
    new.load_state_dict(state)
    for head, names, old_names in (("track_head", S.TRACK_NAMES, old.track_names),
                                   ("master_head", S.MASTER_NAMES, old.master_names)):
        w_new, w_old = new.state_dict()[f"{head}.4.weight"], old.state_dict()[f"{head}.4.weight"]
        for i, n in enumerate(names):
            want = w_old[old_names.index(n)] if n in old_names else fresh[f"{head}.4.weight"][i]
            torch.testing.assert_close(w_new[i], want)
    x, mask = _batch(2, seed=3)
    tp_old, mp_old = old.eval()(x, mask)
    tp_new, mp_new = new.eval()(x, mask)
    keep_t = [S.TRACK_NAMES.index(n) for n in old.track_names]
    keep_m = [S.MASTER_NAMES.index(n) for n in old.master_names]
    torch.testing.assert_close(tp_new[..., keep_t], tp_old[..., keep_t])
    torch.testing.assert_close(mp_new[..., keep_m], mp_old[..., keep_m])


@pytest.mark.parametrize("name", ["human-v3.pt", "human-v2.pt"])
def test_the_shipped_reverb_models_predict_the_whole_table(name):
    """human-v2 and human-v3 (the default before engineer-v3) were trained with the reverb in the table: their heads
    predict every send and setting; human-v3 also hears roles (human-v2 loads as it was: none)."""
    path = DEFAULT_CHECKPOINT.with_name(name)
    state = read_checkpoint(path)
    assert [r[0] for r in state["track_specs"]] == list(S.TRACK_NAMES)
    assert [r[0] for r in state["master_specs"]] == list(S.MASTER_NAMES)
    assert "optimizer" not in state.get("train_state", {})  # released: the optimiser state dropped
    model = load_model(path)
    assert model.track_names == S.TRACK_NAMES and model.master_names == S.MASTER_NAMES
    assert model.uses_roles == (name == "human-v3.pt")
    if model.uses_roles:  # what it learnt from the human mixes: a lead above the rest, percussion below
        levels = model.role_levels_db()
        assert levels["lead"] > 2.0 and levels["percussion"] < -1.0 and levels["vocals"] == 0.0
