"""The library API: typed functions over folders or arrays (the ``mixdown`` command is a thin layer on them).

``tracks`` is a session folder (``folder/tracks/*`` or ``folder/*``), a
:class:`~mixdown.session.Session`, or audio arrays: ``(N, channels, frames)`` or a list of
``(channels, frames)`` / ``(frames,)`` arrays with their ``sample_rate``. Arrays are ``float32``
samples in ``[-1, 1]``; a rendered mix is ``(frames, 2)``.

Example::

    import mixdown
    params, audio = mixdown.mix("session/")               # settings + full-length mix
    params = mixdown.predict(tracks, 44100)                 # settings only, from arrays
    audio = mixdown.render(tracks, params)                  # any settings, rendered exactly
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from mixdown.params.io import MixParams
from mixdown.session import Session

if TYPE_CHECKING:
    import torch

#: what the functions accept as tracks
Tracks = Union[str, os.PathLike, Session, np.ndarray, Sequence[np.ndarray]]
#: locks: ``["vocals.fader_db=-2"]`` or ``{"vocals.fader_db": -2.0, "master.output_gain_db": -1.0}``
Locks = Union[Sequence[str], dict[str, float], None]


def load_model(checkpoint: str | os.PathLike | None = None, device: str = "cpu") -> "torch.nn.Module":
    """The model of ``checkpoint`` (a ``mixdown.checkpoint/1`` file), by default the shipped one."""
    from mixdown.inference.predict import load_default_model

    return load_default_model(checkpoint, device)


def read_session(folder: str | os.PathLike, sample_rate: int | None = None) -> Session:
    """The tracks of a session folder (read lazily; other rates resampled to ``sample_rate`` or the
    most common one, with a warning)."""
    from mixdown.session import read_session as _read

    return _read(folder, sample_rate)


def predict(tracks: Tracks, sample_rate: int | None = None, *, model: "torch.nn.Module | None" = None,
            names: Sequence[str] | None = None, locks: Locks = None, device: str = "cpu",
            take: int | None = None) -> MixParams:
    """Console settings the model predicts for ``tracks`` (locked values kept as given).

    Args:
        tracks: a folder, a :class:`Session` or arrays (see the module's docstring).
        sample_rate: the arrays' rate (required with arrays; for a folder, the rate to read at).
        model: a loaded model (default: :func:`load_model`).
        names: track names for arrays (default ``track1``, ``track2``, ...).
        locks: fixed parameters, e.g. ``{"track1.fader_db": -2.0}``.
        take: another engineer's way of mixing, for a model that draws one (the shipped default):
            the take's number (0, the default, is the first; the same take, the same settings).
    """
    from mixdown.inference.pipeline import settings
    from mixdown.params.locks import parse_locks

    session = _session(tracks, sample_rate, names)
    model = model if model is not None else load_model(device=device)
    lock_map = parse_locks(_lock_items(locks), session.names, session.sample_rate)
    return settings(session, model, locks=lock_map, device=device, progress=False, take=take)


def refine(tracks: Tracks, params: MixParams, reference: str | os.PathLike | np.ndarray, *,
           sample_rate: int | None = None, locks: Locks = None, steps: int = 40) -> MixParams:
    """``params`` refined so the mix approaches ``reference`` (a file, or ``(channels, frames)`` at the
    tracks' rate) in balance, tone and dynamics (reference mode, :mod:`mixdown.inference.refine`)."""
    from mixdown.inference import pipeline
    from mixdown.params.locks import parse_locks

    session = _session(tracks, sample_rate or params.sample_rate, [t.name for t in params.tracks])
    ref = _reference(reference, session.sample_rate)
    lock_map = parse_locks(_lock_items(locks), session.names, session.sample_rate)
    tv, mv, report = pipeline.refine(session, params.track_matrix(), params.master_vector(), ref, lock_map,
                                     steps=steps, progress=False)
    notes = {**params.extra.get("notes", {}), "reference": {"file": str(reference) if not isinstance(
        reference, np.ndarray) else "<array>", **report}}
    return MixParams.from_arrays(params.sample_rate, [t.name for t in params.tracks], [t.file for t in params.tracks],
                                 tv, mv, **{**params.extra, "notes": notes})


def render(tracks: Tracks, params: MixParams, *, resample: bool = False) -> np.ndarray:
    """The mix of ``tracks`` with ``params``, ``(frames, 2)`` float32, through the exact full-length
    renderer (:mod:`mixdown.dsp.render`). A folder is read by the ``file`` entries of ``params``."""
    from mixdown.dsp import render as R

    if isinstance(tracks, (str, os.PathLike)):
        return R.render(Path(tracks), params, resample=resample).audio
    if isinstance(tracks, Session):
        return R.render(tracks.folder, params, resample=resample or tracks.resampled).audio
    return R.render_arrays(list(tracks), params).audio


def mix(folder: str | os.PathLike, *, model: "torch.nn.Module | None" = None,
        checkpoint: str | os.PathLike | None = None, reference: str | os.PathLike | None = None,
        locks: Locks = None, target_lufs: float | None = None, refine_steps: int = 40, device: str = "cpu",
        progress: bool = False, take: int | None = None) -> tuple[MixParams, np.ndarray]:
    """What ``mixdown mix`` does: predicted settings and the full-length mix ``(frames, 2)`` of a folder
    (refined towards ``reference`` when given; normalised to ``target_lufs`` when given; ``take``: as
    :func:`predict`)."""
    from mixdown.inference.pipeline import mix_session

    return mix_session(folder, model, checkpoint=checkpoint, reference=reference, locks=_lock_items(locks),
                       target_lufs=target_lufs, refine_steps=refine_steps, device=device, progress=progress,
                       take=take)


def _session(tracks: Tracks, sample_rate: int | None, names: Sequence[str] | None) -> Session:
    from mixdown.errors import UsageError
    from mixdown.session import read_session as _read

    if isinstance(tracks, Session):
        return tracks
    if isinstance(tracks, (str, os.PathLike)):
        return _read(tracks, sample_rate)
    if sample_rate is None:
        raise UsageError("sample_rate is required when tracks are arrays")
    return Session.from_arrays(tracks, sample_rate, list(names) if names is not None else None)


def _lock_items(locks: Locks) -> list[str] | dict[str, float]:
    if locks is None:
        return []
    return dict(locks) if isinstance(locks, dict) else list(locks)


def _reference(reference: str | os.PathLike | np.ndarray, sample_rate: int) -> np.ndarray:
    """The reference as ``(2, frames)`` float32 at ``sample_rate``."""
    from mixdown.session import as_track, load_reference

    if isinstance(reference, np.ndarray):
        x = as_track(reference)
        return np.ascontiguousarray(np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x)
    return np.ascontiguousarray(load_reference(reference, sample_rate)[0].T)
