"""What the report draws, computed with the renderer's code: each track through its strip
(:func:`mixdown.dsp.render.strip_signals`), the master strip's gain, loudness and spectra, and the
strips' EQ responses and static curves (:mod:`mixdown.dsp.strip`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mixdown.dsp.strip import pole, static_gain_db, strip_response_db
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.report.reverb import reverb_analysis

N_FREQS = 400
PLOT_POINTS = 1500


def _freqs(sr: int) -> np.ndarray:
    return np.geomspace(20.0, min(20000.0, 0.49 * sr), N_FREQS)


def eq_response_db(values: dict[str, float], sr: int, strip: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Magnitude of [high-pass +] the 6 EQ bands: ``(freqs, total_db, [band_db, ...])``
    (:func:`mixdown.dsp.strip.strip_response_db`, the renderer's coefficients)."""
    names = S.TRACK_NAMES if strip else S.MASTER_NAMES
    f = _freqs(sr)
    bands = strip_response_db(np.array([[values[k] for k in names]]), names, sr, f, per_section=True)[0]
    return f, bands.sum(0), list(bands)


def static_curve(values: dict[str, float], levels_db: np.ndarray) -> np.ndarray:
    """Output level (dB) of the compressor's static curve, makeup included, at ``levels_db``."""
    thr, ratio, knee = (values[f"compressor.{k}"] for k in ("threshold_db", "ratio", "knee_db"))
    return levels_db + static_gain_db(levels_db, thr, ratio, knee) + values["compressor.makeup_db"]


def compressor_gain_db(x: np.ndarray, values: dict[str, float], sr: int) -> np.ndarray:
    """Smoothed compressor gain (dB, <= 0, makeup excluded) of ``x`` ``(frames, channels)``."""
    from mixdown.dsp import kernels

    xc = np.ascontiguousarray(x.T[None], dtype=np.float32)
    c = {k: values[f"compressor.{k}"] for k in S.COMPRESSOR_KEYS}
    p = np.array([[c["threshold_db"], c["ratio"], c["knee_db"], pole(c["attack_ms"], sr),
                   pole(c["release_ms"], sr)]], dtype=np.float64)
    g = np.empty((1, xc.shape[2]), dtype=np.float32)
    kernels.compressor_gain_forward(xc, p, g, np.empty(g.shape, dtype=np.uint8))
    return g[0]


def decimate_gain(g: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Deepest reduction per window, for plotting: ``(seconds, dB)``."""
    hop = max(1, len(g) // PLOT_POINTS)
    n = len(g) // hop * hop
    mins = g[:n].reshape(-1, hop).min(axis=1) if n else g[:1]
    return (np.arange(len(mins)) * hop + hop / 2) / sr, mins


def spectrum_db(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average spectrum (Welch, mono sum) in dB."""
    from scipy.signal import welch

    f, p = welch(x.mean(axis=1), fs=sr, nperseg=min(4096, len(x)), detrend=False)
    edges = np.geomspace(20.0, sr / 2, 97)  # 1/8-octave-ish bands: a readable curve
    idx = np.digitize(f, edges)
    keep = [i for i in range(1, len(edges)) if np.any(idx == i)]
    centres = np.array([np.sqrt(edges[i - 1] * edges[i]) for i in keep])
    power = np.array([p[idx == i].mean() for i in keep])
    return centres, 10 * np.log10(np.maximum(power, 1e-20))


def _lufs(x: np.ndarray, sr: int) -> float:
    from mixdown.measure import loudness

    return float(loudness.integrated_loudness(np.ascontiguousarray(x.T), sr))


def _load(path: Path, sr: int, n_frames: int | None = None) -> np.ndarray:
    """Whole file as ``(frames, channels)`` float32 at ``sr``, zero-padded to ``n_frames``."""
    import soundfile as sf

    from mixdown.session import load_resampled, probe

    info = probe(path)
    x = load_resampled(info, sr) if info.sample_rate != sr else sf.read(str(path), dtype="float32",
                                                                         always_2d=True)[0]
    if n_frames is not None and len(x) < n_frames:
        x = np.concatenate([x, np.zeros((n_frames - len(x), x.shape[1]), dtype=x.dtype)])
    return x


def analyse(session_dir: Path, params: MixParams, reference: np.ndarray | None = None) -> dict:
    """Everything the figures need; the console is run track by track, then the master bus.

    ``reference``: a reference mix ``(frames, 2)`` at ``params.sample_rate`` (see
    :func:`mixdown.session.load_reference`); then ``"reference"`` holds
    :func:`mixdown.report.reference.compare` plus the reference's level-matched ``"spectrum"``.
    ``"reverb"``: :func:`mixdown.report.reverb.reverb_analysis` (None without a reverb).
    """
    from mixdown.dsp.render import measure, render, strip_signals
    from mixdown.session import probe

    sr = params.sample_rate
    infos = [probe(session_dir / t.file) for t in params.tracks]
    n = max(math.ceil(i.frames * sr / i.sample_rate) for i in infos)
    bus = np.zeros((n, 2), dtype=np.float32)
    raw_sum = None if reference is None else np.zeros((n, 2))  # every track at unity, centred
    tracks = []
    for i, t in enumerate(params.tracks):
        raw = _load(session_dir / t.file, sr, n)
        if raw_sum is not None:
            raw_sum += raw  # a mono track goes to both channels
        out, g = strip_signals(raw, params, i)  # the renderer's own strip
        bus += out
        tracks.append({"gr": decimate_gain(g, sr), "raw_lufs": _lufs(raw, sr), "out_lufs": _lufs(out, sr),
                       "spectrum": spectrum_db(raw, sr), "channels": raw.shape[1]})
    g_master = strip_signals(bus.astype(np.float32), params, None)[1]
    mix = render(session_dir, params, resample=True).audio
    out = {"tracks": tracks, "master_gr": decimate_gain(g_master, sr), "mix_spectrum": spectrum_db(mix, sr),
           "mix": measure(mix, sr), "seconds": n / sr}
    out["reverb"] = reverb_analysis(params)  # None without a reverb (mixdown.params/1)
    if reference is not None:
        from mixdown.report.reference import compare

        cmp = compare(mix, raw_sum, reference, sr)
        f, p = spectrum_db(reference[:cmp["frames"]], sr)
        out["reference"] = {**cmp, "spectrum": (f, p + cmp["ref_gain_db"])}
    return out
