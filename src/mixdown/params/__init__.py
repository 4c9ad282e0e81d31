"""Console parameters: the spec table and the ``mixdown.params/2`` file format (``/1`` is still read)."""

from mixdown.params.io import MasterParams, MixParams, ParamsError, TrackParams, read_params, write_params
from mixdown.params.spec import (
    MASTER_SPECS,
    N_MASTER_PARAMS,
    N_TRACK_PARAMS,
    TRACK_SPECS,
    ParamSpec,
    denormalize,
    normalize,
)

__all__ = ["MASTER_SPECS", "N_MASTER_PARAMS", "N_TRACK_PARAMS", "TRACK_SPECS", "ParamSpec", "denormalize",
           "normalize", "MasterParams", "MixParams", "ParamsError", "TrackParams", "read_params", "write_params"]
