"""The model's input contract: what the network hears, in training and at prediction.

One :class:`InputContract` says at which sample rate, in windows (training segments) of which
length, and normalised how the network receives its tracks, and how many windows of a song
prediction aggregates. The dataset (:class:`mixdown.data.dataset.MixDataset`) and prediction
(:func:`mixdown.inference.predict.predict_params`) both use it; every checkpoint stores it and
:func:`mixdown.inference.checkpoint.load_model` reads it back (checkpoints written before it existed
get the one their training config describes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from mixdown.session import MIN_WINDOW, Session, raw_windows


@dataclass(frozen=True)
class InputContract:
    """What the network hears.

    Args:
        sample_rate: the rate the network hears (sessions at other rates are resampled for it);
            None: any (the session's own rate, e.g. the heuristic model).
        window_s: length of a training segment and of a prediction window, in seconds.
        n_windows: windows spread over a song whose predictions are aggregated (median).
        target_rms_db: every input track window is scaled to this RMS level (dBFS); silent ones
            (RMS <= 1e-5) are left as they are.
        min_window: frames a prediction window has at least (zero-padded), enough for the models' STFTs.
        normalize: ``"track"``: each track window on its own to :attr:`target_rms_db` (the
            network hears no relative levels); ``"song"``: one gain for all tracks of a window,
            bringing their mean power (over non-silent tracks) there, so the tracks' relative levels
            as recorded are kept (a human mix starts from them).
    """

    sample_rate: int | None = None
    window_s: float = 6.0
    n_windows: int = 4
    target_rms_db: float = -20.0
    min_window: int = MIN_WINDOW
    normalize: str = "track"

    def __post_init__(self):
        if self.normalize not in ("track", "song"):
            raise ValueError(f"normalize must be 'track' or 'song', got {self.normalize!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InputContract":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_checkpoint(cls, state: dict[str, Any]) -> "InputContract":
        """The contract a checkpoint stores, else the one its training config describes
        (``data.train.segment_s`` and ``target_rms_db``, at the checkpoint's ``sample_rate``)."""
        if isinstance(state.get("input_contract"), dict):
            return cls.from_dict(state["input_contract"])
        train = ((state.get("config") or {}).get("data") or {}).get("train") or {}
        default = cls()
        return cls(sample_rate=int(state["sample_rate"]), window_s=float(train.get("segment_s", default.window_s)),
                   target_rms_db=float(train.get("target_rms_db", default.target_rms_db)),
                   normalize=str(train.get("normalize", default.normalize)))

    def describe(self) -> str:
        """``"median of up to 4 windows of 6 s"`` (the note a parameter file records)."""
        return f"median of up to {self.n_windows} windows of {self.window_s:g} s"

    def input_gains_db(self, x: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """Gains (dB) for the track windows of ``x`` ``(..., tracks, channels, frames)``: each to
        :attr:`target_rms_db` (0 for silent ones), or with ``normalize="song"`` one gain per
        window of tracks (their mean power over non-silent tracks to the target).
        Shape: ``x.shape[:-2]``.

        ``frames`` (shape ``x.shape[:-2]``): how many leading frames of each window are the track's
        own audio; the zero padding past a track's end is not part of its level (a 1-sample file
        measured over a whole window would read 39 dB too quiet). Default: every frame."""
        if frames is None:
            x = np.asarray(x, dtype=np.float64)
            power = np.mean(x ** 2, axis=(-1, -2))
        else:
            power = _own_power(np.asarray(x), np.asarray(frames))
        if self.normalize == "song":
            live = power > 1e-10
            mean = np.sum(power * live, axis=-1, keepdims=True) / np.maximum(np.sum(live, -1, keepdims=True), 1)
            gain = np.where(mean > 1e-10, self.target_rms_db - 10 * np.log10(np.maximum(mean, 1e-24)), 0.0)
            return np.broadcast_to(gain, power.shape).copy()
        return np.where(power > 1e-10, self.target_rms_db - 10 * np.log10(np.maximum(power, 1e-24)), 0.0)


def _own_power(x: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Mean power over channels and the first ``frames`` frames of each window of ``x``
    ``(..., channels, T)``; shape ``x.shape[:-2]``. Summed in float64 window by window, in the
    order ``np.sum`` of the whole ``(..., T)`` array sums (pairwise over T, zeros past the end):
    the same bits, without whole-batch float64 temporaries (a quarter of a second per song)."""
    n = np.clip(frames, 0, x.shape[-1])
    power = np.empty(x.shape[:-2])
    rows = x.reshape(-1, *x.shape[-2:])
    for k, (row, m) in enumerate(zip(rows, n.reshape(-1))):
        sq = np.square(row, dtype=np.float64)
        per_frame = np.add.reduce(sq, axis=0) / sq.shape[0]  # np.mean over channels
        per_frame[m:] = 0.0
        power.flat[k] = np.sum(per_frame) / max(m, 1)
    return power


def contract_of(model) -> InputContract:
    """The contract a model was trained with (set at load), else the default at the model's rate."""
    contract = getattr(model, "input_contract", None)
    if isinstance(contract, InputContract):
        return contract
    sr = getattr(model, "sample_rate", None)
    return InputContract(sample_rate=int(sr) if sr is not None else None)


def own_frames(session: Session, starts: list[int], window: int) -> np.ndarray:
    """``(W, N)``: how many frames of each window are each track's own audio (before its end)."""
    lengths = np.asarray(session.track_frames())
    return np.clip(lengths[None, :] - np.asarray(starts)[:, None], 0, window)


def analysis_windows(session: Session, contract: InputContract) -> tuple[list[int], int]:
    """Where a model's analysis windows start in ``session`` and how many frames each spans (the
    contract's window, shorter for a shorter session, at least ``min_window``)."""
    from mixdown.session import windows

    window = int(contract.window_s * session.sample_rate)
    starts = windows(session.frames, window, contract.n_windows)
    return starts, max(min(window, session.frames), contract.min_window)


def analysis_batch(session: Session, starts: list[int], window: int, contract: InputContract):
    """Windows as a model batch, each track scaled by :meth:`InputContract.input_gains_db` (its
    level measured over its own frames: the padding past its end does not count).

    Returns ``(tracks (W, N, 2, window), mask (W, N), gains_db (W, N))``.
    """
    import torch

    x = raw_windows(session, starts, window)
    gains = contract.input_gains_db(x, own_frames(session, starts, window))
    x *= (10 ** (gains / 20)).astype(np.float32)[..., None, None]
    return torch.from_numpy(x), torch.ones(x.shape[:2], dtype=torch.bool), gains
