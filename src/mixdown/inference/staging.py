"""Gain staging: move level between the track faders and the master's output gain without
changing the mix.

A model trained on human mixes learns a balance, not where the level sits (the losses compare
mixes level-free), so its faders can all sit far below 0 dB with the master's output gain making
up the difference. By the console's maths (``docs/console.md``) everything between the
faders and the master compressor is linear (pan, the post-fader reverb send and its return, the
sum, the master EQ) and the compressor's static curve depends only on the level relative to its
threshold (its knee too; the -120 dB level floor aside). So raising every fader by ``d`` dB, the
master compressor's threshold by ``d`` and lowering the output gain by ``d`` renders the same mix.
:func:`stage_gain` picks ``d`` so the loudest fader sits at 0 dB (as far as the parameter ranges
allow).

**Locks.** A lock means "this value stays, the rest adapts around it". The shift is computed on the
model's own values (before the locked values are written over them), so it is the shift the same
prediction gets without locks: a fader locked at the value an earlier mix showed keeps its place
in the balance, the unlocked faders, the master threshold and the output gain move as they would
have, and the locked ones keep their values (:func:`mixdown.params.locks.apply_locks` writes them
afterwards). :func:`true_peak_trim_db` then keeps the mix at or below -1 dBTP by the output gain,
unless the output gain itself is locked.
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


def stage_gain(tv: np.ndarray, mv: np.ndarray, names: list[str] | None = None,
               locks: dict[tuple[str, str], float] | None = None, target_db: float = 0.0) -> float:
    """Shift ``tv``/``mv`` in place (see the module doc); returns the shift in dB.

    Call it on the model's values *before* writing the locked values (``names`` and ``locks`` are
    accepted for the callers' convenience and do not change the shift: the locked values are
    written over the shifted ones afterwards, so they stay as locked and the rest moves around them).
    """
    if len(tv) == 0:
        return 0.0
    d = staging_shift_db(tv, mv, target_db)
    tv[:, _FADER] += d
    mv[_THRESHOLD] += d
    mv[_OUTPUT] -= d
    return d


#: the highest true peak a mix is left at when its output gain is free (dBTP)
TRUE_PEAK_CEILING_DBTP = -1.0
TRIM_MARGIN_DB = 0.01  # below the ceiling by this much, so float32 rounding of a re-render stays under it


def true_peak_trim_db(true_peak_dbtp: float, output_gain_db: float,
                      ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP) -> float:
    """How far (dB, <= 0) to lower the output gain so a mix whose true peak is ``true_peak_dbtp``
    ends at or below ``ceiling_dbtp``; 0 when it already does (never raised), limited so the
    output gain stays in its range."""
    if not np.isfinite(true_peak_dbtp) or true_peak_dbtp <= ceiling_dbtp:
        return 0.0
    o_lo, _ = _range(S.MASTER_SPECS, _OUTPUT)
    return float(max(ceiling_dbtp - TRIM_MARGIN_DB - true_peak_dbtp, min(0.0, o_lo - output_gain_db)))
