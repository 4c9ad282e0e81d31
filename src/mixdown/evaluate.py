"""Evaluate mixing systems against reference mixes: ``mixdown evaluate``.

Systems share one interface (tracks -> parameters, rendered through the exact path):
the model of a checkpoint, and the baselines ``raw_sum`` (every strip neutral),
``equal_loudness`` (every track at the same loudness, equal headroom), ``heuristic`` and
``oracle`` (per-track gain and pan fitted to the reference by least squares: the upper bound
of gain-only mixing).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixdown.measure import metrics
from mixdown.models.baselines import BASELINES, equal_loudness, neutral, oracle
from mixdown.params import spec as S
from mixdown.params.io import MixParams, read_params

log = logging.getLogger(__name__)


@dataclass
class Song:
    name: str
    folder: Path
    tracks: list[Path]
    reference: Path
    params: Path | None


def discover(data: str | Path) -> list[Song]:
    """Songs of a manifest (``.jsonl``) or a folder of ``<song>/tracks/*`` + ``<song>/reference_mix.*``
    (or tracks beside the reference)."""
    from mixdown.data.dataset import read_manifest, resolve
    from mixdown.session import find_tracks

    data = Path(data)
    if data.suffix == ".jsonl":
        songs = []
        for rec in read_manifest(data):
            if not rec.get("mix"):
                log.warning("%s: no reference mix; skipped", rec.get("song"))
                continue
            tracks = [resolve(rec, t["path"], data.parent) for t in rec["tracks"]]
            params = resolve(rec, rec.get("params"), data.parent)
            songs.append(Song(rec["song"], Path(tracks[0]).parent, tracks,
                              resolve(rec, rec["mix"]["path"], data.parent), params))
        return songs
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: neither a .jsonl manifest nor a folder of songs")
    songs = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        refs = sorted(p for p in folder.iterdir() if p.stem in ("reference_mix", "mix") and p.is_file())
        if not refs:
            log.warning("%s: no reference_mix.* or mix.*; skipped", folder)
            continue
        _, tracks = find_tracks(folder)
        params = folder / "params.json"
        songs.append(Song(folder.name, folder, tracks, refs[0], params if params.exists() else None))
    if not songs:
        raise FileNotFoundError(f"{data}: no songs with a reference mix found")
    return songs


def system_params(system: str, session, reference: np.ndarray, model=None):
    """Physical ``(track_values, master_values)`` of one system for a session."""
    from mixdown.inference.predict import predict_params

    if system == "raw_sum":
        return neutral(len(session.audio), session.sample_rate)
    if system == "equal_loudness":
        return equal_loudness(session)
    if system == "oracle":
        return oracle(session, reference)
    if system == "heuristic":
        from mixdown.models import Heuristic

        model = Heuristic(session.sample_rate)
    return predict_params(model, session)


def evaluate_song(song: Song, systems: dict[str, object]) -> list[dict[str, float | str]]:
    """Mix one song with every system and measure it against the reference."""
    import soundfile as sf

    from mixdown.dsp.render import render
    from mixdown.session import read_tracks

    session = read_tracks(song.tracks, song.folder)
    ref, sr = sf.read(str(song.reference), dtype="float32", always_2d=True)
    ref = ref.T if ref.shape[1] == 2 else np.repeat(ref.T, 2, 0)
    if sr != session.sample_rate:
        raise ValueError(f"{song.reference}: {sr} Hz but the tracks are {session.sample_rate} Hz")
    truth = read_params(song.params) if song.params else None
    rows = []
    for name, model in systems.items():
        tv, mv = system_params(name, session, ref, model)
        lo, hi = np.array([s.limits(sr) for s in S.TRACK_SPECS]).T
        params = MixParams.from_arrays(sr, session.names, session.files, np.clip(tv, lo, hi), mv)
        est = render(session.folder, params, resample=session.resampled).audio.T
        n = min(est.shape[1], ref.shape[1])
        row: dict[str, float | str] = {"song": song.name, "system": name}
        row.update(metrics.mix_metrics(est[:, :n], ref[:, :n], sr))
        if truth is not None and sorted(t.name for t in truth.tracks) == sorted(session.names):
            order = [t.name for t in truth.tracks]
            true_tv = truth.track_matrix()[[order.index(n) for n in session.names]]
            est_tv = params.track_matrix()
            row["gain_error_db"] = float(np.mean(metrics.gain_error_db(est_tv, true_tv)["combined_db"]))
            row["pan_error"] = float(np.mean(metrics.pan_error(est_tv, true_tv)))
            row["eq_response_error_db"] = float(np.mean(metrics.eq_response_error_db(est_tv, true_tv, sr)))
            row["compressor_curve_error_db"] = float(np.mean(metrics.compressor_curve_error_db(est_tv, true_tv)))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- outputs
def summarize(rows: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Mean and 95% confidence half-width (t distribution) per system and metric."""
    from scipy import stats

    out: dict[str, dict[str, tuple[float, float]]] = {}
    for system in dict.fromkeys(r["system"] for r in rows):
        sel = [r for r in rows if r["system"] == system]
        keys = [k for k in sel[0] if k not in ("song", "system")]
        out[system] = {}
        for k in keys:
            v = np.array([r[k] for r in sel if k in r and math.isfinite(float(r[k]))], dtype=float)
            if "_diff_" in k:  # signed est - ref in the CSVs; the summary ranks by size
                v, k = np.abs(v), f"|{k}|"
            if len(v) == 0:
                continue
            half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 \
                else float("nan")
            out[system][k] = (float(v.mean()), half)
    return out


def markdown_table(summary: dict[str, dict[str, tuple[float, float]]]) -> str:
    keys = list(dict.fromkeys(k for s in summary.values() for k in s))
    lines = ["| system | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for system, m in summary.items():
        cells = [f"{m[k][0]:.3g} ± {m[k][1]:.2g}" if k in m else "" for k in keys]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nValues: mean ± 95% confidence half-width over songs (lower is better).\n"


def plots(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    systems = list(dict.fromkeys(r["system"] for r in rows))
    songs = list(dict.fromkeys(r["song"] for r in rows))
    keys = [k for k in rows[0] if k not in ("song", "system")]
    paths = []
    for k in keys:
        data = [[float(r[k]) for r in rows if r["system"] == s and k in r and math.isfinite(float(r[k]))]
                for s in systems]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
        ax1.boxplot(data, tick_labels=systems)
        ax1.set_title(f"{k} per system")
        width = 0.8 / len(systems)
        for j, s in enumerate(systems):
            vals = [next((float(r[k]) for r in rows if r["system"] == s and r["song"] == g and k in r), np.nan)
                    for g in songs]
            ax2.bar(np.arange(len(songs)) + j * width, vals, width, label=s)
        ax2.set_xticks(np.arange(len(songs)) + 0.4 - width / 2, songs, rotation=90, fontsize=6)
        ax2.set_title(f"{k} per song")
        ax2.legend(fontsize=6)
        fig.tight_layout()
        path = out / f"{k}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def run_evaluation(data: str | Path, out: str | Path, checkpoint: str | Path | None = None,
                   baselines: tuple[str, ...] = BASELINES, include_model: bool = True,
                   progress: bool = True) -> dict:
    """Evaluate every system on every song; write CSVs, ``summary.md`` and plots into ``out``."""

    from mixdown.inference.predict import load_default_model

    out = Path(out)
    (out / "songs").mkdir(parents=True, exist_ok=True)
    systems: dict[str, object] = {}
    if include_model:
        model = load_default_model(checkpoint)
        systems[f"model:{type(model).__name__}"] = model
    systems.update({b: None for b in baselines})
    songs = discover(data)
    rows: list[dict] = []
    it = songs
    if progress:
        from tqdm import tqdm

        it = tqdm(songs, desc="evaluate", unit="song")
    for song in it:
        song_rows = evaluate_song(song, systems)
        rows += song_rows
        _write_csv(out / "songs" / f"{song.name}.csv", song_rows)
    _write_csv(out / "results.csv", rows)
    summary = summarize(rows)
    (out / "summary.md").write_text(markdown_table(summary))
    plots(rows, out / "plots")
    log.info("evaluated %d songs x %d systems -> %s", len(songs), len(systems), out)
    return summary


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv

    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        w.writerows(rows)
