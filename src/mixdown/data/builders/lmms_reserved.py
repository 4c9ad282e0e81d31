"""The LMMS projects reserved for independent evaluation (``--source lmms-reserved``).

Builds only the projects of :data:`mixdown.data.builders.lmms.RESERVED`, rendered exactly as the
``lmms`` source renders, all in the ``test`` split: an evaluation-only manifest. Never train or
tune on it.
"""

from __future__ import annotations

from pathlib import Path

from mixdown.data.builders import Discovery
from mixdown.data.builders.lmms import LAYOUT, NAME_RESERVED, prepare
from mixdown.data.builders.lmms import discover as _discover

NAME = NAME_RESERVED
__all__ = ["NAME", "LAYOUT", "discover", "prepare"]


def discover(root: Path) -> Discovery:
    """Only the reserved projects under ``root``, all in the ``test`` split."""
    return _discover(root, reserved=True)
