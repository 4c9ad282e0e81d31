"""A self-contained HTML report of a mix's console settings (``mixdown mix --report``).

:func:`write_report` draws, with matplotlib's Agg renderer:

* per track: the EQ magnitude (high-pass + 6 bands, RBJ coefficients of
  :mod:`mixdown.dsp.coefficients`, ``scipy.signal.freqz``), the compressor's static curve and its
  gain reduction over time (the spec's compressor run on the track after input gain and EQ, with
  the compiled kernel of the training path);
* the master bus: the same three panels, the compressor fed with the EQ'd sum of the tracks;
* a stage plot (pan across, fader level up), BS.1770 integrated loudness of each raw track and of
  its processed contribution, and the long-term spectra of the raw tracks and of the final mix
  (rendered with :func:`mixdown.dsp.render.render`);
* a table of every parameter value with its unit, formatted as in the parameter file;
* with a reference mix: its spectrum (level-matched) beside the mix's, and a "Reference" section
  comparing the final mix and the raw sum of the tracks with it (:mod:`mixdown.report.reference`).

Figures are embedded as base64 PNG and also saved next to the HTML in ``<name>_figures/``.
Audio is held in memory one track at a time (plus the stereo bus, and with a reference the raw sum
and the reference); plots use decimated curves.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
import os
import re
from pathlib import Path

import numpy as np

from mixdown.dsp.strip import pole, static_gain_db, strip_response_db
from mixdown.params import spec as S
from mixdown.params.io import MixParams

log = logging.getLogger(__name__)

N_FREQS = 400
PLOT_POINTS = 1500
DPI = 80
_UNITS = {"dB": "dB", "Hz": "Hz", "ms": "ms", "ratio": ": 1", "q": "Q", "pan": "-1 L .. +1 R"}


# ----------------------------------------------------------------------------- analysis
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


def _decimate_gain(g: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Deepest reduction per window, for plotting: ``(seconds, dB)``."""
    hop = max(1, len(g) // PLOT_POINTS)
    n = len(g) // hop * hop
    mins = g[:n].reshape(-1, hop).min(axis=1) if n else g[:1]
    return (np.arange(len(mins)) * hop + hop / 2) / sr, mins


def _spectrum_db(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
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
        tracks.append({"gr": _decimate_gain(g, sr), "raw_lufs": _lufs(raw, sr), "out_lufs": _lufs(out, sr),
                       "spectrum": _spectrum_db(raw, sr), "channels": raw.shape[1]})
    g_master = strip_signals(bus.astype(np.float32), params, None)[1]
    mix = render(session_dir, params, resample=True).audio
    out = {"tracks": tracks, "master_gr": _decimate_gain(g_master, sr), "mix_spectrum": _spectrum_db(mix, sr),
           "mix": measure(mix, sr), "seconds": n / sr}
    if reference is not None:
        from mixdown.report.reference import compare

        cmp = compare(mix, raw_sum, reference, sr)
        f, p = _spectrum_db(reference[:cmp["frames"]], sr)
        out["reference"] = {**cmp, "spectrum": (f, p + cmp["ref_gain_db"])}
    return out


# ----------------------------------------------------------------------------- figures
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _strip_figure(title: str, values: dict[str, float], sr: int, gr, strip: bool):
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


def _stage_figure(params: MixParams, an: dict):
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


def _loudness_figure(params: MixParams, an: dict):
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


# ----------------------------------------------------------------------------- HTML
def _fmt(v: float) -> str:
    """A value as JSON writes it (the parameter file's formatting)."""
    return json.dumps(float(v))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _settings_tables(params: MixParams) -> str:
    names = [t.name for t in params.tracks]
    rows = [[s.name, _UNITS.get(s.unit, s.unit)] + [_fmt(t.values[s.name]) for t in params.tracks]
            for s in S.TRACK_SPECS]
    master = [[s.name, _UNITS.get(s.unit, s.unit), _fmt(params.master.values[s.name])] for s in S.MASTER_SPECS]
    if params.master.normalize:
        master += [[f"normalize.{k}", "LUFS" if k == "target_lufs" else "dBTP" if k == "ceiling_dbtp" else "dB",
                    _fmt(v)] for k, v in params.master.normalize.items()]
    return ("<h3>Tracks</h3>" + _table(["parameter", "unit"] + names, rows)
            + "<h3>Master bus</h3>" + _table(["parameter", "unit", "master"], master))


_CSS = """body{font-family:system-ui,sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;
text-align:right}th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}figure{margin:1em 0}
img{max-width:100%}figcaption{font-size:13px;color:#555}"""


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", s).strip("_") or "x"


def _reference_section(an: dict, name: str, sr: int, figure: str) -> str:
    from mixdown.report.reference import metrics_rows

    ref = an["reference"]
    text = (f"The final mix and the raw sum (every track at unity gain, centred) against {name}, over "
            f"{ref['frames'] / sr:.2f} s, each loudness-matched to the reference (final mix "
            f"{ref['mix']['gain_db']:+.1f} dB, raw sum {ref['raw']['gain_db']:+.1f} dB). Errors: lower is "
            "closer; differences (signal - reference): nearer 0 is closer.")
    return f"<h2>Reference</h2><p>{html.escape(text)}</p>{figure}{_table(*metrics_rows(ref))}"


def write_report(out_html: str | os.PathLike, session_dir: str | os.PathLike, params: MixParams,
                 reference: str | os.PathLike | None = None) -> Path:
    """Write the HTML report of ``params`` applied to the stems in ``session_dir``.

    Args:
        out_html: the HTML file to write; its figures also go to ``<stem>_figures/`` beside it.
        session_dir: folder the tracks' ``file`` entries are relative to.
        params: the console settings.
        reference: a reference mix the mix was matched to: the report then compares them (read at
            ``params.sample_rate``, resampled with a warning where its rate differs).

    Returns:
        The HTML file's path.

    Raises:
        mixdown.session.SessionError: the reference is missing or unreadable (the message names it).
    """
    out_html, session_dir = Path(out_html), Path(session_dir)
    sr = params.sample_rate
    ref_audio = ref_rate = None
    if reference is not None:  # read first: a bad reference fails before the long analysis
        from mixdown.session import load_reference

        reference = Path(reference)
        ref_audio, ref_rate = load_reference(reference, sr)
    an = analyse(session_dir, params, ref_audio)
    figures = _figures(params, an, reference is not None)
    fig_dir = out_html.parent / f"{out_html.stem}_figures"
    blocks = _save_figures(figures, fig_dir)
    m = an["mix"]
    rows = [["session", str(session_dir)]]
    if reference is not None:
        rows.append(["reference", reference.name + (f" (resampled from {ref_rate} Hz)" if ref_rate != sr else "")])
    summary = _table(["", "value"], rows + [
        ["sample rate", f"{sr} Hz"], ["tracks", str(len(params.tracks))],
        ["length", f"{an['seconds']:.2f} s"], ["mix integrated loudness", f"{m['integrated_lufs']:.1f} LUFS"],
        ["mix true peak", f"{m['true_peak_dbtp']:.2f} dBTP"], ["mix sample peak", f"{m['sample_peak_dbfs']:.2f} dBFS"]])
    loud = _table(["track", "raw (LUFS)", "in the mix (LUFS)"],
                  [[t.name, f"{tr['raw_lufs']:.1f}", f"{tr['out_lufs']:.1f}"]
                   for t, tr in zip(params.tracks, an["tracks"])])
    track_blocks = "".join(blocks[k] for k, _, _ in figures if k.startswith("track_"))
    ref_section = "" if reference is None else _reference_section(an, reference.name, sr, blocks["reference"])
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mixdown report: '
            f'{html.escape(session_dir.name)}</title><style>{_CSS}</style></head><body>'
            f"<h1>mixdown report: {html.escape(session_dir.name)}</h1>{summary}"
            f"<h2>Stage</h2>{blocks['stage']}<h2>Loudness</h2>{blocks['loudness']}{loud}"
            f"<h2>Spectrum</h2>{blocks['spectrum']}{ref_section}<h2>Tracks</h2>{track_blocks}"
            f"<h2>Master bus</h2>{blocks['master']}<h2>All settings</h2>{_settings_tables(params)}"
            "</body></html>\n")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    log.info("wrote report %s (%d figures in %s)", out_html, len(figures), fig_dir)
    return out_html


def _figures(params: MixParams, an: dict, with_reference: bool) -> list[tuple]:
    """``(key, caption, figure)`` of every figure, in page order."""
    from mixdown.report.reference import balance_figure

    sr = params.sample_rate
    figures = [("stage", "Stage: pan and fader level of each track", _stage_figure(params, an)),
               ("loudness", "Integrated loudness (BS.1770-4) of each raw track, of its contribution to the mix "
                            "and of the final mix", _loudness_figure(params, an)),
               ("spectrum", "Long-term average spectrum of each raw track and of the final mix"
                + (", and of the reference shifted to the mix's loudness" if with_reference else ""),
                spectrum_figure(params, an))]
    if with_reference:
        figures.append(("reference", "Octave-band balance of the raw sum and of the final mix against the "
                        "reference, each loudness-matched to it (dB; 0 = as the reference)",
                        balance_figure(an["reference"])))
    for t, tr in zip(params.tracks, an["tracks"]):
        figures.append((f"track_{_slug(t.name)}", f"Track {t.name}: EQ, compressor static curve, gain reduction",
                        _strip_figure(f"track: {t.name}", t.values, sr, tr["gr"], strip=True)))
    figures.append(("master", "Master bus: EQ, compressor static curve, gain reduction",
                    _strip_figure("master bus", params.master.values, sr, an["master_gr"], strip=False)))
    return figures


def _save_figures(figures: list[tuple], fig_dir: Path) -> dict[str, str]:
    """Write each figure as ``NN_key.png`` into ``fig_dir``; returns key -> embedded ``<figure>`` HTML."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    blocks = {}
    for i, (key, caption, fig) in enumerate(figures):
        png = _png(fig)
        (fig_dir / f"{i:02d}_{key}.png").write_bytes(png)
        blocks[key] = (f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
                       f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>')
    return blocks
