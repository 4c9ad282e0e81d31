"""Every experiment config composes, instantiates and trains a few steps on a generated corpus;
checkpoints are self-describing, load safely and resume."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mixdown.inference.checkpoint import CheckpointError, load_model, read_checkpoint
from mixdown.inference.contract import InputContract
from mixdown.training.main import config_dir, train
from sessions import make_corpus

pytestmark = pytest.mark.slow  # every experiment trains a few steps

SR = 16000
# experiments that train a shipped checkpoint's model (init_model) have their own test below
EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml")
                     if "\ninit_model:" not in p.read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from mixdown.data.cache import build_cache

    root = tmp_path_factory.mktemp("corpus")
    out = make_corpus(root, sr=SR, seconds=3.0, songs=3)
    build_cache([out["train"], out["val"]], root / "cache")  # the GPU recipes read from a cache
    return {**out, "cache": root / "cache"}


def cfg_for(corpus, out_dir, *overrides):
    """The real config on the test corpus, on the CPU, with the corpus's cache for configs that use one."""
    with initialize_config_dir(config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[
            f"sample_rate={SR}", f"paths.output_dir={out_dir}", "debug=default",
            f"data.train.manifests=[{corpus['train']}]", f"data.val.manifests=[{corpus['val']}]",
            "++data.train.weights=null",
            "logger=csv", "trainer.device=cpu", "trainer.num_workers=0", *overrides])
    if cfg.data.train.get("cache_dir") is not None:
        cfg.data.train.cache_dir = str(corpus["cache"])
    return cfg


def test_every_config_group_option_instantiates(corpus, tmp_path):
    for group in ("model", "loss", "optim", "trainer", "logger", "data"):
        for option in sorted(p.stem for p in (Path(config_dir()) / group).glob("*.yaml")):
            cfg = cfg_for(corpus, tmp_path, f"{group}={option}")
            objs = [instantiate(cfg.data.train), instantiate(cfg.data.val)] if group == "data" else [
                instantiate(cfg[group])]
            assert all(o is not None and not isinstance(o, dict) for o in objs), (group, option)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_trains_and_writes_a_loadable_checkpoint(corpus, tmp_path, experiment):
    cfg = cfg_for(corpus, tmp_path, f"experiment={experiment}")
    best = train(cfg)
    assert torch.isfinite(torch.tensor(best))
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["sample_rate"] == SR and state["config"]["task_name"] == experiment
    contract = InputContract(SR, cfg.data.train.segment_s, target_rms_db=cfg.data.train.target_rms_db,
                             normalize=cfg.data.train.get("normalize", "track"))
    assert InputContract.from_dict(state["input_contract"]) == contract
    model = load_model(tmp_path / "last.pt")
    assert model.input_contract == contract
    tracks = torch.randn(1, 3, 2, SR) * 0.1
    tp, mp = model(tracks, torch.ones(1, 3, dtype=torch.bool))
    assert tp.shape == (1, 3, 29) and mp.shape == (1, 31)  # the whole table, reverb included
    assert ((tp >= 0) & (tp <= 1)).all() and ((mp >= 0) & (mp <= 1)).all()
    assert (tmp_path / "metrics.csv").read_text().count("val/loss") >= 1


def test_training_resumes_after_a_kill(corpus, tmp_path):
    train(cfg_for(corpus, tmp_path, "experiment=dmc"))
    first = read_checkpoint(tmp_path / "last.pt")
    assert first["train_state"]["step"] == 2
    train(cfg_for(corpus, tmp_path, "experiment=dmc", "trainer.max_steps=3"))
    second = read_checkpoint(tmp_path / "last.pt")
    assert second["train_state"]["step"] == 3
    assert second["train_state"]["optimizer"]["state"], "optimizer state was not carried over"


def test_checkpoints_every_n_steps_between_validations(corpus, tmp_path, monkeypatch):
    from mixdown.training.trainer import Trainer

    saved, real = [], Trainer._save

    def spy(self, name, model, model_kwargs, config, sample_rate, step, *rest):
        saved.append((name, step))
        return real(self, name, model, model_kwargs, config, sample_rate, step, *rest)

    monkeypatch.setattr(Trainer, "_save", spy)
    train(cfg_for(corpus, tmp_path, "experiment=dmc", "trainer.max_steps=5", "trainer.val_every=5",
                  "trainer.ckpt_every=2"))
    assert [s for n, s in saved if n == "last.pt"] == [2, 4, 5]
    assert read_checkpoint(tmp_path / "last.pt")["train_state"]["step"] == 5


