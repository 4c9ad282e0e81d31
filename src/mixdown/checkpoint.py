"""Self-describing checkpoints, written atomically and loaded safely.

A checkpoint holds the model class (one of :data:`mixdown.models.MODEL_CLASSES`) and its keyword
arguments, the weights, the resolved config, the sample rate, the parameter ranges, the code
version and training state. Loading uses ``torch.load(..., weights_only=True)`` and instantiates
only allow-listed classes, so an untrusted file cannot run code.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import torch

from mixdown import __version__
from mixdown.fileio import atomic_write
from mixdown.params import spec as S

log = logging.getLogger(__name__)
FORMAT = "mixdown.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the reason."""


def _specs(specs) -> list[list]:
    return [[s.name, s.unit, s.lo, s.hi, s.scale] for s in specs]


def model_description(model: torch.nn.Module, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    cls = type(model)
    return {"class": f"{cls.__module__}.{cls.__name__}", "kwargs": dict(model_kwargs)}


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, model_kwargs: dict[str, Any], *,
                    config: dict | None = None, sample_rate: int, extra: dict[str, Any] | None = None) -> str:
    """Write atomically; returns the sha256 of the file (first 12 hex digits)."""
    path = Path(path)
    state = {"format": FORMAT, "model": model_description(model, model_kwargs),
             "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "config": config or {}, "sample_rate": int(sample_rate), "code_version": __version__,
             "track_specs": _specs(S.TRACK_SPECS), "master_specs": _specs(S.MASTER_SPECS), **(extra or {})}
    atomic_write(path, lambda tmp: torch.save(state, tmp))
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dictionary, loaded with ``weights_only=True`` and checked."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals, truncated files, not a torch file
        raise CheckpointError(f"{path}: not a loadable mixdown checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]}); only weights-only checkpoints are accepted") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (format {state.get('format')!r})"
                              if isinstance(state, dict) else f"{path}: not a {FORMAT} checkpoint")
    for key in ("model", "state_dict", "sample_rate", "track_specs", "master_specs"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}; re-save it with this version")
    if [s[0] for s in state["track_specs"]] != list(S.TRACK_NAMES) or \
            [s[0] for s in state["master_specs"]] != list(S.MASTER_NAMES):
        raise CheckpointError(f"{path}: checkpoint's parameter table differs from this version's")
    return state


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Instantiate the checkpoint's model (allow-listed classes only) with its weights, in eval mode."""
    from mixdown.models import MODEL_CLASSES

    state = read_checkpoint(path)
    name = state["model"].get("class")
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"{path}: model class {name!r} is not one of {sorted(MODEL_CLASSES)}")
    model = MODEL_CLASSES[name](**state["model"].get("kwargs", {}))
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit {name} ({str(e).splitlines()[0]})") from e
    model.checkpoint_info = {k: v for k, v in state.items() if k != "state_dict"}
    return model.to(device).eval()


def release(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Copy a training checkpoint without optimiser state (a small file to ship); returns its
    sha256 (first 12 hex digits)."""
    state = read_checkpoint(src)
    model = load_model(src)
    ts = dict(state.get("train_state", {}))
    ts.pop("optimizer", None)
    extra = {"train_state": ts, "released_from": str(Path(src).name)}
    return save_checkpoint(dst, model, state["model"].get("kwargs", {}), config=state.get("config"),
                           sample_rate=state["sample_rate"], extra=extra)
