"""Collect the validation metrics of training runs into one markdown table and a CSV.

    python scripts/compare.py outputs/synth_compare [--out outputs/synth_compare/comparison]

Reads each run's ``metrics.csv`` (``step,name,value``) and reports the best validation loss, the
step it was reached at and the other validation parts at that step, plus training time.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

log = logging.getLogger("compare")


def run_summary(metrics_csv: Path) -> dict[str, float]:
    rows = list(csv.DictReader(open(metrics_csv)))
    by_step: dict[int, dict[str, float]] = {}
    for r in rows:
        by_step.setdefault(int(r["step"]), {})[r["name"]] = float(r["value"])
    val = {s: m for s, m in by_step.items() if "val/loss" in m}
    if not val:
        raise ValueError(f"{metrics_csv}: no validation rows")
    best_step = min(val, key=lambda s: val[s]["val/loss"])
    times = [m["time_s"] for m in by_step.values() if "time_s" in m]
    return {"best_step": best_step, **val[best_step], "train_time_s": max(times) if times else 0.0}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--out", type=Path, help="output stem (.md and .csv); default SWEEP_DIR/comparison")
    args = ap.parse_args()
    runs = {p.parent.name: run_summary(p) for p in sorted(args.sweep_dir.glob("*/metrics.csv"))}
    if not runs:
        raise SystemExit(f"{args.sweep_dir}: no */metrics.csv found")
    cols = sorted({k for r in runs.values() for k in r})
    cols = ["val/loss"] + [c for c in cols if c != "val/loss"]
    out = args.out or args.sweep_dir / "comparison"
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", *cols])
        for name, r in runs.items():
            w.writerow([name, *[r.get(c, "") for c in cols]])
    lines = ["| run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in sorted(runs.items(), key=lambda kv: kv[1]["val/loss"]):
        lines.append(f"| {name} | " + " | ".join(f"{r.get(c, float('nan')):.4g}" for c in cols) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    log.info("%s", "\n".join(lines))


if __name__ == "__main__":
    main()
