"""Predict console settings for a session: several analysis windows through the model, aggregated.

Library use::

    from mixdown.inference.predict import load_default_model, predict_params
    track_values, master_values = predict_params(load_default_model(), session)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from mixdown.inference.contract import InputContract, analysis_batch, analysis_windows, contract_of, own_frames
from mixdown.measure.levels import active_rms, weighted_median
from mixdown.params import spec as S
from mixdown.session import Session, segment

log = logging.getLogger(__name__)
_IN_GAIN = S.index(S.TRACK_SPECS, "input_gain_db")
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "weights" / "default.pt"


def predict_params(model, session: Session, contract: InputContract | None = None,
                   reference: np.ndarray | None = None, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Predict over several windows and aggregate (median in normalised units, which respects
    log scales) after undoing each window's input normalisation; each track's median is weighted
    by how many frames it plays in each window (:mod:`mixdown.measure.levels`).

    ``contract``: how windows are cut and normalised (default: the model's, :func:`contract_of`).
    Returns physical ``(track_values (N, N_TRACK_PARAMS), master_values (N_MASTER_PARAMS,))``.
    """
    import torch

    from mixdown.models.batch import ModelBatch, inputs_of, step

    contract = contract or contract_of(model)
    sr = session.sample_rate
    starts, span = analysis_windows(session, contract)
    x, mask, gains = analysis_batch(session, starts, span, contract)
    active = _activity(x.numpy(), gains, own_frames(session, starts, span))
    ref = None
    if reference is not None and "reference" in inputs_of(model):
        ref = torch.from_numpy(np.stack([segment(reference, s, x.shape[-1]) for s in starts]))
    model_sr = int(contract.sample_rate or sr)
    if model_sr != sr:  # the model hears its own rate; the mix stays at the session's
        log.info("analysis windows resampled %d Hz -> %d Hz for the model", sr, model_sr)
        x = _resample(x, sr, model_sr)
        ref = None if ref is None else _resample(ref, sr, model_sr)
    # what the model hears of the session: the windows, and what it makes of the track names
    batch = ModelBatch.for_session(model, session.names, x, mask, ref)
    outs = []
    with torch.no_grad():  # two windows at a time: memory stays bounded for long, wide sessions
        for k in range(0, len(starts), 2):
            outs.append(step(model, batch.windows(slice(k, k + 2)).to(device)))
    tp = torch.cat([o[0] for o in outs])
    mp = torch.cat([o[1] for o in outs])
    tv = S.denormalize(tp.cpu().double().numpy(), S.TRACK_SPECS, sr)
    tv[..., _IN_GAIN] += gains  # the model saw inputs raised by `gains`
    tv = S.TRACK.clip(tv, sr)
    # each track's settings from the windows where it plays, weighted by how much it plays there
    # (a track silent in most windows is not judged by what the model makes of its silence)
    u_t = weighted_median(S.normalize(tv, S.TRACK_SPECS, sr), active[..., None], axis=0)
    u_m = np.median(mp.cpu().double().numpy(), axis=0)
    # in the table's ranges at this rate (up to 8889 Hz, where the spec has no reverb: sends off)
    return (S.TRACK.clip(S.denormalize(np.clip(u_t, 0, 1), S.TRACK_SPECS, sr), sr),
            S.MASTER.clip(S.denormalize(np.clip(u_m, 0, 1), S.MASTER_SPECS, sr), sr))


def _activity(x: np.ndarray, gains_db: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``(W, N)`` active frames of each (normalised) window, measured on the unscaled audio."""
    scale = 10 ** (gains_db / 20)  # one window at a time: no float64 copy of the whole batch
    return np.array([[active_rms(x[w, i] / scale[w, i], own[w, i])[1] for i in range(x.shape[1])]
                     for w in range(x.shape[0])])


def _resample(x, src_rate: int, dst_rate: int):
    """Polyphase resampling of a tensor along its last axis."""
    import torch
    from scipy.signal import resample_poly

    from mixdown.session import resample_ratio

    r = resample_ratio(src_rate, dst_rate)
    return torch.from_numpy(resample_poly(x.numpy(), r.numerator, r.denominator, axis=-1).astype(np.float32))


def load_default_model(checkpoint: str | os.PathLike | None = None, device: str = "cpu"):
    """The model of ``checkpoint``, else the shipped default, else the heuristic (with a warning).
    A ``checkpoint`` that is no file but the name of a shipped model (``engineer-v1``, ``human-v2``:
    ``weights/<name>.pt``) loads that model."""
    from mixdown.inference.checkpoint import load_model

    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    shipped = DEFAULT_CHECKPOINT.parent / f"{checkpoint}.pt"
    if checkpoint and not path.exists() and Path(str(checkpoint)).name == str(checkpoint) and shipped.is_file():
        path = shipped
    if checkpoint is None and not path.exists():
        from mixdown.models import Heuristic

        log.warning("no shipped checkpoint at %s; using the heuristic model", path)
        return Heuristic().to(device)
    return load_model(path, device)
