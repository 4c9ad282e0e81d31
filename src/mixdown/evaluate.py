"""Evaluate mixing systems against reference mixes: ``mixdown evaluate``.

Systems share one interface (tracks -> parameters, rendered through the exact path):
the models of one or more checkpoints, and the baselines of :mod:`mixdown.models.baselines`
(``raw_sum``, ``equal_loudness``, ``heuristic``, ``prior``, ``role_levels``, ``power_oracle``,
``waveform_oracle``; on request ``composer``, for the songs whose manifest carries it).

Before scoring, each reference is checked against the tracks' sum by envelope cross-correlation
(:mod:`mixdown.measure.align`); an offset reference (e.g. delayed by a look-ahead limiter) is
aligned with a warning. Confidence intervals are over songs: excerpts of one song (manifest
records ``<song>/<NN>``) are averaged first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixdown.errors import UsageError
from mixdown.measure import metrics
from mixdown.measure.align import envelope_lag, shift
from mixdown.models import baselines as B
from mixdown.models.baselines import BASELINES
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
    roles: list[str | None] | None = None
    group: str = ""  # the song an excerpt belongs to (confidence intervals are over groups)
    controls: list[dict | None] | None = None  # each track's manifest meta (a MIDI pair's cc7/cc10)


#: offsets (samples) up to which a reference counts as aligned
ALIGN_TOLERANCE = 16


def song_group(name: str) -> str:
    """``"openmsx/x/03"`` -> ``"openmsx/x"`` (excerpts of one song); other names unchanged."""
    head, _, tail = name.rpartition("/")
    return head if head and tail.isdigit() else name


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
                              resolve(rec, rec["mix"]["path"], data.parent), params,
                              [t.get("role") for t in rec["tracks"]], song_group(rec["song"]),
                              [t.get("meta") for t in rec["tracks"]]))
        return songs
    if not data.is_dir():
        raise UsageError(f"{data}: neither a .jsonl manifest nor a folder of songs")
    songs = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        refs = sorted(p for p in folder.iterdir() if p.stem in ("reference_mix", "mix") and p.is_file())
        if not refs:
            log.warning("%s: no reference_mix.* or mix.*; skipped", folder)
            continue
        _, tracks = find_tracks(folder)
        params = folder / "params.json"
        songs.append(Song(folder.name, folder, tracks, refs[0], params if params.exists() else None,
                          group=folder.name))
    if not songs:
        raise UsageError(f"{data}: no songs with a reference mix found")
    return songs


def system_params(system: str, session, reference: np.ndarray, model=None, song: Song | None = None):
    """Physical ``(track_values, master_values)`` of one system for a session; None for a system that
    does not apply to it (``composer`` on a song that is not a MIDI pair)."""
    from mixdown.inference.predict import predict_params

    if system == "raw_sum":
        return B.neutral(len(session.audio), session.sample_rate)
    if system == "equal_loudness":
        return B.equal_loudness(session)
    if system == "prior":
        return B.prior(session, song.roles if song else None, seed=song.name if song else "")
    if system == "role_levels":
        return B.role_levels(session)
    if system == "power_oracle":
        return B.power_oracle(session, reference)
    if system == "composer":
        return B.composer(session, song.controls if song else None)
    if system in ("waveform_oracle", "oracle"):
        return B.waveform_oracle(session, reference)
    if system == "heuristic":
        from mixdown.models import Heuristic

        model = Heuristic(session.sample_rate)
    return predict_params(model, session)


def applies(system: str, song: Song) -> bool:
    """Whether ``system`` can mix ``song``: ``composer`` needs every track's CC7 and CC10 (a MIDI pair)."""
    return system != "composer" or B.has_composer_controls(song.controls)


