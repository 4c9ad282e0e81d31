"""Multi-resolution STFT terms: spectral convergence plus log-magnitude distance.

One implementation for the metric (:func:`mixdown.measure.metrics.mrstft_distance`, numpy in,
loudness-matched) and the differentiable loss (:func:`mrstft_loss`) that training
(:class:`mixdown.training.losses.MixLoss`) and reference mode optimise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_POWER_FLOOR = 1e-8  # STFT bin power floor (magnitude 1e-4) for the log-magnitude term


def _power(x: "torch.Tensor", n_fft: int, hop: int) -> "torch.Tensor":
    """Floored STFT power of each row of ``(items, time)`` -> ``(items, bins, frames)``."""
    import torch

    win = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    s = torch.stft(x, n_fft, hop, window=win, center=True, pad_mode="constant", return_complex=True)
    return (s.real.square() + s.imag.square()).clamp_min(_POWER_FLOOR)


def _power_terms(pe: "torch.Tensor", pr: "torch.Tensor"):
    """Spectral convergence and mean |log|S_r| - log|S_e||| of powers ``(..., bins, frames)``."""
    import torch

    me, mr = pe.sqrt(), pr.sqrt()
    sc = torch.linalg.vector_norm(mr - me, dim=(-2, -1)) / torch.linalg.vector_norm(mr, dim=(-2, -1)).clamp_min(1e-8)
    log_mag = 0.5 * (pr.log() - pe.log()).abs().mean(dim=(-2, -1))
    return sc, log_mag


def stft_terms(e: "torch.Tensor", r: "torch.Tensor", n_fft: int, hop: int):
    """Spectral convergence and mean |log|S_r| - log|S_e||| per row of ``(items, time)`` tensors."""
    return _power_terms(_power(e, n_fft, hop), _power(r, n_fft, hop))


def check_stft_args(fft_sizes, hop_ratio) -> list[tuple[int, int]]:
    sizes = [int(n) for n in fft_sizes]
    if not sizes or min(sizes) < 16:
        raise ValueError(f"fft_sizes must be a non-empty list of sizes >= 16, got {fft_sizes!r}")
    if not 0.0 < float(hop_ratio) <= 1.0:
        raise ValueError(f"hop_ratio must lie in (0, 1], got {hop_ratio!r}")
    return [(n, max(1, int(round(n * hop_ratio)))) for n in sizes]


def lr_ms(x: np.ndarray) -> list[np.ndarray]:
    """Channels of ``x`` plus, for stereo, mid ``(L+R)/2`` and side ``(L-R)/2``."""
    chans = list(x)
    if x.shape[0] == 2:
        chans += [0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])]
    return chans


def mrstft_loss(est: "torch.Tensor", ref: "torch.Tensor", fft_sizes=(512, 2048, 8192),
                hop_ratio: float = 0.25, reduction: str = "mean", mirror: bool = False) -> "torch.Tensor":
    """Differentiable multi-resolution STFT loss for training (no loudness matching).

    The same terms as :func:`mrstft_distance` on left, right, mid and side channels, averaged over
    channels and resolutions, and over the batch unless ``reduction="none"``.
    ``mirror``: per item, the smaller of the distance of ``est`` and of its left/right mirror
    image (the mirror's channels are ``est``'s right, left, mid and minus side: the same STFT
    magnitudes re-paired, so it costs no second transform).
    Shape: ``est``, ``ref`` ``(batch, 2, time)`` -> scalar tensor (``"none"``: ``(batch,)``).
    """
    if est.shape != ref.shape or est.ndim != 3 or est.shape[1] != 2:
        raise ValueError(f"est and ref must both be shaped (batch, 2, time), got {tuple(est.shape)} "
                         f"and {tuple(ref.shape)}")
    plan = check_stft_args(fft_sizes, hop_ratio)

    import torch

    def lr_ms(x):
        return torch.cat([x, 0.5 * torch.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], 1)], 1).flatten(0, 1)

    e, r = lr_ms(est), lr_ms(ref)
    b = est.shape[0]
    per = est.new_zeros(b)
    per_mirror = est.new_zeros(b)
    for n_fft, hop in plan:
        pe, pr = _power(e, n_fft, hop), _power(r, n_fft, hop)
        per = per + sum(t.view(b, 4).mean(1) for t in _power_terms(pe, pr))
        if mirror:
            pm = pe.view(b, 4, *pe.shape[1:])[:, [1, 0, 2, 3]].flatten(0, 1)
            per_mirror = per_mirror + sum(t.view(b, 4).mean(1) for t in _power_terms(pm, pr))
    per = per / len(plan)
    if mirror:
        per = torch.minimum(per, per_mirror / len(plan))
    if reduction == "none":
        return per
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return per.mean()
