"""Evaluation metrics for mixes and for console parameters.

Audio arguments are numpy float arrays shaped ``(channels, time)`` in full-scale units (1.0 = 0 dBFS),
stereo ``(2, time)`` for mixes; ``sample_rate`` is in Hz. Loudness comes from
:mod:`mixdown.measure.loudness` (BS.1770-4). Where a metric compares an estimate with a reference, ``est``
and ``ref`` must have one shape, and "difference" means ``est - ref``; two equal infinite values
(e.g. the width of two mono signals) differ by 0.

Parameter arguments are physical values shaped ``(..., N_TRACK_PARAMS)`` as produced by
:meth:`mixdown.params.io.MixParams.track_matrix` (the filter and compressor metrics also accept
master vectors ``(..., N_MASTER_PARAMS)``); results have the leading shape ``...``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np
import scipy.signal

from mixdown.dsp import strip
from mixdown.measure.loudness import integrated_loudness, loudness_range, sample_peak_dbfs
from mixdown.measure.stft import check_stft_args, lr_ms, mrstft_loss, stft_terms
from mixdown.params import spec as S

if TYPE_CHECKING:
    pass

__all__ = ["loudness_match_gain_db", "audible", "mrstft_distance", "mrstft_loss", "band_edges_hz", "band_energies_db",
           "spectral_balance_error_db", "stereo_width", "lr_imbalance_db", "crest_factor_db", "loudness_range",
           "TrackBalance", "track_balance_error_db", "gain_error_db", "pan_error", "strip_response_db",
           "eq_response_error_db", "compressor_curve_error_db", "mix_metrics"]

_BAND_FLOOR_DB = -120.0  # band energies below this count as "nothing there" in balance errors
_BARK_EDGES = (0, 100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700,
               3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500)  # Zwicker's 24 critical bands
_BARK_CENTRES = (50, 150, 250, 350, 450, 570, 700, 840, 1000, 1170, 1370, 1600, 1850, 2150, 2500, 2900,
                 3400, 4000, 4800, 5800, 7000, 8500, 10500, 13500)


# ---- validation and small helpers ------------------------------------------------------------
def _check_audio(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be shaped (channels, time), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must hold float samples, got dtype {x.dtype}")
    if x.shape[0] < 1 or x.shape[1] < 2:
        raise ValueError(f"{name} needs at least one channel and two samples, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite samples (NaN or inf)")
    return x


def _check_pair(est, ref) -> tuple[np.ndarray, np.ndarray]:
    est, ref = _check_audio(est, "est"), _check_audio(ref, "ref")
    if est.shape != ref.shape:
        raise ValueError(f"est and ref must have one shape, got {est.shape} and {ref.shape}")
    return est, ref


def _check_rate(sample_rate) -> float:
    fs = float(sample_rate) if isinstance(sample_rate, (int, float, np.number)) else math.nan
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    return fs


def _diff(a: float, b: float) -> float:
    """``a - b``, with 0.0 where both are the same (also the same infinity)."""
    return 0.0 if a == b else float(a - b)


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64)))


def loudness_match_gain_db(est: np.ndarray, ref: np.ndarray, sample_rate: float) -> float:
    """Static gain in dB that brings ``est``'s integrated loudness (LUFS) to ``ref``'s.

    Where a loudness is undefined (silence, shorter than one 400 ms block) the ratio of mean
    squares is used instead; 0 dB where either signal is silent.
    """
    est, ref = _check_pair(est, ref)
    return _match_gain_db(est, ref, integrated_loudness(est, sample_rate), integrated_loudness(ref, sample_rate))


def _loudness_diff(est, ref, loud_est: float, loud_ref: float) -> float:
    """``loud_est - loud_ref`` (LU); the mean-square level difference (dB) where a loudness is
    undefined (shorter than 400 ms, or gated out); +-inf against digital silence, 0 for two."""
    if math.isfinite(loud_est) and math.isfinite(loud_ref):
        return loud_est - loud_ref
    pe, pr = (10.0 * math.log10(p) if p > 0 else -math.inf for p in (_power(est), _power(ref)))
    return _diff(pe, pr)


def _match_gain_db(est, ref, loud_est: float, loud_ref: float) -> float:
    d = _loudness_diff(est, ref, loud_est, loud_ref)
    return -d if math.isfinite(d) else 0.0


# ---- multi-resolution STFT -------------------------------------------------------------------
#: MR-STFT compares two mixes above this frequency (Hz): what can be heard. A DC offset or
#: subsonic rumble is not part of a mix's sound, yet in the Hann-windowed spectrum it fills the lowest
#: bins (at 512 points a DC offset leaks into the 86 Hz bin) and dominated the distance: a soundfont
#: stem's DC offset (-0.006) made a 24 Hz high-pass on one track move a song's distance by 0.28.
AUDIBLE_FROM_HZ = 20.0


def audible(x: np.ndarray, sample_rate: float, from_hz: float = AUDIBLE_FROM_HZ) -> np.ndarray:
    """``x`` ``(channels, time)`` without what lies below ``from_hz``: a 4th-order Butterworth
    high-pass run forwards and backwards (zero phase, 8th order in magnitude: -3 dB at
    ``from_hz``, -48 dB at a quarter of it, DC removed). Shorter than the filter's padding:
    only the mean is taken off."""
    x = np.asarray(x, dtype=np.float64)
    sos = scipy.signal.butter(4, from_hz, "highpass", fs=sample_rate, output="sos")
    if x.shape[-1] <= 3 * (2 * len(sos) + 1):
        return x - x.mean(-1, keepdims=True)
    return scipy.signal.sosfiltfilt(sos, x, axis=-1)


def mrstft_distance(est: np.ndarray, ref: np.ndarray, sample_rate: float, fft_sizes=(512, 2048, 8192),
                    loudness_match: bool = True, hop_ratio: float = 0.25,
                    audible_from_hz: float | None = AUDIBLE_FROM_HZ) -> float:
    """Multi-resolution STFT distance (unitless, >= 0; 0 for identical signals).

    Both signals are first taken above ``audible_from_hz`` (:func:`audible`; ``None``: as they
    are, DC included, as mixdown measured before December 2026). For each FFT size (Hann window, hop
    ``hop_ratio * n_fft``): spectral convergence ``||S_ref| - |S_est||_F / ||S_ref||_F`` plus the
    mean absolute natural-log magnitude difference, averaged over channels (left, right, mid
    ``(L+R)/2`` and side ``(L-R)/2`` for stereo) and then over resolutions. With
    ``loudness_match``, ``est`` is first scaled by the static gain :func:`loudness_match_gain_db`
    (K-weighted: blind to DC either way), so a pure level change reads 0.

    Shape: ``est``, ``ref`` ``(channels, time)`` -> float.
    """
    import torch

    est, ref = _check_pair(est, ref)
    fs = _check_rate(sample_rate)
    plan = check_stft_args(fft_sizes, hop_ratio)
    if audible_from_hz is not None:
        if not 0.0 < float(audible_from_hz) < fs / 2:
            raise ValueError(f"audible_from_hz must lie between 0 and half the sample rate, got {audible_from_hz!r}")
        est, ref = audible(est, fs, audible_from_hz), audible(ref, fs, audible_from_hz)
    if loudness_match:
        est = est * 10.0 ** (loudness_match_gain_db(est, ref, fs) / 20.0)
    pairs = [(torch.from_numpy(np.asarray(e, np.float32)[None]), torch.from_numpy(np.asarray(r, np.float32)[None]))
             for e, r in zip(lr_ms(est), lr_ms(ref))]
    total = 0.0
    with torch.no_grad():
        for n_fft, hop in plan:  # one channel at a time bounds memory for full-length mixes
            total += float(np.mean([float(sum(stft_terms(e, r, n_fft, hop))) for e, r in pairs]))
    return total / len(plan)


# ---- spectral balance ------------------------------------------------------------------------
def band_edges_hz(bands: str = "octave") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centres, lower_edges, upper_edges)`` in Hz, each ``(n_bands,)``.

    ``"octave"``: 10 octave bands with nominal centres 31.5 Hz .. 16 kHz (exact centres
    ``1000 * 2**k``, edges a half octave either side); ``"bark"``: Zwicker's 24 critical bands.
    """
    if bands == "octave":
        exact = 1000.0 * 2.0 ** np.arange(-5, 5)
        return np.array(strip.OCTAVE_CENTRES_HZ), exact * 2.0**-0.5, exact * 2.0**0.5
    if bands == "bark":
        e = np.array(_BARK_EDGES, dtype=np.float64)
        return np.array(_BARK_CENTRES, dtype=np.float64), e[:-1], e[1:]
    raise ValueError(f"bands must be 'octave' or 'bark', got {bands!r}")


