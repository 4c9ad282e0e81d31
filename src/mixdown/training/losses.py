"""Training losses: multi-resolution STFT on the stereo mix, a loudness term and a parameter loss."""

from __future__ import annotations

import math

import torch
from torch import nn

from mixdown.dsp.filters import fft_filter
from mixdown.measure.stft import mrstft_loss


def k_weighted_loudness(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Ungated BS.1770 loudness (LUFS) of ``(B, C, T)`` audio, differentiable. Shape ``(B,)``."""
    from mixdown.measure.loudness import k_weighting_sos

    sos = torch.as_tensor(k_weighting_sos(sample_rate), dtype=torch.float64, device=x.device)
    b, a = sos[:, :3], sos[:, 3:]
    y = fft_filter(x, b.expand(x.shape[0], 2, 3), a.expand(x.shape[0], 2, 3))
    return -0.691 + 10.0 * torch.log10(y.pow(2).mean(-1).sum(-1) + 1e-10)


class MixLoss(nn.Module):
    """Weighted sum of audio and parameter losses; returns ``(total, parts)``.

    Args:
        sample_rate: Hz.
        stft_weight: weight of the multi-resolution STFT distance (L/R and M/S).
        loudness_weight: weight of |loudness(est) - loudness(ref)| in LU.
        param_weight: weight of the L1 distance of normalised parameters, where known.
        fft_sizes: STFT resolutions.
    """

    def __init__(self, sample_rate: int = 44100, stft_weight: float = 1.0, loudness_weight: float = 0.1,
                 param_weight: float = 1.0, fft_sizes: tuple[int, ...] = (512, 2048, 8192)):
        super().__init__()
        self.sample_rate = sample_rate
        self.stft_weight, self.loudness_weight, self.param_weight = stft_weight, loudness_weight, param_weight
        self.fft_sizes = tuple(fft_sizes)

    def forward(self, est: torch.Tensor, ref: torch.Tensor, pred: tuple[torch.Tensor, torch.Tensor] | None = None,
                target: tuple[torch.Tensor, torch.Tensor] | None = None, mask: torch.Tensor | None = None):
        parts: dict[str, torch.Tensor] = {}
        parts["stft"] = mrstft_loss(est, ref, fft_sizes=self.fft_sizes)
        parts["loudness"] = (k_weighted_loudness(est, self.sample_rate)
                             - k_weighted_loudness(ref, self.sample_rate)).abs().mean()
        total = self.stft_weight * parts["stft"] + self.loudness_weight * parts["loudness"]
        if pred is not None and target is not None and self.param_weight > 0:
            parts["params"] = param_l1(pred, target, mask)
            total = total + self.param_weight * parts["params"]
        return total, {k: float(v.detach()) for k, v in parts.items() if math.isfinite(float(v.detach()))}


def param_l1(pred: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor],
             mask: torch.Tensor | None) -> torch.Tensor:
    """Mean |pred - target| of normalised parameters over known targets (NaN = unknown)."""
    tp, mp = pred
    tt, mt = target
    known_t = torch.isfinite(tt)
    if mask is not None:
        known_t = known_t & mask[..., None]
    known_m = torch.isfinite(mt)
    diffs = torch.cat([(tp - torch.nan_to_num(tt)).abs()[known_t], (mp - torch.nan_to_num(mt)).abs()[known_m]])
    return diffs.mean() if diffs.numel() else tp.sum() * 0.0
