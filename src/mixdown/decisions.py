"""The decision benchmark: systems' per-track settings against the engineers of MixologyDB.

Mixing has many right answers, so a system is not scored against one mix: for each song and track,
each group of decisions is compared with the **median of that song's engineers**, and the
engineers themselves, each against the median of the others, give the ceiling (``human``).

Groups (per track; :func:`features`):

* ``level_db``: ``raw LUFS + input gain + fader``, relative to the power sum of the mix's tracks;
* ``pan``: ``|pan|``; signed where the name says left or right (:func:`mixdown.data.roles.side_of`);
* ``highpass_oct``: ``log2(highpass_hz / 20)`` (off = 20 Hz = 0);
* ``eq_db``: the six-band EQ's response at the octave centres 31.5 Hz..16 kHz (mean |dB|);
* ``compressor_db``: the static gain reduction (soft knee, ``docs/console.md``) over the track's
  level range, from 10 dB below to 14 dB above its loudness at the compressor (0 when off);
* ``send_db``: ``reverb_send_db`` (-60 = off).

Systems other than ``human`` hear **stand-in sessions**: each song's raw tracks (their session
names, parts, mono/stereo, raw loudness) rendered as 30 s of role-typical audio
(:mod:`mixdown.data.builders.standin`). Beside the errors, :func:`shares` counts per part how
often a system high-passes, compresses at 2:1 or more and sends above -30 dB, against the
engineers' shares, and :func:`spreads` how far its decisions spread across a song's tracks.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mixdown.data.mixology import (
    TEST_SONGS,
    Decision,
    MixologyDB,
    decisions_taken,
    eq_octaves_db,
    power_sum_db,
)
from mixdown.data.roles import PART_PRIOR
from mixdown.params import spec as S

log = logging.getLogger(__name__)

GROUPS = ("level_db", "pan", "highpass_oct", "eq_db", "compressor_db", "send_db")
#: the compressor's static curve is compared at these levels relative to the track's loudness (dB)
COMP_GRID_DB = np.arange(-10.0, 14.5, 2.0)
#: the shares' names for the decisions :func:`mixdown.data.mixology.decisions_taken` tells taken (a
#: compressor counts when its ratio is 2:1 or more and its threshold lies below the track's peaks)
SHARE_NAMES = {"highpass": "highpass", "compressor": "compressed_2to1", "send": "send_above_-30"}


@dataclass
class SongTracks:
    """A song's raw tracks (those placed in at least half of its mixes) and its engineers.

    ``engineers``: mix name -> {track key -> Decision}."""

    song: str
    keys: list[str]
    names: list[str]
    parts: list[str]
    stereo: list[bool]
    raw_lufs: np.ndarray
    sides: list[int]
    engineers: dict[str, dict[str, Decision]]


def song_tracks(db: MixologyDB, song: str) -> SongTracks:
    """The raw tracks of ``song`` and each engineer's decisions on them."""
    mixes: dict[str, dict[str, Decision]] = defaultdict(dict)
    for d in db.of_song(song):
        mixes[d.mix][d.key] = d
    count = Counter(k for m in mixes.values() for k in m)
    keys = sorted(k for k, c in count.items() if 2 * c >= len(mixes))
    names, parts, stereo, lufs, sides, used = [], [], [], [], [], set()
    for k in keys:
        ds = [m[k] for m in mixes.values() if k in m]
        name = Counter(d.name for d in ds).most_common(1)[0][0]
        base, n = name, 2
        while name.lower() in used:  # one file per track: names must differ
            name, n = f"{base} {n}", n + 1
        used.add(name.lower())
        names.append(name)
        parts.append(Counter(d.part for d in ds).most_common(1)[0][0])
        stereo.append(Counter(d.stereo for d in ds).most_common(1)[0][0])
        lufs.append(float(np.median([d.raw_lufs for d in ds])))
        sides.append(Counter(d.side for d in ds).most_common(1)[0][0])
    engineers = {mix: {k: m[k] for k in keys if k in m} for mix, m in mixes.items()}
    return SongTracks(song, keys, names, parts, stereo, np.array(lufs), sides, engineers)


