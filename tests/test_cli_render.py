"""``mixdown render`` end to end on sessions generated in ``tmp_path``: output shape and format,
the spec's pan law checked independently, loudness reporting, and every bad input failing with
exit code 2, a message naming the file and the fix, and no partial output."""

import json
import logging
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.params.io import write_params

SR = 44100
C = math.cos(math.pi / 4)  # constant-power pan law at centre: -3.01 dB on both sides
MIXDOWN = Path(sys.executable).parent / "mixdown"


def noise(frames, channels, amp=0.3, seed=0):
    x = np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)
    return x[:, 0] if channels == 1 else x


def make_session(tmp_path, make_mix_params, tracks=None, **kwargs):
    """Write ``{file: audio}`` into ``tmp_path / "session"`` and a neutral parameter file for it.
    Returns (session_dir, params_path, {file: audio as written})."""
    if tracks is None:  # mono and stereo, three different lengths
        tracks = {"bass.wav": noise(SR, 1, seed=1), "keys.wav": noise(int(0.7 * SR), 2, seed=2),
                  "vox.wav": noise(SR // 2, 1, seed=3)}
    session = tmp_path / "session"
    session.mkdir()
    for name, audio in tracks.items():
        sf.write(session / name, audio, SR, subtype="FLOAT")
    params = tmp_path / "mix.params.json"
    write_params(make_mix_params(list(tracks), sample_rate=SR, **kwargs), params)
    return session, params, tracks


def render(session, params, out, *extra):
    return main(["render", str(session), "--params", str(params), "--out", str(out), *extra])


def expected_neutral_mix(tracks, pans=None):
    """The spec's mix with every effect neutral: pad to the longest, pan, sum (float64)."""
    pans = pans or {}
    n = max(len(a) for a in tracks.values())
    mix = np.zeros((n, 2))
    for name, a in tracks.items():
        theta = (pans.get(name, 0.0) + 1) * math.pi / 4
        a2 = np.stack([a, a], 1) if a.ndim == 1 else a
        mix[:len(a), 0] += a2[:, 0] * math.cos(theta)
        mix[:len(a), 1] += a2[:, 1] * math.sin(theta)
    return mix


def messages(caplog, level):
    return [r.getMessage() for r in caplog.records if r.levelno == level]


@pytest.fixture(autouse=True)
def _info_logs(caplog):
    caplog.set_level(logging.INFO)


# ----------------------------------------------------------------------------- good input
def test_render_writes_stereo_mix_of_longest_length(tmp_path, make_mix_params, caplog):
    session, params, tracks = make_session(tmp_path, make_mix_params)
    out = tmp_path / "out" / "mix.wav"
    assert render(session, params, out) == 0
    info = sf.info(str(out))
    assert (info.channels, info.samplerate, info.frames, info.subtype) == (2, SR, SR, "FLOAT")
    mix, _ = sf.read(str(out), dtype="float64")
    np.testing.assert_allclose(mix, expected_neutral_mix(tracks), rtol=1e-5, atol=1e-6)
    assert os.listdir(out.parent) == ["mix.wav"]  # no temporary files left
    assert not messages(caplog, logging.WARNING)
    assert any("padded" in m and "vox" in m for m in messages(caplog, logging.INFO))


def test_single_mono_track_neutral_is_input_times_cos_pi_over_4(tmp_path, make_mix_params):
    x = noise(int(0.8 * SR), 1, amp=0.9, seed=5)
    session, params, _ = make_session(tmp_path, make_mix_params, {"gtr.wav": x})
    out = tmp_path / "mix.wav"
    assert render(session, params, out) == 0
    mix, sr = sf.read(str(out), dtype="float64")
    assert sr == SR and mix.shape == (len(x), 2)
    want = x.astype(np.float64) * C
    np.testing.assert_allclose(mix[:, 0], want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(mix[:, 1], want, rtol=1e-6, atol=1e-8)


def test_hard_pan_left_lands_only_on_the_left(tmp_path, make_mix_params):
    x = noise(int(0.6 * SR), 1, seed=6)
    st = noise(int(0.6 * SR), 2, seed=7)
    session, params, _ = make_session(tmp_path, make_mix_params, {"mono.wav": x},
                                      track_overrides={"mono": {"pan": -1.0}})
    out = tmp_path / "mix.wav"
    assert render(session, params, out) == 0
    mix, _ = sf.read(str(out), dtype="float64")
    np.testing.assert_allclose(mix[:, 0], x, rtol=1e-6, atol=1e-8)  # cos(0) = 1
    assert np.abs(mix[:, 1]).max() < 1e-12  # cos(pi/2) ~ 6e-17

    # a stereo track: pan is a balance control; +1 keeps only its right channel on the right
    (tmp_path / "b").mkdir()
    session, params, _ = make_session(tmp_path / "b", make_mix_params, {"pad.wav": st},
                                      track_overrides={"pad": {"pan": 1.0}})
    assert render(session, params, tmp_path / "b" / "mix.wav") == 0
    mix, _ = sf.read(str(tmp_path / "b" / "mix.wav"), dtype="float64")
    assert np.abs(mix[:, 0]).max() < 1e-12
    np.testing.assert_allclose(mix[:, 1], st[:, 1], rtol=1e-6, atol=1e-8)


def test_pan_and_gains_follow_the_spec(tmp_path, make_mix_params):
    """input gain, fader and output gain are plain dB gains; pan 0.5 -> theta = 3 pi / 8."""
    x = noise(SR // 2, 1, seed=8)
    st = noise(SR // 3, 2, seed=9)
    session, params, tracks = make_session(
        tmp_path, make_mix_params, {"a.wav": x, "b.wav": st},
        track_overrides={"a": {"pan": 0.5, "input_gain_db": -6.0, "fader_db": 2.5},
                         "b": {"pan": -0.25, "fader_db": -10.0}},
        master_overrides={"output_gain_db": -1.5})
    assert render(session, params, tmp_path / "mix.wav") == 0
    mix, _ = sf.read(str(tmp_path / "mix.wav"), dtype="float64")
    g = 10 ** (-1.5 / 20)
    want = expected_neutral_mix({"a.wav": x * 10 ** ((-6.0 + 2.5) / 20), "b.wav": st * 10 ** (-10 / 20)},
                                {"a.wav": 0.5, "b.wav": -0.25}) * g
    np.testing.assert_allclose(mix, want, rtol=1e-5, atol=1e-7)


def test_float_output_keeps_overs_and_warns(tmp_path, make_mix_params, caplog):
    t = np.arange(SR // 2) / SR
    x = (0.8 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    session, params, _ = make_session(tmp_path, make_mix_params, {"lead.wav": x},
                                      track_overrides={"lead": {"fader_db": 12.0}})
    out = tmp_path / "mix.wav"
    assert render(session, params, out) == 0
    mix, _ = sf.read(str(out), dtype="float64")
    want = x * 10 ** (12 / 20) * C
    assert np.abs(mix).max() > 2.0  # far above full scale, not clipped
    np.testing.assert_allclose(mix[:, 0], want, rtol=1e-5, atol=1e-7)
    peak_db = 20 * math.log10(np.abs(want).max())
    warn = [m for m in messages(caplog, logging.WARNING) if "dBFS" in m]
    assert len(warn) == 1 and "above 0 dBFS" in warn[0]
    assert float(re.search(r"([+-]\d+\.\d+) dBFS", warn[0]).group(1)) == pytest.approx(peak_db, abs=0.01)


def test_bit_depth_24(tmp_path, make_mix_params, caplog):
    session, params, tracks = make_session(tmp_path, make_mix_params)
    out = tmp_path / "mix.wav"
    assert render(session, params, out, "--bit-depth", "24") == 0
    info = sf.info(str(out))
    assert (info.subtype, info.channels, info.frames) == ("PCM_24", 2, SR)
    mix, _ = sf.read(str(out), dtype="float64")
    np.testing.assert_allclose(mix, expected_neutral_mix(tracks), rtol=0, atol=2.0 ** -23 + 1e-7)
    assert not messages(caplog, logging.WARNING)


def test_bit_depth_24_warns_that_overs_are_clipped(tmp_path, make_mix_params, caplog):
    x = np.full(SR // 4, 0.9, dtype=np.float32)
    session, params, _ = make_session(tmp_path, make_mix_params, {"dc.wav": x},
                                      master_overrides={"output_gain_db": 6.0})
    assert render(session, params, tmp_path / "mix.wav", "--bit-depth", "24") == 0
    mix, _ = sf.read(str(tmp_path / "mix.wav"))
    assert mix.max() == pytest.approx(1.0, abs=1e-6)  # clipped, not wrapped around
    assert any("CLIPPED" in m for m in messages(caplog, logging.WARNING))


def test_flac_output(tmp_path, make_mix_params, caplog):
    session, params, tracks = make_session(tmp_path, make_mix_params)
    out = tmp_path / "mix.flac"
    # FLAC cannot hold 32-bit float: refused up front, with the fix
    assert render(session, params, out, "--bit-depth", "32f") == 2
    err = " ".join(messages(caplog, logging.ERROR))
    assert "mix.flac" in err and "--bit-depth" in err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["mix.params.json", "session"]
    caplog.clear()
    assert render(session, params, tmp_path / "mix.xyz") == 2
    assert "mix.xyz" in " ".join(messages(caplog, logging.ERROR)) and not (tmp_path / "mix.xyz").exists()
    assert render(session, params, out) == 0  # .flac without --bit-depth: 24-bit, as `mixdown mix` writes it
    assert sf.info(str(out)).format == "FLAC" and sf.info(str(out)).subtype == "PCM_24"
    mix, _ = sf.read(str(out), dtype="float64")
    np.testing.assert_allclose(mix, expected_neutral_mix(tracks), rtol=0, atol=2.0 ** -23 + 1e-7)


def test_loudness_line_reports_lufs_and_dbtp(tmp_path, make_mix_params, caplog):
    """A centred mono 997 Hz sine of amplitude A gives a stereo sine of amplitude a = A cos(pi/4);
    BS.1770 reads a two-channel sine of amplitude a at 20 log10(a) LUFS and its true peak is a."""
    t = np.arange(SR) / SR
    amp = 0.5
    x = (amp * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    session, params, _ = make_session(tmp_path, make_mix_params, {"tone.wav": x})
    assert render(session, params, tmp_path / "mix.wav") == 0
    (line,) = [m for m in messages(caplog, logging.INFO) if "LUFS" in m]
    lufs = float(re.search(r"(-?\d+(?:\.\d+)?) LUFS", line).group(1))
    dbtp = float(re.search(r"(-?\d+(?:\.\d+)?) dBTP", line).group(1))
    level = 20 * math.log10(amp * C)  # -9.03
    assert lufs == pytest.approx(level, abs=0.15)
    assert dbtp == pytest.approx(level, abs=0.1)
    assert any("wrote" in m and "mix.wav" in m and str(SR) in m for m in messages(caplog, logging.INFO))


def test_console_script_entry_point(tmp_path, make_mix_params):
    session, params, tracks = make_session(tmp_path, make_mix_params)
    out = tmp_path / "mix.wav"
    proc = subprocess.run([str(MIXDOWN), "render", str(session), "--params", str(params), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LUFS" in proc.stderr and "dBTP" in proc.stderr
    mix, sr = sf.read(str(out), dtype="float64")
    assert sr == SR
    np.testing.assert_allclose(mix, expected_neutral_mix(tracks), rtol=1e-5, atol=1e-6)
    bad = subprocess.run([str(MIXDOWN), "render", str(tmp_path / "nope"), "--params", str(params),
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_output_file_mode_follows_umask(tmp_path, make_mix_params):
    session, params, _ = make_session(tmp_path, make_mix_params)
    assert render(session, params, tmp_path / "mix.wav") == 0
    (tmp_path / "plain").write_bytes(b"")  # what open() gives under this umask (not 0600)
    assert (tmp_path / "mix.wav").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777


# ----------------------------------------------------------------------------- bad input
def assert_fails(tmp_path, caplog, session, params, *fragments, extra=()):
    """Exit code 2, an error naming every fragment, and no output (old output untouched)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / "mix.wav"
    out.write_bytes(b"previous mix")
    caplog.clear()
    assert render(session, params, out, *extra) == 2
    err = " ".join(messages(caplog, logging.ERROR))
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert out.read_bytes() == b"previous mix" and os.listdir(out_dir) == ["mix.wav"]
    return err


def test_missing_track_file(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    (session / "vox.wav").unlink()
    assert_fails(tmp_path, caplog, session, params, str(session / "vox.wav"), "not found", "'file' entry")


def test_non_audio_file_with_wav_extension(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    (session / "keys.wav").write_text("these are not the samples you are looking for\n" * 20)
    assert_fails(tmp_path, caplog, session, params, str(session / "keys.wav"), "not readable as audio",
                 "convert")


def test_zero_byte_file(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    (session / "bass.wav").write_bytes(b"")
    assert_fails(tmp_path, caplog, session, params, str(session / "bass.wav"), "convert")


def test_header_only_file_has_no_frames(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    sf.write(session / "vox.wav", np.zeros((0, 1), dtype=np.float32), SR)
    assert_fails(tmp_path, caplog, session, params, str(session / "vox.wav"), "no audio frames", "remove")


def test_other_sample_rate_fails_then_resamples(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    n48 = int(1.2 * 48000)  # the longest track, once resampled: 1.2 s at 44.1 kHz
    sf.write(session / "vox.wav", noise(n48, 1, seed=4), 48000, subtype="FLOAT")
    assert_fails(tmp_path, caplog, session, params, str(session / "vox.wav"), "48000", "44100",
                 "--resample")
    caplog.clear()
    out = tmp_path / "resampled.wav"
    assert render(session, params, out, "--resample") == 0
    info = sf.info(str(out))
    assert (info.samplerate, info.frames) == (SR, int(1.2 * SR))
    assert any("resampling" in m and "vox.wav" in m for m in messages(caplog, logging.WARNING))


def test_three_channel_file(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    sf.write(session / "keys.wav", noise(SR // 2, 3), SR)
    assert_fails(tmp_path, caplog, session, params, str(session / "keys.wav"), "3 channels", "mono or stereo")


def test_nan_samples(tmp_path, make_mix_params, caplog):
    session, params, tracks = make_session(tmp_path, make_mix_params)
    x = tracks["keys.wav"].copy()
    x[1000, 1] = np.nan
    sf.write(session / "keys.wav", x, SR, subtype="FLOAT")
    assert_fails(tmp_path, caplog, session, params, str(session / "keys.wav"), "NaN", "re-export")


def test_invalid_json_params(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    params.write_text(params.read_text()[:-40])
    assert_fails(tmp_path, caplog, session, params, str(params), "not valid JSON", "fix the file")


def test_out_of_range_value_in_params(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    doc = json.loads(params.read_text())
    doc["tracks"][1]["compressor"]["ratio"] = 40.0
    params.write_text(json.dumps(doc))
    assert_fails(tmp_path, caplog, session, params, str(params), "'keys'", "compressor.ratio", "40",
                 "[1.0, 20.0]")


def test_missing_params_file(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    params.unlink()
    assert_fails(tmp_path, caplog, session, params, str(params), "cannot read")


def test_missing_session_folder(tmp_path, make_mix_params, caplog):
    session, params, _ = make_session(tmp_path, make_mix_params)
    assert_fails(tmp_path, caplog, tmp_path / "no_such_session", params, str(tmp_path / "no_such_session"),
                 "not found", "check")


def test_write_failure_leaves_no_partial_output(tmp_path, make_mix_params, caplog, monkeypatch):
    session, params, _ = make_session(tmp_path, make_mix_params)
    real_write = sf.SoundFile.write

    def disk_full(self, data, *args, **kwargs):
        real_write(self, data[:100], *args, **kwargs)  # a partial file, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", disk_full)
    assert_fails(tmp_path, caplog, session, params, str(tmp_path / "out" / "mix.wav"), "No space left",
                 "writable")
    # an existing folder in the way of --out
    monkeypatch.undo()
    (tmp_path / "out2" / "mix.wav").mkdir(parents=True)
    caplog.clear()
    assert render(session, params, tmp_path / "out2" / "mix.wav") == 2
    assert "cannot write" in " ".join(messages(caplog, logging.ERROR))
    assert os.listdir(tmp_path / "out2") == ["mix.wav"] and (tmp_path / "out2" / "mix.wav").is_dir()