def evaluate_song(song: Song, systems: dict[str, object]) -> list[dict[str, float | str]]:
    """Mix one song with every system that applies to it (:func:`applies`) and measure it against
    the reference; the others get no row (said in the log)."""
    from mixdown.dsp.render import render
    from mixdown.session import load_reference, read_tracks

    skip = [name for name in systems if not applies(name, song)]
    if skip:
        log.info("%s: %s does not apply (no composer's controllers in its manifest); no row", song.name,
                 ", ".join(skip))
        systems = {k: v for k, v in systems.items() if k not in skip}
    if not systems:
        return []

    session = read_tracks(song.tracks, song.folder)
    sr = session.sample_rate
    ref = load_reference(song.reference, sr)[0].T  # (2, frames); another rate resampled with a warning
    truth = read_params(song.params) if song.params else None
    ref = check_alignment(song.name, session, ref)
    rows = []
    for name, model in systems.items():
        got = system_params(name, session, ref, model, song)
        if got is None:  # applies() said yes but the session's tracks do not match its manifest's
            log.warning("%s: %s cannot mix its %d tracks; no row", song.name, name, len(session.audio))
            continue
        tv, mv = got
        params = MixParams.from_arrays(sr, session.names, session.files, S.TRACK.clip(tv, sr), mv)
        est = render(session.folder, params, resample=session.resampled).audio.T
        n = min(est.shape[1], ref.shape[1])
        row: dict[str, float | str] = {"song": song.name, "group": song.group or song.name, "system": name}
        row.update(metrics.mix_metrics(est[:, :n], ref[:, :n], sr))
        # a mix's sides are a free choice (which guitar goes left): the left/right mirror may be closer
        row["mrstft_or_mirror"] = min(row["mrstft"], metrics.mix_metrics(est[::-1, :n], ref[:, :n], sr)["mrstft"])
        # spread: signed width difference (est - ref, dB) and the settings' mean |pan|
        row["stereo_width_bias_db"] = row["stereo_width_diff_db"]
        row["mean_abs_pan"] = float(np.mean(np.abs(tv[:, S.index(S.TRACK_SPECS, "pan")])))
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


def check_alignment(name: str, session, ref: np.ndarray) -> np.ndarray:
    """``ref`` aligned with the tracks' sum (envelope cross-correlation); warns when it was offset."""
    total = np.zeros_like(ref)
    for a in session.audio:
        k = min(a.shape[1], ref.shape[1])
        total[:, :k] += a[:, :k] if a.shape[0] == 2 else a[:1, :k]
    lag, corr = envelope_lag(total, ref, session.sample_rate)
    if abs(lag) > ALIGN_TOLERANCE:
        log.warning("%s: the reference is %d samples %s than the tracks (envelope correlation %.2f); aligned "
                    "before scoring", name, abs(lag), "later" if lag > 0 else "earlier", corr)
        return shift(ref, lag)
    return ref


# ----------------------------------------------------------------------------- outputs
_NOT_METRICS = ("song", "group", "system")


def by_group(rows: list[dict]) -> list[dict]:
    """Rows averaged over the excerpts of each song (``group``), per system; signed differences
    (``*_diff_*``) become sizes (``|*_diff_*|``)."""
    out = []
    for system in dict.fromkeys(r["system"] for r in rows):
        sel = [r for r in rows if r["system"] == system]
        for g in dict.fromkeys(r.get("group", r["song"]) for r in sel):
            part = [r for r in sel if r.get("group", r["song"]) == g]
            keys = [k for k in dict.fromkeys(k for r in part for k in r) if k not in _NOT_METRICS]
            row = {"song": g, "group": g, "system": system}
            for k in keys:
                v = [float(r[k]) for r in part if k in r and math.isfinite(float(r[k]))]
                if "_diff_" in k:  # signed est - ref in the CSVs; the summary ranks by size
                    v, k = [abs(x) for x in v], f"|{k}|"
                if v:
                    row[k] = float(np.mean(v))
            out.append(row)
    return out