def test_val_at_start_scores_the_starting_weights_as_step_0(corpus, tmp_path):
    """``trainer.val_at_start``: the starting weights are validated before the first step (step 0
    in metrics.csv, the first best.pt). With a learning rate of 0 the weights never move, so the
    last validation must reproduce step 0's loss and best.pt stays at step 0; with learning, the
    curve starts at step 0 and best.pt is the lower of the two."""
    import csv

    def val_losses(folder):
        with open(folder / "metrics.csv", newline="") as fh:
            return {int(r["step"]): float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "val/loss"}

    train(cfg_for(corpus, tmp_path / "still", "experiment=dmc", "trainer.max_steps=2", "trainer.val_every=2",
                  "trainer.val_at_start=true", "optim.lr=0", "optim.weight_decay=0"))
    still = val_losses(tmp_path / "still")
    assert sorted(still) == [0, 2] and still[2] == pytest.approx(still[0], rel=1e-5)
    assert read_checkpoint(tmp_path / "still" / "best.pt")["train_state"]["step"] == 0
    train(cfg_for(corpus, tmp_path / "moves", "experiment=dmc", "trainer.max_steps=2", "trainer.val_every=2",
                  "trainer.val_at_start=true", "optim.lr=1e-2"))
    moves = val_losses(tmp_path / "moves")
    assert sorted(moves) == [0, 2] and moves[0] == pytest.approx(still[0], rel=1e-5)  # same seed, same start
    best = read_checkpoint(tmp_path / "moves" / "best.pt")["train_state"]
    assert best["step"] == (2 if moves[2] < moves[0] else 0) and best["best"] == pytest.approx(min(moves.values()))
    train(cfg_for(corpus, tmp_path / "plain", "experiment=dmc", "trainer.max_steps=2", "trainer.val_every=2"))
    assert sorted(val_losses(tmp_path / "plain")) == [2]  # off by default


def test_untrusted_or_foreign_checkpoints_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "mixdown.checkpoint/1", "model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model(tmp_path / "evil.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a mixdown.checkpoint/1"):
        load_model(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "text.pt")


def test_fine_tuning_starts_from_a_checkpoint(corpus, tmp_path):
    """``init_from``: a reference-conditioned Mixformer starts from a plain Mixformer's weights; a
    checkpoint of another architecture is refused."""
    from mixdown.training.main import init_weights

    train(cfg_for(corpus, tmp_path / "base", "experiment=mixformer"))
    base = read_checkpoint(tmp_path / "base" / "last.pt")["state_dict"]
    cfg = cfg_for(corpus, tmp_path / "ref", "experiment=mixformer", "model=mixformer_reference",
                  f"init_from={tmp_path / 'base' / 'last.pt'}", "trainer.max_steps=0")
    model = instantiate(cfg.model)
    init_weights(model, cfg.init_from)
    own = model.state_dict()
    assert model.uses_reference and set(own) == set(base)
    assert all(torch.equal(own[k], v) for k, v in base.items())
    fresh = instantiate(cfg.model)
    assert not torch.equal(fresh.state_dict()["master_token"], base["master_token"])
    train(cfg_for(corpus, tmp_path / "dmc", "experiment=dmc"))
    with pytest.raises(ValueError, match="init_from needs a checkpoint of the model being trained"):
        init_weights(model, tmp_path / "dmc" / "last.pt")


def test_a_roles_model_trains_on_its_track_names_roles_and_keeps_them(corpus, tmp_path):
    """``model.use_roles=true``: the trainer passes each item's roles; the role level offsets and
    embedding of the roles present in the corpus move from zero; the checkpoint restores them."""
    from mixdown.data.roles import ROLES

    train(cfg_for(corpus, tmp_path, "experiment=mixformer", "model.use_roles=true", "trainer.max_steps=3"))
    model = load_model(tmp_path / "last.pt")
    assert model.uses_roles
    state = read_checkpoint(tmp_path / "last.pt")
    assert state["model"]["kwargs"]["use_roles"] is True
    moved = {r for r, db in model.role_levels_db().items() if db != 0.0}
    assert moved == {"other"}  # the test corpus's tracks are named track0, track1, ...: no role but "other"
    emb = state["state_dict"]["role_embedding.weight"]
    assert emb[ROLES.index("other")].abs().sum() > 0 and emb[ROLES.index("lead")].abs().sum() == 0
    tracks = torch.randn(1, 2, 2, SR) * 0.1
    mask = torch.ones(1, 2, dtype=torch.bool)
    with torch.no_grad():  # without roles every track is "other"
        torch.testing.assert_close(model(tracks, mask), model(tracks, mask, None, roles=torch.tensor([[12, 12]])))


