"""Benchmark the console: full-length render (whole process) against pedalboard, and the
training path (forward + backward).

    python scripts/bench_render.py [--tracks 16] [--seconds 180] [--skip-pedalboard]

Prints figures and, last, one JSON line. Torch threads = 2 (this machine's cores).
The generated session is cached in ``.bench/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("bench_render")
ROOT = Path(__file__).resolve().parents[1]

PEDALBOARD_SCRIPT = r"""
import sys, json, numpy as np, soundfile as sf
from pedalboard import Pedalboard, Gain, HighpassFilter, LowShelfFilter, PeakFilter, HighShelfFilter, Compressor
session, params_path, out = sys.argv[1:4]
p = json.load(open(params_path))
sr = p["sample_rate"]
def eq(bands):
    fx = []
    for b in bands:
        cls = {"low_shelf": LowShelfFilter, "peak": PeakFilter, "high_shelf": HighShelfFilter}[b["type"]]
        fx.append(cls(cutoff_frequency_hz=b["freq_hz"], gain_db=b["gain_db"], q=b["q"]))
    return fx
def comp(c):
    return [Compressor(threshold_db=c["threshold_db"], ratio=c["ratio"], attack_ms=c["attack_ms"],
                       release_ms=c["release_ms"]), Gain(c["makeup_db"])]
bus = None
for t in p["tracks"]:
    x, _ = sf.read(f"{session}/{t['file']}", dtype="float32", always_2d=True)
    board = Pedalboard([Gain(t["input_gain_db"]), HighpassFilter(t["highpass_hz"])] + eq(t["eq"])
                       + comp(t["compressor"]) + [Gain(t["fader_db"])])
    y = board(x.T.copy(), sr)
    th = (t["pan"] + 1) * np.pi / 4
    y = y * np.array([[np.cos(th)], [np.sin(th)]], dtype=np.float32)
    bus = y if bus is None else bus + y
m = p["master"]
board = Pedalboard(eq(m["eq"]) + comp(m["compressor"]) + [Gain(m["output_gain_db"])])
sf.write(out, board(bus, sr).T, sr, subtype="FLOAT")
"""


def make_session(folder: Path, n_tracks: int, seconds: float, sr: int = 44100) -> Path:
    """16 stereo tracks of shaped noise bursts and a parameter file with every effect active."""
    from mixdown.params import spec as S
    from mixdown.params.io import MixParams, write_params

    params_path = folder / "params.json"
    if params_path.exists():
        return params_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    names = []
    for i in range(n_tracks):
        env = np.repeat(rng.uniform(0.05, 0.5, n // sr + 1), sr)[:n] * (1 + np.sin(np.arange(n) * 2e-4 * (i + 1)))
        x = (rng.standard_normal((n, 2)) * env[:, None] * 0.3).astype(np.float32)
        sf.write(folder / f"track{i:02d}.wav", x, sr, subtype="PCM_24")
        names.append(f"track{i:02d}")
    u = rng.uniform(0.2, 0.8, (n_tracks, S.N_TRACK_PARAMS))
    tv = S.denormalize(u, S.TRACK_SPECS, sr)
    tv[:, S.index(S.TRACK_SPECS, "highpass_hz")] = 80.0
    tv[:, S.index(S.TRACK_SPECS, "compressor.threshold_db")] = -30.0
    mv = S.denormalize(rng.uniform(0.2, 0.8, S.N_MASTER_PARAMS), S.MASTER_SPECS, sr)
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -18.0
    write_params(MixParams.from_arrays(sr, names, [f"{n}.wav" for n in names], tv, mv), params_path)
    return params_path


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def bench_full(folder: Path, params: Path, skip_pedalboard: bool, repeats: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "NUMBA_NUM_THREADS": "2"}
    out = folder.parent / "mix.wav"
    cmd = [sys.executable, "-m", "mixdown.cli", "render", str(folder), "--params", str(params), "--out", str(out)]
    import resource

    first = timed(cmd, env)  # also fills numba's on-disk cache
    ours = min(timed(cmd, env) for _ in range(repeats))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # before pedalboard runs
    res = {"render_s": ours, "render_first_run_s": first, "render_peak_rss_mb": peak_mb}
    if not skip_pedalboard:
        pb = [sys.executable, "-c", PEDALBOARD_SCRIPT, str(folder), str(params), str(folder.parent / "pb.wav")]
        res["pedalboard_s"] = min(timed(pb, env) for _ in range(repeats))
        res["ratio_to_pedalboard"] = ours / res["pedalboard_s"]
    return res


def bench_train(batch: int, tracks: int, seconds: float, steps: int) -> dict:
    import torch

    from mixdown.dsp.console import Console
    from mixdown.params import spec as S

    torch.set_num_threads(2)
    sr = 44100
    con = Console(sr)
    x = torch.randn(batch, tracks, 2, int(seconds * sr)) * 0.1
    times = []
    for _ in range(steps + 1):
        tp = torch.rand(batch, tracks, S.N_TRACK_PARAMS, requires_grad=True)
        mp = torch.rand(batch, S.N_MASTER_PARAMS, requires_grad=True)
        t0 = time.perf_counter()
        con(x, tp, mp).square().mean().backward()
        times.append(time.perf_counter() - t0)
    return {"train_step_s": float(np.median(times[1:])), "train_batch": [batch, tracks, seconds]}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-pedalboard", action="store_true")
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--train-steps", type=int, default=3)
    args = ap.parse_args()
    res: dict = {"machine": f"{os.cpu_count()} cores"}
    if not args.skip_full:
        folder = ROOT / ".bench" / f"session_{args.tracks}x{int(args.seconds)}"
        params = make_session(folder, args.tracks, args.seconds)
        res.update(bench_full(folder, params, args.skip_pedalboard, args.repeats))
        log.info("full render, %d stereo tracks x %.0f s, whole process: %.2f s (first run %.2f s), "
                 "peak memory %.0f MB", args.tracks, args.seconds, res["render_s"], res["render_first_run_s"],
                 res["render_peak_rss_mb"])
        if "pedalboard_s" in res:
            log.info("pedalboard, same chain, whole process: %.2f s -> ratio %.2f",
                     res["pedalboard_s"], res["ratio_to_pedalboard"])
    if args.train_steps:
        res.update(bench_train(4, 8, 6.0, args.train_steps))
        log.info("training path fwd+bwd, batch 4 x 8 tracks x 6 s: %.2f s/step", res["train_step_s"])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