def band_energies_db(x: np.ndarray, sample_rate: float, bands: str = "octave", nperseg: int = 16384) -> np.ndarray:
    """Mean-square power per band in dB re full scale, summed over channels.

    Welch estimate (Hann, ``min(nperseg, time)`` samples, 50 % overlap, no detrending) integrated
    over the FFT bins in ``[lower, upper)`` of each band, so the bands add up to the signal's power:
    a full-scale sine in one channel reads -3.01 dB in its band. Bands without bins (above Nyquist,
    or too narrow for a short signal) and silent bands read ``-inf``.

    Shape: ``x`` ``(channels, time)`` -> ``(n_bands,)``.
    """
    x = _check_audio(x)
    fs = _check_rate(sample_rate)
    _, lo, hi = band_edges_hz(bands)
    n = min(int(nperseg), x.shape[1])
    f, psd = scipy.signal.welch(x.astype(np.float64), fs=fs, window="hann", nperseg=n, noverlap=n // 2,
                                detrend=False, scaling="density", axis=-1)
    p = psd.sum(axis=0) * (fs / n)
    energy = np.array([p[(f >= a) & (f < b)].sum() for a, b in zip(lo, hi)])
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy)


def spectral_balance_error_db(est: np.ndarray, ref: np.ndarray, sample_rate: float, bands: str = "octave",
                              loudness_match: bool = True) -> tuple[np.ndarray, float]:
    """Per-band dB differences ``est - ref`` of :func:`band_energies_db` and their mean absolute value.

    With ``loudness_match`` the est's energies are first shifted by :func:`loudness_match_gain_db`.
    Energies are floored at -120 dB; bands where both lie at the floor read 0 and are left out of
    the mean. Shape: ``(channels, time)`` each -> ``((n_bands,), float)``.
    """
    est, ref = _check_pair(est, ref)
    gain = loudness_match_gain_db(est, ref, sample_rate) if loudness_match else 0.0
    return _balance(est, ref, sample_rate, bands, gain)


