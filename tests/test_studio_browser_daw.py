# ruff: noqa: F811  (the browser fixture is imported from test_studio_browser)
"""The studio as a producer uses it, in a real headless browser (the system's chromium driven by
selenium, as ``test_studio_browser.py``): the editor fits the screen and no boxes overlap at 1440,
1024 and 700 px wide (narrower, the page scrolls); the open editor survives a reload; arrow keys
step, typed values are clamped with a note, pan reads L / C / R; lock + Mix keeps the balance and
the true peak; meters move while playing; "mixing..." during the first mix; C offered from a
``reference_mix.*`` in the session, or saying how to add one."""

import time

import pytest

from studio_helpers import make_session
from test_studio_browser import api, browser, retype, studio_server, wait_for  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def session(tmp_path):
    return tmp_path / "song", make_session(tmp_path / "song", n_tracks=3, seconds=4.0, seed=5)


def viewport(d, width, height):
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def open_page(d, url):
    d.get(url)
    wait_for(lambda: d.execute_script("return document.body.dataset.ready === '1'"), what="the page")


OVERLAPS = """
const boxes = [...document.querySelectorAll(arguments[0])].filter((e) => e.offsetParent !== null);
const out = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  if (a.contains(b) || b.contains(a)) continue;
  const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
  const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
  const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
  const name = (e) => `${e.className || e.tagName} ${e.dataset.param || ''}`;
  if (w > 1 && h > 1) out.push([name(a), name(b)]);
}
return out;
"""
EDITOR_BOXES = ("#editor h2, #editor h4, #editor canvas, #editor .band, #editor .ctl, #editor .gr-meter, "
                "#editor input, #editor .fields")


def test_the_editor_fits_and_nothing_overlaps(session, browser):
    from selenium.webdriver.common.by import By

    folder, params = session
    d = browser
    with studio_server(folder, "--params", str(params)) as url:
        for width, height in ((1440, 900), (1024, 768), (700, 700)):
            viewport(d, width, height)
            open_page(d, url)
            d.find_element(By.CSS_SELECTOR, '.strip[data-target="track1"] h3').click()
            wait_for(lambda: d.execute_script("return document.getElementById('editor').dataset.target") == "track1",
                     what="the editor of track1")
            top, left, bottom = d.execute_script(
                "const r = document.querySelector('#editor canvas.eq-canvas').getBoundingClientRect();"
                "return [r.top, r.left, r.bottom]")
            assert 0 <= top and bottom <= height, (width, top, bottom)  # the EQ in view, no scrolling by hand
            if width == 1440:  # beside the mixer, and the page itself does not scroll
                mixer_right = d.execute_script("return document.getElementById('mixer').getBoundingClientRect().right")
                assert left >= mixer_right and d.execute_script("return window.scrollY") == 0
                assert d.execute_script("return document.documentElement.scrollHeight") <= height
            assert d.execute_script(OVERLAPS, EDITOR_BOXES) == [], width
            assert d.execute_script(OVERLAPS, ".strip, #editor") == [], width
            widths = d.execute_script("return [...document.querySelectorAll('#editor input[type=range]')]"
                                      ".map((e) => e.getBoundingClientRect().width)")
            assert min(widths) >= 40, (width, min(widths))
            if width == 700:  # narrower than the page's minimum: it scrolls sideways instead
                assert d.execute_script("return document.documentElement.scrollWidth") > 700
        d.refresh()  # the open editor survives a reload
        wait_for(lambda: d.execute_script("return document.body.dataset.ready === '1'"), what="the page again")
        assert d.execute_script("return document.getElementById('editor').dataset.target") == "track1"