def _compressor_curve(v: dict[str, float], level_db: float) -> np.ndarray:
    from mixdown.dsp.kernels import soft_knee_gain_db

    if v["compressor.ratio"] <= 1.0:
        return np.zeros_like(COMP_GRID_DB)
    return np.array(
        [
            soft_knee_gain_db(
                level_db + x, v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.knee_db"]
            )
            for x in COMP_GRID_DB
        ]
    )


def features(rows: list[dict[str, float] | None], raw_lufs: np.ndarray, sides: list[int]) -> dict[str, np.ndarray]:
    """Each group's value per track; ``rows[i]`` None where a mix leaves track ``i`` out (NaN).

    Shape: group -> ``(n_tracks, k)`` (k = 10 octaves for ``eq_db``, ``len(COMP_GRID_DB)`` for
    ``compressor_db``, 1 otherwise)."""
    n = len(rows)
    out = {
        g: np.full((n, 10 if g == "eq_db" else len(COMP_GRID_DB) if g == "compressor_db" else 1), np.nan)
        for g in GROUPS
    }
    level = np.full(n, np.nan)
    for i, v in enumerate(rows):
        if v is None:
            continue
        at_comp = raw_lufs[i] + v["input_gain_db"]
        level[i] = at_comp + v["fader_db"]
        out["pan"][i] = v["pan"] if sides[i] else abs(v["pan"])
        out["highpass_oct"][i] = np.log2(max(v["highpass_hz"], 20.0) / 20.0)
        out["eq_db"][i] = eq_octaves_db(v)
        out["compressor_db"][i] = _compressor_curve(v, at_comp)
        out["send_db"][i] = max(v["reverb_send_db"], S.SEND_OFF_DB)
    present = np.isfinite(level)
    if present.any():
        out["level_db"][present, 0] = level[present] - power_sum_db(level[present])
    return out


def engineer_features(st: SongTracks) -> dict[str, dict[str, np.ndarray]]:
    """Mix name -> :func:`features` of that engineer's decisions on ``st``'s tracks."""
    return {
        mix: features([m[k].values if k in m else None for k in st.keys], st.raw_lufs, st.sides)
        for mix, m in st.engineers.items()
    }


def _abs_err(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per track mean |x - ref| over the group's components; NaN where either is missing."""
    if not np.isfinite(x).any():
        return np.full(len(x), np.nan)
    with warnings.catch_warnings():  # a track left out of one side: NaN, dropped later
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.abs(x - ref), axis=1)


def _median(feats: list[np.ndarray]) -> np.ndarray:
    """Element-wise median over mixes, ignoring the tracks a mix leaves out (NaN)."""
    with warnings.catch_warnings():  # a track no mix places: all-NaN, stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(feats), axis=0)


