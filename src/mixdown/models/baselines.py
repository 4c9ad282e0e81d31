"""Baselines the model is compared with (``mixdown evaluate``): physical settings from simple rules.

* ``raw_sum``: :func:`neutral` settings (the unprocessed sum);
* ``equal_loudness``: :func:`equal_loudness`;
* ``heuristic``: the rule-based model :class:`mixdown.models.Heuristic` (through prediction);
* ``oracle``: :func:`oracle`, least-squares gains against the reference mix.
"""

from __future__ import annotations

import math

import numpy as np

from mixdown.params import spec as S

BASELINES = ("raw_sum", "equal_loudness", "heuristic", "oracle")
_T = {n: i for i, n in enumerate(S.TRACK_NAMES)}


def neutral(n: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw sum: settings that leave ``n`` tracks and the master unchanged."""
    tv = np.tile([S.neutral_track_values(sample_rate)[k] for k in S.TRACK_NAMES], (n, 1)).astype(np.float64)
    mv = np.array([S.neutral_master_values(sample_rate)[k] for k in S.MASTER_NAMES], dtype=np.float64)
    return tv, mv


def equal_loudness(session) -> tuple[np.ndarray, np.ndarray]:
    """Every track to -23 LUFS (input gain), faders down by the track count (power sum)."""
    from mixdown.measure import loudness

    tv, mv = neutral(len(session.audio), session.sample_rate)
    for i, x in enumerate(session.audio):
        lufs = loudness.integrated_loudness(x, session.sample_rate)
        tv[i, _T["input_gain_db"]] = np.clip(-23.0 - lufs, -48, 24) if math.isfinite(lufs) else 0.0
        tv[i, _T["fader_db"]] = -10 * math.log10(len(session.audio))
    return tv, mv


def oracle(session, reference: np.ndarray, max_frames: int = 44100 * 60, step: int = 4):
    """Least-squares left/right gains per track -> fader (dB) and pan (constant-power law)."""
    tv, mv = neutral(len(session.audio), session.sample_rate)
    n = min(reference.shape[1], max(a.shape[1] for a in session.audio), max_frames)
    gains = []
    for side in (0, 1):
        cols = [np.pad(a[min(side, a.shape[0] - 1)], (0, max(0, n - a.shape[1])))[:n:step]
                for a in session.audio]
        g, *_ = np.linalg.lstsq(np.stack(cols, 1), reference[side, :n:step], rcond=None)
        gains.append(np.maximum(g, 1e-6))
    gl, gr = gains
    tv[:, _T["fader_db"]] = np.clip(20 * np.log10(np.hypot(gl, gr)), -48, 24)
    tv[:, _T["pan"]] = np.clip(4 * np.arctan2(gr, gl) / math.pi - 1, -1, 1)
    return tv, mv
