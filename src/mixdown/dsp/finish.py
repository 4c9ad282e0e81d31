"""The master's finishing stages: optional effects after the output gain (and
``master.normalize``), each written in one module and registered here, in chain order.

A finishing stage is a module with ``KEY`` (its object in ``master``, e.g. ``"limiter"``),
``SPECS`` (its rows: name, unit, range), ``DEFAULTS``, ``apply_exact(audio (frames, 2), sample_rate,
settings)`` (the full-length render), ``apply_torch(x (B, C, T), sample_rate, settings)`` (the
training console), ``reaper_fx(settings)``, ``dawproject_device(settings)`` and
``describe(settings)``. Absent from a parameter file, a stage is off; the reader, the writer,
both render paths and the exporters walk :data:`FINISHERS` and know nothing else about it.
"""

from __future__ import annotations

from mixdown.dsp import limiter

#: every finishing stage, in the order the master runs them
FINISHERS = (limiter,)
#: the parameter-file format that introduced them (``mixdown.params/3``)
FORMAT_VERSION = 3


def by_key(key: str):
    return next(f for f in FINISHERS if f.KEY == key)


def apply_exact(audio, sample_rate: float, finish: dict[str, dict[str, float]]):
    """Run the stages ``finish`` holds (key -> settings) on ``audio`` ``(frames, 2)``, in order."""
    for f in FINISHERS:
        if f.KEY in finish:
            audio = f.apply_exact(audio, sample_rate, finish[f.KEY])
    return audio


def apply_torch(x, sample_rate: float, finish: dict[str, dict[str, float]] | None):
    """The same in torch: ``x`` ``(B, C, T)``."""
    for f in FINISHERS:
        if finish and f.KEY in finish:
            x = f.apply_torch(x, sample_rate, finish[f.KEY])
    return x
