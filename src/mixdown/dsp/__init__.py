"""The differentiable mixing console.

- :mod:`mixdown.dsp.functional`: pure batched effects (gain, high-pass, biquads, EQ, compressor, pan);
- :class:`mixdown.dsp.console.Console`: a batch of sessions + normalised parameters -> stereo mixes;
- :mod:`mixdown.dsp.coefficients`: RBJ cookbook coefficients (numpy or torch);
- :mod:`mixdown.dsp.filters`: exact cascade responses and FFT-domain filtering (torch);
- :mod:`mixdown.dsp.kernels`: compiled recursions (compressor ballistics, time-domain IIR strips);
- :mod:`mixdown.dsp.reverb_ir` (numpy: the reverb's impulse response), :mod:`mixdown.dsp.reverb`
  (torch: sends and return) and :mod:`mixdown.dsp.reverb_stream` (numpy: streaming return).

Names are imported lazily so that numpy-only users (the renderer) never import torch.
"""

import importlib

_LAZY = {
    "Console": "mixdown.dsp.console", "channel_strips": "mixdown.dsp.console", "master_bus": "mixdown.dsp.console",
    "reverb_bus_return": "mixdown.dsp.console",
    **{name: "mixdown.dsp.functional" for name in
       ("biquad", "compressor", "db_to_amp", "gain", "highpass", "pan", "pan_gains", "parametric_eq")},
    **{name: "mixdown.dsp.reverb" for name in ("Reverb", "reverb_return", "reverb_send")},
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mixdown.dsp' has no attribute {name!r}")
