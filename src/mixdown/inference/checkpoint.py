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
from mixdown.errors import UsageError
from mixdown.fileio import atomic_write
from mixdown.inference.contract import InputContract
from mixdown.params import spec as S

log = logging.getLogger(__name__)
FORMAT = "mixdown.checkpoint/1"


class CheckpointError(UsageError):
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


#: sha256 of the weights shipped in ``mixdown/weights/`` (default = engineer-v5, engineer-v4, engineer-v3,
#: human-v3, engineer-v1, engineer-v2, human-v1, human-v2, synthetic-v1). A file with one of these contents
#: is one mixdown ships: :func:`load_model` skips the meta-device build that guards against
#: oversized kwargs (about 1-2 s: it imports ``torch._dynamo``); every other check still runs,
#: and any other file gets all of them. Add the sha256 that ``scripts/release_checkpoint.py``
#: prints when shipping new weights, with the model's name (what a mix's settings file records:
#: ``notes.checkpoint``).
SHIPPED_MODELS = {
    "ab317c7f861fa6bb745a69f7133274164bc8e6486b4d7b59e8cdb71e013852ae": "engineer-v5",
    "b091775829b31af370628b65c219d557c33b9ad42c716a4031cd315cce2a759a": "engineer-v4",
    "58017b61eb55fef1b04b5f0a1077dced7c6983ed9a8091e2475364502a4b4f02": "engineer-v3",
    "3ed137121ccc6e7276d4131c2fb3abe84fe371a1cea1ba8127b9d6d49a33dc27": "human-v3",
    "43a307592cf2fff72624eef3b2c21af7c7ac15b8f3cc8a361f96cf5a3141d246": "engineer-v1",
    "8d374bd0dd40fe9602618232e95f7cf975a5fbdaed21961483609a60b5651112": "engineer-v2",
    "14773890e238d440b831231959c2b2508110f10d0c9677b18d02eca0296c1a5c": "human-v1",
    "2780552a0d3d5bc9e4a45be57e21e1b9d158002a0bb20a32ad69b45a24d1690e": "human-v2",
    "7d08279e196403e4a92edf18c2861d620d7ffca73268a95118679a7d9a72bef4": "synthetic-v1",
}


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dictionary, loaded with ``weights_only=True`` and checked."""
    return _read_checkpoint(path)[0]


def _read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """``(the checked checkpoint dictionary, the file's sha256 in hex)``; the file is read once."""
    import io

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found" if not path.exists() else
                              f"{path}: not a regular file; give the checkpoint file (.pt)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusals, truncated files, not a torch file
        import pickle

        if isinstance(e, pickle.UnpicklingError):
            why = ("it holds Python objects other than tensors and plain values, which mixdown's weights-only "
                   "loading refuses (loading them could run code)")
        else:
            why = f"not a torch checkpoint, or a damaged one ({type(e).__name__}: {_first_line(e)})"
        raise CheckpointError(f"{path}: cannot be loaded: {why}; use a checkpoint written by 'mixdown train' "
                              "(or the shipped model: leave out --checkpoint)") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (format {state.get('format')!r})"
                              if isinstance(state, dict) else f"{path}: not a {FORMAT} checkpoint")
    for key in ("model", "state_dict", "sample_rate", "track_specs", "master_specs"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}; re-save it with this version")
    problem = S.check_sample_rate(state["sample_rate"])
    if problem:
        raise CheckpointError(f"{path}: sample_rate {problem}; the checkpoint is damaged or not mixdown's")
    for key in ("track_specs", "master_specs"):
        table = state[key]
        if not isinstance(table, list) or not all(isinstance(s, (list, tuple)) and s for s in table):
            raise CheckpointError(f"{path}: {key} must be a list of parameter rows; the checkpoint is damaged")
        for i, row in enumerate(table):  # [name, unit, lo, hi, scale], as save_checkpoint writes them
            if len(row) != 5 or not all(isinstance(v, str) for v in (row[0], row[1], row[4])) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and S.check_magnitude(v) is None
                    for v in (row[2], row[3])):
                raise CheckpointError(f"{path}: {key}[{i}] is {_short(list(row))}, not a row [name, unit, low, high, "
                                      "scale] of a name, a unit, two numbers and a scale; the checkpoint is damaged: "
                                      "use another checkpoint (or the shipped model: leave out --checkpoint)")
    names = trained_names(state)
    if names not in ((S.TRACK_NAMES, S.MASTER_NAMES), _LEGACY):
        raise CheckpointError(f"{path}: checkpoint's parameter table differs from this version's "
                              "(and from the table before the reverb)")
    _check_ranges(path, state["track_specs"], S.TRACK_SPECS, "track")
    _check_ranges(path, state["master_specs"], S.MASTER_SPECS, "master")
    model = state["model"]
    if not isinstance(model, dict) or not isinstance(model.get("class"), str):
        raise CheckpointError(f"{path}: 'model' must be an object with a 'class' name, got {_short(model)}")
    kwargs = model.get("kwargs", {})
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise CheckpointError(f"{path}: model kwargs must be a mapping of names to values, got {_short(kwargs)}")
    weights = state["state_dict"]
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in weights.items()):
        raise CheckpointError(f"{path}: 'state_dict' must map names to tensors; the checkpoint is damaged")
    return state, hashlib.sha256(data).hexdigest()


def _first_line(e: Exception) -> str:
    """The first line of an error message, without advice to load untrusted files unsafely."""
    line = (str(e).splitlines() or [""])[0][:200]
    return "" if "weights_only" in line or "trust" in line else line


