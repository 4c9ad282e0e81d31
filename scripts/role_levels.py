"""How predictable a person's balance is from each track's role: per-role level offsets fitted on
training songs' fitted levels (`mixdown dataset targets`), scored on held-out songs.

For every song, each track's level (input gain + fader, dB) relative to the song's mean is the
target; "raw" predicts 0 for every track (the plain sum), "role offsets" predicts the mean relative
level of the track's role over the training songs (roles from the track names, as a model with
`use_roles` hears them). Prints the offsets, mean absolute errors per held-out manifest, and a JSON line.

    python scripts/role_levels.py --train T1.jsonl T2.jsonl --eval V1.jsonl V2.jsonl [--out offsets.json]

The offsets file starts a roles model's per-role fader offsets: ``mixdown train init_role_levels=offsets.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict

import numpy as np

from mixdown.data.manifest import read_records, resolve
from mixdown.data.roles import normalise_role
from mixdown.params.io import read_params

log = logging.getLogger("role_levels")


def song_levels(manifest: str) -> list[list[tuple[str, float]]]:
    """Per song: ``(role, level relative to the song's mean in dB)`` of each fitted track."""
    from pathlib import Path

    out = []
    for rec in read_records(manifest):
        params = read_params(resolve(rec, rec["params"], Path(manifest).parent))
        level = {t.name: t.values["input_gain_db"] + t.values["fader_db"] for t in params.tracks}
        rows = [(normalise_role(t["name"]), level[t["name"]]) for t in rec["tracks"] if t["name"] in level]
        if len(rows) >= 2:
            mean = float(np.mean([v for _, v in rows]))
            out.append([(r, v - mean) for r, v in rows])
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--eval", nargs="+", required=True)
    ap.add_argument("--out", help="also write the offsets and scores to this JSON file (for init_role_levels=)")
    args = ap.parse_args()
    by_role = defaultdict(list)
    for m in args.train:
        for song in song_levels(m):
            for role, v in song:
                by_role[role].append(v)
    offsets = {r: float(np.mean(v)) for r, v in by_role.items()}
    log.info("role offsets (dB, tracks): %s", ", ".join(f"{r} {o:+.1f} ({len(by_role[r])})"
                                                      for r, o in sorted(offsets.items(), key=lambda x: x[1])))
    result = {"offsets_db": {r: round(o, 2) for r, o in offsets.items()}, "eval": {}}
    for m in args.eval:
        raw, fitted = [], []
        for song in song_levels(m):
            t = np.array([v for _, v in song])
            p = np.array([offsets.get(r, 0.0) for r, _ in song])
            raw.append(np.mean(np.abs(t)))
            fitted.append(np.mean(np.abs(p - p.mean() - t)))
        result["eval"][m] = {"songs": len(raw), "raw_db": round(float(np.mean(raw)), 2),
                             "role_offsets_db": round(float(np.mean(fitted)), 2)}
        log.info("%s: %d songs, mean |level error| raw sum %.2f dB, role offsets %.2f dB", m, len(raw),
                 np.mean(raw), np.mean(fitted))
    if args.out:
        from mixdown.fileio import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
