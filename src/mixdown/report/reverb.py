"""The report's "Reverb" part: every track's send, the reverb's settings, and its impulse
response's decay per band, measured (:mod:`mixdown.report.page` puts them on the page).

The measurement is independent of how the impulse response is built: the response
(:func:`mixdown.dsp.reverb_ir.reverb_impulse_response`) is filtered by a scipy Butterworth
band-pass well inside each of the reverb's bands (below 500 Hz, 500-4000 Hz, above 4 kHz), and
the decay time is read from the Schroeder energy-decay curve (backward-integrated energy of both
channels) by a straight-line fit between -5 and -35 dB, extrapolated to 60 dB (a "T30" reading).
Limits of the reading, not of the response: where a neighbouring band decays several times more
slowly, its skirt dominates a band's late energy and the reading comes out longer.
"""

from __future__ import annotations

import math

import numpy as np

from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ
from mixdown.dsp.reverb_ir import BAND_NAMES, SEND_OFF_DB, reverb_impulse_response
from mixdown.params.io import MixParams

#: the master's reverb keys, in the spec's order, with their units
REVERB_KEYS: tuple[tuple[str, str], ...] = (("reverb.predelay_ms", "ms"), ("reverb.decay_low_s", "s"),
                                            ("reverb.decay_mid_s", "s"), ("reverb.decay_high_s", "s"),
                                            ("reverb.highpass_hz", "Hz"), ("reverb.return_db", "dB"))
SEND_KEY = "reverb_send_db"
FIT_DB = (-5.0, -35.0)


def has_reverb(params: MixParams) -> bool:
    """Whether the reverb is in the mix: its keys are there and at least one track sends (a
    ``mixdown.params/1`` file reads with every send off: no reverb, as before)."""
    return all(k in params.master.values for k, _ in REVERB_KEYS) and all(
        SEND_KEY in t.values for t in params.tracks) and any(
        t.values[SEND_KEY] > SEND_OFF_DB for t in params.tracks)


def analysis_bands(sample_rate: float) -> dict[str, tuple[float, float]]:
    """Band-pass edges (Hz) for reading each band's decay: well inside the band, below 0.45 fs."""
    high = (min(11000.0, 0.34 * sample_rate), min(18000.0, 0.44 * sample_rate))
    return {"low": (40.0, 250.0), "mid": (1200.0, 1800.0), "high": high}


def energy_decay_db(x: np.ndarray) -> np.ndarray:
    """Schroeder's energy-decay curve of ``x`` ``(channels, n)`` in dB (0 dB at the start)."""
    edc = np.cumsum(np.sum(x * x, axis=0)[::-1])[::-1]
    return 10.0 * np.log10(np.maximum(edc / edc[0], 1e-30))


def t60_from_edc(edc_db: np.ndarray, sample_rate: float) -> float:
    """60 dB decay time from a line fit of ``edc_db`` between -5 and -35 dB (NaN if too short)."""
    sel = (edc_db <= FIT_DB[0]) & (edc_db >= FIT_DB[1])
    if np.count_nonzero(sel) < 8:
        return math.nan
    slope = np.polyfit(np.flatnonzero(sel) / sample_rate, edc_db[sel], 1)[0]
    return -60.0 / slope if slope < 0 else math.nan


def reverb_analysis(params: MixParams) -> dict | None:
    """The reverb's settings, sends and per-band decay (parameter and measured), or None without one.

    Returns:
        ``{"settings": {key: value}, "sends": [dB or None per track], "bands": {band: {"decay_s",
        "measured_s", "analysis_hz", "edc_db"}}, "time_s"}``; ``edc_db`` and ``time_s`` are decimated
        to at most 2000 points for the plot.
    """
    from scipy.signal import butter, sosfilt

    if not has_reverb(params):
        return None
    sr = params.sample_rate
    v = {k: float(params.master.values[k]) for k, _ in REVERB_KEYS}
    ir = reverb_impulse_response(sr, v["reverb.predelay_ms"], v["reverb.decay_low_s"], v["reverb.decay_mid_s"],
                                 v["reverb.decay_high_s"])
    step = max(1, ir.shape[-1] // 2000)
    bands = {}
    for name, (f1, f2) in analysis_bands(sr).items():
        edc = energy_decay_db(sosfilt(butter(4, [f1, f2], "bandpass", fs=sr, output="sos"), ir, axis=-1))
        bands[name] = {"decay_s": v[f"reverb.decay_{name}_s"], "measured_s": t60_from_edc(edc, sr),
                       "analysis_hz": (f1, f2), "edc_db": edc[::step]}
    sends = [float(t.values[SEND_KEY]) if t.values[SEND_KEY] > SEND_OFF_DB else None for t in params.tracks]
    return {"settings": v, "sends": sends, "bands": bands, "time_s": np.arange(0, ir.shape[-1], step) / sr}


def decay_figure(rv: dict):
    """Band-filtered energy-decay curves of the impulse response, with each band's ideal line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.9)
    t, pre = rv["time_s"], rv["settings"]["reverb.predelay_ms"] / 1000.0
    for i, name in enumerate(BAND_NAMES):
        b = rv["bands"][name]
        f1, f2 = b["analysis_hz"]
        ax.plot(t, b["edc_db"], color=f"C{i}", lw=1.5,
                label=f"{name} ({f1:.0f}-{f2:.0f} Hz): measured {b['measured_s']:.2f} s")
        ax.plot(t, np.where(t >= pre, -60.0 * (t - pre) / b["decay_s"], 0.0), color=f"C{i}", lw=1, ls="--",
                label=f"{name}: parameter {b['decay_s']:.2f} s")
    ax.axhspan(FIT_DB[1], FIT_DB[0], color="0.9", zorder=0)
    ax.set(xlabel="time (s)", ylabel="energy decay (dB)", ylim=(-70, 3), xlim=(0, t[-1]),
           title="impulse response: band-filtered energy decay (Schroeder); shaded: fit range")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def send_rows(params: MixParams, rv: dict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)``: every track's send level (post-fader), "off" at or below -60 dB."""
    return (["track", "reverb send (post-fader)"],
            [[t.name, f"{db:+.1f} dB" if db is not None else "off"] for t, db in zip(params.tracks, rv["sends"])])


def setting_rows(rv: dict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)``: pre-delay, return high-pass and return level."""
    s = rv["settings"]
    hp = s["reverb.highpass_hz"]
    return (["setting", "value"], [["pre-delay", f"{s['reverb.predelay_ms']:.1f} ms"],
                                   ["return high-pass", f"{hp:.0f} Hz" if hp > HIGHPASS_OFF_HZ else "off"],
                                   ["return level", f"{s['reverb.return_db']:+.1f} dB"]])


def decay_rows(rv: dict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)``: each band's decay time, the parameter beside the measured T60."""
    return (["band", "decay time (parameter)", "measured T60", "measured in"],
            [[name, f"{b['decay_s']:.2f} s", f"{b['measured_s']:.2f} s",
              f"{b['analysis_hz'][0]:.0f}-{b['analysis_hz'][1]:.0f} Hz"] for name, b in rv["bands"].items()])


#: the section's introduction
TEXT = ("One stereo convolution reverb fed by a post-fader, post-pan send from each track; its impulse response is "
        "the console spec's (noise in three bands, below 500 Hz, 500-4000 Hz and above 4 kHz, each with its own "
        "decay). The measured T60 is read from the response itself: band-pass filtered, Schroeder energy decay, "
        "line fit from -5 to -35 dB.")
