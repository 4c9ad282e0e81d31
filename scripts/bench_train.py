"""Training throughput, peak memory and the console's share of a step (CPU or CUDA).

    python scripts/bench_train.py [--device cpu|cuda] [--batch 4] [--tracks 8] [--seconds 4]
                                  [--steps 3] [--models heuristic,dmc,mixformer] [--compile]
                                  [--max-batch]

One step = model forward (bfloat16 autocast on CUDA unless ``--no-amp``), console mix (float32),
loss, backward, optimiser step, on a random batch. ``console_s`` is one console forward and
backward (w.r.t. the parameters) on the same batch, timed on its own; ``console_share`` is its
ratio to the step. ``--compile`` wraps the network in ``torch.compile`` (the console's custom
kernels stay eager). ``--max-batch`` (CUDA) doubles the batch until it no longer fits and reports
the largest that did. Prints figures and, last, one JSON line.

``--console-seconds S`` (CPU, default 6) first times the console alone, forward + backward, batch 4 x
tracks x S s, with every track sending into the reverb (the issue's target: under 2.5 s on 2 cores).
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
MODELS = {"heuristic": Heuristic, "dmc": DMC, "mixformer": Mixformer}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


def bench(model, device: str, batch: int, tracks: int, seconds: float, steps: int, amp: bool = True,
          compile_model: bool = False, sr: int = 44100) -> dict:
    """Median step time, rates, peak memory and console time of ``model`` on a random batch.

    Shapes: the batch is ``(batch, tracks, 2, seconds * sr)``, the reference ``(batch, 2, T)``.
    """
    model = model.to(device)
    console, loss_fn = Console(sr), MixLoss(sr)
    opt = torch.optim.AdamW(model.parameters(), 3e-4) if model.learned else None
    net = torch.compile(model) if compile_model else model
    x = torch.randn(batch, tracks, 2, int(seconds * sr), device=device) * 0.1
    ref = torch.randn(batch, 2, x.shape[-1], device=device) * 0.1
    mask = torch.ones(batch, tracks, dtype=torch.bool, device=device)
    use_amp = amp and device == "cuda"
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, console_times = [], []
    for _ in range(steps + 1):  # the first step (compilation, caches) is not counted
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=use_amp):
            tp, mp = net(x, mask)
        loss, _ = loss_fn(console(x, tp.float(), mp.float(), mask), ref)  # the console: float32
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(device)
        times.append(time.perf_counter() - t0)
        tpd = tp.detach().float().requires_grad_(True)
        mpd = mp.detach().float().requires_grad_(True)
        t0 = time.perf_counter()
        console(x, tpd, mpd, mask).square().mean().backward()
        _sync(device)
        console_times.append(time.perf_counter() - t0)
    step_s, console_s = _median(times[1:]), _median(console_times[1:])
    res = {"batch": batch, "step_s": step_s, "steps_per_s": 1 / step_s, "samples_per_s": batch / step_s,
           "console_s": console_s, "console_share": min(console_s / step_s, 1.0) if opt is not None else None}
    res["peak_mem_mb"] = (torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda"
                          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return res


def largest_batch(make, args) -> dict | None:
    """Double the batch from ``args.batch`` until CUDA runs out of memory; the last one that fit."""
    best, batch = None, args.batch
    while batch <= 4096:
        try:
            best = bench(make(), "cuda", batch, args.tracks, args.seconds, 1, not args.no_amp, args.compile)
        except torch.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
        log.info("  batch %d fits: %.1f samples/s, %.0f MB", batch, best["samples_per_s"], best["peak_mem_mb"])
        batch *= 2
    return best


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--models", default="heuristic,dmc,mixformer")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network")
    ap.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast for the network on CUDA")
    ap.add_argument("--max-batch", action="store_true", help="also find the largest batch that fits (CUDA)")
    ap.add_argument("--console-seconds", type=float, default=6.0,
                    help="CPU: time the console alone with every track sending to the reverb (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    out: dict = {"device": args.device, "batch": [args.batch, args.tracks, args.seconds], "compile": args.compile,
                 "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None}
    if args.device == "cpu" and args.console_seconds > 0:
        import os
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_render import bench_train as bench_console

        out["load_avg_1min"] = os.getloadavg()[0]
        out["console_reverb_cpu"] = bench_console(4, args.tracks, args.console_seconds, args.steps)
        log.info("console alone, fwd+bwd, every track sending to the reverb, batch 4 x %d tracks x %g s: %.2f s/step",
                 args.tracks, args.console_seconds, out["console_reverb_cpu"]["train_step_s"])
    for name in args.models.split(","):
        r = bench(MODELS[name](), args.device, args.batch, args.tracks, args.seconds, args.steps,
                  not args.no_amp, args.compile)
        out[name] = r
        share = "-" if r["console_share"] is None else f"{100 * r['console_share']:.0f}%"
        log.info("%-9s %-4s %.3f s/step (%.2f steps/s, %.1f samples/s), console %.3f s (%s of a step), "
                 "peak memory %.0f MB%s", name, args.device, r["step_s"], r["steps_per_s"], r["samples_per_s"],
                 r["console_s"], share, r["peak_mem_mb"], "" if args.device == "cuda" else " (process max RSS)")
        if args.max_batch and args.device == "cuda":
            out[f"{name}_max_batch"] = largest_batch(MODELS[name], args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
