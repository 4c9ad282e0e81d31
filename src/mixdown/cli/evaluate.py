"""``mixdown evaluate``: the model and baselines against reference mixes (:mod:`mixdown.evaluate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError
from mixdown.models.baselines import BASELINES

log = logging.getLogger("mixdown.evaluate")


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="compare the model and baselines against reference mixes")
    p.add_argument("--data", type=Path, required=True, help="manifest .jsonl or a folder of songs")
    p.add_argument("--out", type=Path, required=True, help="output folder (CSVs, summary.md, plots)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    p.add_argument("--baselines", default="all", help=f"comma list of {','.join(BASELINES)}, 'all' or 'none'")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    from mixdown.evaluate import run_evaluation

    names = BASELINES if args.baselines == "all" else () if args.baselines == "none" else \
        tuple(b.strip() for b in args.baselines.split(","))
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        raise UsageError(f"unknown baselines {unknown}; choose from {', '.join(BASELINES)}")
    try:
        run_evaluation(args.data, args.out, args.checkpoint, names)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from e
    log.info("%s", (args.out / "summary.md").read_text())
    return 0
