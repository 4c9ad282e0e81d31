"""The strips' meters: per track, the peak and RMS of its strip output and its compressor's gain
reduction; for the master, the mix's peak, RMS and true peak; all per *hop* (about 50 ms), for the
page to show at the playing position.

The hop is a power of two in frames (:func:`hop_frames`), so it divides the full-length
renderer's blocks and :class:`LevelAccumulator` can follow that render block by block. Levels are
in dB (dBFS, dBTP) rounded to 0.1 dB, floored at :data:`FLOOR_DB`; gain reduction in dB (<= 0).
"""

from __future__ import annotations

import math

import numpy as np

HOP_S = 0.05
FLOOR_DB = -120.0


def hop_frames(sample_rate: int) -> int:
    """Frames per hop: the power of two nearest :data:`HOP_S` seconds (46 ms at 44.1 kHz)."""
    return int(2 ** round(math.log2(HOP_S * sample_rate)))


def to_db(lin: np.ndarray) -> np.ndarray:
    """Linear amplitude -> dB rounded to 0.1, at least :data:`FLOOR_DB`."""
    with np.errstate(divide="ignore"):
        return np.round(np.maximum(20.0 * np.log10(np.asarray(lin, dtype=np.float64)), FLOOR_DB), 1)


def _hops(x: np.ndarray, hop: int) -> np.ndarray:
    """``x`` ``(..., n, C)`` zero-padded to whole hops -> ``(..., n_hops, hop * C)``."""
    n = x.shape[-2]
    n_hops = max(1, -(-n // hop))
    if n_hops * hop != n:
        pad = [(0, 0)] * x.ndim
        pad[-2] = (0, n_hops * hop - n)
        x = np.pad(x, pad)
    return x.reshape(x.shape[:-2] + (n_hops, hop * x.shape[-1]))


def peak_rms(x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hop peak and RMS (linear) of ``x`` ``(..., n, C)`` over both channels: ``(..., n_hops)`` each
    (the last hop's RMS counts its padding: it is a meter, not a measurement)."""
    h = _hops(np.asarray(x, dtype=np.float32), hop)
    return np.abs(h).max(axis=-1), np.sqrt(np.mean(np.square(h, dtype=np.float64), axis=-1))


def peak_ms_per_side(x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per hop and side peak and mean square (linear) of ``x`` ``(..., n, 2)``: ``(..., 2, n_hops)`` each.
    A strip's output is such a signal times a gain per side ``g``; its :func:`peak_rms` is then
    ``max(|g| * peak)`` and ``sqrt(mean(g ** 2 * ms))`` over the sides."""
    h = _hops(np.asarray(x, dtype=np.float32), hop)
    h = h.reshape(h.shape[:-1] + (hop, 2))
    ms = np.einsum("...ij,...ij->...j", h, h) / hop  # float32 sums: a meter's precision (0.1 dB)
    return np.moveaxis(np.abs(h).max(axis=-2), -1, -2), np.moveaxis(ms.astype(np.float64), -1, -2)


def gain_reduction(gain_db: np.ndarray, hop: int) -> np.ndarray:
    """Per hop the deepest gain reduction (dB, <= 0, rounded to 0.1) of a compressor's gain ``(n,)``."""
    return np.round(np.minimum(_hops(np.asarray(gain_db)[:, None], hop).min(axis=-1), 0.0), 1)


def true_peak(x: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Per hop true peak (linear) of ``x`` ``(n, 2)``: 4x oversampled below 88.2 kHz, 2x below
    176.4 kHz (BS.1770's rule; a polyphase FIR, a meter's estimate, not the exact measurement)."""
    from scipy.signal import resample_poly

    factor = 4 if sample_rate < 88200 else 2 if sample_rate < 176400 else 1
    x = np.asarray(x, dtype=np.float32)
    if factor == 1 or len(x) < 64:
        return peak_rms(x, hop)[0]
    up = resample_poly(x, factor, 1, axis=0).astype(np.float32)
    return np.maximum(peak_rms(up, hop * factor)[0][: max(1, -(-len(x) // hop))], peak_rms(x, hop)[0])


class LevelAccumulator:
    """Per track peak and RMS of a render that arrives block by block (every block but the last a
    whole number of hops): ``add(strips (S, m, 2))`` per block, then :meth:`result`."""

    def __init__(self, hop: int):
        self.hop = hop
        self.peaks: list[np.ndarray] = []
        self.rms: list[np.ndarray] = []

    def add(self, strips: np.ndarray) -> None:
        p, r = peak_rms(strips, self.hop)
        self.peaks.append(p)
        self.rms.append(r)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(peak, rms)`` linear, ``(S, n_hops)`` each."""
        return np.concatenate(self.peaks, axis=-1), np.concatenate(self.rms, axis=-1)


def payload(names: list[str], peak: np.ndarray, rms: np.ndarray, gr: dict[str, np.ndarray],
            master: dict[str, np.ndarray], hop_s: float) -> dict:
    """The JSON the page reads: ``{"hop_s", "tracks": {name: {"peak", "rms", "gr"}}, "master": {"peak",
    "rms", "true_peak", "gr"}}``, dB lists (``gr`` empty for a compressor that does nothing; the
    master's under the key ``"master"`` of ``gr``)."""
    tracks = {n: {"peak": to_db(peak[i]).tolist(), "rms": to_db(rms[i]).tolist(),
                  "gr": gr[n].tolist() if n in gr else []} for i, n in enumerate(names)}
    return {"hop_s": hop_s, "tracks": tracks, "master": {**{k: to_db(v).tolist() for k, v in master.items()},
                                                         "gr": gr["master"].tolist() if "master" in gr else []}}


def master_levels(mix: np.ndarray, sample_rate: int, hop: int) -> dict[str, np.ndarray]:
    """The master's per hop peak, RMS and true peak (linear) of the mix ``(n, 2)``."""
    p, r = peak_rms(mix, hop)
    return {"peak": p, "rms": r, "true_peak": true_peak(mix, sample_rate, hop)}
