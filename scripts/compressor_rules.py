"""How far a compressor rule built from the parts alone can go on songs it has not seen.

    python scripts/compressor_rules.py [--draws 24] [--seed 0]

Leave one MixologyDB training song out at a time (the test songs are never read): from the
other training songs' engineers, per part, the share of tracks compressed at 2:1 or more with a
threshold below the peaks (:func:`mixdown.data.mixology.decisions_taken`), the median static
curve of those compressed tracks and the median curve over every engineer. Each rule then
sets each track of the held-out song:

* ``none``: no compressor;
* ``part median``: every track the median curve of all engineers on its part (no draws);
* ``switch <coupling> x<s>``: compressed with the part's share as its odds, at ``s`` times the
  median compressed curve, else off; the coins drawn per track (``independent``), one for the
  whole song (``one coin``) or stratified across the song's tracks (``stratified``).

Printed per rule: the decision benchmark's compressor error (:mod:`mixdown.decisions`, mean
|dB| against the median of the song's engineers), the spread across a song's tracks over the
engineers' (median over draws, then over songs), and the compressor's CRPS
(:func:`mixdown.decisions.system_scores`). A markdown table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from mixdown import decisions as D
from mixdown.data.mixology import TEST_SONGS, decisions_taken, read_mixologydb

G = "compressor_db"


def part_stats(sts: list[D.SongTracks]):
    """part -> (share compressed, median compressed curve, median curve of all) over ``sts``."""
    curves, taken = defaultdict(list), defaultdict(list)
    for st in sts:
        for m in st.engineers.values():
            for i, k in enumerate(st.keys):
                if k in m:
                    v = m[k].values
                    at = st.raw_lufs[i] + v["input_gain_db"]
                    curves[st.parts[i]].append(D._compressor_curve(v, at))
                    taken[st.parts[i]].append(bool(decisions_taken(v, at)["compressor"]))
    out = {}
    for p, c in curves.items():
        c, t = np.stack(c), np.array(taken[p])
        out[p] = (t.mean(), np.median(c[t], 0) if t.any() else np.zeros(c.shape[1]), np.median(c, 0))
    return out


def rule_curves(rule: str, parts: list[str], stats, rng) -> np.ndarray:
    """One draw of ``rule``'s curves for a song's tracks: ``(n_tracks, len(COMP_GRID_DB))``."""
    zero = np.zeros(len(D.COMP_GRID_DB))
    got = [stats.get(p, (0.0, zero, zero)) for p in parts]
    if rule == "none":
        return np.stack([zero for _ in parts])
    if rule == "part median":
        return np.stack([g[2] for g in got])
    _, coupling, scale = rule.split(" ")
    n = len(parts)
    u = {
        "independent": lambda: rng.random(n),
        "one-coin": lambda: np.full(n, rng.random()),
        "stratified": lambda: (rng.permutation(n) + rng.random()) / n,
    }[coupling]()
    s = float(scale[1:])
    return np.stack([s * g[1] if ui < g[0] else zero for g, ui in zip(got, u)])


RULES = ["none", "part median"] + [
    f"switch {c} x{s}" for s in (0.3, 0.45, 0.6, 0.8, 1.0) for c in ("independent", "one-coin", "stratified")
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    db = read_mixologydb()
    sts = {s: D.song_tracks(db, s) for s in db.songs() if s not in TEST_SONGS}
    eng = {s: D.engineer_features(st) for s, st in sts.items()}
    human_spread = {s: np.median([D.spreads(e)[G] for e in eng[s].values()]) for s in sts}
    stats = {s: part_stats([o for k, o in sts.items() if k != s]) for s in sts}
    rows = []
    for rule in RULES:
        rng = np.random.default_rng(args.seed)
        errors, scores, ratios = [], [], []
        for s, st in sts.items():
            med = D._median([e[G] for e in eng[s].values()])
            draws = [rule_curves(rule, st.parts, stats[s], rng) for _ in range(args.draws)]
            errors += [D._finite(D._abs_err(c, med)) for c in draws]
            feats = [{g: (c if g == G else np.zeros((len(c), 1))) for g in D.GROUPS} for c in draws]
            scores.append(D.system_scores(feats, eng[s])[G])
            ratios.append(np.median([np.mean(np.abs(c - c.mean(0))) for c in draws]) / human_spread[s])
        rows.append(
            {
                "rule": rule,
                "error_db": float(np.concatenate(errors).mean()),
                "spread_over_engineers": float(np.median(ratios)),
                "crps_db": float(np.concatenate(scores).mean()),
            }
        )
    print(f"{len(sts)} training songs, each left out in turn; {args.draws} draws\n")
    print("| rule | compressor error (dB) | spread / engineers' | CRPS (dB) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['rule']} | {r['error_db']:.3f} | {r['spread_over_engineers']:.2f}x | {r['crps_db']:.3f} |")
    print(json.dumps({"songs": len(sts), "draws": args.draws, "rules": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
