"""mixdown: learns to mix music and tells you the console settings it used.

The library API (:mod:`mixdown.api`) is imported on first use, so ``import mixdown`` stays light::

    import mixdown
    params, audio = mixdown.mix("session/")
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = ("load_model", "read_session", "predict", "refine", "render", "mix")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from mixdown import api

        return getattr(api, name)
    raise AttributeError(f"module 'mixdown' has no attribute {name!r}")
