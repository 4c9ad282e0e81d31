"""The master limiter, all of it in one place: its parameter rows, the exact kernel (numpy and
numba, the full-length render), the torch function (the training console), its neutral state
(absent: off), its DAW mappings, and its place in the chain (last, after the output gain and
``master.normalize``). Registered in :data:`mixdown.dsp.finish.FINISHERS`.

A lookahead true-peak limiter (``docs/console.md``, "Master limiter"): the side chain is the
signal's true peak per sample (the loudness meter's 4x interpolator,
:func:`mixdown.measure.loudness.true_peak_dbtp`); the gain needed to keep it at the ceiling is
spread by a minimum over the lookahead (plus the interpolator's reach) and a moving average over
the lookahead either side, so it is in place before every peak and ramps smoothly; a one-pole
release lets it recover. The gain is never above the needed one, so every sample stays at or
below the ceiling; inter-sample peaks follow within a few hundredths of a dB, which
``mixdown mix --target-lufs`` checks and corrects by lowering the ceiling it writes.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mixdown.params.spec import ParamSpec

#: the limiter's object in a parameter file (``master.limiter``, format ``mixdown.params/3``)
KEY = "limiter"
#: its rows: name within the object, unit, range
SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("ceiling_dbtp", "dBTP", -20.0, 0.0),
    ParamSpec("lookahead_ms", "ms", 0.5, 20.0, "log"),
    ParamSpec("release_ms", "ms", 1.0, 1000.0, "log"),
)
#: what ``mixdown mix --target-lufs`` writes (the ceiling is the target's)
DEFAULTS: dict[str, float] = {"ceiling_dbtp": -1.0, "lookahead_ms": 2.0, "release_ms": 100.0}
#: samples either side of an interpolated value that the true-peak interpolator reads
REACH = 24


def _interpolator(sample_rate: float) -> np.ndarray:
    """``(branches, 48)`` polyphase rows of the true-peak meter (none at 176.4 kHz and above)."""
    from mixdown.measure.loudness import _oversampling_factor, _tp_kernels

    factor = _oversampling_factor(float(sample_rate))
    return _tp_kernels(factor)[0] if factor > 1 else np.zeros((0, 2 * REACH))


def _frames(settings: dict[str, float], sample_rate: float) -> tuple[int, float]:
    """``(L, a_R)``: the lookahead in samples (at least 1) and the release pole."""
    lookahead = max(1, int(round(settings["lookahead_ms"] * sample_rate / 1000.0)))
    return lookahead, math.exp(-1.0 / (0.001 * settings["release_ms"] * sample_rate))


# ----------------------------------------------------------------------------- exact (numpy)
def side_chain(y: np.ndarray, sample_rate: float) -> np.ndarray:
    """``s[n]``: the largest of ``|y_c[n]|`` and the interpolated ``|y_c(n + d)|`` over channels.

    Shape: ``y`` ``(channels, frames)`` -> ``(frames,)`` float64."""
    from scipy.signal import oaconvolve

    y = np.asarray(y, dtype=np.float64)
    s = np.abs(y).max(axis=0)
    h = _interpolator(sample_rate)
    padded = np.pad(y, ((0, 0), (REACH - 1, REACH)))
    for row in h:  # y(n + d) = sum_i y[n - 23 + i] h[i] (a correlation)
        s = np.maximum(s, np.abs(oaconvolve(padded, row[None, ::-1], mode="valid", axes=1)).max(axis=0))
    return s


def _smoothed(r: np.ndarray, lookahead: int) -> np.ndarray:
    """``b``: the needed gain ``r`` (1 outside the signal) minimised over ``|j - n| <= L + REACH``,
    then averaged over ``|k| <= L``."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    span = lookahead + REACH
    ext = np.pad(r, (lookahead, lookahead), constant_values=1.0)
    a = minimum_filter1d(ext, 2 * span + 1, mode="constant", cval=1.0)
    return uniform_filter1d(a, 2 * lookahead + 1, mode="constant", cval=1.0)[lookahead:-lookahead]


@nb.njit(cache=True)
def _release_kernel(b, pole, out):
    e = 1.0
    for n in range(b.shape[0]):
        e = min(b[n], pole * e + (1.0 - pole) * b[n])
        out[n] = e


def _release(b: np.ndarray, pole: float) -> np.ndarray:
    """``e[n] = min(b[n], a_R e[n-1] + (1 - a_R) b[n])``, ``e[-1] = 1`` (compiled)."""
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty_like(b)
    _release_kernel(b, float(pole), out)
    return out


