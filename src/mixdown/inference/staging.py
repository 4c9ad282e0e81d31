"""Gain staging: move level between the track faders and the master's output gain without
changing the mix.

A model trained on human mixes learns a balance, not where the level sits (the losses compare
mixes level-free), so its faders can all sit far below 0 dB with the master's output gain making
up the difference. By the console's maths (``shared/spec/console.md``) everything between the
faders and the master compressor is linear (pan, the post-fader reverb send and its return, the
sum, the master EQ) and the compressor's static curve depends only on the level relative to its
threshold (its knee too; the -120 dB level floor aside). So raising every fader by ``d`` dB, the
master compressor's threshold by ``d`` and lowering the output gain by ``d`` renders the same mix.
:func:`stage_gain` picks ``d`` so the loudest fader sits at 0 dB (as far as the parameter ranges
allow) and leaves the settings alone when any of the values it would move is locked.
"""

from __future__ import annotations

import numpy as np

from mixdown.params import spec as S

_FADER = S.index(S.TRACK_SPECS, "fader_db")
_THRESHOLD = S.index(S.MASTER_SPECS, "compressor.threshold_db")
_OUTPUT = S.index(S.MASTER_SPECS, "output_gain_db")


def _range(specs, i: int) -> tuple[float, float]:
    return specs[i].lo, specs[i].hi


def staging_shift_db(tv: np.ndarray, mv: np.ndarray, target_db: float = 0.0) -> float:
    """The shift ``d`` (dB) that brings the loudest fader to ``target_db``, limited so every fader,
    the master threshold and the output gain stay in their ranges. ``tv`` ``(N, N_TRACK_PARAMS)``,
    ``mv`` ``(N_MASTER_PARAMS,)`` physical."""
    f_lo, f_hi = _range(S.TRACK_SPECS, _FADER)
    t_lo, t_hi = _range(S.MASTER_SPECS, _THRESHOLD)
    o_lo, o_hi = _range(S.MASTER_SPECS, _OUTPUT)
    faders = tv[:, _FADER]
    lo = max(f_lo - faders.min(), t_lo - mv[_THRESHOLD], mv[_OUTPUT] - o_hi)
    hi = min(f_hi - faders.max(), t_hi - mv[_THRESHOLD], mv[_OUTPUT] - o_lo)
    if lo > hi:  # already outside a range: leave it as it is
        return 0.0
    return float(np.clip(target_db - faders.max(), lo, hi))


def stage_gain(tv: np.ndarray, mv: np.ndarray, names: list[str],
               locks: dict[tuple[str, str], float] | None = None, target_db: float = 0.0) -> float:
    """Shift ``tv``/``mv`` in place (see the module doc); returns the shift in dB (0: nothing moved,
    also when a fader, the master threshold or the output gain is locked)."""
    locks = locks or {}
    held = {("master", "compressor.threshold_db"), ("master", "output_gain_db")} | {(n, "fader_db") for n in names}
    if len(tv) == 0 or held & set(locks):
        return 0.0
    d = staging_shift_db(tv, mv, target_db)
    tv[:, _FADER] += d
    mv[_THRESHOLD] += d
    mv[_OUTPUT] -= d
    return d
