"""Mixing models: all map ``(tracks, mask[, reference])`` to normalised console parameters.

Names are imported lazily so that light users (``mixdown --help``, :mod:`mixdown.models.baselines`)
never import torch.
"""

import importlib

_LAZY = {"MixModel": "mixdown.models.base", "TrackEncoder": "mixdown.models.base", "DMC": "mixdown.models.dmc",
         "Heuristic": "mixdown.models.heuristic", "Mixformer": "mixdown.models.mixformer",
         "Engineer": "mixdown.models.engineer"}
__all__ = ["MixModel", "TrackEncoder", "DMC", "Heuristic", "Mixformer", "Engineer", "MODEL_CLASSES"]


def _model_classes() -> dict:
    """Classes a checkpoint may name (nothing else is ever instantiated from a checkpoint)."""
    classes = [__getattr__(n) for n in ("DMC", "Mixformer", "Heuristic", "Engineer")]
    return {f"{c.__module__}.{c.__name__}": c for c in classes}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "MODEL_CLASSES":
        return _model_classes()
    raise AttributeError(f"module 'mixdown.models' has no attribute {name!r}")
