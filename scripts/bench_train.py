"""Training throughput and peak memory per model (CPU, and GPU when available).

    python scripts/bench_train.py [--steps 3] [--tracks 8] [--seconds 4]

One step = model forward, console mix, loss, backward, optimiser step, on a random batch of 4.
Prints figures and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

import torch

from mixdown.dsp.console import Console
from mixdown.models import DMC, Heuristic, Mixformer
from mixdown.training.losses import MixLoss

log = logging.getLogger("bench_train")


def bench(model, device: str, tracks: int, seconds: float, steps: int, sr: int = 44100) -> dict:
    model = model.to(device)
    console, loss_fn = Console(sr), MixLoss(sr)
    opt = torch.optim.AdamW(model.parameters(), 3e-4) if model.learned else None
    x = torch.randn(4, tracks, 2, int(seconds * sr), device=device) * 0.1
    ref = torch.randn(4, 2, x.shape[-1], device=device) * 0.1
    mask = torch.ones(4, tracks, dtype=torch.bool, device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        tp, mp = model(x, mask)
        loss, _ = loss_fn(console(x, tp, mp, mask), ref)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step_s = sorted(times[1:])[len(times[1:]) // 2]
    res = {"step_s": step_s, "steps_per_s": 1 / step_s}
    res["peak_mem_mb"] = (torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda"
                          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return res


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out: dict = {"batch": [4, args.tracks, args.seconds]}
    for name, make in (("heuristic", Heuristic), ("dmc", DMC), ("mixformer", Mixformer)):
        for dev in devices:
            r = bench(make(), dev, args.tracks, args.seconds, args.steps)
            out[f"{name}_{dev}"] = r
            log.info("%-9s %-4s %.2f s/step (%.2f steps/s), peak memory %.0f MB (process max RSS on CPU)",
                     name, dev, r["step_s"], r["steps_per_s"], r["peak_mem_mb"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
