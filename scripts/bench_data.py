"""Benchmark the training dataset: samples per second (single process and DataLoader workers).

    python scripts/bench_data.py --manifest data/synth/train.jsonl [--tracks 8] [--seconds 6]

Without ``--manifest`` a small corpus is generated in ``.bench/data`` (git-ignored). Prints
figures and, last, one JSON line; the target is at least 5x the console benchmark's training
step rate (batch 4: 5 x 4 samples / step time).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

log = logging.getLogger("bench_data")
ROOT = Path(__file__).resolve().parents[1]


def generated_manifest() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from sessions import make_corpus

    root = ROOT / ".bench" / "data"
    if not (root / "train.jsonl").exists():
        make_corpus(root, sr=44100, seconds=20.0, songs=4)
    return root / "train.jsonl"


def rate(dataset, workers: int, batch: int, n_batches: int) -> float:
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, shuffle=True)
    it = iter(loader)
    next(it)  # start-up (workers, file handles) is not counted
    t0 = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    return n_batches * batch / (time.perf_counter() - t0)


def main() -> None:
    from mixdown.data.dataset import Augment, MixDataset

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--train-step-s", type=float, default=1.73,
                    help="console benchmark's training step time (batch 4), for the target")
    args = ap.parse_args()
    torch.set_num_threads(1)
    manifest = args.manifest or generated_manifest()
    ds = MixDataset(manifest, segment_s=args.seconds, max_tracks=args.tracks, items_per_epoch=10_000,
                    augment=Augment())
    res = {"manifest": str(manifest), "tracks": args.tracks, "seconds": args.seconds}
    for workers in (0, 2):
        res[f"samples_per_s_workers{workers}"] = rate(ds, workers, 4, args.batches)
        log.info("%d workers: %.1f samples/s", workers, res[f"samples_per_s_workers{workers}"])
    res["target_samples_per_s"] = 5 * 4 / args.train_step_s
    log.info("target (5 x training rate): %.1f samples/s", res["target_samples_per_s"])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
