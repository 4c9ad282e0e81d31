"""Mix a session: read stems, predict console settings over the whole song, render at full length.

Library API under ``mixdown mix``::

    from mixdown.mix import mix_session
    params, audio = mix_session("session/", locks={"vocals.fader_db": -2.0})
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixdown.data.builders import AUDIO_EXTS, is_audio
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import SessionError, probe

log = logging.getLogger(__name__)

#: files in a session folder that are references, not tracks
REFERENCE_STEMS = {"mix", "reference_mix", "reference"}
_IN_GAIN = S.index(S.TRACK_SPECS, "input_gain_db")
#: analysis windows are at least this long (zero-padded past the end), enough for the models' STFTs
MIN_WINDOW = 8192


@dataclass
class Session:
    """Tracks of a session folder, read lazily: :meth:`window` reads only what analysis needs
    (tracks at another rate are resampled once, in memory); :attr:`audio` loads everything."""

    folder: Path
    names: list[str]
    files: list[str]
    infos: list  # mixdown.session.TrackInfo
    sample_rate: int
    frames: int
    resampled_audio: dict[int, np.ndarray]

    @property
    def resampled(self) -> bool:
        return bool(self.resampled_audio)

    def window(self, i: int, start: int, n: int) -> np.ndarray:
        """Frames ``start .. start + n`` of track ``i`` as ``(2, n)`` float32 (mono duplicated,
        zero-padded past the end)."""
        import soundfile as sf

        from mixdown.session import check_finite

        if i in self.resampled_audio:
            return _segment(self.resampled_audio[i], start, n)
        with sf.SoundFile(str(self.infos[i].path)) as f:
            f.seek(min(start, f.frames))
            seg = f.read(n, dtype="float32", always_2d=True).T
        check_finite(seg, self.infos[i].path)
        return _segment(seg, 0, n)

    @property
    def audio(self) -> list[np.ndarray]:
        """Every whole track, ``(channels, frames)`` float32 (loads all files; cached)."""
        if not hasattr(self, "_audio"):
            import soundfile as sf

            self._audio = [self.resampled_audio[i] if i in self.resampled_audio else
                           np.ascontiguousarray(sf.read(str(info.path), dtype="float32", always_2d=True)[0].T)
                           for i, info in enumerate(self.infos)]
        return self._audio


def find_tracks(folder: str | os.PathLike) -> tuple[Path, list[Path]]:
    """Audio files of a session: ``folder/tracks/*`` if that exists, else ``folder/*``.

    Non-audio files are listed in a warning and skipped; reference mixes (``mix.*``,
    ``reference_mix.*``) are not tracks.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SessionError(f"{folder}: session folder not found")
    root = folder / "tracks" if (folder / "tracks").is_dir() else folder
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    audio = [p for p in files if is_audio(p) and p.stem.lower() not in REFERENCE_STEMS]
    skipped = [p.name for p in files if not is_audio(p)]
    if skipped:
        log.warning("%s: skipping non-audio files: %s", root, ", ".join(skipped))
    if not audio:
        raise SessionError(f"{root}: no audio files (expected {', '.join(AUDIO_EXTS)})")
    stems = [p.stem for p in audio]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise SessionError(f"{root}: several files share the track names {dupes}; rename them (track names "
                           "are file names without extension)")
    return root, audio


def read_session(folder: str | os.PathLike, sample_rate: int | None = None) -> Session:
    """Read every track of a session folder (see :func:`find_tracks` and :func:`read_tracks`)."""
    return read_tracks(find_tracks(folder)[1], folder, sample_rate)


def read_tracks(paths: list[Path], folder: str | os.PathLike, sample_rate: int | None = None) -> Session:
    """Read tracks (resampled with a warning to ``sample_rate`` or the most common rate; shorter
    tracks padded with silence at the end, with a warning); ``file`` entries are relative to
    ``folder``."""
    from mixdown.session import load_resampled

    folder = Path(folder)
    infos = [probe(p) for p in paths]
    rates = [i.sample_rate for i in infos]
    sr = sample_rate or max(set(rates), key=rates.count)
    resampled = {}
    for i, info in enumerate(infos):
        if info.sample_rate != sr:
            log.warning("%s: resampling %d Hz -> %d Hz", info.path, info.sample_rate, sr)
            resampled[i] = np.ascontiguousarray(load_resampled(info, sr).T)
    lengths = [resampled[i].shape[1] if i in resampled else info.frames for i, info in enumerate(infos)]
    n = max(lengths)
    for p, m in zip(paths, lengths):
        if m < n:
            log.warning("%s: %.2f s shorter than the longest track; padded with silence at the end",
                        p.name, (n - m) / sr)
    return Session(folder, [p.stem for p in paths], [os.path.relpath(p, folder) for p in paths], infos, sr, n,
                   resampled)


def windows(n_frames: int, window: int, count: int) -> list[int]:
    """Start frames of up to ``count`` analysis windows spread evenly over the song."""
    if n_frames <= window:
        return [0]
    starts = np.linspace(0, n_frames - window, count).astype(int)
    return sorted(set(int(s) for s in starts))


def analysis_batch(session: Session, starts: list[int], window: int, target_rms_db: float):
    """Windows as a model batch, each track scaled to ``target_rms_db``.

    Returns ``(tracks (W, N, 2, window), mask (W, N), gains_db (W, N))``.
    """
    import torch

    x = raw_windows(session, starts, window)
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=(-1, -2)))
    gains = np.where(rms > 1e-5, target_rms_db - 20 * np.log10(np.maximum(rms, 1e-12)), 0.0)
    x *= (10 ** (gains / 20)).astype(np.float32)[..., None, None]
    return torch.from_numpy(x), torch.ones(x.shape[:2], dtype=torch.bool), gains


def raw_windows(session: Session, starts: list[int], window: int) -> np.ndarray:
    """Unscaled windows of every track (mono duplicated), shape ``(W, N, 2, window)`` float32."""
    return np.stack([[session.window(i, s, window) for i in range(len(session.names))] for s in starts])


def predict_params(model, session: Session, window_s: float = 6.0, n_windows: int = 4,
                   target_rms_db: float = -20.0, reference: np.ndarray | None = None,
                   device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Predict over several windows and aggregate (median in normalised units, which respects
    log scales) after undoing each window's input normalisation.

    Returns physical ``(track_values (N, 28), master_values (25,))``.
    """
    import torch

    sr = session.sample_rate
    window = int(window_s * sr)
    n_frames = session.frames
    starts = windows(n_frames, window, n_windows)
    x, mask, gains = analysis_batch(session, starts, max(min(window, n_frames), MIN_WINDOW), target_rms_db)
    ref = None
    if reference is not None and getattr(model, "uses_reference", False):
        ref = torch.from_numpy(np.stack([_segment(reference, s, x.shape[-1]) for s in starts]))
    model_sr = int(getattr(model, "sample_rate", sr))
    if model_sr != sr:  # the model hears its own rate; the mix stays at the session's
        log.info("analysis windows resampled %d Hz -> %d Hz for the model", sr, model_sr)
        x = _resample(x, sr, model_sr)
        ref = None if ref is None else _resample(ref, sr, model_sr)
    outs = []
    with torch.no_grad():  # two windows at a time: memory stays bounded for long, wide sessions
        for k in range(0, len(starts), 2):
            r = None if ref is None else ref[k:k + 2].to(device)
            outs.append(model(x[k:k + 2].to(device), mask[k:k + 2].to(device), r))
    tp = torch.cat([o[0] for o in outs])
    mp = torch.cat([o[1] for o in outs])
    tv = S.denormalize(tp.cpu().double().numpy(), S.TRACK_SPECS, sr)
    tv[..., _IN_GAIN] += gains  # the model saw inputs raised by `gains`
    tv[..., _IN_GAIN] = np.clip(tv[..., _IN_GAIN], S.TRACK_SPECS[_IN_GAIN].lo, S.TRACK_SPECS[_IN_GAIN].hi)
    u_t = np.median(S.normalize(tv, S.TRACK_SPECS, sr), axis=0)
    u_m = np.median(mp.cpu().double().numpy(), axis=0)
    return (S.denormalize(np.clip(u_t, 0, 1), S.TRACK_SPECS, sr),
            S.denormalize(np.clip(u_m, 0, 1), S.MASTER_SPECS, sr))


def _resample(x, src_rate: int, dst_rate: int):
    """Polyphase resampling of a tensor along its last axis."""
    import torch
    from scipy.signal import resample_poly

    from mixdown.session import resample_ratio

    r = resample_ratio(src_rate, dst_rate)
    return torch.from_numpy(resample_poly(x.numpy(), r.numerator, r.denominator, axis=-1).astype(np.float32))


def _segment(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """Frames ``start .. start + n`` of ``(channels, T)`` audio as ``(2, n)`` float32 (mono duplicated,
    zero-padded past the end)."""
    out = np.zeros((2, n), dtype=np.float32)
    seg = x[:, start:start + n]
    out[:, :seg.shape[1]] = seg
    return out


def parse_locks(items: list[str] | dict[str, float], names: list[str],
                sample_rate: int | None = None) -> dict[tuple[str, str], float]:
    """``["vocals.fader_db=-2", "master.output_gain_db=-1"]`` -> ``{("vocals", "fader_db"): -2.0}``.

    Unknown tracks or keys raise ``ValueError`` listing the valid ones; values outside the
    parameter's range raise ``ValueError`` naming it.
    """
    pairs = items.items() if isinstance(items, dict) else (_split_lock(i) for i in items)
    out: dict[tuple[str, str], float] = {}
    for target, value in pairs:
        track, _, key = target.partition(".")
        valid_keys = S.MASTER_NAMES if track == "master" else S.TRACK_NAMES
        if track != "master" and track not in names:
            raise ValueError(f"--lock {target}: no track {track!r}; tracks: {', '.join(names)}, master")
        if key not in valid_keys:
            raise ValueError(f"--lock {target}: no key {key!r}; valid keys: {', '.join(valid_keys)}")
        spec = (S.MASTER_SPECS if track == "master" else S.TRACK_SPECS)[valid_keys.index(key)]
        problem = S.check_value(spec, float(value), sample_rate)
        if problem:
            raise ValueError(f"--lock {target}: {problem}")
        out[(track, key)] = float(value)
    return out


def _split_lock(item: str) -> tuple[str, float]:
    target, sep, value = item.partition("=")
    try:
        return target.strip(), float(value)
    except ValueError:
        raise ValueError(f"--lock {item!r}: expected TRACK.KEY=NUMBER, e.g. vocals.fader_db=-2") from None


# ----------------------------------------------------------------------------- the whole job
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "default.pt"


def load_default_model(checkpoint: str | os.PathLike | None = None, device: str = "cpu"):
    """The model of ``checkpoint``, else the shipped default, else the heuristic (with a warning)."""
    from mixdown.checkpoint import load_model

    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
    if checkpoint is None and not path.exists():
        from mixdown.models import Heuristic

        log.warning("no shipped checkpoint at %s; using the heuristic model", path)
        return Heuristic().to(device)
    return load_model(path, device)


def normalize_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float,
                       ceiling_dbtp: float = -1.0) -> dict[str, float]:
    """The static gain that brings ``(frames, 2)`` audio to ``target_lufs`` without exceeding the
    true-peak ceiling (``master.normalize`` of the spec)."""
    from mixdown import loudness

    lufs = loudness.integrated_loudness(audio.T, sample_rate)
    if not math.isfinite(lufs):
        raise SessionError("the mix is silent or shorter than 0.4 s (one BS.1770 block); a loudness target "
                           "cannot be reached, leave out --target-lufs")
    gain = target_lufs - lufs
    tp = loudness.true_peak_dbtp(audio.T, sample_rate)
    if tp + gain > ceiling_dbtp:
        gain = ceiling_dbtp - tp
        log.warning("loudness target %.1f LUFS would push the true peak above %.1f dBTP; the mix ends at "
                    "%.1f LUFS", target_lufs, ceiling_dbtp, lufs + gain)
    return {"target_lufs": float(target_lufs), "ceiling_dbtp": float(ceiling_dbtp), "gain_db": float(gain)}


def mix_session(folder: str | os.PathLike, model=None, *, checkpoint: str | os.PathLike | None = None,
                reference: str | os.PathLike | None = None, locks: list[str] | dict[str, float] | None = None,
                target_lufs: float | None = None, refine_steps: int = 40, device: str = "cpu",
                progress: bool = True) -> tuple[MixParams, np.ndarray]:
    """Predict settings for a session folder and render the full-length mix.

    Returns ``(params, audio (frames, 2))``; ``params.extra["notes"]`` records what was done.
    """
    from mixdown.render import render

    model = model if model is not None else load_default_model(checkpoint, device)
    session = read_session(folder)
    lock_map = parse_locks(locks or [], session.names, session.sample_rate)
    ref_audio = None
    if reference is not None:
        from mixdown.reference import load_reference

        ref_audio = load_reference(reference, session.sample_rate)[0].T  # (2, frames)
    tv, mv = predict_params(model, session, reference=ref_audio, device=device)
    _apply_locks(tv, mv, session.names, lock_map)
    notes = {"model": type(model).__name__, "windows": "median of up to 4 windows of 6 s"}
    if ref_audio is not None:
        from mixdown.reference import refine_to_reference

        tv, mv, report = refine_to_reference(session, tv, mv, ref_audio, lock_map, steps=refine_steps,
                                             progress=progress)
        _apply_locks(tv, mv, session.names, lock_map)
        notes["reference"] = {"file": str(reference), **report}
        log.info("reference: octave-band error %.2f dB -> %.2f dB", report["band_error_db_before"],
                 report["band_error_db_after"])
    params = MixParams.from_arrays(session.sample_rate, session.names, session.files,
                                   _clip_to_spec(tv, S.TRACK_SPECS, session.sample_rate),
                                   _clip_to_spec(mv, S.MASTER_SPECS, session.sample_rate),
                                   model=notes["model"], notes=notes)
    audio = render(session.folder, params, resample=session.resampled, progress=progress).audio
    if target_lufs is not None:
        params.master.normalize = normalize_loudness(audio, session.sample_rate, target_lufs)
        # the same static gain the renderer applies last (a re-render matches to float rounding)
        audio *= np.float32(10 ** (params.master.normalize["gain_db"] / 20))
    return params, audio


def _clip_to_spec(values: np.ndarray, specs, sample_rate: int) -> np.ndarray:
    lo, hi = np.array([s.limits(sample_rate) for s in specs]).T
    return np.clip(values, lo, hi)


def _apply_locks(tv: np.ndarray, mv: np.ndarray, names: list[str], locks: dict[tuple[str, str], float]) -> None:
    for (track, key), value in locks.items():
        if track == "master":
            mv[S.MASTER_NAMES.index(key)] = value
        else:
            tv[names.index(track), S.TRACK_NAMES.index(key)] = value