def summarize(rows: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Mean and 95% confidence half-width (t distribution) per system and metric, over songs
    (excerpts of one song averaged first)."""
    from scipy import stats

    rows = by_group(rows)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for system in dict.fromkeys(r["system"] for r in rows):
        sel = [r for r in rows if r["system"] == system]
        keys = list(dict.fromkeys(k for r in sel for k in r if k not in _NOT_METRICS))
        out[system] = {}
        for k in keys:
            v = np.array([r[k] for r in sel if k in r and math.isfinite(float(r[k]))], dtype=float)
            if len(v) == 0:
                continue
            half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 \
                else float("nan")
            out[system][k] = (float(v.mean()), half)
    return out


def paired(rows: list[dict], base: str, system: str, metric: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """``system`` against ``base`` on the songs both were scored on, paired per song (excerpts
    of one song averaged first, as :func:`summarize` does): the mean of the per-song differences
    (``system - base``; negative: ``system`` is closer), its 95 % percentile bootstrap interval
    over songs (``n_boot`` resamples, ``seed``), the number of songs and on how many ``system``
    is closer. Songs where either lacks ``metric`` are left out (``n`` says how many count)."""
    per = {}
    for r in by_group(rows):
        if r["system"] in (base, system) and metric in r and math.isfinite(float(r[metric])):
            per.setdefault(r["group"], {})[r["system"]] = float(r[metric])
    both = np.array([(v[base], v[system]) for v in per.values() if base in v and system in v]).reshape(-1, 2)
    if len(both) == 0:
        raise UsageError(f"no song has {metric!r} for both {base!r} and {system!r}")
    d = both[:, 1] - both[:, 0]
    boot = np.random.default_rng(seed).choice(d, size=(n_boot, len(d)), replace=True).mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"mean": float(d.mean()), "lo": float(lo), "hi": float(hi), "n": len(d), "closer": int((d < 0).sum()),
            "base_mean": float(both[:, 0].mean()), "system_mean": float(both[:, 1].mean())}


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
    keys = [k for k in rows[0] if k not in _NOT_METRICS]
    paths = []
    for k in keys:
        data = [[float(r[k]) for r in rows if r["system"] == s and k in r and math.isfinite(float(r[k]))]
                for s in systems]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
        ax1.boxplot(data, tick_labels=systems)
        ax1.set_title(f"{k} per system")
        width = 0.8 / len(systems)
        for j, s in enumerate(systems):
            vals = np.array([next((float(r[k]) for r in rows if r["system"] == s and r["song"] == g and k in r),
                                  np.nan) for g in songs])
            have = np.isfinite(vals)  # a system may have no row for a song (e.g. composer off MIDI pairs)
            ax2.bar((np.arange(len(songs)) + j * width)[have], vals[have], width, label=s)
        ax2.set_xticks(np.arange(len(songs)) + 0.4 - width / 2, songs, rotation=90, fontsize=6)
        ax2.set_title(f"{k} per song")
        ax2.legend(fontsize=6)
        fig.tight_layout()
        path = out / f"{k}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


def run_evaluation(data: str | Path, out: str | Path, checkpoint=None,
                   baselines: tuple[str, ...] = BASELINES, include_model: bool = True,
                   progress: bool = True, resume: bool = False) -> dict:
    """Evaluate every system on every song; write CSVs, ``summary.md`` and plots into ``out``.

    ``checkpoint``: a path (system ``model:<Class>``), or ``{label: path}`` for several models
    (systems ``model:<label>``); None: the shipped model. ``resume``: reuse the per-song results of
    an earlier run in ``out`` and evaluate only the systems they lack (a long evaluation can be
    interrupted, and a new model added to an evaluation of the baselines); the earlier run's other
    systems stay in the results.
    """
    from mixdown.inference.predict import load_default_model

    out = Path(out)
    (out / "songs").mkdir(parents=True, exist_ok=True)
    systems: dict[str, object] = {}
    if include_model:
        if isinstance(checkpoint, dict):
            systems.update({f"model:{label}": load_default_model(p) for label, p in checkpoint.items()})
        else:
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
        path = out / "songs" / f"{song.name.replace('/', '__')}.csv"
        done = read_results(path) if resume and path.exists() else []
        missing = {k: v for k, v in systems.items() if k not in {r["system"] for r in done}}
        if missing:
            done += evaluate_song(song, missing)
            _write_csv(path, done)
        # this run's systems in its order, then those an earlier run added (kept when resuming)
        order = list(dict.fromkeys([*systems, *(r["system"] for r in done)]))
        rows += sorted(done, key=lambda r: order.index(r["system"]))
    if not rows:
        raise UsageError(f"{data}: none of {', '.join(systems)} applies to its songs (composer: MIDI pairs only)")
    _write_csv(out / "results.csv", rows)
    summary = summarize(rows)
    (out / "summary.md").write_text(markdown_table(summary))
    plots(rows, out / "plots")
    log.info("evaluated %d songs x %d systems -> %s", len(songs), len(systems), out)
    return summary


def read_results(path: str | Path) -> list[dict]:
    """The rows of an evaluation's CSV (``results.csv``, or a song's ``songs/*.csv``), empty cells
    dropped (a system that has no value for a metric)."""
    import csv

    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(fh)]


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv

    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        w.writerows(rows)
