"""Hydra entry point: ``mixdown train experiment=NAME [overrides]`` (``-m`` for sweeps).

``train(cfg)`` builds everything from the config and returns the best validation loss, so
sweeps can optimise it; ``main`` is the thin ``@hydra.main`` wrapper.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mixdown.errors import UsageError

log = logging.getLogger(__name__)


def config_dir() -> str:
    """The repository's ``configs/`` (or ``$MIXDOWN_CONFIGS``)."""
    env = os.environ.get("MIXDOWN_CONFIGS")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "configs"
    if not (path / "train.yaml").is_file():
        raise FileNotFoundError(f"{path}: no train.yaml; run from a mixdown checkout or set MIXDOWN_CONFIGS")
    return str(path)


class ConfigError(UsageError):
    """A training config that cannot work (a value of the wrong type, a missing manifest)."""


#: config nodes whose ``_target_`` arguments are checked before anything is built
CHECKED_NODES = ("trainer", "model", "loss", "optim", "logger", "data.train", "data.val", "data.train.augment")


def _check_types(node: Any, key: str) -> None:
    """Every argument of a ``_target_`` node must be one the target takes, of its default's type."""
    import inspect

    from hydra.utils import get_object

    if not isinstance(node, dict) or not isinstance(node.get("_target_"), str):
        return
    try:
        target = get_object(node["_target_"])
    except Exception as e:
        raise ConfigError(f"{key}._target_={node['_target_']!r}: cannot be imported ({e})") from None
    try:
        params = inspect.signature(target.__init__ if inspect.isclass(target) else target).parameters
    except (TypeError, ValueError):
        return
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for name, value in node.items():
        if name.startswith("_"):
            continue
        if name not in params:
            if not takes_any:
                valid = [n for n in params if n not in ("self", "args", "kwargs")]
                raise ConfigError(f"{key}.{name}: not an argument of {node['_target_']} (valid: {', '.join(valid)})")
            continue
        default = params[name].default
        want = None
        if isinstance(default, bool):
            ok, want = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, want = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        elif isinstance(default, str):
            ok, want = isinstance(value, str), "a string"
        else:
            ok = True
        if not ok:
            raise ConfigError(f"{key}.{name}={value!r}: must be {want} (default {default!r}); fix the override "
                              f"or the config file")


def check_config(cfg: DictConfig) -> None:
    """What can be checked before any work: argument types, the manifests, ``init_from``."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for key in CHECKED_NODES:
        node: Any = resolved
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        _check_types(node, key)
    for split in ("train", "val"):
        manifests = (resolved.get("data") or {}).get(split, {}).get("manifests")
        for m in [manifests] if isinstance(manifests, str) else manifests or []:
            if not Path(m).is_file():
                raise ConfigError(f"data.{split}.manifests: {m}: manifest not found; build one with 'mixdown dataset "
                                  "build' or 'mixdown dataset synth', or override data.%s.manifests" % split)
    if resolved.get("init_from") and not Path(resolved["init_from"]).is_file():
        raise ConfigError(f"init_from={resolved['init_from']}: checkpoint not found")
    if resolved.get("init_model") and not Path(resolved["init_model"]).is_file():
        raise ConfigError(f"init_model={resolved['init_model']}: checkpoint not found (a shipped model: "
                          "src/mixdown/weights/<name>.pt)")
    train_only = resolved.get("train_only")
    if train_only is not None and (not isinstance(train_only, list) or not all(isinstance(t, str) and t
                                                                                   for t in train_only)):
        raise ConfigError(f"train_only={train_only!r}: a list of parameter-name prefixes, e.g. '[base.]'")
    if resolved.get("init_role_levels"):
        read_role_levels(resolved["init_role_levels"])


def _remove_if_unused(output_dir: Path) -> None:
    """Remove a run's output folder that holds only what hydra and this module wrote before the
    run failed (``.hydra/``, the job log, ``config.yaml``), and the (date) folders above it that
    this leaves empty, inside the working folder."""
    import shutil

    if not output_dir.is_dir():
        return
    if all(p.name in (".hydra", "config.yaml") or p.suffix == ".log" for p in output_dir.iterdir()):
        shutil.rmtree(output_dir, ignore_errors=True)
        cwd = Path.cwd().resolve()
        for parent in list(output_dir.resolve().parents)[:2]:  # outputs/DATE, then outputs, when left empty
            if parent == cwd or cwd not in parent.parents or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


def train(cfg: DictConfig) -> float:
    """Check the config and build everything (:func:`setup`), then fit; return the best validation
    loss. A config error (found before training starts) is logged, the run's still-empty output
    folder removed, and the process exits with code 2."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import InstantiationException

    output_dir = Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else None
    try:
        check_config(cfg)
        run = setup(cfg)
    except (UsageError, InstantiationException) as e:  # mixdown's own bad-input errors only
        cause = e.__cause__ if isinstance(e, InstantiationException) and e.__cause__ is not None else e
        if isinstance(e, InstantiationException) and not isinstance(cause, (UsageError, TypeError)):
            raise
        log.error("%s", cause)
        if output_dir is not None:
            _remove_if_unused(output_dir)
        raise SystemExit(2) from None
    best = run()
    log.info("%s: best validation loss %.4f (%s)", cfg.task_name, best, cfg.paths.output_dir)
    return best