def human_errors(eng: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each engineer against the median of the others: group -> errors of all (engineer, track)."""
    out: dict[str, list] = {g: [] for g in GROUPS}
    for mix in eng:
        others = [e for m, e in eng.items() if m != mix]
        if others:
            for g in GROUPS:
                out[g].append(_abs_err(eng[mix][g], _median([o[g] for o in others])))
    return {g: _finite(np.concatenate(v)) if v else np.zeros(0) for g, v in out.items()}


def _finite(x: np.ndarray) -> np.ndarray:
    return x[np.isfinite(x)]


def system_errors(sys_feats: dict[str, np.ndarray], eng: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A system against the median of all the song's engineers: group -> per-track errors."""
    return {g: _finite(_abs_err(sys_feats[g], _median([e[g] for e in eng.values()]))) for g in GROUPS}


def crps(draws: np.ndarray, obs: np.ndarray) -> float:
    """The fair continuous ranked probability score of a system's ``draws`` ``(m, k)`` against
    the engineers' values ``obs`` ``(n, k)`` of one track, averaged over the ``k`` components:
    ``E|X - Y| - E|X - X'| / 2`` with ``X, X'`` two different draws (Ferro 2014: a mean over
    pairs of distinct draws, so a system's ensemble size does not bias it; one draw: 0) and ``Y``
    an engineer. A proper score: lowest, in expectation, for a system whose draws follow the
    engineers' own distribution; a system at their median scores their mean absolute deviation
    from it. Rows with a NaN are left out; NaN when either side has none."""
    x = draws[np.isfinite(draws).all(1)]
    y = obs[np.isfinite(obs).all(1)]
    if not len(x) or not len(y):
        return float("nan")
    to_obs = np.abs(x[:, None, :] - y[None, :, :]).mean()
    m = len(x)
    spread = np.abs(x[:, None, :] - x[None, :, :]).mean(2).sum() / (m * (m - 1)) if m > 1 else 0.0
    return float(to_obs - spread / 2)


def system_scores(draws: list[dict[str, np.ndarray]], eng: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A system's draws (each :func:`features`) as a distribution against all the song's
    engineers: group -> per-track :func:`crps` (tracks with no value on either side left out)."""
    out = {}
    for g in GROUPS:
        xs, ys = np.stack([d[g] for d in draws], 1), np.stack([e[g] for e in eng.values()], 1)  # (N, m|n, k)
        out[g] = _finite(np.array([crps(x, y) for x, y in zip(xs, ys)]))
    return out


def human_scores(eng: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The engineers' own ceiling on :func:`system_scores`: for each engineer in turn, the others
    as a system's draws against that engineer (leave one out), averaged per track: what a system
    drawing exactly as the engineers do scores. group -> per-track scores."""
    mixes = list(eng)
    out = {}
    for g in GROUPS:
        ys = np.stack([eng[m][g] for m in mixes], 1)  # (N, n, k)
        per_track = []
        for y in ys:
            s = [crps(np.delete(y, j, 0), y[j : j + 1]) for j in range(len(mixes)) if np.isfinite(y[j]).all()]
            s = [v for v in s if np.isfinite(v)]
            per_track.append(np.mean(s) if s else np.nan)
        out[g] = _finite(np.array(per_track))
    return out


def shares(rows: list[dict[str, float]], parts: list[str], raw_lufs) -> dict[tuple[str, str], tuple[int, int]]:
    """(part, decision) -> (tracks taking it, tracks) over ``rows`` (:data:`SHARE_NAMES`; each
    track's raw loudness in ``raw_lufs``)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for v, part, raw in zip(rows, parts, raw_lufs):
        for key, taken in decisions_taken(v, raw + v["input_gain_db"]).items():
            out[(part, SHARE_NAMES[key])][0] += int(bool(taken))
            out[(part, SHARE_NAMES[key])][1] += 1
    return {k: (a, b) for k, (a, b) in out.items()}


def spreads(feats: dict[str, np.ndarray]) -> dict[str, float]:
    """How far one mix's decisions spread across its tracks: per group, the mean absolute
    deviation from the tracks' mean (over components for vector groups)."""
    out = {}
    for g in GROUPS:
        x = feats[g][np.isfinite(feats[g]).all(1)]
        out[g] = float(np.mean(np.abs(x - x.mean(0)))) if len(x) > 1 else float("nan")
    return out


def rows_of(tv: np.ndarray) -> list[dict[str, float]]:
    """Per-track value dicts from a ``(N, len(TRACK_NAMES))`` matrix."""
    return [dict(zip(S.TRACK_NAMES, map(float, r))) for r in np.asarray(tv)]


def bootstrap_interval(x: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The 95 % bootstrap interval (percentiles) of the mean of ``x``; NaNs with under 2 values."""
    if len(x) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n, len(x)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def bootstrap_ci(x: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """Half-width of the 95 % bootstrap interval of the mean of ``x``."""
    lo, hi = bootstrap_interval(x, n, seed)
    return (hi - lo) / 2


#: the system the others are paired against, track by track, when it is scored (``paired.csv``)
PAIRED_BASE = "prior"


def paired_rows(track_errs: dict, base: str = PAIRED_BASE) -> list[dict]:
    """Each system's per-track error minus ``base``'s on the same tracks (mean over a system's
    draws first): ``track_errs`` (system, split) -> group -> per-song ``(n_tracks,)`` arrays in
    the song's track order -> rows of the mean difference and its 95 % bootstrap interval over
    tracks (negative: nearer the engineers' median than ``base``)."""
    rows = []
    for (name, split), groups in track_errs.items():
        if name == base or (base, split) not in track_errs:
            continue
        for g in GROUPS:
            d = np.concatenate(groups[g]) - np.concatenate(track_errs[(base, split)][g])
            d = d[np.isfinite(d)]
            lo, hi = bootstrap_interval(d)
            rows.append(
                {
                    "system": name,
                    "split": split,
                    "group": g,
                    "base": base,
                    "difference": float(d.mean()) if len(d) else float("nan"),
                    "lo": lo,
                    "hi": hi,
                    "n": int(len(d)),
                }
            )
    return rows


System = Callable[[SongTracks, Path], np.ndarray]


def run_decisions(
    db: MixologyDB,
    systems: dict[str, System],
    out: Path,
    standins: Path,
    render: Callable[[SongTracks, Path], None],
    songs: list[str] | None = None,
) -> dict:
    """Score ``systems`` (name -> f(song tracks, stand-in session folder) -> ``(N, P)`` track
    values) and the engineers on ``songs`` (default all); write ``out/decisions.csv``
    (``system,split,group,error,n``), ``decisions_ci.csv``, ``scores.csv`` (the draws as a
    distribution against the engineers: :func:`system_scores`), ``paired.csv`` (each system's
    per-track errors against the prior's: :func:`paired_rows`), ``shares.csv``, ``spreads.csv``,
    ``decisions.md`` and ``decisions.png``. ``render(st, folder)`` makes a missing stand-in."""
    out.mkdir(parents=True, exist_ok=True)
    songs = songs or db.songs()
    errs: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {g: [] for g in GROUPS})
    share_counts: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    spread_rows: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {g: [] for g in GROUPS})
    dist: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {g: [] for g in GROUPS})
    track_errs: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: {g: [] for g in GROUPS})
    from tqdm import tqdm

    def count(name: str, splits: tuple[str, ...], rows: list[dict], parts: list[str], raws, feats) -> None:
        """One mix's spreads and shares, into each split it belongs to."""
        for split in splits:
            for g, v in spreads(feats).items():
                spread_rows[(name, split)][g].append(v)
            for (part, dec), (a, b) in shares(rows, parts, raws).items():
                share_counts[(name, split, part, dec)][0] += a
                share_counts[(name, split, part, dec)][1] += b

    for song in tqdm(songs, desc="decision benchmark", unit="song"):
        st = song_tracks(db, song)
        splits = ("all", "test") if song in TEST_SONGS else ("all",)
        eng = engineer_features(st)
        results = {"human": human_errors(eng)}
        scores = {"human": human_scores(eng)}
        medians = {g: _median([e[g] for e in eng.values()]) for g in GROUPS}
        folder = standins / _slug(song)
        if systems and not (folder / "tracks").is_dir():
            render(st, folder)
        for name, fn in systems.items():
            got = fn(st, folder)
            draw_feats, track_draws = [], []  # per draw: its features, its per-track errors (NaN kept)
            for tv in got if isinstance(got, list) else [got]:  # one mix, or several draws
                rows = rows_of(tv)
                feats = features(rows, st.raw_lufs, st.sides)
                draw_feats.append(feats)
                track_draws.append({g: _abs_err(feats[g], medians[g]) for g in GROUPS})
                count(name, splits, rows, st.parts, st.raw_lufs, feats)
            results[name] = {g: np.concatenate([_finite(t[g]) for t in track_draws]) for g in GROUPS}
            scores[name] = system_scores(draw_feats, eng)
            with warnings.catch_warnings():  # a track with no error in any draw: NaN, dropped when paired
                warnings.simplefilter("ignore", RuntimeWarning)
                per_track = {g: np.nanmean(np.stack([t[g] for t in track_draws]), 0) for g in GROUPS}
            for split in splits:
                for g in GROUPS:
                    track_errs[(name, split)][g].append(per_track[g])
        for mix, m in st.engineers.items():
            placed = [i for i, k in enumerate(st.keys) if k in m]
            count(
                "human",
                splits,
                [m[st.keys[i]].values for i in placed],
                [st.parts[i] for i in placed],
                [st.raw_lufs[i] for i in placed],
                eng[mix],
            )
        for name, res in results.items():
            for split in splits:
                for g in GROUPS:
                    errs[(name, split)][g].append(res[g])
                    dist[(name, split)][g].append(scores[name][g])
    return _write(out, errs, share_counts, spread_rows, dist, paired_rows(track_errs))


