"""HTML report: figures embedded and saved, every setting listed; the curves it draws are right."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from mixdown import report
from mixdown.params import spec as S
from mixdown.params.io import read_params

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "rock-8beat"
IMG = '<img src="data:image/png;base64,'


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    params = read_params(EXAMPLE / "params.json")
    out = tmp_path_factory.mktemp("report") / "rock.html"
    assert report.write_report(out, EXAMPLE, params) == out
    return out, params, json.loads((EXAMPLE / "params.json").read_text())


def test_report_embeds_and_saves_every_figure(example_report):
    out, params, _ = example_report
    page = out.read_text(encoding="utf-8")
    pngs = sorted((out.parent / "rock_figures").glob("*.png"))
    n_figures = len(params.tracks) + 4  # stage, loudness, spectrum, one per track, master
    assert len(pngs) == n_figures
    assert page.count(IMG) == n_figures
    embedded = re.findall(re.escape(IMG) + r'([A-Za-z0-9+/=]+)"', page)
    assert sorted(base64.b64decode(b) for b in embedded) == sorted(p.read_bytes() for p in pngs)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_report_lists_every_setting(example_report):
    out, params, doc = example_report
    page = out.read_text(encoding="utf-8")
    tables = page[page.index("All settings"):]
    for t in doc["tracks"]:
        assert f"<th>{html.escape(t['name'])}</th>" in tables
        assert f"<td>{json.dumps(t['fader_db'])}</td>" in tables  # as written in the file
        assert f"<td>{json.dumps(t['compressor']['ratio'])}</td>" in tables
    for s in S.TRACK_SPECS:
        assert f"<td>{s.name}</td>" in tables
    assert f"<td>{json.dumps(doc['master']['output_gain_db'])}</td>" in tables
    assert "LUFS" in page and "dBTP" in page


def test_eq_response_matches_band_gains():
    values = S.neutral_track_values()
    values.update({"eq.2.freq_hz": 1000.0, "eq.2.gain_db": 6.0, "eq.2.q": 2.0, "highpass_hz": 100.0})
    f, total, bands = report.eq_response_db(values, 48000, strip=True)
    assert len(bands) == 1 + S.N_EQ_BANDS
    assert np.interp(1000.0, f, total) == pytest.approx(6.0, abs=0.05)
    assert np.interp(100.0, f, bands[0]) == pytest.approx(-3.01, abs=0.05)  # Butterworth corner
    assert np.interp(25.0, f, total) < -20


def test_static_curve_follows_the_spec():
    values = S.neutral_track_values()
    values.update({"compressor.threshold_db": -20.0, "compressor.ratio": 4.0, "compressor.knee_db": 6.0,
                   "compressor.makeup_db": 3.0})
    levels = np.array([-40.0, -20.0, 0.0, -10.0])
    out = report.static_curve(values, levels)
    assert out[0] == pytest.approx(-37.0)  # below the knee: unchanged + makeup
    assert out[1] == pytest.approx(-20.0 + (0.25 - 1) * 9 / 12 + 3.0)  # knee middle
    assert out[2] - out[3] == pytest.approx(10 / 4)  # above the knee: slope 1/ratio


def test_compressor_gain_reduces_loud_signal():
    values = S.neutral_track_values()
    values.update({"compressor.threshold_db": -20.0, "compressor.ratio": 4.0, "compressor.attack_ms": 1.0})
    x = np.full((4800, 1), 0.5, dtype=np.float32)  # -6 dBFS, 14 dB over
    g = report.compressor_gain_db(x, values, 48000)
    assert g[-1] == pytest.approx(-14 * 0.75, abs=0.05) and g.max() <= 0
