"""Benchmark the console: full-length render (whole process) against pedalboard, and the
training path (forward + backward), with every track sending into a 2.5 s reverb.

pedalboard runs the same chain in the same run: per track gain, high-pass, EQ, compressor, fader,
pan, a post-pan send onto a bus through ``pedalboard.Convolution`` loaded with the same impulse
response (the spec's, written beside the session), a return high-pass and return gain, the master.

    python scripts/bench_render.py [--tracks 16] [--seconds 180] [--skip-pedalboard]

Each program runs as a child process, mixdown and pedalboard interleaved, on one core (``taskset``,
one thread) and on every core; the figures are each child's wall time, CPU time (user + system)
and peak memory, best of ``--repeats``, with the load average before and after. Prints them and,
last, one JSON line. The generated session is cached in ``.bench/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
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
from pedalboard import (Pedalboard, Gain, HighpassFilter, LowShelfFilter, PeakFilter, HighShelfFilter, Compressor,
                        Convolution)
session, params_path, out, ir_path = sys.argv[1:5]
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
bus = sends = None
for t in p["tracks"]:
    x, _ = sf.read(f"{session}/{t['file']}", dtype="float32", always_2d=True)
    board = Pedalboard([Gain(t["input_gain_db"]), HighpassFilter(t["highpass_hz"])] + eq(t["eq"])
                       + comp(t["compressor"]) + [Gain(t["fader_db"])])
    y = board(x.T.copy(), sr)
    th = (t["pan"] + 1) * np.pi / 4
    y = y * np.array([[np.cos(th)], [np.sin(th)]], dtype=np.float32)
    bus = y if bus is None else bus + y
    s = y * np.float32(10 ** (t["reverb_send_db"] / 20))
    sends = s if sends is None else sends + s
m = p["master"]
r = m["reverb"]
ret = Pedalboard([Convolution(np.load(ir_path).astype(np.float32), mix=1.0, sample_rate=sr),
                  HighpassFilter(r["highpass_hz"]), Gain(r["return_db"])])
bus = bus + ret(sends, sr)
board = Pedalboard(eq(m["eq"]) + comp(m["compressor"]) + [Gain(m["output_gain_db"])])
sf.write(out, board(bus, sr).T, sr, subtype="FLOAT")
"""


#: the benchmark's reverb: every decay 2.5 s (the issue's "2.5 s reverb")
BENCH_REVERB = {"reverb.predelay_ms": 20.0, "reverb.decay_low_s": 2.5, "reverb.decay_mid_s": 2.5,
                "reverb.decay_high_s": 2.5, "reverb.highpass_hz": 200.0, "reverb.return_db": -6.0}