def setup(cfg: DictConfig):
    """Instantiate data, model, loss, optimiser, logger and trainer; returns ``run()`` that fits
    and returns the best validation loss."""
    from mixdown.training.trainer import seed_everything

    seed_everything(int(cfg.seed))
    paths = instantiate(cfg.paths)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if cfg.get("init_model"):  # a whole checkpoint's model (its class, kwargs and weights)
        from mixdown.inference.checkpoint import load_model, read_checkpoint

        state = read_checkpoint(cfg.init_model)
        if int(state["sample_rate"]) != int(cfg.sample_rate):
            raise ConfigError(f"init_model={cfg.init_model}: a {state['sample_rate']} Hz model; train it at its rate "
                              f"(sample_rate={state['sample_rate']}), not {cfg.sample_rate}")
        model, model_kwargs = load_model(cfg.init_model), dict(state["model"]["kwargs"])
        model.train()
    else:
        model_kwargs = {k: v for k, v in resolved["model"].items() if not k.startswith("_")}
        model = instantiate(cfg.model)
    if cfg.get("init_from"):
        init_weights(model, cfg.init_from)
    if cfg.get("init_role_levels"):
        init_role_levels(model, cfg.init_role_levels)
    if cfg.get("train_only"):
        freeze_except(model, list(cfg.train_only))
    train_set = instantiate(cfg.data.train)
    val_set = instantiate(cfg.data.val)
    from mixdown.models.batch import encoder_of

    # the roles as the model reads them at mixing time (the Engineer: parts and sides, too)
    train_set.encode_roles = val_set.encode_roles = encoder_of(model, "roles")
    loss, optim = instantiate(cfg.loss), instantiate(cfg.optim)
    trainer = instantiate(cfg.trainer, logger=instantiate(cfg.logger))
    (Path(paths.output_dir) / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    return lambda: trainer.fit(model, model_kwargs, loss, optim, train_set, val_set, config=resolved,
                               sample_rate=int(cfg.sample_rate))


def freeze_except(model, prefixes: list[str]) -> None:
    """Train only the parameters whose names start with one of ``prefixes`` (``[base.]``: an
    Engineer's balance network, its decisions kept); the rest get no gradient. A prefix that
    names no parameter is refused, listing the model's top-level modules."""
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n.startswith(prefix) for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise ConfigError(f"train_only: {prefix!r} names no parameter of {type(model).__name__} "
                              f"(its modules: {', '.join(tops)})")
    trained = 0
    for n, p in model.named_parameters():
        p.requires_grad_(any(n.startswith(prefix) for prefix in prefixes))
        trained += p.numel() if p.requires_grad else 0
    total = sum(p.numel() for p in model.parameters())
    log.info("train_only %s: %d of %d parameters trained", prefixes, trained, total)


def read_role_levels(path: str) -> dict[str, float]:
    """:func:`mixdown.data.roles.read_role_levels`, its refusal as a :class:`ConfigError`."""
    from mixdown.data.roles import read_role_levels as read

    try:
        return read(path)
    except ValueError as e:
        raise ConfigError(f"init_role_levels={e}") from e


def init_role_levels(model, path: str) -> None:
    """Start the per-role fader offsets of a roles model from a file (after ``init_from``)."""
    offsets = read_role_levels(path)
    from mixdown.models.batch import inputs_of

    if "roles" not in inputs_of(model):
        raise ConfigError(f"init_role_levels={path}: {type(model).__name__} does not hear roles; "
                          "use model=mixformer with model.use_roles=true, or drop init_role_levels")
    try:
        model.set_role_levels_db(offsets)
    except ValueError as e:
        raise ConfigError(f"init_role_levels={path}: {e}") from e
    log.info("init_role_levels %s: %s", path, ", ".join(f"{r} {v:+.1f} dB" for r, v in offsets.items()))


def init_weights(model, checkpoint: str) -> None:
    """Start from a checkpoint's weights (fine-tuning): same-named tensors of the same shape are
    copied (heads' output rows by parameter name, so a checkpoint trained before the reverb keeps
    everything it learnt), the rest keep their fresh initialisation; both lists are logged."""
    from mixdown.inference.checkpoint import read_checkpoint, trained_names
    from mixdown.models.base import transfer_head_rows

    ckpt = read_checkpoint(checkpoint)
    cls = type(model)
    if ckpt["model"].get("class") != f"{cls.__module__}.{cls.__name__}":
        raise ConfigError(f"{checkpoint}: holds a {ckpt['model'].get('class')}, not a {cls.__name__}; "
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
    """Run hydra with ``argv`` as overrides (default: ``sys.argv[1:]``).

    Exits (``SystemExit``) with code 2 for bad input: a config error found by :func:`train`, or
    overrides hydra cannot apply (hydra's own message, before any run starts).
    """
    started = []

    def task(cfg: DictConfig) -> float:
        started.append(True)
        return train(cfg)

    decorated = hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")(task)
    old = sys.argv
    sys.argv = [old[0], *(sys.argv[1:] if argv is None else argv)]
    try:
        return decorated()
    except SystemExit as e:
        if e.code == 1 and not started:  # hydra refused the overrides (message printed): bad input
            raise SystemExit(2) from None
        raise
    finally:
        sys.argv = old


if __name__ == "__main__":
    main()
