"""The report's figures (matplotlib, Agg): strips (EQ, static curve, gain reduction), stage,
loudness and spectrum, and the PNG files they are saved as."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from pathlib import Path

import numpy as np

from mixdown.params.io import MixParams
from mixdown.report.analysis import eq_response_db, static_curve
from mixdown.report.reverb import decay_figure

DPI = 80


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def strip_figure(title: str, values: dict[str, float], sr: int, gr, strip: bool):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.3))
    ax_eq, ax_st, ax_gr = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.4, 1, 1.4]})
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.15, top=0.83, wspace=0.25)
    f, total, bands = eq_response_db(values, sr, strip)
    for i, band in enumerate(bands):
        hp = "high-pass" + ("" if values.get("highpass_hz", 99.0) > 20 else " (off)")
        ax_eq.semilogx(f, band, lw=0.8, ls="--", alpha=0.6, label=hp if strip and i == 0 else None)
    ax_eq.semilogx(f, total, color="k", lw=2, label="total")
    lo = min(-18.0, float(np.min(total)) - 3) if not strip or values["highpass_hz"] <= 20 else -24.0
    ax_eq.set(xlabel="frequency (Hz)", ylabel="gain (dB)", title="EQ" + (" + high-pass" if strip else ""),
              ylim=(max(lo, -24.0), max(18.0, float(np.max(total)) + 3)), xlim=(f[0], f[-1]))
    ax_eq.grid(True, alpha=0.3)
    ax_eq.legend(loc="lower right", fontsize=7)
    levels = np.linspace(-60.0, 0.0, 121)
    ax_st.plot(levels, levels, color="0.7", lw=1, ls=":")
    ax_st.plot(levels, static_curve(values, levels), color="C3", lw=2)
    ax_st.axvline(values["compressor.threshold_db"], color="C3", lw=0.8, ls="--", alpha=0.6)
    ax_st.set(xlabel="input level (dB)", ylabel="output level (dB)", title="compressor static curve",
              xlim=(-60, 0), aspect="equal")
    ax_st.grid(True, alpha=0.3)
    t, g = gr
    ax_gr.fill_between(t, g, 0, color="C0", alpha=0.5, lw=0)
    ax_gr.set(xlabel="time (s)", ylabel="gain reduction (dB)", title="compressor gain reduction",
              ylim=(min(-1.0, float(np.min(g)) * 1.1), 0.2), xlim=(0, t[-1] if len(t) else 1))
    ax_gr.grid(True, alpha=0.3)
    fig.suptitle(title, fontweight="bold")
    return fig


def stage_figure(params: MixParams, an: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.12, top=0.92)
    for i, (t, tr) in enumerate(zip(params.tracks, an["tracks"])):
        ax.scatter(t.values["pan"], t.values["fader_db"], s=60 + 40 * tr["channels"], color=f"C{i % 10}", zorder=3)
        ax.annotate(t.name, (t.values["pan"], t.values["fader_db"]), textcoords="offset points",
                    xytext=(6, 6 if i % 2 == 0 else -14))
    faders = [t.values["fader_db"] for t in params.tracks]
    ax.set(xlim=(-1.15, 1.15), ylim=(min(faders) - 6, max(faders) + 6), xlabel="pan (-1 left, +1 right)",
           ylabel="fader (dB)", title="stage: pan and fader of each track (larger dot: stereo)")
    ax.axvline(0, color="0.6", lw=0.8)
    ax.grid(True, alpha=0.3)
    return fig


def loudness_figure(params: MixParams, an: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.1, top=0.9)
    x = np.arange(len(params.tracks))
    fin = [[v if math.isfinite(v) else np.nan for v in (tr["raw_lufs"], tr["out_lufs"])] for tr in an["tracks"]]
    floor = -70.0
    ax.bar(x - 0.2, [r - floor for r, _ in fin], 0.4, bottom=floor, label="raw track")
    ax.bar(x + 0.2, [o - floor for _, o in fin], 0.4, bottom=floor, label="in the mix (after strip, fader, pan)")
    if math.isfinite(an["mix"]["integrated_lufs"]):
        ax.axhline(an["mix"]["integrated_lufs"], color="k", ls="--", label="final mix")
    ax.set_xticks(x, [t.name for t in params.tracks])
    ax.set(ylabel="integrated loudness (LUFS)", title="BS.1770 integrated loudness", ylim=(floor, 0))
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def spectrum_figure(params: MixParams, an: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.9)
    for t, tr in zip(params.tracks, an["tracks"]):
        ax.semilogx(*tr["spectrum"], lw=0.8, alpha=0.8, label=f"{t.name} (raw)")
    ax.semilogx(*an["mix_spectrum"], color="k", lw=2, label="final mix")
    if "reference" in an:
        ax.semilogx(*an["reference"]["spectrum"], color="C3", lw=1.5, ls="--", label="reference (level-matched)")
    ax.set(xlabel="frequency (Hz)", ylabel="power (dB/Hz)", title="long-term average spectrum",
           xlim=(20, params.sample_rate / 2))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", s).strip("_") or "x"


def all_figures(params: MixParams, an: dict, with_reference: bool) -> list[tuple]:
    """``(key, caption, figure)`` of every figure, in page order."""
    from mixdown.report.reference import balance_figure

    sr = params.sample_rate
    figures = [("stage", "Stage: pan and fader level of each track", stage_figure(params, an)),
               ("loudness", "Integrated loudness (BS.1770-4) of each raw track, of its contribution to the mix "
                            "and of the final mix", loudness_figure(params, an)),
               ("spectrum", "Long-term average spectrum of each raw track and of the final mix"
                + (", and of the reference shifted to the mix's loudness" if with_reference else ""),
                spectrum_figure(params, an))]
    if with_reference:
        figures.append(("reference", "Octave-band balance of the raw sum and of the final mix against the "
                        "reference, each loudness-matched to it (dB; 0 = as the reference)",
                        balance_figure(an["reference"])))
    if an.get("reverb") is not None:
        figures.append(("reverb", "Reverb: energy decay of the impulse response in each band (solid, measured) "
                        "against each band's decay time (dashed)", decay_figure(an["reverb"])))
    for t, tr in zip(params.tracks, an["tracks"]):
        figures.append((f"track_{slug(t.name)}", f"Track {t.name}: EQ, compressor static curve, gain reduction",
                        strip_figure(f"track: {t.name}", t.values, sr, tr["gr"], strip=True)))
    figures.append(("master", "Master bus: EQ, compressor static curve, gain reduction",
                    strip_figure("master bus", params.master.values, sr, an["master_gr"], strip=False)))
    return figures


def figure_files(figures: list[tuple], fig_dir: Path) -> tuple[dict[str, str], list[tuple[Path, bytes]]]:
    """Each figure as PNG: key -> embedded ``<figure>`` HTML, and ``(fig_dir / "NN_key.png", data)``
    to write (nothing is written here)."""
    blocks, files = {}, []
    for i, (key, caption, fig) in enumerate(figures):
        data = png(fig)
        files.append((fig_dir / f"{i:02d}_{key}.png", data))
        blocks[key] = (f'<figure><img src="data:image/png;base64,{base64.b64encode(data).decode()}" '
                       f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    return blocks, files


def save_figures(figures: list[tuple], fig_dir: Path) -> dict[str, str]:
    """Write each figure as ``NN_key.png`` into ``fig_dir``, atomically and together
    (:func:`mixdown.fileio.atomic_write_all`); returns key -> embedded ``<figure>`` HTML."""
    from mixdown.fileio import atomic_write_all

    blocks, files = figure_files(figures, fig_dir)
    atomic_write_all([(path, lambda tmp, data=data: tmp.write_bytes(data)) for path, data in files])
    return blocks