def test_arrow_keys_clamping_pan_and_ticks(session, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder, params = session
    d = browser
    with studio_server(folder, "--params", str(params)) as url:
        viewport(d, 1440, 900)
        open_page(d, url)
        fader = lambda: api(url, "api/state")["tracks"]["track0"]["fader_db"]  # noqa: E731
        strip = d.find_element(By.CSS_SELECTOR, '.strip[data-target="track0"]')
        slider = strip.find_element(By.CSS_SELECTOR, '.fader input[type="range"]')
        field = strip.find_element(By.CSS_SELECTOR, '.fader input[type="number"]')
        ticks = [t.text for t in strip.find_elements(By.CSS_SELECTOR, ".fader .ticks span")]
        assert {"+6", "0", "-6", "-12"} <= set(ticks)
        assert fader() == -6.0
        slider.send_keys(Keys.ARROW_UP)
        wait_for(lambda: fader() == -5.5, what="the fader 0.5 dB up")
        slider.send_keys(Keys.SHIFT, Keys.ARROW_DOWN)
        wait_for(lambda: fader() == -5.6, what="the fader 0.1 dB down")
        # the field shows the server's value once the page hears of it (the edit is sent first)
        wait_for(lambda: field.get_attribute("value") == "-5.6", what="the field showing -5.6")
        # pan: 1 % per arrow, 5 % with Shift, shown as L / C / R
        pan_slider = strip.find_element(By.CSS_SELECTOR, '[data-param="track0.pan"] input[type="range"]')
        pan_field = strip.find_element(By.CSS_SELECTOR, '[data-param="track0.pan"] input.num')
        api(url, "api/params", {"changes": [{"target": "track0", "key": "pan", "value": 0.0}]})
        wait_for(lambda: pan_field.get_attribute("value") == "C", what="pan shown as C")
        pan_slider.send_keys(Keys.ARROW_RIGHT)
        wait_for(lambda: api(url, "api/state")["tracks"]["track0"]["pan"] == 0.01, what="pan 1 % right")
        pan_slider.send_keys(Keys.SHIFT, Keys.ARROW_LEFT)
        wait_for(lambda: api(url, "api/state")["tracks"]["track0"]["pan"] == -0.04, what="pan 5 % left")
        wait_for(lambda: pan_field.get_attribute("value") == "L 4", what="pan shown as L 4")
        retype(pan_field, "R 30")
        wait_for(lambda: api(url, "api/state")["tracks"]["track0"]["pan"] == 0.3, what="pan typed as R 30")
        # a typed value outside the range: clamped to the limit, with a note; the field shows what plays
        retype(field, "40")
        wait_for(lambda: fader() == 24.0, what="the fader clamped to +24 dB")
        wait_for(lambda: field.get_attribute("value") == "24.0", what="the field showing +24 dB")
        # the note (an info toast hides after 3.5 s, and a loaded machine can take that long to get
        # here: its text stays until the next toast)
        toast = d.find_element(By.ID, "toast")
        wait_for(lambda: "set to the limit" in toast.get_attribute("textContent"), what="the clamping note")
        # at the limit, another step up changes nothing and makes no undo step
        version = api(url, "api/state")["version"]
        slider.send_keys(Keys.ARROW_UP)
        time.sleep(0.5)
        assert api(url, "api/state")["version"] == version
        # "-0.0" is shown as "0.0"
        api(url, "api/params", {"changes": [{"target": "track0", "key": "fader_db", "value": -0.04}]})
        wait_for(lambda: field.get_attribute("value") == "0.0", what="-0.04 dB shown as 0.0")


def test_lock_mix_keeps_the_balance_and_the_true_peak(session, browser):
    from selenium.webdriver.common.by import By

    folder, params = session
    d = browser
    with studio_server(folder, "--params", str(params)) as url:
        viewport(d, 1440, 900)
        open_page(d, url)

        def mix():
            version = api(url, "api/state")["version"]
            d.find_element(By.ID, "btn-mix").click()
            return wait_for(lambda: (lambda s: s if s["version"] > version and s["tracks"] else None)(
                api(url, "api/state")), timeout=180, what="Mix")

        def full_true_peak():
            st = wait_for(lambda: (lambda s: s if s["full"] and s["full"]["key"] == s["key"] and s["full"]["meters"]
                                   else None)(api(url, "api/status")), timeout=120, what="the full song's meters")
            return st["full"]["meters"]["mix"]["true_peak_dbtp"]

        first = mix()
        faders = {n: t["fader_db"] for n, t in first["tracks"].items()}
        lock = d.find_element(By.CSS_SELECTOR, '.strip[data-target="track1"] .fader button.lock')
        lock.click()
        wait_for(lambda: "track1.fader_db" in api(url, "api/state")["locks"], what="the lock")
        again = mix()
        for n, t in again["tracks"].items():
            assert abs((t["fader_db"] - again["tracks"]["track1"]["fader_db"]) - (faders[n] - faders["track1"])) <= 1.0
        assert full_true_peak() <= -1.0 + 1e-3
        tp = d.find_element(By.ID, "m-truepeak")
        assert "over" not in tp.get_attribute("class").split()
        # the output pushed up: the master's true peak goes above 0 dBTP and shows red
        out = d.find_element(By.CSS_SELECTOR, '.strip[data-target="master"] .fader input[type="number"]')
        retype(out, "24")
        assert full_true_peak() > 0.0
        d.find_element(By.CSS_SELECTOR, "#loop-on").click()  # the full song's meters on the page
        wait_for(lambda: "over" in tp.get_attribute("class").split(), what="the true peak in red")


def test_meters_move_while_playing(session, browser):
    from selenium.webdriver.common.by import By

    folder, params = session
    d = browser
    with studio_server(folder, "--params", str(params)) as url:
        viewport(d, 1440, 900)
        open_page(d, url)
        wait_for(lambda: (lambda s: s["loop"] and s["loop"]["key"] == s["key"])(api(url, "api/status")),
                 what="the loop render")
        wait_for(lambda: api(url, "api/status")["loop"]["meters"], what="the loop's meters")
        d.find_element(By.ID, "btn-play").click()
        peaks, grs, master = set(), set(), set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (len(peaks) < 4 or len(grs) < 3):
            peaks.add(d.execute_script("return document.querySelector('.meter[data-target=\"track0\"]').dataset.peak"))
            grs.add(d.execute_script("return document.querySelector('.strip .gr-meter[data-target=\"track0\"]')"
                                     ".dataset.gr"))
            master.add(d.execute_script("return document.querySelector('.meter[data-target=\"master\"]').dataset.peak"))
            time.sleep(0.1)
        assert len(peaks - {"-120"}) >= 3, peaks  # the level moves with the music
        assert any(float(g) < 0 for g in grs), grs  # the compressor works, and its meter shows it
        assert len(master - {"-120"}) >= 3, master
        d.find_element(By.ID, "btn-play").click()  # stopped: the meters rest
        wait_for(lambda: d.execute_script(
            "return document.querySelector('.meter[data-target=\"track0\"]').dataset.peak") == "-120", what="rest")


def test_first_mix_shows_mixing_and_the_reference_is_offered(session, browser, tmp_path):
    from selenium.webdriver.common.by import By

    folder, params = session
    params.unlink()  # no parameter file: the model makes the first draft
    d = browser
    with studio_server(folder) as url:  # no --reference: the session's reference_mix.wav is offered
        viewport(d, 1440, 900)
        d.get(url)
        seen = False
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            st = api(url, "api/status")
            shown = d.execute_script("return document.body.dataset.ready === '1' && "
                                     "getComputedStyle(document.getElementById('cold')).display !== 'none'")
            seen = seen or bool(shown)
            if not st["mixing_first"] and st["version"] > 0:
                break
            time.sleep(0.05)
        assert seen, "the page did not say 'mixing...' during the first mix"
        wait_for(lambda: d.execute_script(
            "return getComputedStyle(document.getElementById('cold')).display") == "none", what="mixing... gone")
        c = d.find_element(By.CSS_SELECTOR, '.abc button[data-source="reference"]')
        assert c.is_enabled() and "found in the session" in c.get_attribute("title")
    (folder / "reference_mix.wav").unlink()
    with studio_server(folder, "--params", str(tmp_path / "p.json")) as url:
        open_page(d, url)
        c = d.find_element(By.CSS_SELECTOR, '.abc button[data-source="reference"]')
        assert not c.is_enabled() and "reference_mix.wav" in c.get_attribute("title")
        assert "reference_mix.wav" in d.find_element(By.ID, "ref-hint").text
