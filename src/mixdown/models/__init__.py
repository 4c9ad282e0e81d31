"""Mixing models: all map ``(tracks, mask[, reference])`` to normalised console parameters."""

from mixdown.models.base import MixModel, TrackEncoder
from mixdown.models.dmc import DMC
from mixdown.models.heuristic import Heuristic
from mixdown.models.mixformer import Mixformer

#: classes a checkpoint may name (nothing else is ever instantiated from a checkpoint)
MODEL_CLASSES = {f"{c.__module__}.{c.__name__}": c for c in (DMC, Mixformer, Heuristic)}

__all__ = ["MixModel", "TrackEncoder", "DMC", "Heuristic", "Mixformer", "MODEL_CLASSES"]
