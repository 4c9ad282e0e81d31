"""HTML report: figures embedded and saved, every setting listed; the curves it draws are right."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown import report
from mixdown.dsp.render import render
from mixdown.measure import metrics
from mixdown.params import spec as S
from mixdown.params.io import read_params
from mixdown.session import SessionError
from sessions import make_song

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "rock-8beat"
IMG = '<img src="data:image/png;base64,'
SR = 22050
#: the comparison table's rows, as the reader sees them: label -> (mix_metrics key, printed decimals)
REFERENCE_ROWS = {"octave-band balance mean abs error (dB)": ("spectral_balance_mae_db", 2),
                  "MR-STFT distance": ("mrstft", 3), "stereo width difference (dB)": ("stereo_width_diff_db", 2),
                  "crest factor difference (dB)": ("crest_factor_diff_db", 2),
                  "loudness difference (LU)": ("loudness_diff_lu", 2)}


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


# ----------------------------------------------------------------------------- reference mix
@pytest.fixture(scope="module")
def reference_session(tmp_path_factory):
    """A 1.5 s session at 22050 Hz (mono and stereo tracks) whose ``reference_mix.wav`` renders its
    ``params.json``; the report's mix is other settings of the same stems (faders, a pan, an EQ band)."""
    folder = tmp_path_factory.mktemp("refsession") / "song"
    make_song(folder, SR, 1.5, 3, seed=3)
    params = read_params(folder / "params.json")
    params.tracks[0].values["fader_db"] += 4.0
    params.tracks[1].values["pan"] = -0.8
    params.tracks[2].values["eq.2.gain_db"] = 6.0
    out = folder.parent / "out" / "ref.html"
    assert report.write_report(out, folder, params, reference=folder / "reference_mix.wav") == out
    return out, params, folder


def _raw_sum(folder, params) -> np.ndarray:
    """Every raw track at unity, mono in both channels, padded to the longest: ``(2, frames)``."""
    tracks = [sf.read(folder / t.file, dtype="float32", always_2d=True)[0].T for t in params.tracks]
    out = np.zeros((2, max(t.shape[1] for t in tracks)))
    for t in tracks:
        out[:, :t.shape[1]] += t
    return out


def _section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    return page[start:page.index("<h2>", start + 1)]


def _reference_table(page: str) -> dict[str, dict[str, str]]:
    """The Reference section's table as ``{row label: {column header: cell}}``."""
    sec = _section(page, "Reference")
    heads = re.findall(r"<th>(.*?)</th>", sec)
    rows = re.findall(r"<tr>((?:<td>.*?</td>)+)</tr>", sec)
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    return {c[0]: dict(zip(heads[1:], c[1:])) for c in cells}


def test_report_with_reference_has_its_section_and_figure(reference_session):
    out, params, _ = reference_session
    page = out.read_text(encoding="utf-8")
    pngs = sorted((out.parent / "ref_figures").glob("*.png"))
    reverb = any(t.values["reverb_send_db"] > S.SEND_OFF_DB for t in params.tracks)  # + its decay figure
    assert len(pngs) == page.count(IMG) == len(params.tracks) + 5 + reverb  # + the reference balance figure
    [balance] = [p for p in pngs if p.name.endswith("_reference.png")]
    assert balance.read_bytes().startswith(b"\x89PNG")
    sec = _section(page, "Reference")
    assert base64.b64encode(balance.read_bytes()).decode() in sec  # embedded in the Reference section
    assert "<td>reference</td><td>reference_mix.wav</td>" in page  # summary table
    assert "reference shifted to the mix&#x27;s loudness" in _section(page, "Spectrum")
    assert set(_reference_table(page)) == set(REFERENCE_ROWS)


def _check_table(table: dict, folder, params, ref: np.ndarray) -> dict:
    """The table's numbers are :func:`mixdown.measure.metrics.mix_metrics` of the raw sum and of the rendered mix
    against ``ref`` ``(2, frames)``, to the printed precision; returns those metrics."""
    mix = render(folder, params).audio.T
    raw = _raw_sum(folder, params)
    n = min(mix.shape[1], ref.shape[1], raw.shape[1])
    expected = {"raw sum": metrics.mix_metrics(raw[:, :n], ref[:, :n], SR),
                "final mix": metrics.mix_metrics(mix[:, :n], ref[:, :n], SR)}
    assert set(table) == set(REFERENCE_ROWS)
    for label, (key, decimals) in REFERENCE_ROWS.items():
        assert set(table[label]) == set(expected)
        for column, m in expected.items():
            assert float(table[label][column]) == pytest.approx(m[key], abs=0.5 * 10 ** -decimals + 1e-9), \
                (label, column)
    return expected


def test_reference_table_equals_mix_metrics(reference_session):
    out, params, folder = reference_session
    ref = sf.read(folder / "reference_mix.wav", dtype="float32", always_2d=True)[0].T
    expected = _check_table(_reference_table(out.read_text(encoding="utf-8")), folder, params, ref)
    # the mix differs from the reference by three settings: much closer than the raw sum
    for key in ("spectral_balance_mae_db", "mrstft"):
        assert expected["final mix"][key] < expected["raw sum"][key]


