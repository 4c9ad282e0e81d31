"""Benchmark ``mixdown mix`` end to end: model load, analysis, prediction, full render, writing.

    python scripts/bench_mix.py [--tracks 16] [--seconds 180] [--checkpoint CKPT]

Uses the session of ``scripts/bench_render.py`` (generated once into ``.bench/``). Prints the
whole-process wall time and peak memory (max RSS of the child) and, last, one JSON line.
Targets: under 15 s and under 4 GB for 16 stereo tracks x 180 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render import ROOT, make_session  # noqa: E402

log = logging.getLogger("bench_mix")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    folder = ROOT / ".bench" / f"session_{args.tracks}x{int(args.seconds)}"
    make_session(folder, args.tracks, args.seconds)
    out = folder.parent / "bench_mix.wav"
    cmd = [sys.executable, "-m", "mixdown.cli", "mix", str(folder), "--out", str(out)]
    if args.checkpoint:
        cmd += ["--checkpoint", str(args.checkpoint)]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}
    times = []
    for _ in range(args.repeats + 1):  # the first run also fills numba's cache
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    res = {"mix_s": min(times[1:]), "first_run_s": times[0], "peak_rss_mb": peak_mb,
           "tracks": args.tracks, "seconds": args.seconds, "machine": f"{os.cpu_count()} cores"}
    log.info("mixdown mix, %d stereo tracks x %.0f s: %.2f s (first run %.2f s), peak memory %.0f MB",
             args.tracks, args.seconds, res["mix_s"], res["first_run_s"], peak_mb)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
