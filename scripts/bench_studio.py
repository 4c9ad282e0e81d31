"""How fast `mixdown studio` re-renders the loop region after an edit.

    python scripts/bench_studio.py [--tracks 16] [--seconds 180] [--loop 12] [--edits 8]

Generates a session (mono and stereo tone tracks, 44.1 kHz, in a temporary folder), starts the
studio's render engine and times, from the edit to the loop's new audio being ready: the first
(cold) loop render, edits of one track (fader, EQ gain, compressor threshold) and of the master.
The full-song render runs in the background meanwhile, as in the studio.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mixdown.params import spec as S  # noqa: E402
from mixdown.params.io import MixParams  # noqa: E402
from mixdown.studio import backend as B  # noqa: E402
from mixdown.studio.engine import Engine  # noqa: E402
from mixdown.studio.state import MixState  # noqa: E402
from sessions import tone_track  # noqa: E402

log = logging.getLogger("bench_studio")
SR = 44100


def make(folder: Path, n_tracks: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    (folder / "tracks").mkdir(parents=True)
    for i in range(n_tracks):
        sf.write(folder / "tracks" / f"t{i:02d}.wav", tone_track(rng, int(seconds * SR), SR, 1 + i % 2), SR,
                 subtype="PCM_24")


def wait_loop(engine: Engine, version: int) -> float:
    t0 = time.perf_counter()
    while engine.loop is None or engine.loop.version != version:
        time.sleep(0.002)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--loop", type=float, default=12.0, help="loop length in seconds (starts mid-song)")
    ap.add_argument("--edits", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make(folder, args.tracks, args.seconds)
        session = B.open_session(folder)
        rng = np.random.default_rng(1)
        tv = S.denormalize(rng.uniform(0.3, 0.7, (args.tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
        mv = S.denormalize(np.full(S.N_MASTER_PARAMS, 0.5), S.MASTER_SPECS, SR)
        state = MixState(MixParams.from_arrays(SR, session.names, session.files, tv, mv))
        engine = Engine(session, state)
        start = args.seconds / 2
        engine.set_region(start, start + args.loop)
        engine.start()
        t0 = time.perf_counter()
        wait_loop(engine, 0)
        log.info("%d tracks x %.0f s, loop %.0f s: first (cold) loop render %.2f s", args.tracks, args.seconds,
                 args.loop, time.perf_counter() - t0)
        edits = {"track fader": ("t03", "fader_db", lambda k: -3.0 - k),
                 "track EQ gain": ("t05", "eq.2.gain_db", lambda k: 1.0 + 0.5 * k),
                 "track compressor": ("t07", "compressor.threshold_db", lambda k: -20.0 - k),
                 "master EQ gain": ("master", "eq.3.gain_db", lambda k: 0.5 * k)}
        for name, (target, key, value) in edits.items():
            times, busy = [], 0
            for k in range(args.edits):
                v = state.apply(state.parse([{"target": target, "key": key, "value": value(k)}]))
                engine.poke()
                busy += engine.full_busy
                times.append(wait_loop(engine, v))
                time.sleep(0.05)
            log.info("%-17s edit -> loop ready: median %.3f s, max %.3f s (full render running during %d of %d)",
                     name, statistics.median(times), max(times), busy, args.edits)
        t0 = time.perf_counter()
        engine.wait_idle(600)
        log.info("full song (background) ready %.1f s after the last edit; its render took %.1f s",
                 time.perf_counter() - t0, engine.full.seconds)
        engine.stop()


if __name__ == "__main__":
    main()