def gain(y: np.ndarray, sample_rate: float, settings: dict[str, float]) -> np.ndarray:
    """The limiter's gain ``e[n]`` (linear, <= 1) for ``y`` ``(channels, frames)``."""
    lookahead, pole = _frames(settings, sample_rate)
    s = side_chain(y, sample_rate)
    ceiling = 10.0 ** (settings["ceiling_dbtp"] / 20.0)
    r = np.where(s > ceiling, ceiling / np.maximum(s, 1e-30), 1.0)
    return _release(_smoothed(r, lookahead), pole)


def apply_exact(audio: np.ndarray, sample_rate: float, settings: dict[str, float]) -> np.ndarray:
    """The limited mix: ``audio`` ``(frames, 2)`` float32 -> same shape, float32."""
    if audio.shape[0] == 0:
        return audio
    return (audio * gain(audio.T, sample_rate, settings)[:, None]).astype(np.float32)


# ----------------------------------------------------------------------------- torch
def apply_torch(x, sample_rate: float, settings: dict[str, float]):
    """The limiter in torch: ``x`` ``(B, C, T)`` -> same shape. The side chain, minimum and
    average run in torch (differentiable); the release recursion runs in the exact kernel, its
    result taking the average's gradient (``e = b - (b - e_exact).detach()``)."""
    import torch
    import torch.nn.functional as F

    lookahead, pole = _frames(settings, sample_rate)
    y = x.to(torch.float64)
    s = y.abs().amax(1)  # (B, T)
    h = torch.as_tensor(_interpolator(sample_rate), dtype=torch.float64, device=x.device)
    if len(h):
        padded = F.pad(y, (REACH - 1, REACH)).reshape(-1, 1, y.shape[-1] + 2 * REACH - 1)
        v = F.conv1d(padded, h[:, None, :]).abs().amax(1).reshape(y.shape).amax(1)
        s = torch.maximum(s, v)
    ceiling = 10.0 ** (settings["ceiling_dbtp"] / 20.0)
    r = torch.where(s > ceiling, ceiling / s.clamp(min=1e-30), torch.ones_like(s))
    span = lookahead + REACH
    ext = F.pad(r, (lookahead + span, lookahead + span), value=1.0)
    a = -F.max_pool1d(-ext[:, None], 2 * span + 1, stride=1)[:, 0]  # (B, T + 2L)
    b = F.avg_pool1d(a[:, None], 2 * lookahead + 1, stride=1)[:, 0]  # (B, T)
    exact = torch.stack([torch.from_numpy(_release(row, pole)) for row in b.detach().cpu().numpy()]).to(b)
    e = b - (b - exact).detach()
    return (y * e[:, None]).to(x.dtype)


# ----------------------------------------------------------------------------- DAW mappings
# A DAW's master chain runs its effects before the master fader, ours runs the limiter after the
# output gain. A limiter commutes with gain (limiting g*x at C is g times limiting x at C/g: its
# gain depends on C / peak only), so before a fader of ``fader_db`` its ceiling is ``C - fader_db``.
def reaper_fx(settings: dict[str, float], fader_db: float) -> list[str]:
    """The limiter as the last effect of REAPER's master chain (before ``MASTER_VOLUME``): the stock
    JSFX ``LOSER/masterLimiter`` with threshold and ceiling at the ceiling before the fader and the
    release (sliders 1-3). REAPER has no true-peak lookahead limiter of its own, so this is an
    approximation; the project notes give the exact settings."""
    c = settings["ceiling_dbtp"] - fader_db
    sliders = [f"{c:.6f}", f"{c:.6f}", f"{settings['release_ms']:.6f}"] + ["-"] * 61
    return ['<JS "LOSER/masterLimiter" ""', "  " + " ".join(sliders), ">"]


def dawproject_device(settings: dict[str, float], fader_db: float) -> list[tuple[str, float, str]]:
    """The DAWproject ``Limiter`` device's elements in the schema's order: ``(tag, value, unit)``;
    Attack carries the lookahead, Threshold the ceiling before the fader."""
    return [("Attack", settings["lookahead_ms"] / 1000.0, "seconds"),
            ("Release", settings["release_ms"] / 1000.0, "seconds"),
            ("Threshold", settings["ceiling_dbtp"] - fader_db, "decibel")]


def describe(settings: dict[str, float]) -> str:
    return (f"limiter: true-peak ceiling {settings['ceiling_dbtp']:+.2f} dBTP, lookahead "
            f"{settings['lookahead_ms']:g} ms, release {settings['release_ms']:g} ms")
