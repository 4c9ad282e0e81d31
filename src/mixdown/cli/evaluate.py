"""``mixdown evaluate``: the model and baselines against reference mixes (:mod:`mixdown.evaluate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError
from mixdown.models.baselines import BASELINES, EXTRA_BASELINES

log = logging.getLogger("mixdown.evaluate")


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="compare the model and baselines against reference mixes")
    p.add_argument("--data", type=Path, required=True, help="manifest .jsonl or a folder of songs")
    p.add_argument("--out", type=Path, required=True, help="output folder (CSVs, summary.md, plots)")
    p.add_argument("--checkpoint", action="append", metavar="[LABEL=]PATH",
                   help="model checkpoint (default: the shipped model); repeat as LABEL=PATH to compare models")
    p.add_argument("--resume", action="store_true", help="reuse the per-song results of an interrupted run")
    p.add_argument("--baselines", default="all",
                   help=f"comma list of {','.join(BASELINES + EXTRA_BASELINES)}, 'all' (all but "
                        f"{','.join(EXTRA_BASELINES)}, which MIDI pairs alone carry) or 'none'")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    from mixdown.evaluate import run_evaluation

    names = BASELINES if args.baselines == "all" else () if args.baselines == "none" else \
        tuple(b.strip() for b in args.baselines.split(","))
    unknown = [b for b in names if b not in BASELINES + EXTRA_BASELINES]
    if unknown:
        raise UsageError(f"unknown baselines {unknown}; choose from {', '.join(BASELINES + EXTRA_BASELINES)}")
    checkpoint = None
    if args.checkpoint and (len(args.checkpoint) > 1 or "=" in args.checkpoint[0]):
        pairs = [c.split("=", 1) if "=" in c else [Path(c).stem, c] for c in args.checkpoint]
        checkpoint = {label: Path(path) for label, path in pairs}
    elif args.checkpoint:
        checkpoint = Path(args.checkpoint[0])
    try:
        run_evaluation(args.data, args.out, checkpoint, names, resume=args.resume)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from e
    log.info("%s", (args.out / "summary.md").read_text())
    return 0
