"""``mixdown evaluate``: the model and baselines against reference mixes (:mod:`mixdown.evaluate`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mixdown.errors import UsageError
from mixdown.models.baselines import BASELINES, EXTRA_BASELINES

log = logging.getLogger("mixdown.evaluate")


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="compare the model and baselines against reference mixes")
    p.add_argument("--data", type=Path, help="manifest .jsonl or a folder of songs (not with --decisions)")
    p.add_argument("--decisions", action="store_true",
                   help="the decision benchmark: per-track settings against MixologyDB's engineers "
                        "(docs/decisions.md); --baselines then picks from " + ",".join(_decision_systems()))
    p.add_argument("--standins", type=Path, help="with --decisions: where the stand-in sessions are kept "
                                                 "(default OUT/standins; rendered once, reused)")
    p.add_argument("--draws", type=int, default=8,
                   help="with --decisions: mixes per song of a model that draws an engineer's style (its takes 0 "
                        "to K-1, as `mixdown mix --take`; default 8)")
    p.add_argument("--mixologydb", type=Path, help="with --decisions: MixologyDB's final-track-data.json "
                                                   "(default: the copy in data/mixologydb/)")
    p.add_argument("--songs", choices=("all", "test"), default="all",
                   help="with --decisions: every song (the 'test' and 'all' splits) or the test songs only")
    p.add_argument("--out", type=Path, required=True, help="output folder (CSVs, summary.md, plots)")
    p.add_argument("--checkpoint", action="append", metavar="[LABEL=]PATH",
                   help="model checkpoint (default: the shipped model); repeat as LABEL=PATH to compare models")
    p.add_argument("--resume", action="store_true", help="reuse the per-song results of an interrupted run")
    p.add_argument("--baselines", default="all",
                   help=f"comma list of {','.join(BASELINES + EXTRA_BASELINES)}, 'all' (all but "
                        f"{','.join(EXTRA_BASELINES)}, which MIDI pairs alone carry) or 'none'")
    p.set_defaults(func=_cli)


def _decision_systems() -> tuple[str, ...]:
    from mixdown.decisions import SYSTEMS

    return SYSTEMS


def _checkpoints(values) -> dict[str, Path]:
    pairs = [c.split("=", 1) if "=" in c else [Path(c).stem, c] for c in values or []]
    return {label: Path(path) for label, path in pairs}


def _decisions_cli(args) -> int:
    from mixdown import decisions as D
    from mixdown.data.mixology import TEST_SONGS, read_mixologydb
    from mixdown.outputs import check_output_folder

    names = D.SYSTEMS if args.baselines == "all" else () if args.baselines == "none" else \
        tuple(b.strip() for b in args.baselines.split(","))
    unknown = [n for n in names if n not in D.SYSTEMS]
    if unknown:
        raise UsageError(f"unknown decision-benchmark systems {unknown}; choose from {', '.join(D.SYSTEMS)}")
    if args.draws < 1:
        raise UsageError(f"--draws {args.draws}: give at least 1 mix per song")
    for label, folder in (("--out", args.out), ("--standins", args.standins)):
        if folder is not None:
            check_output_folder(label, folder)
    systems = D.make_systems(names, _checkpoints(args.checkpoint), draws=args.draws)
    db = read_mixologydb(args.mixologydb) if args.mixologydb else read_mixologydb()
    songs = list(TEST_SONGS) if args.songs == "test" else None
    D.run_decisions(db, systems, args.out, args.standins or args.out / "standins", D.render_song, songs)
    log.info("%s", (args.out / "decisions.md").read_text())
    return 0


def _cli(args) -> int:
    from mixdown.evaluate import run_evaluation

    if args.decisions:
        return _decisions_cli(args)
    if args.data is None:
        raise UsageError("evaluate needs --data (a manifest or a folder of songs), or --decisions")

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
    run_evaluation(args.data, args.out, checkpoint, names, resume=args.resume)
    log.info("%s", (args.out / "summary.md").read_text())
    return 0
