"""Mix a session: read stems, predict console settings over the whole song, render at full length.

Library API under ``mixdown mix`` (also :func:`mixdown.mix`)::

    from mixdown.inference.pipeline import mix_session
    params, audio = mix_session("session/", locks={"vocals.fader_db": -2.0})
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

from mixdown.errors import UsageError
from mixdown.inference.contract import contract_of
from mixdown.inference.predict import load_default_model, predict_params
from mixdown.inference.staging import TRUE_PEAK_CEILING_DBTP, stage_gain, true_peak_trim_db
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.params.locks import apply_locks, parse_locks
from mixdown.session import Session, SessionError, load_reference, read_session

log = logging.getLogger(__name__)


def normalize_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float,
                       ceiling_dbtp: float = -1.0, limit: bool = False) -> dict[str, float]:
    """The static gain that brings ``(frames, 2)`` audio to ``target_lufs`` (``master.normalize`` of
    the spec); without ``limit`` lowered so the true peak stays at or below ``ceiling_dbtp`` (with
    it, the master limiter will hold the ceiling: :func:`apply_loudness_target`)."""
    from mixdown.measure import loudness

    lufs = loudness.integrated_loudness(audio.T, sample_rate)
    if not math.isfinite(lufs):
        raise SessionError("the mix is silent or shorter than 0.4 s (one BS.1770 block); a loudness target "
                           "cannot be reached, leave out --target-lufs")
    gain = target_lufs - lufs
    lo, hi = S.NORMALIZE_RANGES["gain_db"]
    if not lo <= gain <= hi:
        raise SessionError(f"the mix is at {lufs:.1f} LUFS: reaching {target_lufs:g} LUFS needs {gain:+.1f} dB, "
                           f"outside [{lo:g}, {hi:g}] dB; check the tracks' levels or leave out --target-lufs")
    tp = loudness.true_peak_dbtp(audio.T, sample_rate)
    if tp + gain > ceiling_dbtp and not limit:
        gain = ceiling_dbtp - tp
        log.warning("loudness target %.1f LUFS would push the true peak above %.1f dBTP; the mix ends at "
                    "%.1f LUFS", target_lufs, ceiling_dbtp, lufs + gain)
    return {"target_lufs": float(target_lufs), "ceiling_dbtp": float(ceiling_dbtp), "gain_db": float(gain)}


def check_take(model, take: int | None) -> None:
    """Refuse (:class:`UsageError`) a take ``model`` cannot give: below 0, or other than the first
    from a model that mixes a session one way only (one that draws an engineer's way of mixing,
    :class:`mixdown.models.engineer.Engineer`, has a ``draw``)."""
    if take is None:
        return
    if isinstance(take, bool) or not isinstance(take, int) or take < 0:
        raise UsageError(f"--take {take!r}: give a whole number, 0 (the first take) or more")
    if take and not hasattr(model, "draw"):
        raise UsageError(
            f"--take {take}: this model ({type(model).__name__}) mixes a session one way only; takes need a "
            "model that draws an engineer's way of mixing (the shipped default, engineer-v1 to engineer-v5)"
        )


def settings(session: Session, model, *, reference: np.ndarray | None = None,
             reference_name: str | None = None, locks: dict[tuple[str, str], float] | None = None,
             refine_steps: int = 40, device: str = "cpu", progress: bool = True,
             take: int | None = None) -> MixParams:
    """Console settings for a session: prediction, locks, then (with a ``reference`` ``(2, frames)`` at
    the session's rate) refinement towards it; values clipped to the spec's ranges.

    ``take``: of a model that draws an engineer's way of mixing, which draw (0: the first; the same
    session and take give the same settings; None: the model's own ``draw``); recorded in the notes.
    ``params.extra["notes"]`` records what was done.
    """
    check_take(model, take)
    lock_map = locks or {}
    draws = hasattr(model, "draw")
    before = getattr(model, "draw", None)
    try:
        if draws and take is not None:
            model.draw = take
        tv, mv = predict_params(model, session, reference=reference, device=device)
        drawn = getattr(model, "draw", None)
    finally:
        if draws:
            model.draw = before
    notes = {"model": type(model).__name__, "windows": contract_of(model).describe()}
    if draws:
        notes["take"] = int(drawn)
    if getattr(model, "checkpoint_file", None):  # which weights: a shipped model's name, else file and sha256
        notes["checkpoint"] = dict(model.checkpoint_file)
    # the same mix, the loudest fader at 0 dB; staged on the model's own values, then the locked
    # values are written over them, so the rest moves around the locks (staging's module doc)
    shift = stage_gain(tv, mv)
    apply_locks(tv, mv, session.names, lock_map)
    if abs(shift) > 0.05:
        notes["gain_staging_db"] = round(shift, 2)
        log.info("gain staging: faders and the master threshold %+.1f dB, output gain %+.1f dB (same mix)",
                 shift, -shift)
    if reference is not None:
        tv, mv, report = refine(session, tv, mv, reference, lock_map, steps=refine_steps, progress=progress)
        notes["reference"] = {"file": str(reference_name), **report}
    sr = session.sample_rate
    return MixParams.from_arrays(sr, session.names, session.files, S.TRACK.clip(tv, sr), S.MASTER.clip(mv, sr),
                                 model=notes["model"], notes=notes)


def refine(session: Session, tv: np.ndarray, mv: np.ndarray, reference: np.ndarray,
           locks: dict[tuple[str, str], float] | None = None, *, steps: int = 40,
           progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Settings ``tv`` ``(N, N_TRACK_PARAMS)``, ``mv`` refined towards ``reference`` ``(2, frames)`` at
    the session's rate (:func:`mixdown.inference.refine.refine_to_reference`), the locked values
    written before and after, clipped to the table: ``(tv, mv, report)``. The one refine step of
    ``mixdown mix --reference``, :func:`mixdown.api.refine` and the studio."""
    from mixdown.inference.refine import refine_to_reference

    lock_map = locks or {}
    tv, mv = tv.copy(), mv.copy()
    apply_locks(tv, mv, session.names, lock_map)
    tv, mv, report = refine_to_reference(session, tv, mv, reference, lock_map, steps=steps, progress=progress)
    apply_locks(tv, mv, session.names, lock_map)
    log.info("reference: octave-band error %.2f dB -> %.2f dB", report["band_error_db_before"],
             report["band_error_db_after"])
    return S.TRACK.clip(tv, session.sample_rate), S.MASTER.clip(mv, session.sample_rate), report


def require_console_rate(session: Session, folder: str | os.PathLike) -> None:
    """Refuse (:class:`SessionError`, naming ``folder`` and the fix) a session whose sample rate the
    console cannot run at; used wherever a session is about to be mixed (``mix``, the studio)."""
    problem = S.check_sample_rate(session.sample_rate)
    if problem:
        raise SessionError(f"{folder}: the tracks' sample rate {problem}; resample the tracks (e.g. to 44100 Hz)")


def mix_session(folder: str | os.PathLike, model=None, *, checkpoint: str | os.PathLike | None = None,
                reference: str | os.PathLike | None = None, locks: list[str] | dict[str, float] | None = None,
                target_lufs: float | None = None, refine_steps: int = 40, device: str = "cpu",
                progress: bool = True, allow_outside_session: bool = False,
                stats: dict[str, float] | None = None, take: int | None = None) -> tuple[MixParams, np.ndarray]:
    """Predict settings for a session folder and render the full-length mix.

    Returns ``(params, audio (frames, 2))``; ``params.extra["notes"]`` records what was done.
    ``stats``: when given, filled with the returned mix's loudness figures
    (:func:`mixdown.dsp.render.measure`; the true peak measured once for the trim and for them).
    Tracks that are links leading outside ``folder`` are refused unless ``allow_outside_session``;
    a sample rate the console cannot take, a loudness target outside its range and a ``take`` the
    model cannot give (:func:`settings`) are refused before any work.
    """
    from mixdown.dsp.render import render

    if target_lufs is not None:
        lo, hi = S.NORMALIZE_RANGES["target_lufs"]
        if not (math.isfinite(target_lufs) and lo <= target_lufs <= hi):
            raise SessionError(f"--target-lufs {target_lufs:g}: outside [{lo:g}, {hi:g}] LUFS; -14 to -23 is usual")
    model = model if model is not None else load_default_model(checkpoint, device)
    check_take(model, take)  # before reading any audio
    session = read_session(folder, allow_outside_session=allow_outside_session)
    require_console_rate(session, folder)
    lock_map = parse_locks(locks or [], session.names, session.sample_rate)
    ref_audio = None
    if reference is not None:
        ref_audio = load_reference(reference, session.sample_rate)[0].T  # (2, frames)
    params = settings(session, model, reference=ref_audio, reference_name=reference, locks=lock_map,
                      refine_steps=refine_steps, device=device, progress=progress, take=take)
    audio = render(session.folder, params, resample=session.resampled, progress=progress,
                   allow_outside_session=allow_outside_session).audio
    true_peak = None
    if stats is not None or ("master", "output_gain_db") not in lock_map:
        from mixdown.measure import loudness

        true_peak = float(loudness.true_peak_dbtp(np.ascontiguousarray(audio.T), params.sample_rate))
    trim = keep_true_peak(params, audio, lock_map, true_peak_dbtp=true_peak)
    if target_lufs is not None:
        apply_loudness_target(params, audio, target_lufs)
    if stats is not None:
        from mixdown.dsp.render import measure

        unchanged = trim == 0.0 and target_lufs is None  # else the samples moved: measured again
        stats.update(measure(audio, params.sample_rate, true_peak if unchanged else None))
    return params, audio


def keep_true_peak(params: MixParams, audio: np.ndarray | None, locks: dict[tuple[str, str], float] | None = None,
                   ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP, true_peak_dbtp: float | None = None) -> float:
    """Lower ``params``' output gain so the mix ``audio`` ``(frames, 2)`` (rendered from ``params``)
    has its true peak at or below ``ceiling_dbtp``, and scale ``audio`` in place to match (the
    output gain is the console's last gain, so that is the re-render's mix to float rounding).
    Nothing moves when the output gain is locked or the mix is already below the ceiling (it is
    never raised). ``true_peak_dbtp``: the mix's true peak when already measured (``audio`` may
    then be None). Returns the change of the output gain in dB (<= 0), also recorded in
    ``params.extra["notes"]["true_peak_trim_db"]``."""
    from mixdown.measure import loudness

    if ("master", "output_gain_db") in (locks or {}):
        return 0.0
    if true_peak_dbtp is None:
        true_peak_dbtp = float(loudness.true_peak_dbtp(np.ascontiguousarray(audio.T), params.sample_rate))
    out = params.master.values["output_gain_db"]
    trim = true_peak_trim_db(true_peak_dbtp, out, ceiling_dbtp)
    if trim < 0.0:
        params.master.values["output_gain_db"] = out + trim
        if audio is not None:
            audio *= np.float32(10 ** (trim / 20))
        params.extra.setdefault("notes", {})["true_peak_trim_db"] = round(trim, 2)
        log.info("true peak %.1f dBTP: output gain %+.1f dB to stay at or below %.1f dBTP", true_peak_dbtp, trim,
                 ceiling_dbtp)
    return trim


def apply_loudness_target(params: MixParams, audio: np.ndarray, target_lufs: float,
                          ceiling_dbtp: float = TRUE_PEAK_CEILING_DBTP) -> None:
    """Set ``params.master.normalize`` for ``target_lufs`` and bring the rendered ``audio`` there in
    place: a static gain, and where that would push the true peak above ``ceiling_dbtp``, the master
    limiter (:mod:`mixdown.dsp.limiter`, ``params.master.finish``) holding the ceiling, with the gain
    raised until the limited mix reaches the target (within 0.05 LU). The renderer applies both the
    same way, so a re-render reproduces the mix."""
    from mixdown.dsp import limiter
    from mixdown.measure import loudness

    sr = params.sample_rate
    norm = normalize_loudness(audio, sr, target_lufs, ceiling_dbtp, limit=True)
    params.master.finish.pop(limiter.KEY, None)
    gained = audio * np.float32(10 ** (norm["gain_db"] / 20))
    if loudness.true_peak_dbtp(gained.T, sr) <= ceiling_dbtp:
        params.master.normalize = norm
        audio[:] = gained
        return
    settings = {**limiter.DEFAULTS, "ceiling_dbtp": float(ceiling_dbtp)}
    gain_db, limited = _limited_gain(audio, sr, target_lufs, norm["gain_db"], settings)
    over = loudness.true_peak_dbtp(limited.T, sr) - ceiling_dbtp
    if over > 0:  # an inter-sample overshoot the side chain missed: a ceiling that much lower
        settings["ceiling_dbtp"] = max(ceiling_dbtp - over - 0.01, limiter.SPECS[0].lo)
        gain_db, limited = _limited_gain(audio, sr, target_lufs, gain_db, settings)
    lo, hi = S.NORMALIZE_RANGES["gain_db"]
    gain_db = float(min(max(gain_db, lo), hi))
    pre = audio * np.float32(10 ** (gain_db / 20))
    reduction = limiter.gain(pre.T, sr, settings)
    params.master.normalize = {**norm, "gain_db": gain_db}
    params.master.finish[limiter.KEY] = settings
    audio[:] = pre * reduction[:, None]  # as limiter.apply_exact, which the renderer runs
    log.info("loudness target %.1f LUFS reached with the master %s (up to %.1f dB of gain reduction)",
             target_lufs, limiter.describe(settings), -20 * np.log10(max(float(reduction.min()), 1e-12)))


def _limited_gain(audio: np.ndarray, sample_rate: int, target_lufs: float, gain_db: float,
                  settings: dict[str, float]) -> tuple[float, np.ndarray]:
    """The gain (dB) that brings ``audio`` through the limiter to ``target_lufs`` (secant steps
    from ``gain_db``), and the limited mix."""
    from mixdown.dsp import limiter
    from mixdown.measure import loudness

    def measure(g: float) -> tuple[float, np.ndarray]:
        y = limiter.apply_exact(audio * np.float32(10 ** (g / 20)), sample_rate, settings)
        return loudness.integrated_loudness(y.T, sample_rate), y

    lufs, y = measure(gain_db)
    prev = None
    for _ in range(8):
        err = target_lufs - lufs
        if abs(err) < 0.05:
            break
        slope = 1.0 if prev is None else (lufs - prev[1]) / (gain_db - prev[0]) if gain_db != prev[0] else 1.0
        prev = (gain_db, lufs)
        gain_db += err / min(max(slope, 0.1), 1.0)
        lufs, y = measure(gain_db)
    return gain_db, y

