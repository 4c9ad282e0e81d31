"""End to end in a real headless browser (Debian's chromium driven by selenium through its
chromedriver; nothing is downloaded): ``mixdown studio`` serves a generated session, the page
solos a track and moves its fader (the re-rendered loop must change by exactly the fader's dB),
locks the fader, presses Mix (the lock must hold while the model moves the rest) and Another take
(the lock still holds; the page names take 1), saves, and the
saved file re-rendered by ``mixdown render`` must be the studio's own full-song render."""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.params.io import read_params
from studio_helpers import SR, make_session, rms_db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CLI = [sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())"]

pytestmark = pytest.mark.slow


def _need_browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium / chromedriver not installed (bash scripts/setup_system.sh installs them)")
    pytest.importorskip("selenium")
    pytest.importorskip("uvicorn")


def wait_for(fn, timeout=90.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def retype(field, text):
    """Type ``text`` over a field's value as a person does (focus, select all, type, Tab away).
    Selenium's ``clear()`` blurs the field, and a state update landing before the typing would put
    the server's value back with the typed text appended to it."""
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.CONTROL, "a")  # focuses the field and selects its text; it stays focused
    field.send_keys(text, Keys.TAB)


@contextlib.contextmanager
def studio_server(session, *args):
    _need_browser()
    proc = subprocess.Popen(CLI + ["studio", str(session), "--no-browser", "--port", "0", *args],
                            stderr=subprocess.PIPE, text=True)
    url, lines = None, []
    deadline = time.monotonic() + 120
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        line = proc.stderr.readline()
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+/s/[\w-]+/)", line)
        url = m.group(1) if m else None
    assert url, "the studio did not start:\n" + "".join(lines)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def server(tmp_path):
    params = make_session(tmp_path / "song", n_tracks=3, seconds=4.0, seed=5)
    with studio_server(tmp_path / "song", "--params", str(params)) as url:
        yield url, tmp_path / "song", params