def _slug(song: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in song).strip("-").lower()


def _summarise(per_track: dict, key: str) -> list[dict]:
    """(system, split) -> group -> per-song arrays  ->  rows of the mean (``key``), n and ci95."""
    table = []
    for (name, split), groups in per_track.items():
        for g in GROUPS:
            x = np.concatenate(groups[g]) if groups[g] else np.zeros(0)
            table.append(
                {
                    "system": name,
                    "split": split,
                    "group": g,
                    key: float(x.mean()) if len(x) else float("nan"),
                    "n": int(len(x)),
                    "ci95": bootstrap_ci(x),
                }
            )
    return table


def _write(out: Path, errs, share_counts, spread_rows, dist, paired) -> dict:
    from mixdown.fileio import atomic_write_text

    table = _summarise(errs, "error")
    score_table = _summarise(dist, "score")
    lines = ["system,split,group,error,n"] + [
        f"{r['system']},{r['split']},{r['group']},{r['error']:.4f},{r['n']}" for r in table
    ]
    atomic_write_text(out / "decisions.csv", "\n".join(lines) + "\n")
    atomic_write_text(
        out / "decisions_ci.csv",
        "system,split,group,error,ci95,n\n"
        + "".join(
            f"{r['system']},{r['split']},{r['group']},{r['error']:.4f},{r['ci95']:.4f},{r['n']}\n" for r in table
        ),
    )
    atomic_write_text(
        out / "scores.csv",
        "system,split,group,score,ci95,n\n"
        + "".join(
            f"{r['system']},{r['split']},{r['group']},{r['score']:.4f},{r['ci95']:.4f},{r['n']}\n" for r in score_table
        ),
    )
    atomic_write_text(
        out / "paired.csv",
        "system,split,group,base,difference,lo,hi,n\n"
        + "".join(
            f"{r['system']},{r['split']},{r['group']},{r['base']},{r['difference']:.4f},{r['lo']:.4f},{r['hi']:.4f},"
            f"{r['n']}\n"
            for r in paired
        ),
    )
    share_rows = []
    for (name, split, part, dec), (a, b) in sorted(share_counts.items()):
        share_rows.append(
            {"system": name, "split": split, "part": part, "decision": dec, "share": a / b if b else 0, "n": b}
        )
    atomic_write_text(
        out / "shares.csv",
        "system,split,part,decision,share,n\n"
        + "".join(
            f"{r['system']},{r['split']},{r['part']},{r['decision']},{r['share']:.3f},{r['n']}\n" for r in share_rows
        ),
    )
    spread_table = {
        (name, split): {g: float(np.nanmedian(v[g])) if v[g] else float("nan") for g in GROUPS}
        for (name, split), v in spread_rows.items()
    }
    atomic_write_text(
        out / "spreads.csv",
        "system,split,"
        + ",".join(GROUPS)
        + "\n"
        + "".join(
            f"{n},{s}," + ",".join(f"{spread_table[(n, s)][g]:.4f}" for g in GROUPS) + "\n" for (n, s) in spread_table
        ),
    )
    summary = {
        "errors": table,
        "scores": score_table,
        "paired": paired,
        "shares": share_rows,
        "spreads": {f"{n}/{s}": v for (n, s), v in spread_table.items()},
    }
    atomic_write_text(out / "decisions.md", _markdown(table, share_rows, spread_table, score_table, paired))
    _plot(out / "decisions.png", table)
    return summary