def test_init_role_levels_starts_a_roles_model_from_a_files_offsets(corpus, tmp_path, caplog):
    """``init_role_levels=FILE`` (the JSON ``scripts/role_levels.py --out`` writes) sets the per-role
    fader offsets before training: with a zero learning rate they reach the checkpoint unchanged,
    and mixing moves a lead's fader by its offset. A bad file, an unknown role or a model without
    roles is refused before any work, naming the file."""
    import json

    from mixdown.data.roles import ROLES

    offsets = tmp_path / "offsets.json"
    offsets.write_text(json.dumps({"offsets_db": {"lead": 6.0, "bass": -3.0}, "eval": {}}))
    train(cfg_for(corpus, tmp_path / "run", "experiment=mixformer", "model.use_roles=true", "trainer.max_steps=1",
                  "optim.lr=0.0", f"init_role_levels={offsets}"))
    model = load_model(tmp_path / "run" / "last.pt")
    levels = model.role_levels_db()
    assert levels["lead"] == pytest.approx(6.0, abs=1e-5) and levels["bass"] == pytest.approx(-3.0, abs=1e-5)
    assert all(levels[r] == 0.0 for r in ROLES if r not in ("lead", "bass"))
    bad = tmp_path / "bad.json"
    for text, extra, match in (("{not json", "model.use_roles=true", "not a readable JSON file"),
                               ('{"offsets_db": {"lead": "loud"}}', "model.use_roles=true", "expected"),
                               ('{"singer": 3.0}', "model.use_roles=true", "unknown roles"),
                               ('{"lead": 3.0}', "model.use_roles=false", "does not hear roles")):
        bad.write_text(text)
        caplog.clear()
        with pytest.raises(SystemExit) as e:
            train(cfg_for(corpus, tmp_path / "bad", "experiment=mixformer", extra, f"init_role_levels={bad}"))
        assert e.value.code == 2
        assert match in caplog.text and str(bad) in caplog.text


def test_engineer_base_trains_only_the_balance_network_through_the_engineer(tmp_path):
    """``experiment=engineer_base``: the shipped Engineer is trained whole (init_model) with only
    ``base.*`` learning; its decision networks, EQ bank and parts' odds reach the checkpoint
    unchanged, the base moves, the mixing options are kept, and the data loader hands the model
    its own role codes (parts and sides from the names). Another rate or a prefix that names
    nothing is refused before any work."""
    from mixdown.data.dataset import MixDataset
    from mixdown.models.engineer import encode_names
    from mixdown.training.main import ConfigError, check_config, setup

    src = Path("src/mixdown/weights/engineer-v4.pt")
    corpus = make_corpus(tmp_path / "c", sr=44100, seconds=2.0, songs=2)
    cfg = cfg_for({**corpus, "cache": tmp_path / "cache"}, tmp_path / "run", "experiment=engineer_base",
                  "sample_rate=44100", "trainer.max_steps=2", "trainer.val_every=2", "data.train.segment_s=1.0",
                  f"data.val.manifests=[{corpus['val']}]", "++data.train.cache_dir=null", "++data.val.cache_dir=null")
    train(cfg)
    before, after = read_checkpoint(src), read_checkpoint(tmp_path / "run" / "last.pt")
    assert after["model"]["class"].endswith("Engineer")
    assert after["model"]["kwargs"] == before["model"]["kwargs"]
    moved = {k for k, v in after["state_dict"].items() if not torch.equal(v, before["state_dict"][k])}
    assert moved and all(k.startswith("base.") for k in moved), sorted(moved)[:5]
    assert load_model(tmp_path / "run" / "last.pt").compressor_scale == 0.6
    data = MixDataset(corpus["train"], segment_s=1.0, sample_rate=44100, max_tracks=8, deterministic=True)
    names = [t["name"] for t in data.songs[0]["tracks"]]
    default = sorted(data[0]["roles"][: len(names)].tolist())
    data.encode_roles = encode_names
    assert sorted(data[0]["roles"][: len(names)].tolist()) == sorted(encode_names(names)) != default
    with pytest.raises(ConfigError, match="a 44100 Hz model"):
        setup(cfg_for({**corpus, "cache": tmp_path / "cache"}, tmp_path / "r2", "experiment=engineer_base"))
    with pytest.raises(ConfigError, match="names no parameter"):
        setup(cfg_for({**corpus, "cache": tmp_path / "cache"}, tmp_path / "r3", "experiment=engineer_base",
                      "sample_rate=44100", "train_only=[decoder.]"))
    with pytest.raises(ConfigError, match="init_model=.*none.pt: checkpoint not found"):
        check_config(cfg_for({**corpus, "cache": tmp_path / "cache"}, tmp_path / "r4", "experiment=engineer_base",
                             f"init_model={tmp_path / 'none.pt'}"))
    with pytest.raises(ConfigError, match="train_only='base.': a list of parameter-name prefixes"):
        check_config(cfg_for({**corpus, "cache": tmp_path / "cache"}, tmp_path / "r5", "experiment=engineer_base",
                             "train_only=base."))
