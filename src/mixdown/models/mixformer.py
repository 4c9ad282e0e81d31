"""Mixformer (ours): tracks as tokens, a transformer across tracks, a master token for the bus.

Permutation-equivariant over tracks (no positional encoding across tracks), masked for padding;
optionally conditioned on a reference mix (encoded by the same track encoder and added as a
token), for mixing-style transfer as in Diff-MST, and on each track's role as its name tells it
(``use_roles``: a learned role embedding added to the track's token, and a learned level offset
per role added to the fader: what a role says about a track's place in a person's balance, e.g.
a lead above the rest; both zero at initialisation, so a model initialised from one without
roles starts out mixing exactly as it did; :meth:`Mixformer.role_levels_db` reads the offsets).
"""

from __future__ import annotations

import torch
from torch import nn

from mixdown.data.roles import ROLES
from mixdown.models.base import MixModel, TrackEncoder, head
from mixdown.params import spec as S

_FADER = S.TRACK_SPECS[S.index(S.TRACK_SPECS, "fader_db")]
#: the fader's range in dB: a role level offset of 1 normalised unit
_FADER_SPAN_DB = _FADER.hi - _FADER.lo


class Mixformer(MixModel):
    """Args: sample_rate, dim (token size), layers, heads, hidden (head width), use_reference,
    use_roles (hear each track's role: ``roles`` ``(B, N)`` indices into
    :data:`mixdown.data.roles.ROLES`, from :func:`mixdown.data.roles.role_indices`; without
    ``roles`` every track is "other");
    track_names, master_names: the parameters the heads predict (default: the whole table, see
    :class:`MixModel`)."""

    def __init__(self, sample_rate: int = 44100, dim: int = 128, layers: int = 3, heads: int = 4,
                 hidden: int = 256, use_reference: bool = False, track_names=None, master_names=None,
                 use_roles: bool = False):
        super().__init__(sample_rate, track_names, master_names)
        self.uses_reference = use_reference
        self.uses_roles = use_roles
        if use_roles:
            self.role_embedding = nn.Embedding(len(ROLES), dim)
            nn.init.zeros_(self.role_embedding.weight)
            # each role's fader offset in normalised units (x the fader's range in dB), so an
            # optimiser step moves it as far as it moves the heads' outputs
            self.role_level = nn.Parameter(torch.zeros(len(ROLES)))
        self.encoder = TrackEncoder(sample_rate, dim)
        self.master_token = nn.Parameter(torch.randn(dim) * 0.02)
        self.reference_type = nn.Parameter(torch.randn(dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.track_head = head(dim, hidden, self.n_track_params)
        self.master_head = head(dim, hidden, self.n_master_params)

    def forward(self, tracks: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor | None = None,
                roles: torch.Tensor | None = None):
        B, N = mask.shape
        encoded = self.encoder(tracks)
        if self.uses_roles:
            if roles is None:  # nothing known about the tracks: every one is "other", as a nameless file
                roles = torch.full((B, N), ROLES.index("other"), dtype=torch.long, device=mask.device)
            encoded = encoded + self.role_embedding(roles.long())
        tokens = [self.master_token.expand(B, 1, -1), encoded]
        keep = [torch.ones(B, 1, dtype=torch.bool, device=mask.device), mask]
        if self.uses_reference and reference is not None:
            tokens.append(self.encoder(reference[:, None]) + self.reference_type)
            keep.append(torch.ones(B, 1, dtype=torch.bool, device=mask.device))
        h = self.transformer(torch.cat(tokens, 1), src_key_padding_mask=~torch.cat(keep, 1))
        track = self.track_head(h[:, 1:N + 1])
        if self.uses_roles and "fader_db" in self.track_names:
            column = torch.zeros(len(self.track_names), device=track.device, dtype=track.dtype)
            column[self.track_names.index("fader_db")] = 1.0
            track = (track + self.role_level[roles.long()][..., None] * column).clamp(0.0, 1.0)
        return self.complete(track, self.master_head(h[:, 0]))

    def role_levels_db(self) -> dict[str, float]:
        """The learned fader offset of each role in dB (empty without ``use_roles``)."""
        if not self.uses_roles:
            return {}
        return {r: float(v) * _FADER_SPAN_DB for r, v in zip(ROLES, self.role_level.detach().cpu())}

    def set_role_levels_db(self, offsets_db: dict[str, float]) -> None:
        """Set the fader offsets of the named roles (dB; others keep theirs), e.g. to start training
        from the offsets a person's balance shows (``scripts/role_levels.py --out``)."""
        if not self.uses_roles:
            raise ValueError("this model does not hear roles (use_roles=False): it has no role levels to set")
        unknown = sorted(set(offsets_db) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {list(ROLES)}")
        with torch.no_grad():
            for role, db in offsets_db.items():
                self.role_level[ROLES.index(role)] = float(db) / _FADER_SPAN_DB
