"""``mixdown dataset``: build manifests from multitrack corpora, and join sharded builds.

    mixdown dataset build --source medleydb|enst|musdb|cambridge|slakh|folder|lmms|lmms-reserved|midi
                          --root DIR --out DIR
                          [--jobs N] [--shard I/N]
    mixdown dataset merge --out DIR

    mixdown dataset synth --out DIR --songs N [--seconds S] [--seed K] [--jobs N]

    mixdown dataset cache MANIFEST [MANIFEST ...] --out DIR [--shard-mb MB]

Each ``dataset`` sub-command registers with :func:`add_dataset_command`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Callable

from mixdown.errors import UsageError

log = logging.getLogger("mixdown.data")
SOURCES = ("medleydb", "enst", "musdb", "cambridge", "slakh", "folder", "lmms", "lmms-reserved", "midi")

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
    from mixdown.data.build import build_dataset
    from mixdown.data.checks import AnalysisOptions

    try:
        build_dataset(args.source, args.root, args.out, jobs=args.jobs, shard=args.shard,
                      options=AnalysisOptions(threshold_db=args.silence_db), progress=not args.no_progress)
    except UsageError:
        raise
    except OSError as e:  # an unwritable --out: name it
        raise UsageError(f"{e.filename or args.out}: cannot write ({e.strerror or e}); choose a folder you can write "
                         "to") from e
    return 0


def _cli_merge(args: argparse.Namespace) -> int:
    from mixdown.data.build import merge_shards

    merge_shards(args.out)
    return 0


add_dataset_command("build", _configure_build, "analyse a corpus (MedleyDB, ENST-drums, MUSDB18, Cambridge-MT, "
                    "Slakh2100 or session folders) into <out>/{train,val,test}.jsonl")
add_dataset_command("merge", _configure_merge, "join the <split>.shard-I-of-N.jsonl files of a sharded build")


def _configure_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="corpus folder: songs/ and <split>.jsonl go here")
    p.add_argument("--songs", type=int, required=True, help="number of songs")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each song")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="parallel processes")
    p.add_argument("--targets", choices=("prior", "engineers"), default="prior",
                   help="each mix's settings: the hand-written prior, or an engineer's mix from MixologyDB "
                        "transplanted track by track (mixdown.data.transplant)")
    p.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    from mixdown.data.build import build_dataset
    from mixdown.data.synth import missing_tools, synthesize_corpus

    problem = missing_tools(need_mma=True, need_music21=True)
    if problem:
        raise UsageError(f"cannot synthesise songs: {problem}")
    if args.songs < 1:
        raise UsageError("--songs must be at least 1")
    songs = args.out / "songs"
    synthesize_corpus(songs, args.songs, seed=args.seed, seconds=args.seconds, jobs=args.jobs, targets=args.targets)
    build_dataset("folder", songs, args.out, jobs=args.jobs)
    log.info("corpus in %s: songs/ and manifests train.jsonl, val.jsonl, test.jsonl", args.out)
    return 0


add_dataset_command("synth", _configure_synth, "render the synthetic corpus (GM soundfont stems, known mix "
                                         "settings) and build its manifests")


def _configure_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs="+", type=Path, help="<split>.jsonl manifests whose audio to cache")
    p.add_argument("--out", type=Path, required=True, help="cache folder (shards + index); rerun to resume")
    p.add_argument("--shard-mb", type=int, default=1024, help="start a new shard file past this size")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_cache)


def _cli_cache(args: argparse.Namespace) -> int:
    from mixdown.data.cache import build_cache

    build_cache(args.manifests, args.out, shard_mb=args.shard_mb, progress=not args.no_progress)
    return 0


add_dataset_command("cache", _configure_cache, "decode a manifest's audio once into memory-mapped shards "
                                         "(16-bit PCM as int16, else float32; train with data.train.cache_dir=DIR)")


def _configure_targets(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifests", nargs="+", type=Path, help="<split>.jsonl manifests of human-mixed pairs")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for the target manifests (same file names) and one parameter file per song")
    p.add_argument("--no-resume", action="store_true", help="fit songs again even when their file exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_targets)


def _cli_targets(args: argparse.Namespace) -> int:
    from mixdown.data.targets import fit_targets

    for m in args.manifests:
        if not m.is_file():
            raise UsageError(f"{m}: manifest not found; build the pairs with 'mixdown dataset build' first")
    fit_targets(args.manifests, args.out, progress=not args.no_progress, resume=not args.no_resume)
    return 0


add_dataset_command("targets", _configure_targets, "fit each track's level and pan to human mixes (power-domain "
                                           "oracle) as training targets: <out>/<split>.jsonl + parameter files")
