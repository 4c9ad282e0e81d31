"""Systems against one baseline system, paired per song, from evaluation folders (``results.csv``).

    python scripts/paired.py outputs/eval_a outputs/eval_b --base model:human-v3 \\
        [--systems model:engineer-v5 ...] [--metrics mrstft spectral_balance_mae_db]

The folders' rows are read together (one ``mixdown evaluate`` run per model on the same
manifest, say). Per metric and system: the mean of the per-song differences (system - base,
negative: closer to the references), its 95 % bootstrap interval over songs
(:func:`mixdown.evaluate.paired`) and on how many songs the system is closer. A markdown table,
then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mixdown.errors import UsageError
from mixdown.evaluate import paired, read_results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="evaluation folders holding results.csv")
    ap.add_argument("--base", required=True, help="the system the others are paired against, e.g. model:human-v3")
    ap.add_argument("--systems", nargs="*", help="the systems to pair (default: every other system)")
    ap.add_argument("--metrics", nargs="*", default=["mrstft", "spectral_balance_mae_db"])
    args = ap.parse_args(argv)
    try:
        rows = [r for f in args.folders for r in read_results(Path(f) / "results.csv")]
    except OSError as e:
        print(f"paired: {e.filename}: {e.strerror}; give folders that `mixdown evaluate --out` wrote", file=sys.stderr)
        return 2
    systems = args.systems or [s for s in dict.fromkeys(r["system"] for r in rows) if s != args.base]
    known = set(r["system"] for r in rows)
    unknown = [s for s in [args.base, *systems] if s not in known]
    if unknown:
        print(f"paired: no rows of {', '.join(unknown)} in {', '.join(args.folders)} (systems there: "
              f"{', '.join(sorted(known))})", file=sys.stderr)
        return 2
    out = []
    print(f"| system | metric | songs | {args.base} | system | system - base (95 % interval) | closer on |")
    print("|---|---|---|---|---|---|---|")
    for system in systems:
        for metric in args.metrics:
            try:
                p = paired(rows, args.base, system, metric)
            except UsageError as e:
                print(f"paired: {e}", file=sys.stderr)
                return 2
            out.append({"system": system, "base": args.base, "metric": metric, **p})
            print(f"| {system} | {metric} | {p['n']} | {p['base_mean']:.3f} | {p['system_mean']:.3f} "
                  f"| {p['mean']:+.3f} ({p['lo']:+.3f} to {p['hi']:+.3f}) "
                  f"| {p['closer']} of {p['n']} |")
    print(json.dumps({"paired": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