def test_reference_is_level_matched_onto_the_mix(reference_session):
    """A reference 12 dB below the mix: shifted by +12 dB it lies on the mix's spectrum."""
    _, params, folder = reference_session
    mix = render(folder, params).audio
    an = report.analyse(folder, params, 0.25 * mix)
    ref = an["reference"]
    assert ref["ref_gain_db"] == pytest.approx(20 * np.log10(4), abs=1e-3)
    assert ref["mix"]["gain_db"] == pytest.approx(-20 * np.log10(4), abs=1e-3)
    np.testing.assert_allclose(ref["spectrum"][1], an["mix_spectrum"][1], atol=1e-3)
    np.testing.assert_allclose(ref["spectrum"][0], an["mix_spectrum"][0])
    assert np.isnan(ref["mix"]["bands_db"][-1])  # 16 kHz octave: above Nyquist at 22050 Hz
    np.testing.assert_allclose(ref["mix"]["bands_db"][:-1], 0.0, atol=1e-3)
    raw = _raw_sum(folder, params)
    diff, _ = metrics.spectral_balance_error_db(raw, 0.25 * mix.T, SR)
    np.testing.assert_allclose(ref["raw"]["bands_db"][:-1], diff[:-1], atol=1e-9)
    lines = report.spectrum_figure(params, an).axes[0].get_lines()
    assert [ln.get_linestyle() for ln in lines if ln.get_label() == "reference (level-matched)"] == ["--"]


def test_reference_at_another_rate_is_resampled(reference_session, tmp_path, caplog):
    from scipy.signal import resample_poly

    out, params, folder = reference_session
    ref, _ = sf.read(folder / "reference_mix.wav", dtype="float32", always_2d=True)
    ref44k = resample_poly(ref, 2, 1, axis=0).astype(np.float32)
    sf.write(tmp_path / "ref44k.wav", ref44k, 2 * SR, subtype="FLOAT")
    caplog.set_level(logging.WARNING)
    page = report.write_report(tmp_path / "r.html", folder, params, reference=tmp_path / "ref44k.wav") \
        .read_text(encoding="utf-8")
    assert "ref44k.wav: reference at 44100 Hz, resampling to the mix's 22050 Hz" in caplog.text
    assert "<td>ref44k.wav (resampled from 44100 Hz)</td>" in page
    table = _reference_table(page)
    _check_table(table, folder, params, resample_poly(ref44k, 1, 2, axis=0).T.astype(np.float32))
    same_rate = _reference_table(out.read_text(encoding="utf-8"))
    balance = "octave-band balance mean abs error (dB)"  # the same balance, give or take the resampling
    for column in ("raw sum", "final mix"):
        assert float(table[balance][column]) == pytest.approx(float(same_rate[balance][column]), abs=0.1)


@pytest.mark.parametrize("name, content, expected", [("notes.txt", "not audio", "not readable as audio"),
                                                     ("missing.wav", None, "file not found")])
def test_bad_reference_fails_naming_the_file(reference_session, tmp_path, name, content, expected):
    _, params, folder = reference_session
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(SessionError, match=rf"reference mix: .*{re.escape(name)}: {expected}"):
        report.write_report(tmp_path / "r.html", folder, params, reference=tmp_path / name)
    assert not (tmp_path / "r.html").exists()


def test_report_strips_are_the_renderers(tmp_path):
    """The report's per-track signals and gain traces come from the renderer's strip code: the sum of
    the strips through the master strip is the rendered mix, and each gain trace is the gain the
    strip applied (output with / without its compressor)."""
    from mixdown.dsp.render import strip_signals

    params = read_params(EXAMPLE / "params.json")
    for t in params.tracks:
        t.values.update({"compressor.ratio": 6.0, "compressor.threshold_db": -30.0, "compressor.makeup_db": 3.0})
    mix = render(EXAMPLE, params).audio
    infos = [sf.info(str(EXAMPLE / t.file)) for t in params.tracks]
    n = max(i.frames for i in infos)
    outs = []
    for i, t in enumerate(params.tracks):
        x = sf.read(str(EXAMPLE / t.file), dtype="float32", always_2d=True)[0]
        x = np.pad(x, ((0, n - len(x)), (0, 0)))
        out, g = strip_signals(x, params, i)
        outs.append(out)
        v = dict(t.values)
        flat = read_params(EXAMPLE / "params.json")
        flat.tracks[i].values.update({**v, "compressor.ratio": 1.0, "compressor.makeup_db": 0.0})
        plain, g0 = strip_signals(x, flat, i)
        assert not g0.any() and (g <= 0).all() and g.min() < -3.0
        loud = np.abs(plain[:, 0]) > 1e-3
        applied_db = 20 * np.log10(np.abs(out[loud, 0]) / np.abs(plain[loud, 0]))
        np.testing.assert_allclose(applied_db, g[loud] + 3.0, atol=1e-3)
    bus = np.sum(np.stack(outs), axis=0)
    mixed, _ = strip_signals(bus, params, None)
    np.testing.assert_allclose(mixed, mix, atol=1e-6)


def test_report_names_the_model_and_take_that_made_the_settings(tmp_path):
    params = read_params(EXAMPLE / "params.json")
    params.extra["notes"] = {"model": "Engineer", "checkpoint": {"file": "default.pt", "name": "engineer-v5"},
                             "take": 2}
    page = report.write_report(tmp_path / "r.html", EXAMPLE, params).read_text(encoding="utf-8")
    assert "<td>model</td><td>engineer-v5</td>" in page
    assert "<td>take</td><td>2 (another engineer&#x27;s way: mixdown mix --take K)</td>" in page
    params.extra["notes"] = {"model": "Heuristic"}  # a model of one way: no take row
    page = report.write_report(tmp_path / "h.html", EXAMPLE, params).read_text(encoding="utf-8")
    assert "<td>model</td><td>Heuristic</td>" in page and "<td>take</td>" not in page
