"""``mixdown dataset``: build manifests from multitrack corpora, and join sharded builds.

    mixdown dataset build --source medleydb|enst|musdb|cambridge|slakh|folder --root DIR --out DIR
                          [--jobs N] [--shard I/N]
    mixdown dataset merge --out DIR

Other ``dataset`` sub-commands (e.g. ``synth``) register with :func:`add_dataset_command`, either
before the parser is built (queued) or from a module listed in :data:`DATASET_COMMAND_MODULES`,
which is imported (when present) and whose ``add_dataset_parser(add_dataset_command)`` is called.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path
from typing import Callable

log = logging.getLogger("mixdown.data")
SOURCES = ("medleydb", "enst", "musdb", "cambridge", "slakh", "folder")
#: optional modules that add ``dataset`` sub-commands (skipped when not installed)
DATASET_COMMAND_MODULES: tuple[str, ...] = ("mixdown.data.synth_cli",)

#: the ``dataset`` sub-parsers of the most recently built parser (None before ``add_parser``)
_dataset_sub = None
#: registered ``dataset`` sub-commands: name -> (configure, help), in registration order
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str]] = {}


def add_dataset_command(name: str, configure: Callable[[argparse.ArgumentParser], None],
                        help: str = "") -> argparse.ArgumentParser | None:
    """Register ``mixdown dataset NAME``.

    ``configure(parser)`` adds the arguments and ``parser.set_defaults(func=...)`` (``func`` takes the
    namespace and returns an exit code). Kept for every later parser; when a parser is being
    built, the command is added to it now and its sub-parser returned.
    """
    _COMMANDS[name] = (configure, help)
    if _dataset_sub is None:
        return None
    return _add(name)


def _add(name: str) -> argparse.ArgumentParser:
    configure, help_text = _COMMANDS[name]
    p = _dataset_sub.add_parser(name, help=help_text, description=help_text)
    configure(p)
    return p


def add_parser(subparsers) -> None:
    """Register ``mixdown dataset`` and its sub-commands on the top-level sub-parsers."""
    global _dataset_sub
    _dataset_sub = None  # optional modules register into _COMMANDS only; all are added below, once
    for mod_name in DATASET_COMMAND_MODULES:
        try:
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name != mod_name:
                raise
            continue
        module.add_dataset_parser(add_dataset_command)
    p = subparsers.add_parser("dataset", help="build training manifests from multitrack corpora",
                              description="Build and maintain dataset manifests (<split>.jsonl).")
    _dataset_sub = p.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")
    for name in list(_COMMANDS):
        _add(name)


def _shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    return i, n


def _configure_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True, choices=SOURCES, help="corpus layout to read")
    p.add_argument("--root", required=True, type=Path, help="corpus folder (the one that holds the songs)")
    p.add_argument("--out", required=True, type=Path, help="output folder for <split>.jsonl and build_report.*")
    p.add_argument("--jobs", type=int, default=1, help="songs analysed in parallel (processes)")
    p.add_argument("--shard", type=_shard, metavar="I/N",
                   help="build only songs I, I+N, ... (0-based); join shards with 'mixdown dataset merge'")
    p.add_argument("--silence-db", type=float, default=-60.0,
                   help="frame RMS (dBFS) above which a track counts as active")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_build)


def _configure_merge(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="the --out folder of the shard builds")
    p.set_defaults(func=_cli_merge)


def _cli_build(args: argparse.Namespace) -> int:
    from mixdown.cli import CliError
    from mixdown.data.build import BuildError, build_dataset
    from mixdown.data.checks import AnalysisOptions

    try:
        build_dataset(args.source, args.root, args.out, jobs=args.jobs, shard=args.shard,
                      options=AnalysisOptions(threshold_db=args.silence_db), progress=not args.no_progress)
    except BuildError as e:
        raise CliError(str(e)) from e
    return 0


def _cli_merge(args: argparse.Namespace) -> int:
    from mixdown.cli import CliError
    from mixdown.data.build import BuildError, merge_shards

    try:
        merge_shards(args.out)
    except BuildError as e:
        raise CliError(str(e)) from e
    return 0


add_dataset_command("build", _configure_build, "analyse a corpus (MedleyDB, ENST-drums, MUSDB18, Cambridge-MT, "
                    "Slakh2100 or session folders) into <out>/{train,val,test}.jsonl")
add_dataset_command("merge", _configure_merge, "join the <split>.shard-I-of-N.jsonl files of a sharded build")