def _group_table(caption: str, cells: dict[str, list[str]]) -> list[str]:
    """Markdown lines: ``caption``, then a table of one row per system (name -> a cell per group)."""
    head = ["| system | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
    return [caption, "", *head, *(f"| {n} | " + " | ".join(c) + " |" for n, c in cells.items())]


def _markdown(table, share_rows, spread_table, score_table, paired) -> str:
    md = []
    for split in ("test", "all"):
        names = list(dict.fromkeys(r["system"] for r in table if r["split"] == split))
        if not names:
            continue
        cell = {(r["system"], r["group"]): r for r in table if r["split"] == split}
        md += _group_table(
            f"## {split} songs: error against the median of the song's engineers (95 % interval)",
            {n: [f"{cell[(n, g)]['error']:.3f} ± {cell[(n, g)]['ci95']:.3f}" for g in GROUPS] for n in names},
        )
        pair = {(r["system"], r["group"]): r for r in paired if r["split"] == split}
        if pair:
            md += [""] + _group_table(
                f"Paired against {PAIRED_BASE}, track by track (mean error difference and its 95 % bootstrap "
                f"interval over tracks; negative: nearer the engineers' median), {split} songs:",
                {
                    n: ["{difference:+.3f} ({lo:+.3f} to {hi:+.3f})".format(**pair[(n, g)]) for g in GROUPS]
                    for n in dict.fromkeys(s for s, _ in pair)
                },
            )
        score = {(r["system"], r["group"]): r for r in score_table if r["split"] == split}
        md += [""] + _group_table(
            f"As distributions (fair CRPS of a system's draws against the song's engineers; lower is "
            f"better; human: the others against each engineer in turn), {split} songs:",
            {n: [f"{score[(n, g)]['score']:.3f} ± {score[(n, g)]['ci95']:.3f}" for g in GROUPS] for n in names},
        )
        md += [""] + _group_table(
            f"Spread across a song's tracks (median over mixes), {split} songs:",
            {n: [f"{v[g]:.3f}" for g in GROUPS] for (n, s), v in spread_table.items() if s == split},
        )
        md += ["", f"Shares of tracks per part, {split} songs (system / engineers):", ""]
        human = {
            (r["part"], r["decision"]): r["share"] for r in share_rows if r["system"] == "human" and r["split"] == split
        }
        for n in names:
            if n == "human":
                continue
            worst = max(
                (abs(r["share"] - human.get((r["part"], r["decision"]), 0.0)), r["part"], r["decision"])
                for r in share_rows
                if r["system"] == n and r["split"] == split
            )
            md.append(f"- {n}: largest share difference {100 * worst[0]:.0f} points ({worst[1]}, {worst[2]})")
        md.append("")
    return "\n".join(md) + "\n"


def _plot(path: Path, table) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mixdown.fileio import atomic_write

    rows = [r for r in table if r["split"] == "test"] or [r for r in table if r["split"] == "all"]
    names = list(dict.fromkeys(r["system"] for r in rows))
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(3 * len(GROUPS), 3.2))
    for ax, g in zip(axes, GROUPS):
        vals = {r["system"]: r for r in rows if r["group"] == g}
        ax.bar(
            range(len(names)),
            [vals[n]["error"] for n in names],
            yerr=[vals[n]["ci95"] for n in names],
            color=["tab:green" if n == "human" else "tab:blue" for n in names],
        )
        ax.set_xticks(range(len(names)), names, rotation=70, fontsize=7)
        ax.set_title(g, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


SYSTEMS = ("raw_sum", "equal_loudness", "heuristic", "prior", "role_levels", "default")


def render_song(st: SongTracks, folder: Path, seconds: float = 30.0) -> None:
    """The stand-in session of ``st`` (:func:`mixdown.data.builders.standin.render_standin`),
    seeded by the song's name."""
    import zlib

    from mixdown.data.builders.standin import StandinTrack, render_standin

    tracks = [
        StandinTrack(n, p, 2 if s else 1, float(lv)) for n, p, s, lv in zip(st.names, st.parts, st.stereo, st.raw_lufs)
    ]
    render_standin(tracks, folder, seconds=seconds, seed=zlib.crc32(st.song.encode()))


def standin_order(st: SongTracks, names: list[str], folder: Path) -> list[int]:
    """Where each of ``st``'s tracks is among a stand-in session's track ``names``;
    :class:`~mixdown.errors.UsageError` naming the folder and the fix when one is missing."""
    from mixdown.data.builders.standin import safe_name
    from mixdown.errors import UsageError

    where = {n: i for i, n in enumerate(names)}
    missing = [n for n in st.names if safe_name(n) not in where]
    if missing:
        raise UsageError(
            f"{folder}: the stand-in session of {st.song!r} lacks {missing[:5]}; delete the folder "
            "and run again to render it anew"
        )
    return [where[safe_name(n)] for n in st.names]


def _in_song_order(st: SongTracks, session, tv: np.ndarray) -> np.ndarray:
    return tv[standin_order(st, session.names, session.folder)]


def make_systems(
    names: tuple[str, ...], checkpoints: dict[str, Path] | None = None, draws: int = 1
) -> dict[str, System]:
    """The systems by name (:data:`SYSTEMS`), plus one per ``checkpoints`` label. A model that
    draws an engineer's style per session (:class:`mixdown.models.engineer.Engineer`) mixes each
    song ``draws`` times (mixing has many right answers: it is scored as a distribution of mixes,
    as the engineers are)."""
    from mixdown.models import baselines as B
    from mixdown.session import read_session

    models: dict[str, object] = {}

    def model_system(label: str, load):
        def run(st: SongTracks, folder: Path) -> np.ndarray | list[np.ndarray]:
            from mixdown.inference.pipeline import settings

            if label not in models:
                models[label] = load()
            model = models[label]
            session = read_session(folder)
            if not hasattr(model, "draw") or draws <= 1:
                return _in_song_order(st, session, settings(session, model, progress=False).track_matrix())
            # a model that draws an engineer's style: several mixes per song, its takes 0 .. draws-1
            return [
                _in_song_order(st, session, settings(session, model, progress=False, take=k).track_matrix())
                for k in range(draws)
            ]

        return run

    def baseline(fn):
        def run(st: SongTracks, folder: Path) -> np.ndarray:
            session = read_session(folder)
            return _in_song_order(st, session, fn(st, session))

        return run

    def prior_of(st, session):
        from mixdown.data.builders.standin import safe_name

        part = {safe_name(n): p for n, p in zip(st.names, st.parts)}
        return B.prior(session, roles=[PART_PRIOR[part[n]] for n in session.names], seed=st.song)[0]

    def heuristic():
        from mixdown.models import Heuristic

        return Heuristic()

    def default():
        from mixdown.inference.predict import load_default_model

        return load_default_model()

    table = {
        "raw_sum": baseline(lambda st, s: B.neutral(len(s.audio), s.sample_rate)[0]),
        "equal_loudness": baseline(lambda st, s: B.equal_loudness(s)[0]),
        "prior": baseline(prior_of),
        "role_levels": baseline(lambda st, s: B.role_levels(s)[0]),
        "heuristic": model_system("heuristic", heuristic),
        "default": model_system("default", default),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        from mixdown.errors import UsageError

        raise UsageError(f"unknown decision-benchmark systems {unknown}; choose from {', '.join(SYSTEMS)}")
    systems = {n: table[n] for n in names}
    for label, path in (checkpoints or {}).items():
        from mixdown.inference.checkpoint import load_model

        systems[label] = model_system(label, lambda p=path: load_model(p))
    return systems