def _balance(est, ref, sample_rate, bands, gain_db):
    e = np.maximum(band_energies_db(est, sample_rate, bands) + gain_db, _BAND_FLOOR_DB)
    r = np.maximum(band_energies_db(ref, sample_rate, bands), _BAND_FLOOR_DB)
    live = (e > _BAND_FLOOR_DB) | (r > _BAND_FLOOR_DB)
    diff = e - r
    return diff, float(np.abs(diff[live]).mean()) if live.any() else 0.0


# ---- stereo image and dynamics ---------------------------------------------------------------
def _stereo(x: np.ndarray) -> np.ndarray:
    x = _check_audio(x)
    if x.shape[0] > 2:
        raise ValueError(f"x must be mono or stereo (1 or 2 channels), got {x.shape[0]}")
    return x


def stereo_width(x: np.ndarray) -> float:
    """Side/mid energy ratio in dB: ``10 log10(sum S^2 / sum M^2)``, ``M = (L+R)/2``, ``S = (L-R)/2``.

    ``-inf`` without side energy (mono, L = R, one channel, silence), ``+inf`` for pure anti-phase,
    0 dB for uncorrelated equal channels. Shape: ``x`` ``(1 or 2, time)`` -> float.
    """
    x = _stereo(x).astype(np.float64)
    side, mid = _power(x[0] - x[-1]), _power(x[0] + x[-1])
    if side == 0.0:
        return -math.inf
    return math.inf if mid == 0.0 else 10.0 * math.log10(side / mid)


def lr_imbalance_db(x: np.ndarray) -> float:
    """Left/right energy ratio in dB, ``10 log10(sum L^2 / sum R^2)``: positive when the left is louder.

    ``+inf`` for a hard-left signal, ``-inf`` for hard-right, 0 for mono and silence.
    Shape: ``x`` ``(1 or 2, time)`` -> float.
    """
    x = _stereo(x)
    left, right = _power(x[0]), _power(x[-1])
    if left == right or min(left, right) > 0.0:
        return 0.0 if left == right else 10.0 * math.log10(left / right)
    return math.inf if right == 0.0 else -math.inf


def crest_factor_db(x: np.ndarray) -> float:
    """Sample peak over RMS in dB, over all channels and samples (sine 3.01 dB, square 0 dB).

    NaN for silence. Shape: ``x`` ``(channels, time)`` -> float.
    """
    x = _check_audio(x)
    p = _power(x)
    return sample_peak_dbfs(x) - 10.0 * math.log10(p) if p > 0.0 else math.nan


