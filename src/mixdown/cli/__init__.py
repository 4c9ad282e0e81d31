"""The ``mixdown`` command: thin argument parsing over the library.

Each sub-command has its own module here with ``add_parser(subparsers)``, which registers the
sub-command and sets ``func`` (called with the parsed namespace, returning an exit code). This
package is the only place that parses arguments or sets exit codes: 0 done; a
:class:`mixdown.errors.UsageError` (bad input: mixdown's own errors, ``ParamsError``,
``SessionError``, ``CheckpointError``, ``OutputError`` ... all derive from it) becomes exit code 2,
caught here once (commands do not keep their own lists); any other exception, a ``ValueError``
from numpy or torch included, is a bug: its traceback is logged and the exit code is 1; Ctrl-C
gives 130. Heavy imports happen inside the command
functions so ``mixdown --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mixdown.cli import dataset, evaluate, export, mix, render, studio, train
from mixdown.errors import UsageError

#: sub-command modules, in the order they appear in ``--help``
COMMANDS = (mix, render, export, studio, evaluate, dataset, train)
#: kept for code that catches the command line's error by its old name
CliError = UsageError

log = logging.getLogger("mixdown")
#: every command's exit codes (also in the README)
EXIT_CODES = ("exit codes (every command): 0 done; 2 bad input (the message names the file, key or argument and "
              "the fix; nothing written); 1 internal error, a bug (traceback logged; please report it); "
              "130 interrupted (nothing half-written left)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixdown", description=__doc__.splitlines()[0], epilog=EXIT_CODES)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # hydra parses its own arguments (overrides, -m, --cfg ...)
        return train.run(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        log.error("%s", e)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception:  # a bug: the traceback is what a report needs
        log.exception("internal error (a bug in mixdown; please report it with this traceback)")
        return 1
