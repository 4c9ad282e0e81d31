"""A track's level where it plays: RMS over its active blocks only.

Analysis windows hold silence (a track that enters late, a 1 s effect in a 60 s song, the
padding after a short file). Measured over the whole window, silence reads as a quiet track
and earns it gain it does not need: a 1-sample click measured over an 8192-frame window gets
+24 dB. Here the level counts only blocks of :data:`BLOCK` frames above :data:`SILENCE_DB`
(and never the padding past a file's end); the number of active frames weights each window
when the windows' predictions are aggregated (:func:`weighted_median`).
"""

from __future__ import annotations

import numpy as np

#: frames per activity block (23 ms at 44.1 kHz)
BLOCK = 1024
#: a block whose RMS (all channels) is below this level (dBFS) is silence
SILENCE_DB = -60.0


def active_rms(x: np.ndarray, frames: int | None = None, block: int = BLOCK,
               silence_db: float = SILENCE_DB) -> tuple[float, int]:
    """``(rms, active_frames)`` of ``(channels, T)`` audio over its active blocks.

    ``frames``: how many leading frames are real audio (the rest is padding; default all).
    ``rms`` is 0.0 and ``active_frames`` 0 when no block is active.
    """
    n = x.shape[-1] if frames is None else max(0, min(int(frames), x.shape[-1]))
    if n == 0:
        return 0.0, 0
    seg = np.asarray(x[..., :n], dtype=np.float64).reshape(-1, n)
    power = np.square(seg).mean(axis=0)  # per frame, mean over channels
    edges = np.arange(0, n, block)
    sums = np.add.reduceat(power, edges)
    lengths = np.diff(np.append(edges, n))
    active = sums / lengths > 10.0 ** (silence_db / 10.0)
    count = int(lengths[active].sum())
    if count == 0:
        return 0.0, 0
    return float(np.sqrt(sums[active].sum() / count)), count


def weighted_median(values: np.ndarray, weights: np.ndarray, axis: int = 0) -> np.ndarray:
    """Median of ``values`` along ``axis`` with non-negative ``weights`` (broadcast over the other
    axes); where all weights are zero, the plain median. Lower weighted median (a value that
    occurs, as ``np.median`` of an odd count)."""
    v = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    w = np.broadcast_to(np.moveaxis(np.asarray(weights, dtype=np.float64), axis, 0), v.shape).copy()
    none = w.sum(axis=0, keepdims=True) <= 0
    w = np.where(none, 1.0, w)
    order = np.argsort(v, axis=0)
    vs = np.take_along_axis(v, order, axis=0)
    ws = np.take_along_axis(w, order, axis=0)
    cum = np.cumsum(ws, axis=0)
    half = cum[-1:] / 2.0
    idx = (cum < half - 1e-12).sum(axis=0, keepdims=True)
    lower = np.take_along_axis(vs, idx, axis=0)[0]
    # exactly half the weight below: average with the next value, as np.median does for even counts
    at_half = np.isclose(np.take_along_axis(cum, idx, axis=0)[0], half[0])
    upper = np.take_along_axis(vs, np.minimum(idx + 1, len(vs) - 1), axis=0)[0]
    out = np.where(at_half, (lower + upper) / 2.0, lower)
    return out
