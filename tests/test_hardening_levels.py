"""Issue 13, items 7 and 9 (levels and the messages of ``mix``): a track's level is judged where it
plays, windows are weighted by how much each track plays in them, a 1-sample file gets no click,
sample rates the console cannot take and absurd loudness targets are named, and ``dataset build``
refuses files with more than two channels instead of taking them silently."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.inference.pipeline import mix_session
from mixdown.measure.levels import active_rms, weighted_median
from mixdown.models import Heuristic

SR = 44100


def drums(seconds: float, seed: int, amp: float = 0.2) -> np.ndarray:
    """Decaying noise bursts, four a second (a level that varies a lot over time)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.random.default_rng(seed).standard_normal(n) * np.exp(-((t * 4) % 1) * 30)
    return (amp * x).astype(np.float32)


def tone(seconds: float, amp: float = 0.05) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture
def short_and_long(tmp_path):
    """A 60 s session: the same drum pattern for 60 s and for 1 s, and a quieter tone bed."""
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "long.wav", drums(60, 1), SR)
    sf.write(s / "short.wav", drums(1, 2), SR)
    sf.write(s / "bed.wav", tone(60), SR)
    return s


def _total_gain(params, name):
    t = next(t for t in params.tracks if t.name == name)
    return t.values["input_gain_db"] + t.values["fader_db"]


def test_a_short_track_gets_the_gain_of_an_equally_loud_long_one_heuristic(short_and_long):
    params, _ = mix_session(short_and_long, Heuristic(SR), progress=False)
    diff = _total_gain(params, "short") - _total_gain(params, "long")
    assert abs(diff) < 1.0, diff  # before: +21 dB (levels measured over the silence after 1 s)


@pytest.mark.slow
def test_a_short_track_gets_about_the_gain_of_an_equally_loud_long_one_default_model(short_and_long):
    params, _ = mix_session(short_and_long, progress=False)
    diff = _total_gain(params, "short") - _total_gain(params, "long")
    assert abs(diff) < 4.0, diff  # before: -12.7 dB (the median over windows where it is silent)


@pytest.mark.parametrize("model", ["heuristic", "default"])
def test_a_one_sample_file_makes_no_click(tmp_path, model):
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "click.wav", np.array([[0.5]], np.float32), SR)
    sf.write(s / "bed.wav", tone(5, 0.1), SR)
    params, audio = mix_session(s, Heuristic(SR) if model == "heuristic" else None, progress=False)
    click = next(t for t in params.tracks if t.name == "click")
    assert click.values["input_gain_db"] <= 12.0  # before: +24 dB, the top of the range
    assert 20 * np.log10(np.abs(audio[:64]).max()) < 0.0  # before: a +20.6 dBFS click


def test_active_rms_ignores_silence_and_padding():
    x = np.zeros((2, 10 * 1024))
    x[:, :1024] = 0.5
    rms, frames = active_rms(x)
    assert rms == pytest.approx(0.5) and frames == 1024
    assert active_rms(x, frames=1) == (pytest.approx(0.5), 1)  # only the real frame counts
    assert active_rms(np.zeros((2, 4096))) == (0.0, 0)


def test_weighted_median_matches_the_median_and_skips_zero_weights():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4, 3, 5))
    np.testing.assert_allclose(weighted_median(v, np.ones((4, 3, 1))), np.median(v, axis=0))
    np.testing.assert_allclose(weighted_median(v[:3], np.ones((3, 3, 1))), np.median(v[:3], axis=0))
    w = np.zeros((4, 3, 1))
    w[1] = 5.0
    np.testing.assert_allclose(weighted_median(v, w), v[1])  # only the window where it plays
    np.testing.assert_allclose(weighted_median(v, np.zeros((4, 3, 1))), np.median(v, axis=0))


# ----------------------------------------------------------------------------- messages of mix
def _errors(caplog):
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_a_3khz_session_blames_the_sample_rate_not_the_output_file(tmp_path, caplog):
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "a.wav", np.random.default_rng(0).uniform(-0.2, 0.2, 3000 * 2).astype(np.float32), 3000)
    out = tmp_path / "out" / "m.wav"
    assert main(["mix", str(s), "--out", str(out)]) == 2
    err = _errors(caplog)
    assert f"{s}: the tracks' sample rate 3000 Hz is outside [8000, 768000] Hz" in err and "m.json" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target", ["30", "-200", "nan"])
def test_an_absurd_loudness_target_is_refused_before_work(tmp_path, caplog, target):
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "a.wav", tone(1), SR)
    assert main(["mix", str(s), "--out", str(tmp_path / "m.wav"), f"--target-lufs={target}"]) == 2
    assert f"--target-lufs {float(target):g}: outside" in _errors(caplog)


def test_dc_is_not_reported_for_a_one_sample_file(tmp_path, caplog):
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "click.wav", np.array([[0.5]], np.float32), SR)
    sf.write(s / "bed.wav", tone(1, 0.1), SR)
    caplog.set_level(logging.WARNING)
    mix_session(s, Heuristic(SR), progress=False)
    assert "DC" not in " ".join(r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- dataset build: channels
@pytest.mark.parametrize("channels", [3, 6])
def test_dataset_build_skips_multichannel_files_and_says_so(tmp_path, channels):
    root = tmp_path / "corpus"
    song = root / "song1"
    song.mkdir(parents=True)
    sf.write(song / "bass.wav", tone(2, 0.2), SR)
    sf.write(song / "surround.wav", np.tile(tone(2, 0.2)[:, None], (1, channels)), SR)
    out = tmp_path / "built"
    main(["dataset", "build", "--source", "folder", "--root", str(root), "--out", str(out), "--no-progress"])
    records = [json.loads(line) for f in out.glob("*.jsonl") for line in f.read_text().splitlines() if line]
    tracks = [t for r in records for t in r["tracks"]]
    assert all(t["channels"] in (1, 2) for t in tracks)
    assert not any("surround" in t["path"] for t in tracks)
    report = " ".join(p.read_text() for p in out.glob("build_report.*"))
    assert "surround.wav" in report and f"{channels} channels" in report
