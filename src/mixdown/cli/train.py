"""``mixdown train``: hydra entry point (:mod:`mixdown.training.main`); hydra parses its own arguments."""

from __future__ import annotations

import logging


def add_parser(sub) -> None:
    # listed in --help; `mixdown train ...` is dispatched to hydra before argparse (see mixdown.cli.main)
    sub.add_parser("train", help="train a model: hydra overrides, e.g. experiment=mixformer; -m for sweeps")


def run(overrides: list[str]) -> int:
    """Train with hydra ``overrides`` (e.g. ``["experiment=mixformer"]``); returns the exit code
    (2: overrides or config that cannot work, see :func:`mixdown.training.main.train`)."""
    from mixdown.training.main import main as train_main

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        train_main(overrides)
    except SystemExit as e:  # hydra and the config checks exit: 2 = bad input, 1 = a bug (traceback shown)
        return e.code if isinstance(e.code, int) else 1
    return 0
