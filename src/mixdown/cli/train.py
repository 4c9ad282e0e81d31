"""``mixdown train``: hydra entry point (:mod:`mixdown.training.main`); hydra parses its own arguments."""

from __future__ import annotations

import logging


def add_parser(sub) -> None:
    # listed in --help; `mixdown train ...` is dispatched to hydra before argparse (see mixdown.cli.main)
    sub.add_parser("train", help="train a model: hydra overrides, e.g. experiment=mixformer; -m for sweeps")


def run(overrides: list[str]) -> int:
    """Train with hydra ``overrides`` (e.g. ``["experiment=mixformer"]``)."""
    from mixdown.training.main import main as train_main

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train_main(overrides)
    return 0