# ---- track balance ---------------------------------------------------------------------------
class TrackBalance(NamedTuple):
    """Result of :func:`track_balance_error_db`; arrays are ``(n_tracks,)``, in LU (= dB)."""

    rel_est_db: np.ndarray  # loudness of each est contribution minus the est contributions' mix loudness
    rel_ref_db: np.ndarray  # the same for the reference
    error_db: np.ndarray  # |rel_est_db - rel_ref_db|
    mae_db: float  # mean of error_db


def track_balance_error_db(tracks_est: Sequence[np.ndarray], tracks_ref: Sequence[np.ndarray],
                           sample_rate: float) -> TrackBalance:
    """How far each track's loudness relative to its mix differs between estimate and reference.

    ``tracks_est[i]`` / ``tracks_ref[i]`` are track ``i``'s contribution (the track rendered alone
    through its strip, ``(channels, time)``, one shape per list); the mix loudness is the
    integrated loudness of the sum of a list's contributions (the bus before the master).
    Relative loudness is ``L(track) - L(mix)`` (LU); silent tracks read ``-inf``, and two equal
    values (also two ``-inf``) differ by 0.
    """
    if len(tracks_est) != len(tracks_ref) or not tracks_est:
        raise ValueError(f"need one est and one ref contribution per track, got {len(tracks_est)} "
                         f"and {len(tracks_ref)}")
    est = [_check_audio(t, f"tracks_est[{i}]") for i, t in enumerate(tracks_est)]
    ref = [_check_audio(t, f"tracks_ref[{i}]") for i, t in enumerate(tracks_ref)]
    for name, ts in (("tracks_est", est), ("tracks_ref", ref)):
        if len({t.shape for t in ts}) != 1:
            raise ValueError(f"{name} must share one shape, got {[t.shape for t in ts]}")

    def relative(tracks):
        mix = integrated_loudness(np.sum(tracks, axis=0), sample_rate)
        return np.array([_diff(integrated_loudness(t, sample_rate), mix) for t in tracks])

    rel_e, rel_r = relative(est), relative(ref)
    err = np.array([abs(_diff(a, b)) for a, b in zip(rel_e, rel_r)])
    return TrackBalance(rel_e, rel_r, err, float(err.mean()))


# ---- parameter errors ------------------------------------------------------------------------
def _param_pair(est_values, ref_values, track_only: bool = False):
    e, r = np.asarray(est_values, dtype=np.float64), np.asarray(ref_values, dtype=np.float64)
    if e.shape != r.shape:
        raise ValueError(f"est_values and ref_values must have one shape, got {e.shape} and {r.shape}")
    sizes = (S.N_TRACK_PARAMS,) if track_only else (S.N_TRACK_PARAMS, S.N_MASTER_PARAMS)
    if e.ndim < 1 or e.shape[-1] not in sizes:
        raise ValueError(f"parameter arrays must be shaped (..., {' or '.join(map(str, sizes))}), got {e.shape}")
    if not (np.isfinite(e).all() and np.isfinite(r).all()):
        raise ValueError("parameter values contain NaN or inf")
    names = S.TRACK_NAMES if e.shape[-1] == S.N_TRACK_PARAMS else S.MASTER_NAMES
    return e, r, list(names)


def gain_error_db(est_values, ref_values) -> dict[str, np.ndarray]:
    """Absolute gain errors in dB: ``"input_gain_db"``, ``"fader_db"`` and ``"combined_db"`` (of
    input gain + fader, the strip's static gain). Shape ``(..., N_TRACK_PARAMS)`` -> ``(...)`` each."""
    e, r, names = _param_pair(est_values, ref_values, track_only=True)
    ig, fd = names.index("input_gain_db"), names.index("fader_db")
    return {"input_gain_db": np.abs(e[..., ig] - r[..., ig]), "fader_db": np.abs(e[..., fd] - r[..., fd]),
            "combined_db": np.abs(e[..., ig] + e[..., fd] - r[..., ig] - r[..., fd])}


def pan_error(est_values, ref_values) -> np.ndarray:
    """``|pan_est - pan_ref|`` (pan units, 0..2). Shape ``(..., N_TRACK_PARAMS)`` -> ``(...)``."""
    e, r, names = _param_pair(est_values, ref_values, track_only=True)
    i = names.index("pan")
    return np.abs(e[..., i] - r[..., i])


