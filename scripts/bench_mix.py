"""Benchmark ``mixdown mix`` end to end (model load, analysis, prediction, staging, full render,
writing) against pedalboard's render of the same session, interleaved in the same run.

    python scripts/bench_mix.py [--tracks 16] [--seconds 180] [--checkpoint CKPT] [--repeats 3]

Uses the session of ``scripts/bench_render.py`` (generated once into ``.bench/``). Each program
runs as a child process on every core; prints each one's wall time, CPU time (user + system) and
peak memory (best of ``--repeats``), the load average and, last, one JSON line. Targets: at most
1.1 x pedalboard's render (issue 27); under 4 GB.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render import PEDALBOARD_SCRIPT, ROOT, best, make_session, run_child, thread_env  # noqa: E402

log = logging.getLogger("bench_mix")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    folder = ROOT / ".bench" / f"session_{args.tracks}x{int(args.seconds)}"
    make_session(folder, args.tracks, args.seconds)
    ours = [sys.executable, "-m", "mixdown.cli", "mix", str(folder), "--out", str(folder.parent / "bench_mix.wav")]
    if args.checkpoint:
        ours += ["--checkpoint", str(args.checkpoint)]
    theirs = [sys.executable, "-c", PEDALBOARD_SCRIPT, str(folder), str(folder / "params.json"),
              str(folder.parent / "pb.wav"), str(folder / "ir.npy")]
    env = thread_env(len(os.sched_getaffinity(0)))
    res: dict = {"tracks": args.tracks, "seconds": args.seconds, "machine": f"{os.cpu_count()} cores",
                 "load_avg_before": os.getloadavg(), "first_run_s": round(run_child(ours, env)["wall_s"], 3)}
    runs: dict[str, list] = {"mix": [], "pedalboard_render": []}
    for _ in range(args.repeats):  # interleaved: the same load for both
        runs["mix"].append(run_child(ours, env))
        runs["pedalboard_render"].append(run_child(theirs, env))
    for who, r in runs.items():
        res[who] = {k: round(v, 3) for k, v in best(r).items()}
        log.info("%-18s wall %6.2f s  CPU %6.2f s  peak %5.0f MB", who, res[who]["wall_s"], res[who]["cpu_s"],
                 res[who]["peak_rss_mb"])
    res["ratio_to_pedalboard_render"] = round(res["mix"]["wall_s"] / res["pedalboard_render"]["wall_s"], 3)
    res["load_avg_after"] = os.getloadavg()
    log.info("mixdown mix / pedalboard's render: %.2f (target <= 1.1); load average before %s, after %s",
             res["ratio_to_pedalboard_render"], res["load_avg_before"], res["load_avg_after"])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
