"""The report's reverb section: every track's send level and each band's decay, the measured T60
checked against the parameter and against a measurement made here on an impulse response built
from the spec text (``test_reverb._spec_ir``), not by the package."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

from mixdown import report
from test_export_reverb import _schroeder_t60, with_reverb
from test_reverb import _spec_ir

SR = 44100
IMG = '<img src="data:image/png;base64,'
SENDS = {"kick": -60.0, "bass": -24.0, "vox": -6.5}
DECAYS = {"low": 1.8, "mid": 1.5, "high": 0.7}


@pytest.fixture
def session(tmp_path, make_mix_params):
    rng = np.random.default_rng(3)
    for name, ch in (("kick.wav", 1), ("bass.wav", 1), ("vox.wav", 2)):
        sf.write(tmp_path / name, 0.05 * rng.standard_normal((SR // 2, ch)), SR)
    return tmp_path, make_mix_params(["kick.wav", "bass.wav", "vox.wav"], sample_rate=SR)


def _section_table(page: str, heading: str) -> list[list[str]]:
    """The rows of the table after ``<h3>heading</h3>`` in the Reverb section (cells unescaped)."""
    part = page[page.index("<h2>Reverb</h2>"):]
    table = part[part.index(f"<h3>{heading}</h3>"):]
    table = table[:table.index("</table>")]
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table) if "<td>" in row]


def test_report_shows_sends_and_measured_decays(session, tmp_path):
    sdir, params = session
    with_reverb(params, SENDS, predelay_ms=12.5, decay_low_s=DECAYS["low"], decay_mid_s=DECAYS["mid"],
                decay_high_s=DECAYS["high"], highpass_hz=150.0, return_db=-3.0)
    out = report.write_report(tmp_path / "r" / "mix.html", sdir, params)
    page = out.read_text(encoding="utf-8")
    assert _section_table(page, "Sends") == [["kick", "off"], ["bass", "-24.0 dB"], ["vox", "-6.5 dB"]]
    assert _section_table(page, "Settings") == [["pre-delay", "12.5 ms"], ["return high-pass", "150 Hz"],
                                                ["return level", "-3.0 dB"]]
    rows = _section_table(page, "Decay per band")
    assert [r[0] for r in rows] == ["low", "mid", "high"]
    h = _spec_ir(SR, 12.5, DECAYS["low"], DECAYS["mid"], DECAYS["high"])
    bands = {"low": (40, 250), "mid": (1200, 1800), "high": (11000, 18000)}
    for band, param, measured, where in rows:
        assert param == f"{DECAYS[band]:.2f} s"
        f1, f2 = bands[band]
        assert where == f"{f1}-{f2} Hz"
        value = float(measured.removesuffix(" s"))
        mine = _schroeder_t60(ss.sosfilt(ss.butter(4, [f1, f2], "bandpass", fs=SR, output="sos"), h), SR)
        assert value == pytest.approx(mine, abs=0.006), band  # printed to 0.01 s
        assert value == pytest.approx(DECAYS[band], rel=0.05), band
    # the decay plot is embedded and saved with the other figures
    figures = sorted((out.parent / "mix_figures").glob("*_reverb.png"))
    assert len(figures) == 1
    assert base64.b64encode(figures[0].read_bytes()).decode() in page
    assert page.count(IMG) == len(params.tracks) + 5  # stage, loudness, spectrum, reverb, tracks, master


def test_report_without_a_reverb_has_no_reverb_section(session, tmp_path):
    """Every send off (as a /1 file reads): the report is as before."""
    sdir, params = session
    with_reverb(params, {t.name: -60.0 for t in params.tracks})
    page = report.write_report(tmp_path / "mix.html", sdir, params).read_text(encoding="utf-8")
    assert "<h2>Reverb</h2>" not in page and page.count(IMG) == len(params.tracks) + 4
    assert not list((tmp_path / "mix_figures").glob("*_reverb.png"))