def _freq_grid(sample_rate: float, n_points: int) -> np.ndarray:
    if int(n_points) < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points!r}")
    return np.geomspace(20.0, min(20000.0, 0.49 * _check_rate(sample_rate)), int(n_points))


def strip_response_db(values, sample_rate: float, freqs_hz: np.ndarray) -> np.ndarray:
    """Magnitude response in dB of the strip's filters (high-pass, where present, then the 6 EQ
    bands) at ``freqs_hz``. Shape: ``values`` ``(..., N_TRACK_PARAMS or N_MASTER_PARAMS)`` ->
    ``(..., len(freqs_hz))``."""
    v, _, names = _param_pair(values, values)
    sample_rate = _check_rate(sample_rate)
    out = strip.strip_response_db(v.reshape(-1, v.shape[-1]), names, sample_rate, freqs_hz)
    return out.reshape(v.shape[:-1] + (out.shape[-1],))


def eq_response_error_db(est_values, ref_values, sample_rate: float, n_points: int = 256):
    """Mean absolute dB difference of the strip filter magnitude responses (high-pass + 6 bands).

    Evaluated at ``n_points`` log-spaced frequencies from 20 Hz to 20 kHz (capped at 0.49 x
    ``sample_rate``). Shape ``(..., N_PARAMS)`` -> ``(...)`` (a float for one strip).
    """
    e, r, _ = _param_pair(est_values, ref_values)
    grid = _freq_grid(sample_rate, n_points)
    err = np.abs(strip_response_db(e, sample_rate, grid) - strip_response_db(r, sample_rate, grid)).mean(-1)
    return float(err) if err.ndim == 0 else err


def compressor_curve_error_db(est_values, ref_values, n_levels: int = 121):
    """Mean absolute difference in dB of the static output level ``G(L) + makeup_db`` over input
    levels ``L`` from -60 to 0 dB (``n_levels`` points); the curve is the console's soft-knee
    gain computer. Shape ``(..., N_PARAMS)`` -> ``(...)`` (a float for one strip)."""
    e, r, names = _param_pair(est_values, ref_values)
    if int(n_levels) < 2:
        raise ValueError(f"n_levels must be >= 2, got {n_levels!r}")
    levels = np.linspace(-60.0, 0.0, int(n_levels))
    idx = [names.index(f"compressor.{k}") for k in ("threshold_db", "ratio", "knee_db", "makeup_db")]

    def curves(v):
        rows = v.reshape(-1, v.shape[-1])[:, idx]
        return np.array([levels + strip.static_gain_db(levels, thr, ratio, knee) + makeup
                         for thr, ratio, knee, makeup in rows])

    err = np.abs(curves(e) - curves(r)).mean(-1).reshape(e.shape[:-1])
    return float(err) if err.ndim == 0 else err


# ---- summary --------------------------------------------------------------------------------
def mix_metrics(est: np.ndarray, ref: np.ndarray, sample_rate: float, fft_sizes=(512, 2048, 8192),
                bands: str = "octave") -> dict[str, float]:
    """Audio metrics of an estimated mix against a reference, ``(channels, time)`` each.

    Keys: ``mrstft`` (unitless, loudness-matched), ``spectral_balance_mae_db`` (loudness-matched),
    and the differences est - ref ``stereo_width_diff_db``, ``lr_imbalance_diff_db``,
    ``crest_factor_diff_db``, ``loudness_diff_lu`` (integrated; the mean-square level difference
    where that is undefined, e.g. under 400 ms) and ``loudness_range_diff_lu``.
    """
    est, ref = _check_pair(est, ref)
    fs = _check_rate(sample_rate)
    loud_e, loud_r = integrated_loudness(est, fs), integrated_loudness(ref, fs)
    gain = _match_gain_db(est, ref, loud_e, loud_r)
    matched = est * 10.0 ** (gain / 20.0)
    return {
        "mrstft": mrstft_distance(matched, ref, fs, fft_sizes, loudness_match=False),
        "spectral_balance_mae_db": _balance(est, ref, fs, bands, gain)[1],
        "stereo_width_diff_db": _diff(stereo_width(est), stereo_width(ref)),
        "lr_imbalance_diff_db": _diff(lr_imbalance_db(est), lr_imbalance_db(ref)),
        "crest_factor_diff_db": _diff(crest_factor_db(est), crest_factor_db(ref)),
        "loudness_diff_lu": _loudness_diff(est, ref, loud_e, loud_r),
        "loudness_range_diff_lu": _diff(loudness_range(est, fs), loudness_range(ref, fs)),
    }
