"""Self-describing checkpoints, written atomically and loaded safely.

A checkpoint holds the model class (one of :data:`mixdown.models.MODEL_CLASSES`) and its keyword
arguments, the weights, the resolved config, the sample rate, the parameter ranges, the code
version and training state. Loading uses ``torch.load(..., weights_only=True)`` and instantiates
only allow-listed classes, so an untrusted file cannot run code.

The stored parameter table (``track_specs``, ``master_specs``) names what the model's heads
predict: this version's whole table, or, for checkpoints trained before the reverb (the shipped
``weights/default.pt`` among them), the table without ``reverb_send_db`` and ``reverb.*``. Such a
model is rebuilt with heads of its own size and predicts every send off and the default reverb
(:meth:`mixdown.models.base.MixModel.complete`); models trained now store the whole table.
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
from mixdown.inference.contract import InputContract
from mixdown.params import spec as S

log = logging.getLogger(__name__)
FORMAT = "mixdown.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the reason."""


def _specs(specs) -> list[list]:
    return [[s.name, s.unit, s.lo, s.hi, s.scale] for s in specs]


def _own_specs(model: torch.nn.Module, attr: str, specs) -> list:
    """The rows of ``specs`` the model predicts (its ``track_names`` / ``master_names``; all of them
    for a model without)."""
    names = getattr(model, attr, None)
    return list(specs) if names is None else [s for s in specs if s.name in set(names)]


#: The tables a checkpoint may store: this version's, or the one before the reverb.
_LEGACY = (tuple(n for n in S.TRACK_NAMES if n not in S.REVERB_TRACK_NAMES),
           tuple(n for n in S.MASTER_NAMES if n not in S.REVERB_MASTER_NAMES))


def trained_names(state: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(track_names, master_names)`` the checkpoint's heads predict (from its stored table)."""
    return tuple(s[0] for s in state["track_specs"]), tuple(s[0] for s in state["master_specs"])


def model_description(model: torch.nn.Module, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    cls = type(model)
    return {"class": f"{cls.__module__}.{cls.__name__}", "kwargs": dict(model_kwargs)}


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, model_kwargs: dict[str, Any], *,
                    config: dict | None = None, sample_rate: int, extra: dict[str, Any] | None = None,
                    input_contract: InputContract | None = None) -> str:
    """Write atomically; returns the sha256 of the file (first 12 hex digits).

    ``input_contract``: what the model was trained to hear (default: the one ``config`` describes).
    """
    path = Path(path)
    contract = input_contract or InputContract.from_checkpoint({"config": config or {}, "sample_rate": sample_rate})
    state = {"format": FORMAT, "model": model_description(model, model_kwargs),
             "input_contract": contract.to_dict(),
             "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "config": config or {}, "sample_rate": int(sample_rate), "code_version": __version__,
             "track_specs": _specs(_own_specs(model, "track_names", S.TRACK_SPECS)),
             "master_specs": _specs(_own_specs(model, "master_names", S.MASTER_SPECS)), **(extra or {})}
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
    names = trained_names(state)
    if names not in ((S.TRACK_NAMES, S.MASTER_NAMES), _LEGACY):
        raise CheckpointError(f"{path}: checkpoint's parameter table differs from this version's "
                              "(and from the table before the reverb)")
    _check_ranges(path, state["track_specs"], S.TRACK_SPECS, "track")
    _check_ranges(path, state["master_specs"], S.MASTER_SPECS, "master")
    return state


def _check_ranges(path: Path, stored: list[list], specs, where: str) -> None:
    """The units, ranges and scales a checkpoint was trained with must be this version's table's."""
    by_name = {s.name: s for s in specs}
    for row in stored:
        spec = by_name[row[0]]
        if list(row[1:]) != [spec.unit, spec.lo, spec.hi, spec.scale]:
            raise CheckpointError(
                f"{path}: {where} parameter {spec.name!r} was trained as {row[1]} {row[2]:g}..{row[3]:g} ({row[4]}) "
                f"but this version's table has {spec.unit} {spec.lo:g}..{spec.hi:g} ({spec.scale}); the network's "
                "outputs would be read in the wrong range, retrain or use a matching version")


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Instantiate the checkpoint's model (allow-listed classes only) with its weights, in eval mode."""
    from mixdown.models import MODEL_CLASSES

    state = read_checkpoint(path)
    name = state["model"].get("class")
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"{path}: model class {name!r} is not one of {sorted(MODEL_CLASSES)}")
    kwargs = dict(state["model"].get("kwargs", {}))
    track_names, master_names = trained_names(state)
    learned = getattr(MODEL_CLASSES[name], "learned", True)  # the heuristic sets the whole table itself
    if learned and (track_names, master_names) != (S.TRACK_NAMES, S.MASTER_NAMES):  # trained before the reverb
        log.info("%s: trained before the reverb; it predicts every send off and the default reverb", path)
        kwargs.update(track_names=list(track_names), master_names=list(master_names))
    model = MODEL_CLASSES[name](**kwargs)
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit {name} ({str(e).splitlines()[0]})") from e
    model.checkpoint_info = {k: v for k, v in state.items() if k != "state_dict"}
    model.input_contract = InputContract.from_checkpoint(state)
    return model.to(device).eval()