@pytest.fixture
def browser(tmp_path):
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1500,1200",
              f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def api(url, path, data=None):
    req = urllib.request.Request(url + path, data=None if data is None else json.dumps(data).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        return json.loads(body) if r.headers.get_content_type() == "application/json" else body


def loop_audio_of_current_settings(url, driver):
    """Wait until the server's loop render and the page's loaded buffers match the settings,
    then return the loop's mix as the page got it."""
    def ready():
        st = api(url, "api/status")
        key = ".".join(map(str, st["key"]))
        if not st["loop"] or st["loop"]["key"] != st["key"]:
            return None
        loaded = driver.execute_script("return document.body.dataset.loaded || ''")
        return key if loaded.startswith(key + "@") else None

    wait_for(ready, what="the loop render of the current settings in the page")
    return sf.read(io.BytesIO(api(url, "api/audio/loop/mix.wav")), dtype="float32")[0]


def test_fader_lock_mix_save_render_in_the_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, session, params_path = server
    d = browser
    d.get(url)
    wait_for(lambda: d.execute_script("return document.body.dataset.ready === '1'"), what="the page")
    strip = d.find_element(By.CSS_SELECTOR, '.strip[data-target="track0"]')
    assert d.find_elements(By.CSS_SELECTOR, ".strip") and d.find_element(By.CSS_SELECTOR, "canvas.eq-canvas")

    # solo track0 in context, then raise its fader by 6 dB
    strip.find_element(By.CSS_SELECTOR, "button.solo").click()
    wait_for(lambda: api(url, "api/status")["solo"] == ["track0"], what="the solo")
    before = loop_audio_of_current_settings(url, d)
    slider = strip.find_element(By.CSS_SELECTOR, '.fader input[type="range"]')
    field = strip.find_element(By.CSS_SELECTOR, '.fader input[type="number"]')
    slider_before = slider.get_attribute("value")
    assert float(field.get_attribute("value")) == -6.0
    retype(field, "0")
    wait_for(lambda: api(url, "api/state")["tracks"]["track0"]["fader_db"] == 0.0, what="the fader edit")
    after = loop_audio_of_current_settings(url, d)
    assert rms_db(after) - rms_db(before) == pytest.approx(6.0, abs=1e-3)
    assert int(slider.get_attribute("value")) > int(slider_before)
    strip.find_element(By.CSS_SELECTOR, "button.solo").click()
    wait_for(lambda: api(url, "api/status")["solo"] == [], what="the solo off")

    # lock the fader, let the model mix: the lock holds, the rest moves
    lock = strip.find_element(By.CSS_SELECTOR, ".fader button.lock")
    lock.click()
    wait_for(lambda: "track0.fader_db" in api(url, "api/state")["locks"], what="the lock")
    wait_for(lambda: "on" in lock.get_attribute("class").split(), what="the page to show the lock")
    original = read_params(params_path)
    version = api(url, "api/state")["version"]
    d.find_element(By.ID, "btn-mix").click()
    state = wait_for(lambda: (lambda s: s if s["version"] > version else None)(api(url, "api/state")),
                     timeout=180, what="Mix")
    assert state["tracks"]["track0"]["fader_db"] == 0.0
    assert state["tracks"]["track1"] != original.tracks[1].values
    wait_for(lambda: float(field.get_attribute("value")) == 0.0, what="the page to show the locked value")

    # another engineer's way: the next take, the lock still held, the page naming the take
    version = state["version"]
    d.find_element(By.ID, "btn-take").click()
    state = wait_for(lambda: (lambda s: s if s["version"] > version else None)(api(url, "api/state")),
                     timeout=180, what="Another take")
    assert state["tracks"]["track0"]["fader_db"] == 0.0
    wait_for(lambda: "(take 1)" in d.execute_script("return document.getElementById('toast').textContent"),
             what="the page to name the take")

    # save, and the saved file renders to the studio's own full-song render
    mtime = params_path.stat().st_mtime_ns
    d.find_element(By.ID, "btn-save").click()
    wait_for(lambda: params_path.stat().st_mtime_ns != mtime, what="the save")
    saved = read_params(params_path)
    assert saved.tracks[0].values["fader_db"] == 0.0 and saved.tracks[1].values == state["tracks"]["track1"]
    wait_for(lambda: (lambda s: s["full"] and s["full"]["key"] == s["key"] and not s["full_busy"])(
        api(url, "api/status")), what="the full-song render")
    studio_full = sf.read(io.BytesIO(api(url, "api/audio/full/mix.wav")), dtype="float32")[0]
    out = tmp_path / "rendered.wav"
    subprocess.run(CLI + ["render", str(session), "--params", str(params_path), "--out", str(out)], check=True)
    rendered, sr = sf.read(out, dtype="float32")
    assert sr == SR and np.array_equal(rendered, studio_full)
    d.save_screenshot(str(tmp_path / "studio.png"))
    assert Path(tmp_path / "studio.png").stat().st_size > 10_000


def test_eq_bands_drag_and_wheel_in_the_browser(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By

    url, _, _ = server
    d = browser
    d.get(url)
    wait_for(lambda: d.execute_script("return document.body.dataset.ready === '1'"), what="the page")
    # every parameter of the spec table has a control with its unit and a lock (the page knows no list)
    shown = set(d.execute_script("return [...document.querySelectorAll('[data-param]')].map(e => e.dataset.param)"))
    specs = api(url, "api/state")["track_specs"]
    assert {f"track0.{s['name']}" for s in specs} <= shown
    for s in specs:
        ctl = d.find_element(By.CSS_SELECTOR, f'[data-param="track0.{s["name"]}"]')
        assert ctl.find_element(By.CSS_SELECTOR, ".unit").text and ctl.find_elements(By.CSS_SELECTOR, "button.lock")
    canvas = d.find_element(By.CSS_SELECTOR, 'canvas.eq-canvas[data-target="track0"]')
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    v0 = api(url, "api/state")["tracks"]["track0"]
    w, h = d.execute_script("const c = arguments[0]; return [c.clientWidth, c.clientHeight];", canvas)
    f, g = v0["eq.2.freq_hz"], v0["eq.2.gain_db"]
    x = np.log(f / 20.0) / np.log(1000.0) * w
    y = h / 2 - g / 18.0 * (h / 2)
    # drag band 3 (index 2) straight up by 40 px: its gain rises by 40 / (h / 2) x 18 dB
    ActionChains(d).move_to_element_with_offset(canvas, int(round(x - w / 2)), int(round(y - h / 2))) \
        .click_and_hold().move_by_offset(0, -20).move_by_offset(0, -20).release().perform()
    want = min(15.0, g + 40 / (h / 2) * 18.0)
    v1 = wait_for(lambda: (lambda v: v if abs(v["eq.2.gain_db"] - want) < 0.6 else None)(
        api(url, "api/state")["tracks"]["track0"]), what="the dragged band's gain")
    assert v1["eq.2.freq_hz"] == pytest.approx(f, rel=0.05)
    # the wheel over the handle changes its Q
    y1 = h / 2 - v1["eq.2.gain_db"] / 18.0 * (h / 2)
    origin = ScrollOrigin.from_element(canvas, int(round(x - w / 2)), int(round(y1 - h / 2)))
    ActionChains(d).scroll_from_origin(origin, 0, -100).perform()
    wait_for(lambda: api(url, "api/state")["tracks"]["track0"]["eq.2.q"] > v0["eq.2.q"] * 1.05, what="the Q")
    # the drag was one undo step: undo twice (wheel, drag) and the band is back
    for _ in range(2):
        version = api(url, "api/state")["version"]
        d.find_element(By.ID, "btn-undo").click()
        wait_for(lambda v=version: api(url, "api/state")["version"] > v, what="undo")
    back = api(url, "api/state")["tracks"]["track0"]
    assert back["eq.2.gain_db"] == g and back["eq.2.q"] == v0["eq.2.q"]
