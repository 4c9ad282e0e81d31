"""The one place the studio touches the rest of mixdown.

Every library call the server, the state and the render engine make goes through a function here,
so that a change of the library's layout means a change of this module only. Nothing here knows
about HTTP.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from mixdown import api
from mixdown.errors import UsageError
from mixdown.inference.checkpoint import CheckpointError
from mixdown.params import spec as S
from mixdown.params.io import MasterParams, MixParams, ParamsError, TrackParams, read_params, write_params
from mixdown.session import SessionError

log = logging.getLogger(__name__)

__all__ = ["CheckpointError", "MasterParams", "MixParams", "ParamsError", "SessionError", "TrackParams", "UsageError",
           "check_value", "comp_curve", "compressor_gain_db", "eq_curve", "export_project", "find_reference",
           "keep_true_peak", "limits", "load_model", "load_reference", "loudness", "master_strip", "master_specs",
           "momentary", "neutral_params", "open_session", "predict", "read_params", "render_full_steps",
           "reverb_return", "send_gains", "track_specs", "track_strips", "write_params", "write_report"]

# ----------------------------------------------------------------------------- the spec table
def track_specs() -> tuple[S.ParamSpec, ...]:
    return S.TRACK_SPECS


def master_specs() -> tuple[S.ParamSpec, ...]:
    return S.MASTER_SPECS


def limits(spec: S.ParamSpec, sample_rate: int) -> tuple[float, float]:
    return spec.limits(sample_rate)


def neutral_params(sample_rate: int, names: list[str], files: list[str]) -> MixParams:
    """Settings that leave every track and the bus unchanged (unity gain, centre, flat, no compression)."""
    tv = S.neutral_track_values(sample_rate)
    mv = S.neutral_master_values(sample_rate)
    return MixParams(sample_rate, [TrackParams(n, f, dict(tv)) for n, f in zip(names, files)], MasterParams(dict(mv)))


def check_value(spec: S.ParamSpec, value: Any, sample_rate: int) -> str | None:
    """A message when ``value`` is not allowed for ``spec`` (not a number, not finite, out of range)."""
    return S.check_value(spec, value, sample_rate)


# ----------------------------------------------------------------------------- session, model, prediction
def open_session(folder: str | os.PathLike):
    """The session's tracks, read lazily (``names``, ``files``, ``infos``, ``sample_rate``, ``frames``,
    ``window(i, start, n)``); raises :class:`SessionError` naming the file and the fix (also for a
    sample rate the console cannot run at, as ``mixdown mix`` does)."""
    from mixdown.inference.pipeline import require_console_rate

    session = api.read_session(folder)
    require_console_rate(session, folder)
    return session


def read_all(session, block_s: float = 30.0) -> None:
    """Decode every track of ``session`` once, in blocks (what the full-song render will read);
    a file that does not decode or holds NaN raises :class:`SessionError` naming it."""
    n = max(1, int(block_s * session.sample_rate))
    for i in range(len(session.names)):
        for start in range(0, session.frames, n):
            session.window(i, start, min(n, session.frames - start))


def load_model(checkpoint: str | os.PathLike | None):
    """The model of ``checkpoint``, else the shipped one."""
    return api.load_model(checkpoint)


def load_reference(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """The reference mix as ``(frames, 2)`` float32 at ``sample_rate``."""
    from mixdown.session import load_reference as _load

    return _load(path, sample_rate)[0]


def predict(model, session, locks: dict[tuple[str, str], float], reference: np.ndarray | None,
            refine_steps: int = 40, take: int | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The model's settings (refined towards ``reference`` when given) with ``locks`` held; ``take``:
    another engineer's way of mixing, for a model that draws one (:func:`mixdown.api.predict`).

    ``locks``: ``{(track name or "master", key): value}``. Returns physical
    ``(track_values (N, n_track_params), master_values (n_master_params,), notes)``.
    """
    lock_items = {f"{t}.{k}": v for (t, k), v in locks.items()}
    params = api.predict(session, model=model, locks=lock_items, take=take)
    if reference is not None:
        params = api.refine(session, params, np.ascontiguousarray(reference.T), locks=lock_items, steps=refine_steps)
    # as `mixdown mix`: the output gain keeps the mix at or below -1 dBTP unless it is locked
    keep_true_peak(params, api.render(session, params), locks)
    notes = dict(params.extra.get("notes", {}))
    notes.setdefault("model", type(model).__name__)
    return params.track_matrix(), params.master_vector(), notes


def keep_true_peak(params: MixParams, audio: np.ndarray, locks: dict[tuple[str, str], float]) -> float:
    """Lower ``params``' output gain so ``audio`` (its full-length render) peaks at or below -1 dBTP,
    unless the output gain is locked (:func:`mixdown.inference.pipeline.keep_true_peak`)."""
    from mixdown.inference.pipeline import keep_true_peak as _keep

    return _keep(params, audio, locks)


def find_reference(session_dir: str | os.PathLike) -> Path | None:
    """A reference mix kept in the session folder (``reference_mix.*``, an audio file; the tracks
    never include it), or None."""
    from mixdown.session import is_audio

    found = sorted(p for p in Path(session_dir).glob("reference_mix.*") if is_audio(p) and p.is_file())
    return found[0] if found else None


# ----------------------------------------------------------------------------- rendering
def track_strips(params: MixParams, channels: list[int]):
    """Compiled channel strips of every track of ``params``: ``.process(x, out)`` on
    ``(S, n, 2)`` float32 blocks, state carried from call to call."""
    from mixdown.dsp.render import track_bank

    return track_bank(params, channels)


