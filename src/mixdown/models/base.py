"""The model interface shared by every mixing model, learned or not.

A model maps a batch of sessions to normalised console parameters in [0, 1] (the single
parameter table of :mod:`mixdown.params.spec` maps them to physical units).
"""

from __future__ import annotations

import torch
from torch import nn

from mixdown.models.features import LogMel
from mixdown.params import spec as S


class MixModel(nn.Module):
    """Base class. Subclasses implement :meth:`predict_embeddings` or override :meth:`forward`.

    ``forward(tracks, mask, reference=None) -> (track_params, master_params)`` with
    tracks ``(B, N, 2, T)``, mask ``(B, N)`` bool, reference ``(B, 2, T)`` or None;
    track_params ``(B, N, N_TRACK_PARAMS)`` and master_params ``(B, N_MASTER_PARAMS)`` in [0, 1].
    """

    #: whether the model has trainable parameters (the heuristic has none)
    learned: bool = True
    #: whether the model uses a reference mix
    uses_reference: bool = False

    def __init__(self, sample_rate: int = 44100):
        super().__init__()
        self.sample_rate = sample_rate
        self.n_track_params = S.N_TRACK_PARAMS
        self.n_master_params = S.N_MASTER_PARAMS


class TrackEncoder(nn.Module):
    """Log-mel CNN: a track (``(..., 2, T)`` audio) -> an embedding ``(..., dim)``.

    Args:
        sample_rate: Hz. dim: embedding size. channels: conv widths.
    """

    def __init__(self, sample_rate: int = 44100, dim: int = 128, channels: tuple[int, ...] = (16, 32, 64, 96),
                 n_mels: int = 64):
        super().__init__()
        self.features = LogMel(sample_rate, n_mels=n_mels)
        layers: list[nn.Module] = []
        c_in = 2
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(4, c), nn.GELU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Linear(2 * c_in + 3, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-2]
        feats = self.features(x.reshape(-1, *x.shape[-2:]))  # (M, 2, mels, frames)
        h = self.conv(feats)
        pooled = torch.cat([h.mean((-1, -2)), h.amax((-1, -2))], -1)
        rms_db = 10 * torch.log10(x.reshape(-1, *x.shape[-2:]).pow(2).mean((-1, -2)) + 1e-10)
        side = (x[..., 0, :] - x[..., 1, :]).reshape(-1, x.shape[-1]).pow(2).mean(-1)
        mid = (x[..., 0, :] + x[..., 1, :]).reshape(-1, x.shape[-1]).pow(2).mean(-1)
        stats = torch.stack([rms_db / 20.0, 10 * torch.log10((side + 1e-10) / (mid + 1e-10)) / 20.0,
                             (side > 1e-6 * mid).float()], -1)
        return self.proj(torch.cat([pooled, stats], -1)).reshape(*lead, -1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over tracks of ``x`` ``(B, N, D)`` where ``mask`` ``(B, N)`` is True -> ``(B, D)``."""
    w = mask.to(x.dtype)[..., None]
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)


def head(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """MLP ending in a sigmoid: outputs in [0, 1]."""
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_hidden), nn.GELU(),
                         nn.Linear(d_hidden, d_out), nn.Sigmoid())
