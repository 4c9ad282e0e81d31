"""How predictable a person's balance is from each track's role: per-role level offsets fitted on
training songs' fitted levels (`mixdown dataset targets`), scored on held-out songs.

For every song, each track's level (input gain + fader, dB) relative to the song's mean is the
target; "raw" predicts 0 for every track (the plain sum), "role offsets" predicts the mean relative
level of the track's role over the training songs (roles from the track names, as a model with
`use_roles` hears them). Prints the offsets, mean absolute errors per held-out manifest, and a JSON line.

    python scripts/role_levels.py --train T1.jsonl T2.jsonl --eval V1.jsonl V2.jsonl [--out offsets.json]

The offsets file starts a roles model's per-role fader offsets: ``mixdown train init_role_levels=offsets.json``.

Two diagnostics for MIDI pairs (``mixdown dataset build --source midi``), whose manifests carry each
channel's controllers: ``--levels composer`` takes as the target the composer's own channel volume
instead of the fitted level (General MIDI's curve, ``40 log10(CC7 / 100)`` dB against the stems'
CC7 = 100; channels whose CC7 changes within the excerpt are left out), and ``--key program``
groups tracks by their General MIDI program (``drums`` on channel 10) instead of their role (a
program is not known when mixing a session: this measures what the exact instrument would tell).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict

import numpy as np

from mixdown.data.manifest import read_records, resolve
from mixdown.data.roles import normalise_role
from mixdown.models.baselines import composer_volume_db
from mixdown.params.io import read_params

log = logging.getLogger("role_levels")


def _key(track: dict, key: str):
    if key == "role":
        return normalise_role(track["name"])
    meta = track.get("meta") or {}
    return "drums" if meta.get("channel") == 10 else meta.get("program")


def _composer_db(track: dict) -> float | None:
    """The composer's constant channel volume over the excerpt, dB against CC7 = 100 (None if it moves)."""
    cc7 = (track.get("meta") or {}).get("cc7")
    if not cc7 or cc7["min"] != cc7["max"] or track.get("silent"):
        return None
    return composer_volume_db(cc7["start"])


def song_levels(manifest: str, levels: str = "fitted", key: str = "role") -> list[list[tuple[str, float]]]:
    """Per song: ``(role or program, level relative to the song's mean in dB)`` of each track with a
    known level (``levels``: ``"fitted"``, the targets' input gain + fader; ``"composer"``, CC7)."""
    from pathlib import Path

    out = []
    for rec in read_records(manifest):
        if levels == "composer":
            rows = [(_key(t, key), _composer_db(t)) for t in rec["tracks"]]
            rows = [(k, v) for k, v in rows if v is not None]
        else:
            params = read_params(resolve(rec, rec["params"], Path(manifest).parent))
            level = {t.name: t.values["input_gain_db"] + t.values["fader_db"] for t in params.tracks}
            rows = [(_key(t, key), level[t["name"]]) for t in rec["tracks"] if t["name"] in level]
        if len(rows) >= 2:
            mean = float(np.mean([v for _, v in rows]))
            out.append([(r, v - mean) for r, v in rows])
    return out


def main(argv=None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--eval", nargs="+", required=True)
    ap.add_argument("--out", help="also write the offsets and scores to this JSON file (for init_role_levels=)")
    ap.add_argument("--levels", choices=("fitted", "composer"), default="fitted",
                    help="target levels: fitted to the mix (default) or the composer's CC7 (MIDI pairs)")
    ap.add_argument("--key", choices=("role", "program"), default="role",
                    help="group tracks by role (default) or General MIDI program (MIDI pairs)")
    args = ap.parse_args(argv)
    if args.out and (args.levels, args.key) != ("fitted", "role"):
        ap.error("--out writes role offsets for init_role_levels=: only with --levels fitted --key role")
    by_role = defaultdict(list)
    for m in args.train:
        for song in song_levels(m, args.levels, args.key):
            for role, v in song:
                by_role[role].append(v)
    offsets = {r: float(np.mean(v)) for r, v in by_role.items()}
    log.info("%s offsets of the %s levels (dB, tracks): %s", args.key, args.levels,
             ", ".join(f"{r} {o:+.1f} ({len(by_role[r])})" for r, o in sorted(offsets.items(), key=lambda x: x[1])))
    result = {"levels": args.levels, "key": args.key, "offsets_db": {str(r): round(o, 2) for r, o in offsets.items()},
              "eval": {}}
    for m in args.eval:
        raw, fitted = [], []
        for song in song_levels(m, args.levels, args.key):
            t = np.array([v for _, v in song])
            p = np.array([offsets.get(r, 0.0) for r, _ in song])
            raw.append(np.mean(np.abs(t)))
            fitted.append(np.mean(np.abs(p - p.mean() - t)))
        result["eval"][m] = {"songs": len(raw), "raw_db": round(float(np.mean(raw)), 2),
                             "role_offsets_db": round(float(np.mean(fitted)), 2)}
        log.info("%s: %d songs, mean |level error| raw sum %.2f dB, %s offsets %.2f dB", m, len(raw),
                 np.mean(raw), args.key, np.mean(fitted))
    if args.out:
        from mixdown.fileio import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