def master_strip(params: MixParams):
    """The compiled master strip of ``params`` (same interface as :func:`track_strips`)."""
    from mixdown.dsp.render import master_bank

    return master_bank(params)


def buses(params: MixParams, sounding: list[bool]):
    """Bus, reverb (sends of sounding tracks) and master after the strips:
    ``.process(strips (S, n, 2), bus scratch, out (1, n, 2))`` (:class:`mixdown.dsp.render.Buses`)."""
    from mixdown.dsp.render import Buses

    return Buses(params, sounding)


def send_gains(params: MixParams) -> np.ndarray:
    """Every track's linear reverb send gain ``(n_tracks,)`` (0: no send)."""
    from mixdown.dsp.reverb_ir import reverb_send_gain

    return reverb_send_gain(np.array([t.values["reverb_send_db"] for t in params.tracks], dtype=np.float64))


def reverb_return(params: MixParams):
    """A fresh streaming reverb return of ``params``' reverb settings (convolution, return high-pass,
    return gain; linear per side, from silence): ``.process(bus (frames, 2)) -> (frames, 2)`` float64."""
    from mixdown.dsp.reverb_stream import ReverbReturn

    settings = {k[len("reverb."):]: params.master.values[k] for k in S.REVERB_MASTER_NAMES}
    return ReverbReturn.from_settings(params.sample_rate, settings)


def render_full_steps(session_dir: str | os.PathLike, params: MixParams, on_strips=None):
    """The full-length render of ``mixdown render``, one block per step: its own generator,
    :func:`mixdown.dsp.render.render_steps` (tracks at another rate resampled; the session's folder
    was checked when it was opened), which yields the fraction done after each block and returns the
    :class:`~mixdown.dsp.render.RenderResult` (the mix and the tracks' warnings, also logged).
    ``on_strips``: called with every block's strip outputs and the master strip's input (the meters)."""
    from mixdown.dsp.render import render_steps

    return render_steps(session_dir, params, resample=True, allow_outside_session=True, on_block=on_strips)


def compressor_gain_db(x: np.ndarray, params: MixParams, track: int | None) -> np.ndarray | None:
    """The smoothed gain (dB, <= 0, makeup excluded) of track ``track``'s compressor (None: the
    master's, ``x`` its input bus) over ``x`` ``(frames, channels)``, as the renderer computes it
    from the strip's start; None when its ratio is 1 (it does nothing)."""
    from mixdown.dsp.render import strip_signals

    values = params.master.values if track is None else params.tracks[track].values
    if values["compressor.ratio"] == 1.0:
        return None
    return strip_signals(np.ascontiguousarray(x), params, track)[1]


# ----------------------------------------------------------------------------- measurement and figures
def loudness(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Integrated loudness (LUFS), true peak (dBTP) and sample peak (dBFS) of ``(frames, 2)``
    audio; ``None`` for a loudness that is not finite (silence, under 0.4 s)."""
    from mixdown.measure import loudness as L

    x = np.ascontiguousarray(audio.T)
    lufs = float(L.integrated_loudness(x, sample_rate)) if audio.shape[0] >= 0.4 * sample_rate else float("-inf")
    peak = float(L.sample_peak_dbfs(x))
    tp = float(L.true_peak_dbtp(x, sample_rate)) if np.isfinite(peak) else float("-inf")
    return {k: (v if np.isfinite(v) else None)
            for k, v in (("integrated_lufs", lufs), ("true_peak_dbtp", tp), ("sample_peak_dbfs", peak))}


def momentary(audio: np.ndarray, sample_rate: int, hop_s: float) -> list[float | None]:
    """BS.1770 momentary loudness (400 ms windows) every ``hop_s`` seconds, LUFS (None: silence)."""
    from mixdown.measure import loudness as L

    if audio.shape[0] < 0.4 * sample_rate:
        return []
    m = L.momentary_loudness(np.ascontiguousarray(audio.T), sample_rate, hop_s)
    return [round(float(v), 2) if np.isfinite(v) else None for v in m]


def eq_curve(values: dict[str, float], sample_rate: int, strip: bool) -> dict[str, list[float]]:
    """Magnitude response of [high-pass +] the EQ bands, in dB, on a log frequency grid."""
    from mixdown.report import eq_response_db

    f, total, bands = eq_response_db(values, sample_rate, strip)
    return {"freqs_hz": _r(f), "total_db": _r(total), "bands_db": [_r(b) for b in bands]}


def comp_curve(values: dict[str, float]) -> dict[str, list[float]]:
    """The compressor's static curve (makeup included) from -72 to 0 dB input."""
    from mixdown.report import static_curve

    levels = np.linspace(-72.0, 0.0, 145)
    return {"in_db": _r(levels), "out_db": _r(static_curve(values, levels))}


def _r(x) -> list[float]:
    return [round(float(v), 3) for v in np.asarray(x)]


# ----------------------------------------------------------------------------- writing
def export_project(params: MixParams, session_dir: Path, out: Path, fmt: str) -> Path:
    """Write a DAWproject (``fmt="dawproject"``) or REAPER (``"reaper"``) project, atomically."""
    from mixdown.export import export_dawproject, export_reaper

    if fmt == "dawproject":
        return export_dawproject(params, session_dir, out)
    return export_reaper(params, session_dir, out)


def write_report(out_html: Path, session_dir: Path, params: MixParams, reference: Path | None) -> Path:
    """The HTML report of ``params`` on the session (figures beside it)."""
    from mixdown.report import write_report as _write

    return _write(out_html, session_dir, params, reference=reference)
