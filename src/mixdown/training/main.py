"""Hydra entry point: ``mixdown train experiment=NAME [overrides]`` (``-m`` for sweeps).

``train(cfg)`` builds everything from the config and returns the best validation loss, so
sweeps can optimise it; ``main`` is the thin ``@hydra.main`` wrapper.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def config_dir() -> str:
    """The repository's ``configs/`` (or ``$MIXDOWN_CONFIGS``)."""
    env = os.environ.get("MIXDOWN_CONFIGS")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "configs"
    if not (path / "train.yaml").is_file():
        raise FileNotFoundError(f"{path}: no train.yaml; run from a mixdown checkout or set MIXDOWN_CONFIGS")
    return str(path)


def train(cfg: DictConfig) -> float:
    """Instantiate data, model, loss, optimiser, logger and trainer; fit; return the best val loss."""
    from mixdown.training.trainer import seed_everything

    seed_everything(int(cfg.seed))
    paths = instantiate(cfg.paths)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    (Path(paths.output_dir) / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    model_kwargs = {k: v for k, v in resolved["model"].items() if not k.startswith("_")}
    model = instantiate(cfg.model)
    if cfg.get("init_from"):
        init_weights(model, cfg.init_from)
    train_set = instantiate(cfg.data.train)
    val_set = instantiate(cfg.data.val)
    trainer = instantiate(cfg.trainer, logger=instantiate(cfg.logger))
    best = trainer.fit(model, model_kwargs, instantiate(cfg.loss), instantiate(cfg.optim), train_set, val_set,
                       config=resolved, sample_rate=int(cfg.sample_rate))
    log.info("%s: best validation loss %.4f (%s)", cfg.task_name, best, paths.output_dir)
    return best


def init_weights(model, checkpoint: str) -> None:
    """Start from a checkpoint's weights (fine-tuning): same-named tensors of the same shape are
    copied (heads' output rows by parameter name, so a checkpoint trained before the reverb keeps
    everything it learnt), the rest keep their fresh initialisation; both lists are logged."""
    from mixdown.inference.checkpoint import read_checkpoint, trained_names
    from mixdown.models.base import transfer_head_rows

    ckpt = read_checkpoint(checkpoint)
    cls = type(model)
    if ckpt["model"].get("class") != f"{cls.__module__}.{cls.__name__}":
        raise ValueError(f"{checkpoint}: holds a {ckpt['model'].get('class')}, not a {cls.__name__}; "
                         "init_from needs a checkpoint of the model being trained")
    # heads trained on another table (before the reverb): their rows for shared parameters carry over
    state = transfer_head_rows(ckpt["state_dict"], trained_names(ckpt), model) if hasattr(model, "track_names") \
        else ckpt["state_dict"]
    own = model.state_dict()
    taken = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(taken, strict=False)
    fresh = sorted(set(own) - set(taken))
    log.info("init_from %s: %d tensors copied, %d fresh%s", checkpoint, len(taken), len(fresh),
             f" ({', '.join(fresh[:8])}{', ...' if len(fresh) > 8 else ''})" if fresh else "")


def main(argv: list[str] | None = None) -> float | None:
    """Run hydra with ``argv`` as overrides (default: ``sys.argv[1:]``)."""
    decorated = hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")(train)
    old = sys.argv
    sys.argv = [old[0], *(sys.argv[1:] if argv is None else argv)]
    try:
        return decorated()
    finally:
        sys.argv = old


if __name__ == "__main__":
    main()
