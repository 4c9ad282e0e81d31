"""A self-contained HTML report of a mix's console settings (``mixdown mix --report``).

:func:`write_report` draws, with matplotlib's Agg renderer:

* per track: the EQ magnitude (high-pass + 6 bands, :func:`mixdown.dsp.strip.strip_response_db`),
  the compressor's static curve and its gain reduction over time (the renderer's own strip run on
  the track, :func:`mixdown.dsp.render.strip_signals`);
* the master bus: the same three panels, the master strip fed with the sum of the tracks' strips;
* a stage plot (pan across, fader level up), BS.1770 integrated loudness of each raw track and of
  its processed contribution, and the long-term spectra of the raw tracks and of the final mix
  (rendered with :func:`mixdown.dsp.render.render`);
* a table of every parameter value with its unit, formatted as in the parameter file;
* with a reference mix: its spectrum (level-matched) beside the mix's, and a "Reference" section
  comparing the final mix and the raw sum of the tracks with it (:mod:`mixdown.report.reference`).
* with a reverb (``mixdown.params/2``): every track's send, the reverb's settings, and each band's
  decay time beside the T60 measured from the impulse response, with the band-filtered energy-decay
  curves (:mod:`mixdown.report.reverb`).

Figures are embedded as base64 PNG and also saved next to the HTML in ``<name>_figures/``; the page and
its figures are written atomically and published together (:func:`mixdown.fileio.atomic_write_all`).
Audio is held in memory one track at a time (plus the stereo bus, and with a reference the raw sum
and the reference); plots use decimated curves.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path

from mixdown.fileio import atomic_write_all
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.report.analysis import analyse
from mixdown.report.figures import all_figures, figure_files

log = logging.getLogger(__name__)

_UNITS = {"dB": "dB", "Hz": "Hz", "ms": "ms", "ratio": ": 1", "q": "Q", "pan": "-1 L .. +1 R"}


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


def _reference_section(an: dict, name: str, sr: int, figure: str) -> str:
    from mixdown.report.reference import metrics_rows

    ref = an["reference"]
    text = (f"The final mix and the raw sum (every track at unity gain, centred) against {name}, over "
            f"{ref['frames'] / sr:.2f} s, each loudness-matched to the reference (final mix "
            f"{ref['mix']['gain_db']:+.1f} dB, raw sum {ref['raw']['gain_db']:+.1f} dB). Errors: lower is "
            "closer; differences (signal - reference): nearer 0 is closer.")
    return f"<h2>Reference</h2><p>{html.escape(text)}</p>{figure}{_table(*metrics_rows(ref))}"


def _reverb_section(params: MixParams, rv: dict, figure: str) -> str:
    from mixdown.report import reverb as R

    return (f"<h2>Reverb</h2><p>{html.escape(R.TEXT)}</p><h3>Sends</h3>{_table(*R.send_rows(params, rv))}"
            f"<h3>Settings</h3>{_table(*R.setting_rows(rv))}<h3>Decay per band</h3>{_table(*R.decay_rows(rv))}{figure}")


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
    figures = all_figures(params, an, reference is not None)
    fig_dir = out_html.parent / f"{out_html.stem}_figures"
    blocks, files = figure_files(figures, fig_dir)
    m = an["mix"]
    rows = [["session", str(session_dir)]]
    notes = params.extra.get("notes") if isinstance(params.extra.get("notes"), dict) else {}
    ckpt = notes.get("checkpoint") if isinstance(notes.get("checkpoint"), dict) else {}
    if notes.get("model"):  # which model made the settings, and which of its takes
        rows.append(["model", str(ckpt.get("name") or ckpt.get("file") or notes["model"])])
    if isinstance(notes.get("take"), int):
        rows.append(["take", f"{notes['take']} (another engineer's way: mixdown mix --take K)"])
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
    rev_section = "" if an["reverb"] is None else _reverb_section(params, an["reverb"], blocks["reverb"])
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>mixdown report: '
            f'{html.escape(session_dir.name)}</title><style>{_CSS}</style></head><body>'
            f"<h1>mixdown report: {html.escape(session_dir.name)}</h1>{summary}"
            f"<h2>Stage</h2>{blocks['stage']}<h2>Loudness</h2>{blocks['loudness']}{loud}"
            f"<h2>Spectrum</h2>{blocks['spectrum']}{ref_section}{rev_section}<h2>Tracks</h2>{track_blocks}"
            f"<h2>Master bus</h2>{blocks['master']}<h2>All settings</h2>{_settings_tables(params)}"
            "</body></html>\n")
    # the page and its figures are published together, each file whole (a failure leaves none of them)
    atomic_write_all([*((path, lambda tmp, data=data: tmp.write_bytes(data)) for path, data in files),
                      (out_html, lambda tmp: tmp.write_text(page, encoding="utf-8"))])
    log.info("wrote report %s (%d figures in %s)", out_html, len(figures), fig_dir)
    return out_html

