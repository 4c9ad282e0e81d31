"""How fast `mixdown studio` brings new loop audio after an edit.

    python scripts/bench_studio.py [--tracks 16] [--seconds 180] [--loop 12] [--edits 8] [--page]

Generates a session (mono and stereo tone tracks, 44.1 kHz, every track sending into a 2.5 s
reverb, in a temporary folder) and times, from the edit to the loop's new audio, a fader, a pan,
an EQ gain and a compressor threshold of one track and an EQ gain of the master, each ``--edits``
times, while the full-song render follows in the background as in the studio:

- default: the render engine alone (edit applied to the state -> the loop's new render ready);
- ``--page``: through the page (``mixdown studio`` served by its command, headless chromium driven
  by selenium, nothing downloaded): from the page's edit call (what its controls call) to the new
  loop audio decoded and swapped into the player, which plays meanwhile.

Prints one JSON line (medians, spreads, load average) after the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mixdown.params import spec as S  # noqa: E402
from mixdown.params.io import MixParams, write_params  # noqa: E402
from sessions import tone_track  # noqa: E402

log = logging.getLogger("bench_studio")
SR = 44100
EDITS = {"fader": ("t03", "fader_db", lambda k: -3.0 - 0.5 * k),
         "pan": ("t04", "pan", lambda k: -0.3 + 0.05 * k),
         "track EQ gain": ("t05", "eq.2.gain_db", lambda k: 1.0 + 0.5 * k),
         "compressor": ("t07", "compressor.threshold_db", lambda k: -20.0 - k),
         "master EQ gain": ("master", "eq.3.gain_db", lambda k: 1.0 + 0.5 * k)}


def make(folder: Path, n_tracks: int, seconds: float) -> MixParams:
    """The session's tracks and settings (written to ``folder/params.json``)."""
    rng = np.random.default_rng(0)
    (folder / "tracks").mkdir(parents=True)
    names = [f"t{i:02d}" for i in range(n_tracks)]
    for i, name in enumerate(names):
        sf.write(folder / "tracks" / f"{name}.wav", tone_track(rng, int(seconds * SR), SR, 1 + i % 2), SR,
                 subtype="PCM_24")
    rng = np.random.default_rng(1)
    tv = S.denormalize(rng.uniform(0.3, 0.7, (n_tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
    tv[:, S.index(S.TRACK_SPECS, "reverb_send_db")] = rng.uniform(-24, -12, n_tracks)  # every track sends
    mv = S.denormalize(np.full(S.N_MASTER_PARAMS, 0.5), S.MASTER_SPECS, SR)
    for k, v in {"reverb.decay_low_s": 3.0, "reverb.decay_mid_s": 2.5, "reverb.decay_high_s": 1.2}.items():
        mv[S.index(S.MASTER_SPECS, k)] = v
    params = MixParams.from_arrays(SR, names, [f"tracks/{n}.wav" for n in names], tv, mv)
    write_params(params, folder / "params.json")
    return params


def summary(times: list[float]) -> dict:
    q = np.quantile(times, [0.1, 0.9])
    return {"median_s": round(statistics.median(times), 3), "p10_s": round(float(q[0]), 3),
            "p90_s": round(float(q[1]), 3), "max_s": round(max(times), 3), "n": len(times)}


# ------------------------------------------------------------------------------ the engine alone
def bench_engine(folder: Path, params: MixParams, args) -> dict:
    from mixdown.studio import backend as B
    from mixdown.studio.engine import Engine
    from mixdown.studio.state import MixState

    def wait_loop(version: int) -> float:
        t0 = time.perf_counter()
        while engine.loop is None or engine.loop.version != version:
            time.sleep(0.002)
        return time.perf_counter() - t0

    session = B.open_session(folder)
    state = MixState(params)
    engine = Engine(session, state)
    start = args.seconds / 2
    engine.set_region(start, start + args.loop)
    engine.start()
    t0 = time.perf_counter()
    wait_loop(0)
    out = {"first_loop_s": round(time.perf_counter() - t0, 3)}
    engine.wait_idle(600)  # the region's strips cached, the song rendered: the steady state of editing
    for name, (target, key, value) in EDITS.items():
        times, busy = [], 0
        for k in range(args.edits):
            busy += engine.full_busy
            v = state.apply(state.parse([{"target": target, "key": key, "value": value(k)}]))
            engine.poke()
            times.append(wait_loop(v))
            time.sleep(args.gap)
        out[name] = {**summary(times), "full_render_running": busy}
        log.info("%-15s edit -> loop ready: %s", name, out[name])
    t0 = time.perf_counter()
    engine.wait_idle(600)
    out["full_after_last_edit_s"] = round(time.perf_counter() - t0, 1)
    engine.stop()
    return out


# ------------------------------------------------------------------------------ through the page
EDIT_JS = """
const [target, key, value, done] = arguments;
const body = document.body, before = Number(body.dataset.version);
const m = await import(new URL("static/js/editing.js", document.baseURI).href);
const t0 = performance.now();
m.edit(target, key, value);
const deadline = t0 + 30000;
while (performance.now() < deadline) {
  const v = Number(body.dataset.version);
  if (v > before && Number(body.dataset.loadedVersion) >= v) { done((performance.now() - t0) / 1000); return; }
  await new Promise((r) => setTimeout(r, 1));
}
done(-1);
"""


def bench_page(folder: Path, params: MixParams, args) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    cli = [sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())"]
    proc = subprocess.Popen(cli + ["studio", str(folder), "--params", str(folder / "params.json"), "--no-browser",
                                   "--port", "0"], stderr=subprocess.PIPE, text=True)
    url = None
    while url is None and proc.poll() is None:
        m = re.search(r"(http://127\.0\.0\.1:\d+/s/[\w-]+/)", proc.stderr.readline())
        url = m.group(1) if m else None
    if url is None:
        raise SystemExit("the studio did not start")

    def status() -> dict:
        with urllib.request.urlopen(url + "api/status", timeout=60) as r:
            return json.loads(r.read())

    def wait(fn, what: str, timeout: float = 900.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if fn():
                return
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}")

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bench-studio-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
              "--autoplay-policy=no-user-gesture-required", "--window-size=1500,1200", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    driver.set_script_timeout(60)
    out: dict = {}
    try:
        t0 = time.perf_counter()
        with urllib.request.urlopen(url + "api/loop", data=json.dumps(
                {"start_s": args.seconds / 2, "end_s": args.seconds / 2 + args.loop}).encode()) as r:
            r.read()
        driver.get(url)
        wait(lambda: driver.execute_script("return document.body.dataset.ready === '1' && "
                                           "Boolean(document.body.dataset.loaded)"), "the page and its first loop")
        out["first_loop_in_page_s"] = round(time.perf_counter() - t0, 2)
        driver.execute_script("document.getElementById('btn-play').click()")
        wait(lambda: (lambda s: s["full"] and s["full"]["key"] == s["key"] and not s["full_busy"])(status()),
             "the full song")  # the steady state of editing: the song rendered, the region's strips cached
        out["full_song_s"] = status()["full"]["seconds"]
        for name, (target, key, value) in EDITS.items():
            times, busy = [], 0
            for k in range(args.edits):
                busy += bool(status()["full_busy"])
                times.append(driver.execute_async_script(EDIT_JS, target, key, value(k)))
                time.sleep(args.gap)
            if min(times) < 0:
                raise SystemExit(f"{name}: the page got no new loop audio within 30 s")
            out[name] = {**summary(times), "full_render_running": busy}
            log.info("%-15s edit -> new loop audio in the page: %s", name, out[name])
        t0 = time.perf_counter()
        wait(lambda: (lambda s: s["full"] and s["full"]["key"] == s["key"] and not s["full_busy"])(status()),
             "the full song after the edits")
        out["full_after_last_edit_s"] = round(time.perf_counter() - t0, 1)
        out["playing"] = driver.execute_script("return document.getElementById('btn-play').textContent !== '\u25b6'")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        proc.terminate()
        proc.wait(30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--loop", type=float, default=12.0, help="loop length in seconds (starts mid-song)")
    ap.add_argument("--edits", type=int, default=8, help="edits of each kind")
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between one edit's new audio and the next edit "
                    "(above 0.8 the full-song render has started again when the next edit comes)")
    ap.add_argument("--page", action="store_true", help="through the page in headless chromium")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        params = make(Path(tmp), args.tracks, args.seconds)
        load = os.getloadavg()[0]
        out = (bench_page if args.page else bench_engine)(Path(tmp), params, args)
    print(json.dumps({"bench": "studio", "path": "page" if args.page else "engine", "gap_s": args.gap,
                      "tracks": args.tracks,
                      "seconds": args.seconds, "loop_s": args.loop, "reverb_decay_mid_s": 2.5, **out,
                      "load_avg_1min_start": round(load, 2), "load_avg_1min_end": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
