"""The ``mixdown`` command: thin argument parsing over the library.

Each feature module offers ``add_parser(subparsers)`` that registers its sub-command and sets
``func`` (called with the parsed namespace, returning an exit code). Heavy imports happen inside
those functions so ``mixdown --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: modules that register sub-commands, in the order they appear in ``--help``
COMMAND_MODULES = ("mixdown.mix_cli", "mixdown.render", "mixdown.export", "mixdown.evaluate", "mixdown.data.cli",
                   "mixdown.train")

log = logging.getLogger("mixdown")


class CliError(Exception):
    """An error meant for the user: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixdown", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a feature module not present in this build
            if e.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # hydra parses its own arguments (overrides, -m, --cfg ...)
        from mixdown.train import main as train_main

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        train_main(argv[1:])
        return 0
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except CliError as e:
        log.error("%s", e)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