def _short(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


#: largest whole-number model argument accepted (sizes: widths, layers, mel bands); checked
#: before anything is built, so a damaged file cannot ask for gigabytes
MAX_SIZE_KWARG = 8192


def check_model_kwargs(path: Path, cls: type, kwargs: dict[str, Any]) -> None:
    """Every kwarg must be a parameter of ``cls`` and of the type of its default, sizes within
    ``1 .. MAX_SIZE_KWARG``, the sample rate within the console's range."""
    import inspect
    import math

    params = inspect.signature(cls.__init__).parameters
    valid = [n for n in params if n != "self"]
    for key, value in kwargs.items():
        if key not in valid:
            raise CheckpointError(f"{path}: model kwarg {key!r} is not an argument of {cls.__name__} "
                                  f"(valid: {', '.join(valid)}); the checkpoint is damaged or from another version")
        default = params[key].default
        text = repr(value)
        where = f"{path}: model kwarg {key}={text[:60]}{'...' if len(text) > 60 else ''}"
        if key == "sample_rate":
            problem = S.check_sample_rate(value)
            if problem:
                raise CheckpointError(f"{where}: {problem}")
            continue
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise CheckpointError(f"{where}: must be true or false")
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIZE_KWARG:
                raise CheckpointError(f"{where}: must be a whole number in 1 .. {MAX_SIZE_KWARG}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise CheckpointError(f"{where}: must be a finite number")
        elif isinstance(default, str):
            if not isinstance(value, str) or not 1 <= len(value) <= 64:
                raise CheckpointError(f"{where}: must be a word (1 .. 64 characters)")
        elif isinstance(default, (tuple, list)):
            if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 64 or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE_KWARG for v in value):
                raise CheckpointError(f"{where}: must be a list of 1 .. 64 whole numbers in 1 .. {MAX_SIZE_KWARG}")


def _contract(path: Path, state: dict[str, Any]) -> InputContract:
    """The checkpoint's input contract, checked (a damaged one is named, not a crash later)."""
    import math

    try:
        c = InputContract.from_checkpoint(state)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: input_contract cannot be read ({e}); the checkpoint is damaged") from None
    problems = []
    if c.sample_rate is not None and S.check_sample_rate(c.sample_rate):
        problems.append(f"sample_rate {c.sample_rate!r}")
    for key, lo, hi in (("window_s", 0.05, 600.0), ("target_rms_db", -80.0, 0.0)):
        v = getattr(c, key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            problems.append(f"{key} {v!r}")
    for key, lo, hi in (("n_windows", 1, 64), ("min_window", 1, 1 << 20)):
        v = getattr(c, key)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            problems.append(f"{key} {v!r}")
    if problems:
        raise CheckpointError(f"{path}: input_contract holds {', '.join(problems)}; the checkpoint is damaged")
    return c


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
    """Instantiate the checkpoint's model (allow-listed classes only) with its weights, in eval mode.

    Everything is checked before memory is committed: the kwargs (types, sizes), then the model
    is built on the ``meta`` device (no storage) and its tensor shapes compared with the weights'
    (skipped for the weights mixdown ships, :data:`SHIPPED_MODELS`: their model is known; building
    it still compares every shape); weights holding NaN or infinity are refused."""
    from mixdown.models import MODEL_CLASSES

    path = Path(path)
    state, sha256 = _read_checkpoint(path)
    name = state["model"]["class"]
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"{path}: model class {name!r} is not one of {sorted(MODEL_CLASSES)}")
    cls = MODEL_CLASSES[name]
    kwargs = dict(state["model"].get("kwargs", {}))
    check_model_kwargs(path, cls, kwargs)
    track_names, master_names = trained_names(state)
    learned = getattr(cls, "learned", True)  # the heuristic sets the whole table itself
    if learned and (track_names, master_names) != (S.TRACK_NAMES, S.MASTER_NAMES):  # trained before the reverb
        log.info("%s: trained before the reverb; it predicts every send off and the default reverb", path)
        kwargs.update(track_names=list(track_names), master_names=list(master_names))
    weights = state["state_dict"]
    if sha256 not in SHIPPED_MODELS:
        _check_shapes(path, cls, kwargs, weights)
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: weights hold NaN or infinite values ({', '.join(bad[:5])}); training "
                              "diverged or the file is damaged: use another checkpoint (an earlier one, or the "
                              "shipped model)")
    contract = _contract(path, state)
    model = cls(**kwargs)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit {name} ({str(e).splitlines()[0]})") from e
    model.checkpoint_info = {k: v for k, v in state.items() if k != "state_dict"}
    #: which file made the model (a mix's settings record it: ``notes.checkpoint``); ``name`` for
    #: the weights mixdown ships
    model.checkpoint_file = {"file": path.name, "sha256": sha256[:12]}
    if sha256 in SHIPPED_MODELS:
        model.checkpoint_file["name"] = SHIPPED_MODELS[sha256]
    model.input_contract = contract
    return model.to(device).eval()


def _check_shapes(path: Path, cls: type, kwargs: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """Build ``cls(**kwargs)`` on the ``meta`` device (no storage) and compare its tensors' names
    and shapes with ``weights``': a damaged file cannot make the real build allocate gigabytes."""
    name = cls.__name__
    try:
        with torch.device("meta"):
            skeleton = cls(**kwargs)
    except Exception as e:  # a kwarg combination the model refuses (e.g. dim not divisible by heads)
        raise CheckpointError(f"{path}: model kwargs do not build a {cls.__name__} ({type(e).__name__}: "
                              f"{_first_line(e)}); the checkpoint is damaged or from another version") from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights) if tuple(weights[k].shape) != expected[k])
    if missing or unexpected or wrong:
        parts = [f"{label} {', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"{path}: weights do not fit {name} ({'; '.join(parts)}); the checkpoint is damaged "
                              "or from another version")
