"""One model batch and one step, shared by training, validation and prediction.

A model declares what it hears (:func:`inputs_of`): ``tracks`` and ``mask`` always, ``reference``
and ``roles`` when it says so (``uses_reference``, ``uses_roles``), or any list of its own in an
``inputs`` attribute. :class:`ModelBatch` carries every input there is; :func:`step` passes a
model exactly the ones it declares, as ``forward(tracks, mask, reference, **others)``. So a model
with a new input needs no change to the trainer or the predictor: training takes the input from
the data set's batch (a key of that name), prediction from the model's
``encode_<input>(names)`` (the track names of the session; ``roles`` falls back to
``encode_names``, then :func:`mixdown.data.roles.role_indices`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

#: the inputs every model hears, and the one it may take as a positional argument
BASE_INPUTS = ("tracks", "mask")
#: data set keys that are targets or bookkeeping, never a model's input
_NOT_INPUTS = frozenset({"mix", "track_params", "master_params", "song", "params_known"})


def inputs_of(model) -> tuple[str, ...]:
    """What ``model`` hears (under ``DistributedDataParallel``: the model it wraps)."""
    inner = getattr(model, "module", model)
    declared = getattr(inner, "inputs", None)
    if declared is not None:
        return tuple(declared)
    return BASE_INPUTS + (("reference",) if getattr(inner, "uses_reference", False) else ()) + \
        (("roles",) if getattr(inner, "uses_roles", False) else ())


@dataclass
class ModelBatch:
    """Shapes: ``tracks`` ``(B, N, 2, T)``, ``mask`` ``(B, N)`` bool, ``reference`` ``(B, 2, T)`` or
    None, ``roles`` ``(B, N)`` or None; ``extra``: any other input by name (per track: ``(B, N, ...)``)."""

    tracks: torch.Tensor
    mask: torch.Tensor
    reference: torch.Tensor | None = None
    roles: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def get(self, name: str):
        if name in ("tracks", "mask", "reference", "roles"):
            return getattr(self, name)
        return self.extra.get(name)

    def to(self, device) -> "ModelBatch":
        move = (lambda t: None if t is None else t.to(device, non_blocking=True))  # noqa: E731
        return replace(self, tracks=move(self.tracks).float(), mask=move(self.mask),
                       reference=None if self.reference is None else move(self.reference).float(),
                       roles=move(self.roles), extra={k: move(v) for k, v in self.extra.items()})

    @classmethod
    def from_loader(cls, batch: dict, device) -> "ModelBatch":
        """A data loader's batch (:class:`mixdown.data.dataset.MixDataset` keys; the mix is the
        reference), its all-padding track columns dropped (tracks are packed first)."""
        mask = batch["mask"]
        n = max(int(mask.sum(1).max()), 1)

        def tracks_first(v):  # per-track tensors lose the padding columns
            return v[:, :n] if torch.is_tensor(v) and v.dim() >= 2 and v.shape[:2] == mask.shape else v

        extra = {k: tracks_first(v) for k, v in batch.items()
                 if k not in _NOT_INPUTS and k not in ("tracks", "mask", "roles") and torch.is_tensor(v)}
        return cls(batch["tracks"][:, :n], mask[:, :n], batch.get("mix"),
                   tracks_first(batch["roles"]) if "roles" in batch else None, extra).to(device)

    @classmethod
    def for_session(cls, model, names: list[str], tracks: torch.Tensor, mask: torch.Tensor,
                    reference: torch.Tensor | None = None) -> "ModelBatch":
        """Prediction: windows of one session (``tracks`` ``(W, N, 2, T)``) and what the model makes of
        its track ``names`` for each input it declares beyond tracks, mask and reference."""
        encoded = {}
        for k in inputs_of(model):
            if k not in (*BASE_INPUTS, "reference"):
                value = torch.as_tensor(encoder_of(model, k)(names), device=tracks.device)
                encoded[k] = value[None].expand(len(tracks), *value.shape)
        return cls(tracks, mask, reference, encoded.pop("roles", None), encoded)

    def windows(self, k: slice) -> "ModelBatch":
        """The windows ``k`` of a session's batch (the predictor runs a few at a time)."""
        cut = (lambda t: None if t is None else t[k])  # noqa: E731
        return replace(self, tracks=self.tracks[k], mask=self.mask[k], reference=cut(self.reference),
                       roles=cut(self.roles), extra={n: v[k] for n, v in self.extra.items()})


def encoder_of(model, name: str):
    """How ``model`` makes input ``name`` from a session's track names (``roles``: its
    ``encode_roles``, else ``encode_names``, else :func:`mixdown.data.roles.role_indices`): the
    one choice for mixing and training."""
    inner = getattr(model, "module", model)
    if name == "roles":
        from mixdown.data.roles import role_indices

        return getattr(inner, "encode_roles", getattr(inner, "encode_names", role_indices))
    encode = getattr(inner, f"encode_{name}", None)
    if encode is None:
        raise TypeError(f"{type(inner).__name__} hears {name!r} but has no encode_{name}(names) to make it "
                        "from a session's track names")
    return encode


def step(model, batch: ModelBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """The one forward step of every model: ``(track_params, master_params)`` in [0, 1] from exactly
    the inputs the model declares (:func:`inputs_of`)."""
    wanted = inputs_of(model)
    others = {k: batch.get(k) for k in wanted if k not in (*BASE_INPUTS, "reference")}
    return model(batch.tracks, batch.mask, batch.reference if "reference" in wanted else None, **others)
