"""The report's "Reference" part (``mixdown mix --reference REF --report``): the mix against the reference.

Two signals are compared with the reference, each loudness-matched to it
(:func:`mixdown.measure.metrics.loudness_match_gain_db`) and all three trimmed to the shortest:

* the **raw sum**: every raw track at unity gain, centred (mono tracks in both channels), the
  starting point before any console setting;
* the **final mix**, as :func:`mixdown.dsp.render.render` makes it.

:func:`compare` gives per octave band (:func:`mixdown.measure.metrics.band_energies_db`) the dB difference
from the reference and :func:`mixdown.measure.metrics.mix_metrics`; :func:`balance_figure` draws the bands,
:func:`metrics_rows` lays out the table. :mod:`mixdown.report` puts them on the page.
"""

from __future__ import annotations

import math

import numpy as np

#: band energies below this count as "nothing there" (as in :func:`mixdown.measure.metrics.spectral_balance_error_db`)
BAND_FLOOR_DB = -120.0
#: ``(mix_metrics key, row label, decimals, signed)`` of the comparison table
METRIC_ROWS = (("spectral_balance_mae_db", "octave-band balance mean abs error (dB)", 2, False),
               ("mrstft", "MR-STFT distance", 3, False),
               ("stereo_width_diff_db", "stereo width difference (dB)", 2, True),
               ("crest_factor_diff_db", "crest factor difference (dB)", 2, True),
               ("loudness_diff_lu", "loudness difference (LU)", 2, True))
SIGNALS = (("raw", "raw sum"), ("mix", "final mix"))


def compare(mix: np.ndarray, raw_sum: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict:
    """Octave-band balance and :func:`mixdown.measure.metrics.mix_metrics` of the raw sum and the final mix
    against the reference; all ``(frames, 2)``, trimmed to the shortest.

    Returns ``{"frames", "centres" (10,), "ref_gain_db", "raw": {...}, "mix": {...}}``: ``ref_gain_db``
    brings the reference to the final mix's loudness (for the spectrum figure); each signal's entry holds
    ``gain_db`` (its loudness-matching gain onto the reference), ``bands_db`` (10,) (its loudness-matched
    band energy minus the reference's, NaN where both are below -120 dB, e.g. above Nyquist) and
    ``metrics``.
    """
    from mixdown.measure.metrics import band_edges_hz, band_energies_db, loudness_match_gain_db, mix_metrics

    n = min(len(mix), len(raw_sum), len(reference))
    ref = np.ascontiguousarray(reference[:n].T)
    ref_bands = np.maximum(band_energies_db(ref, sample_rate, "octave"), BAND_FLOOR_DB)
    out = {"frames": n, "centres": band_edges_hz("octave")[0]}
    for key, x in (("raw", raw_sum), ("mix", mix)):
        est = np.ascontiguousarray(x[:n].T)
        gain = loudness_match_gain_db(est, ref, sample_rate)  # brings est to the reference's loudness
        bands = np.maximum(band_energies_db(est, sample_rate, "octave") + gain, BAND_FLOOR_DB)
        live = (bands > BAND_FLOOR_DB) | (ref_bands > BAND_FLOOR_DB)
        out[key] = {"gain_db": gain, "bands_db": np.where(live, bands - ref_bands, np.nan),
                    "metrics": mix_metrics(est, ref, sample_rate)}
        if key == "mix":  # the other way round: the reference brought to the final mix's loudness
            out["ref_gain_db"] = loudness_match_gain_db(ref, est, sample_rate)
    return out


def _band_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


def balance_figure(cmp: dict):
    """Bar chart: per octave band, raw sum and final mix minus the reference (dB, loudness-matched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.9)
    x = np.arange(len(cmp["centres"]))
    for (key, label), dx, color in zip(SIGNALS, (-0.2, 0.2), ("C7", "C0")):
        mae = cmp[key]["metrics"]["spectral_balance_mae_db"]
        ax.bar(x + dx, np.nan_to_num(cmp[key]["bands_db"]), 0.4, color=color,
               label=f"{label} (mean abs error {mae:.1f} dB)")
    for i in np.flatnonzero(np.isnan(cmp["mix"]["bands_db"]) & np.isnan(cmp["raw"]["bands_db"])):
        ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [_band_label(c) for c in cmp["centres"]])
    ax.set(xlabel="octave band centre (Hz)", ylabel="difference from reference (dB)",
           title="octave-band balance against the reference (loudness-matched; 0 = as the reference)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _number(v: float, decimals: int, signed: bool) -> str:
    if math.isnan(v):
        return "n/a"
    return f"{v:+.{decimals}f}" if signed else f"{v:.{decimals}f}"


def metrics_rows(cmp: dict) -> tuple[list[str], list[list[str]]]:
    """``(headers, rows)`` of the comparison table: a metric per row, raw sum and final mix columns."""
    headers = ["metric (against the reference)"] + [label for _, label in SIGNALS]
    rows = [[label] + [_number(cmp[key]["metrics"][m], d, signed) for key, _ in SIGNALS]
            for m, label, d, signed in METRIC_ROWS]
    return headers, rows