def make_session(folder: Path, n_tracks: int, seconds: float, sr: int = 44100) -> Path:
    """16 stereo tracks of shaped noise bursts and a parameter file with every effect active, every
    track sending into a 2.5 s reverb; the impulse response is written beside it (``ir.npy``) for
    pedalboard. Tracks are generated once; a parameter file from before the reverb is replaced."""
    from mixdown.dsp.reverb_ir import reverb_impulse_response
    from mixdown.params import spec as S
    from mixdown.params.io import FORMAT, MixParams, write_params

    params_path = folder / "params.json"
    if params_path.exists() and json.loads(params_path.read_text()).get("format") == FORMAT:
        return params_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = int(seconds * sr)
    names = []
    for i in range(n_tracks):
        env = np.repeat(rng.uniform(0.05, 0.5, n // sr + 1), sr)[:n] * (1 + np.sin(np.arange(n) * 2e-4 * (i + 1)))
        x = (rng.standard_normal((n, 2)) * env[:, None] * 0.3).astype(np.float32)
        if not (folder / f"track{i:02d}.wav").exists():
            sf.write(folder / f"track{i:02d}.wav", x, sr, subtype="PCM_24")
        names.append(f"track{i:02d}")
    u = rng.uniform(0.2, 0.8, (n_tracks, S.N_TRACK_PARAMS))
    tv = S.denormalize(u, S.TRACK_SPECS, sr)
    tv[:, S.index(S.TRACK_SPECS, "highpass_hz")] = 80.0
    tv[:, S.index(S.TRACK_SPECS, "compressor.threshold_db")] = -30.0
    mv = S.denormalize(rng.uniform(0.2, 0.8, S.N_MASTER_PARAMS), S.MASTER_SPECS, sr)
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -18.0
    tv[:, S.index(S.TRACK_SPECS, "reverb_send_db")] = rng.uniform(-24.0, -10.0, n_tracks)  # every track sends
    for k, v in BENCH_REVERB.items():
        mv[S.index(S.MASTER_SPECS, k)] = v
    ir = reverb_impulse_response(sr, *(BENCH_REVERB[f"reverb.{k}"] for k in
                                       ("predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s")))
    np.save(folder / "ir.npy", ir.astype(np.float32))
    write_params(MixParams.from_arrays(sr, names, [f"{n}.wav" for n in names], tv, mv), params_path)
    return params_path


def run_child(cmd: list[str], env: dict) -> dict:
    """Run ``cmd`` to its end; its wall time, CPU time (user + system, all its threads) and peak
    memory, from ``os.wait4`` (this child's own figures, not a running total)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}


def core_setups() -> list[tuple[str, list[str], int]]:
    """(name, command prefix, threads): one core (``taskset -c`` to the first allowed core, when
    taskset exists) and every core this process may use."""
    cores = sorted(os.sched_getaffinity(0))
    setups = [("all_cores", [], len(cores))]
    if shutil.which("taskset") and len(cores) > 1:
        setups.insert(0, ("1_core", ["taskset", "-c", str(cores[0])], 1))
    return setups


def thread_env(threads: int) -> dict:
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "NUMBA_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n,
            "MKL_NUM_THREADS": n}


def best(runs: list[dict]) -> dict:
    """The fastest run (wall), with the least CPU time and the largest peak memory of all runs."""
    out = dict(min(runs, key=lambda r: r["wall_s"]))
    out["cpu_s"] = min(r["cpu_s"] for r in runs)
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


def bench_full(folder: Path, params: Path, skip_pedalboard: bool, repeats: int) -> dict:
    """mixdown render and pedalboard's chain, interleaved in the same run, on one core and on all."""
    ours = [sys.executable, "-m", "mixdown.cli", "render", str(folder), "--params", str(params), "--out",
            str(folder.parent / "mix.wav")]
    theirs = [sys.executable, "-c", PEDALBOARD_SCRIPT, str(folder), str(params), str(folder.parent / "pb.wav"),
              str(folder / "ir.npy")]
    first = run_child(ours, thread_env(os.cpu_count() or 1))  # also fills numba's on-disk cache
    res: dict = {"render_first_run_s": round(first["wall_s"], 3)}
    for name, prefix, threads in core_setups():
        env = thread_env(threads)
        runs: dict[str, list] = {"mixdown": [], "pedalboard": []}
        for _ in range(repeats):
            runs["mixdown"].append(run_child(prefix + ours, env))
            if not skip_pedalboard:
                runs["pedalboard"].append(run_child(prefix + theirs, env))
        for who, r in runs.items():
            if r:
                res[f"{who}_{name}"] = {k: round(v, 3) for k, v in best(r).items()}
                log.info("%-10s %-9s wall %6.2f s  CPU %6.2f s  peak %5.0f MB", who, name,
                         res[f"{who}_{name}"]["wall_s"], res[f"{who}_{name}"]["cpu_s"],
                         res[f"{who}_{name}"]["peak_rss_mb"])
        if runs["pedalboard"]:
            md, pb = res[f"mixdown_{name}"], res[f"pedalboard_{name}"]
            res[f"wall_ratio_{name}"] = round(md["wall_s"] / pb["wall_s"], 3)
            res[f"cpu_ratio_{name}"] = round(md["cpu_s"] / pb["cpu_s"], 3)
            log.info("ratio to pedalboard, %s: wall %.2f (target <= 0.7), CPU %.2f (target <= 1.0)", name,
                     res[f"wall_ratio_{name}"], res[f"cpu_ratio_{name}"])
    return res


def bench_train(batch: int, tracks: int, seconds: float, steps: int) -> dict:
    """Console forward + backward with every effect active, every track sending (-30 .. 0 dB) into
    the reverb at random settings (decays log-uniform over 0.1-10 s: impulse responses up to 10 s)."""
    import torch

    from mixdown.dsp.console import Console
    from mixdown.params import spec as S

    torch.set_num_threads(2)
    sr = 44100
    con = Console(sr)
    x = torch.randn(batch, tracks, 2, int(seconds * sr)) * 0.1
    send = S.index(S.TRACK_SPECS, "reverb_send_db")
    times = []
    for _ in range(steps + 1):
        u = torch.rand(batch, tracks, S.N_TRACK_PARAMS)
        u[..., send] = 0.5 + 0.5 * u[..., send]
        tp = u.requires_grad_(True)
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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pedalboard", action="store_true")
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--train-steps", type=int, default=3)
    args = ap.parse_args()
    res: dict = {"machine": f"{os.cpu_count()} cores", "load_avg_before": os.getloadavg()}
    if not args.skip_full:
        folder = ROOT / ".bench" / f"session_{args.tracks}x{int(args.seconds)}"
        params = make_session(folder, args.tracks, args.seconds)
        log.info("full render, %d stereo tracks x %.0f s, every track sending to a 2.5 s reverb, whole process "
                 "(pedalboard: the same chain, Convolution on the send bus), best of %d:", args.tracks,
                 args.seconds, args.repeats)
        res.update(bench_full(folder, params, args.skip_pedalboard, args.repeats))
    res["load_avg_after"] = os.getloadavg()
    log.info("load average (1, 5, 15 min) before %s, after %s", res["load_avg_before"], res["load_avg_after"])
    if args.train_steps:
        res.update(bench_train(4, 8, 6.0, args.train_steps))
        log.info("training path fwd+bwd with reverb, batch 4 x 8 tracks x 6 s: %.2f s/step", res["train_step_s"])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
