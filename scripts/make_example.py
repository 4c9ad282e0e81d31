#!/usr/bin/env python
"""Make the shipped example session ``data/examples/rock-8beat/`` with the synthetic-corpus pipeline.

About 20 s of an MMA "8Beat" rock groove with a generated lead: five dry FLAC stems (drums,
guitar, keys, bass, lead) with the corpus's recording variation, ``params.json`` drawn from the
engineering prior, and ``reference_mix.flac`` rendered from it by ``mixdown.dsp.render``. The example
is stored as 16-bit FLAC to keep the repository small (the corpus uses 24-bit). Deterministic.

    .venv/bin/python scripts/make_example.py [--out data/examples] [--seconds 20]

Needs fluidsynth, the FluidR3_GM soundfont and mma: ``bash scripts/setup_system.sh``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from mixdown.data import synth

log = logging.getLogger("make_example")

NAME = "rock-8beat"
SEED = 2024
PLAN = {"source": "mma", "genre": "rock", "groove": "8Beat", "pad": None, "split_drums": False,
        "lead_start_bar": 2, "vocal": False, "sampled_drums": False}   # the shipped example: played lead, GM kit


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=root / "data" / "examples", help="examples folder")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the example")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    reason = synth.missing_tools(need_mma=True)
    if reason:
        log.error("cannot make the example: %s", reason)
        return 1
    if synth._renderer() is None:
        log.warning("mixdown.dsp.render is not available: the example gets stems and params.json only")
    rng = np.random.default_rng(SEED)
    plan = synth.plan_song(rng, **PLAN)
    final, tmp = args.out / NAME, args.out / f".tmp-{NAME}"
    shutil.rmtree(tmp, ignore_errors=True)
    summary = synth.make_song(tmp, rng, plan, seconds=args.seconds, subtype="PCM_16")
    for p in tmp.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    log.info("wrote %s: stems %s, %.1f MB, made in %.1f s; mix %s", final, ", ".join(summary["tracks"]),
             size / 1e6, summary["total_s"], summary["mix"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
