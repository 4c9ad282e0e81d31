"""Benchmark the training dataset: samples per second for 0, 2 and N DataLoader workers, reading
the manifest's audio files (WAV/FLAC, decoded per item) and the decoded-audio cache.

    python scripts/bench_data.py --manifest data/synth/train.jsonl [--tracks 8] [--seconds 6]
                                 [--workers 0,2,16] [--cache DIR]

Without ``--manifest`` a small corpus is generated in ``.bench/data`` (git-ignored); without
``--cache`` the cache is built (or resumed) in ``.bench/cache``. ``--workers`` defaults to 0, 2 and
the machine's cores. Prints figures and, last, one JSON line; the target is at least 5x the
training benchmark's step rate (batch 4: 5 x 4 samples / step time).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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


def flac_copy(manifest: Path) -> Path:
    """The manifest's songs as FLAC (16-bit; the float mixes clipped to full scale, a benchmark
    only), with its own manifest beside the original."""
    import soundfile as sf

    from mixdown.data.dataset import read_manifest, resolve

    out = manifest.with_name(manifest.stem + "_flac.jsonl")
    if out.exists():
        return out
    recs = read_manifest(manifest)
    for rec in recs:
        for e in [*rec["tracks"], rec["mix"]]:
            src = resolve(rec, e["path"], manifest.parent)
            dst = src.with_suffix(".flac")
            x, sr = sf.read(str(src), dtype="float32", always_2d=True)
            sf.write(str(dst), x.clip(-1.0, 32767 / 32768), sr, subtype="PCM_16")
            e["path"] = str(dst)
            e.pop("file_size", None)
            e.pop("mtime", None)
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return out


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
    ap.add_argument("--workers", default=f"0,2,{os.cpu_count()}", help="comma-separated worker counts")
    ap.add_argument("--cache", type=Path, help="decoded-audio cache of the manifest (built if missing)")
    ap.add_argument("--no-flac", action="store_true", help="skip the FLAC copy of the generated corpus")
    ap.add_argument("--train-step-s", type=float, default=1.73,
                    help="console benchmark's training step time (batch 4), for the target")
    args = ap.parse_args()
    torch.set_num_threads(1)
    manifest = args.manifest or generated_manifest()
    from mixdown.data.cache import build_cache
    from mixdown.data.dataset import read_manifest

    cache = args.cache or ROOT / ".bench" / "cache"
    build_cache([manifest], cache)
    first = read_manifest(manifest)[0]["tracks"][0]["path"]
    res = {"manifest": str(manifest), "tracks": args.tracks, "seconds": args.seconds,
           "file_format": Path(first).suffix.lstrip(".").lower(), "cpu_count": os.cpu_count()}
    sources = [("files", manifest, None), ("cache", manifest, cache)]
    if args.manifest is None and not args.no_flac:
        sources.insert(1, ("flac", flac_copy(manifest), None))
    for source, man, cache_dir in sources:
        ds = MixDataset(man, segment_s=args.seconds, max_tracks=args.tracks, items_per_epoch=10_000,
                        augment=Augment(), cache_dir=cache_dir)
        for workers in (int(w) for w in args.workers.split(",")):
            key = f"{source}_samples_per_s_workers{workers}"
            res[key] = rate(ds, workers, 4, args.batches)
            log.info("%-5s %2d workers: %.1f samples/s", source, workers, res[key])
    res["target_samples_per_s"] = 5 * 4 / args.train_step_s
    log.info("target (5 x training rate): %.1f samples/s", res["target_samples_per_s"])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
