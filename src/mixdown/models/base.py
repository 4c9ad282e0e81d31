"""The model interface shared by every mixing model, learned or not.

A model maps a batch of sessions to normalised console parameters in [0, 1] (the single
parameter table of :mod:`mixdown.params.spec` maps them to physical units).

A learned model's heads predict the parameters it was built for: by default the whole table;
a model restored from a checkpoint trained before the reverb (``track_names`` / ``master_names``
from the checkpoint's stored table) has heads without the reverb's outputs, and
:meth:`MixModel.complete` fills those in: every send off (``reverb_send_db = -60``) and the
reverb at :data:`mixdown.params.spec.DEFAULT_REVERB` (silent while every send is off), so it
keeps mixing exactly as it was trained to.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mixdown.models.features import LogMel
from mixdown.params import spec as S


class MixModel(nn.Module):
    """Base class. Subclasses implement :meth:`predict_embeddings` or override :meth:`forward`.

    ``forward(tracks, mask, reference=None) -> (track_params, master_params)`` with
    tracks ``(B, N, 2, T)``, mask ``(B, N)`` bool, reference ``(B, 2, T)`` or None (a model
    with ``uses_roles`` also takes ``roles`` ``(B, N)``: :func:`mixdown.data.roles.role_indices`);
    track_params ``(B, N, N_TRACK_PARAMS)`` and master_params ``(B, N_MASTER_PARAMS)`` in [0, 1].
    What a model hears beyond tracks and mask it declares (``uses_reference``, ``uses_roles``, or an
    ``inputs`` tuple naming any input of its own); :func:`mixdown.models.batch.step` is the one call
    of ``forward`` in training, validation and prediction.
    """

    #: whether the model has trainable parameters (the heuristic has none)
    learned: bool = True
    #: whether the model uses a reference mix
    uses_reference: bool = False
    #: whether the model hears each track's role (``forward(..., roles=)``)
    uses_roles: bool = False

    def __init__(self, sample_rate: int = 44100, track_names=None, master_names=None):
        super().__init__()
        self.sample_rate = sample_rate
        self.track_names = _names(track_names, S.TRACK_NAMES, "track")
        self.master_names = _names(master_names, S.MASTER_NAMES, "master")
        self.n_track_params = len(self.track_names)
        self.n_master_params = len(self.master_names)

    def complete(self, track: torch.Tensor, master: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The heads' outputs placed into the whole table; parameters the model does not predict get
        their defaults (normalised): sends off, :data:`~mixdown.params.spec.DEFAULT_REVERB`.

        Shape: ``track`` ``(B, N, n_track_params)``, ``master`` ``(B, n_master_params)``
        -> ``(B, N, N_TRACK_PARAMS)``, ``(B, N_MASTER_PARAMS)``.
        """
        return (_fill(track, self.track_names, S.TRACK_SPECS, S.neutral_track_values(self.sample_rate),
                      self.sample_rate),
                _fill(master, self.master_names, S.MASTER_SPECS, S.neutral_master_values(self.sample_rate),
                      self.sample_rate))


def _names(names, table: tuple[str, ...], where: str) -> tuple[str, ...]:
    if names is None:
        return table
    names = tuple(names)
    unknown = [n for n in names if n not in table]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"{where} parameters {unknown or names} are not (distinct) names of the table")
    return names


def _fill(out: torch.Tensor, names: tuple[str, ...], specs, defaults: dict[str, float],
          sample_rate: float) -> torch.Tensor:
    """``out`` ``(..., len(names))`` -> ``(..., len(specs))`` with the other columns at their defaults."""
    table = tuple(s.name for s in specs)
    if names == table:
        return out
    u = S.normalize(np.array([defaults[n] for n in table]), specs, sample_rate)
    full = torch.as_tensor(u, dtype=out.dtype, device=out.device).expand(*out.shape[:-1], len(table)).clone()
    full[..., [table.index(n) for n in names]] = out
    return full

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


def head_outputs(model: MixModel) -> dict[str, str]:
    """The output layers of ``model``'s heads, found by structure: every ``Linear`` followed by the
    ``Sigmoid`` that ends a :func:`head`, among the model's own modules, whose size is that of the
    model's track or master table -> ``{state prefix: "track_names" | "master_names"}`` (e.g.
    ``{"track_head.4": "track_names", ...}``), whatever the heads are called."""
    out: dict[str, str] = {}
    sizes = {len(model.track_names): "track_names", len(model.master_names): "master_names"}
    for path, module in model.named_modules():
        if path.count(".") or not isinstance(module, nn.Sequential) or len(module) < 2:
            continue  # heads are the model's own children (a wrapped model's heads are its own)
        last, out_layer = module[-1], module[-2]
        if isinstance(last, nn.Sigmoid) and isinstance(out_layer, nn.Linear) and out_layer.out_features in sizes:
            out[f"{path}.{len(module) - 2}"] = sizes[out_layer.out_features]
    return out


def transfer_head_rows(state: dict[str, torch.Tensor], names: tuple[tuple[str, ...], tuple[str, ...]],
                       model: MixModel) -> dict[str, torch.Tensor]:
    """A checkpoint's ``state`` with its heads' output layers re-indexed to ``model``'s parameters.

    ``names``: the ``(track_names, master_names)`` the checkpoint's heads predict. Rows of
    parameters both predict are copied; the model's other rows keep their fresh initialisation
    (e.g. fine-tuning a checkpoint trained before the reverb into a model with the whole table:
    everything it learnt is kept, the reverb's outputs start fresh). Shapes: ``weight`` ``(P, H)``,
    ``bias`` ``(P,)``.
    """
    own = model.state_dict()
    out = dict(state)
    for prefix, attr in head_outputs(model).items():
        old, new = names[0 if attr == "track_names" else 1], getattr(model, attr)
        if tuple(old) == tuple(new):
            continue
        for key in (f"{prefix}.weight", f"{prefix}.bias"):
            if key in state and key in own and state[key].shape[0] == len(old) and own[key].shape[0] == len(new):
                rows = own[key].clone()
                for i, n in enumerate(new):
                    if n in old:
                        rows[i] = state[key][old.index(n)]
                out[key] = rows
    return out
