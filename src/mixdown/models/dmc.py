"""DMC: Steinmetz, Pons, Pascual & Serrà, "Automatic multitrack mixing with a differentiable
mixing console of neural audio effects", ICASSP 2021; extended to the full console.

A per-track encoder, a context that is the mean of the track embeddings, an MLP head per track
on ``[embedding, context]`` and a master head on the context.
"""

from __future__ import annotations

import torch

from mixdown.models.base import MixModel, TrackEncoder, head, masked_mean


class DMC(MixModel):
    """Args: sample_rate (Hz), dim (embedding size), hidden (head width); track_names, master_names:
    the parameters the heads predict (default: the whole table, see :class:`MixModel`)."""

    def __init__(self, sample_rate: int = 44100, dim: int = 128, hidden: int = 256, track_names=None,
                 master_names=None):
        super().__init__(sample_rate, track_names, master_names)
        self.encoder = TrackEncoder(sample_rate, dim)
        self.track_head = head(2 * dim, hidden, self.n_track_params)
        self.master_head = head(dim, hidden, self.n_master_params)

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor | None = None):
        e = self.encoder(tracks)  # (B, N, D)
        ctx = masked_mean(e, mask)
        track = self.track_head(torch.cat([e, ctx[:, None].expand_as(e)], -1))
        return self.complete(track, self.master_head(ctx))
