"""``mixdown dataset synth``: render the out-of-the-box corpus and build its manifests."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("mixdown.data")


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="corpus folder: songs/ and <split>.jsonl go here")
    p.add_argument("--songs", type=int, required=True, help="number of songs")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each song")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="parallel processes")
    p.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    from mixdown.cli import CliError
    from mixdown.data.build import BuildError, build_dataset
    from mixdown.data.synth import missing_tools, synthesize_corpus

    problem = missing_tools(need_mma=True, need_music21=True)
    if problem:
        raise CliError(f"cannot synthesise songs: {problem}")
    if args.songs < 1:
        raise CliError("--songs must be at least 1")
    songs = args.out / "songs"
    synthesize_corpus(songs, args.songs, seed=args.seed, seconds=args.seconds, jobs=args.jobs)
    try:
        build_dataset("folder", songs, args.out, jobs=args.jobs)
    except BuildError as e:
        raise CliError(str(e)) from e
    log.info("corpus in %s: songs/ and manifests train.jsonl, val.jsonl, test.jsonl", args.out)
    return 0


def add_dataset_parser(add_dataset_command) -> None:
    add_dataset_command("synth", _configure, "render the synthetic corpus (GM soundfont stems, known mix "
                                             "settings) and build its manifests")
