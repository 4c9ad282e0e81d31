"""`mixdown mix` end to end on generated sessions: outputs, re-render equality, locks, loudness
target, reference refinement, batch mode and bad input."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.dsp.render import render
from mixdown.inference.pipeline import mix_session
from mixdown.measure import loudness, metrics
from mixdown.models import Heuristic
from mixdown.params.io import read_params
from mixdown.params.locks import parse_locks
from sessions import tone_track

ROOT = Path(__file__).resolve().parents[1]

SR = 22050


def make_stems(folder, n=3, seconds=2.0, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"stem{i}.wav", tone_track(rng, int(seconds * sr), sr, 1 + i % 2), sr)
    return folder


def err_db(a, b):
    return 10 * np.log10(np.sum((a - b) ** 2) / np.sum(b ** 2) + 1e-30)


def test_cli_writes_mix_and_params_that_rerender_identically(tmp_path):
    session = make_stems(tmp_path / "s")
    (session / "notes.txt").write_text("not audio")
    out, params_path = tmp_path / "out" / "mix.wav", tmp_path / "out" / "mix.json"
    assert main(["mix", str(session), "--out", str(out), "--params", str(params_path)]) == 0
    params = read_params(params_path)
    assert [t.name for t in params.tracks] == ["stem0", "stem1", "stem2"]
    mix, sr = sf.read(out, always_2d=True, dtype="float32")
    assert sr == SR and mix.shape == (int(2.0 * SR), 2)
    assert err_db(render(session, params).audio, mix) < -60
    assert main(["render", str(session), "--params", str(params_path), "--out", str(tmp_path / "re.wav")]) == 0
    again, _ = sf.read(tmp_path / "re.wav", always_2d=True, dtype="float32")
    assert err_db(again, mix) < -60


def test_locks_are_kept_and_bad_locks_are_errors(tmp_path, caplog):
    session = make_stems(tmp_path / "s")
    params, _ = mix_session(session, Heuristic(SR), locks=["stem1.fader_db=-2", "stem0.pan=0.5",
                                                            "master.output_gain_db=-1"], progress=False)
    by = {t.name: t.values for t in params.tracks}
    assert by["stem1"]["fader_db"] == -2.0 and by["stem0"]["pan"] == 0.5
    assert params.master.values["output_gain_db"] == -1.0
    with pytest.raises(ValueError, match="tracks: stem0, stem1"):
        parse_locks(["vox.fader_db=0"], ["stem0", "stem1"])
    with pytest.raises(ValueError, match="valid keys: input_gain_db"):
        parse_locks(["stem0.volume=0"], ["stem0"])
    caplog.set_level(logging.ERROR)
    assert main(["mix", str(session), "--out", str(tmp_path / "m.wav"), "--lock", "stem0.pan=7"]) == 2
    assert "outside [-1.0, 1.0]" in caplog.text


def test_target_lufs_is_reached_and_recorded(tmp_path):
    session = make_stems(tmp_path / "s", seconds=4.0)
    params, audio = mix_session(session, Heuristic(SR), target_lufs=-20.0, progress=False)
    norm = params.master.normalize
    assert norm is not None and norm["target_lufs"] == -20.0 and norm["ceiling_dbtp"] == -1.0
    lufs = loudness.integrated_loudness(audio.T, SR)
    tp = loudness.true_peak_dbtp(audio.T, SR)
    assert tp <= -1.0 + 0.05
    assert lufs == pytest.approx(-20.0, abs=0.05) or tp == pytest.approx(-1.0, abs=0.05)
    assert err_db(render(session, params).audio, audio) < -60


@pytest.mark.slow  # reference-mode refinement: gradient steps through the console
def test_reference_mode_moves_the_mix_towards_the_reference(tmp_path):
    """The reference is another mix of the same stems (as a human mix of the song would be):
    a different balance, a bright master EQ and a wide pan."""
    session = make_stems(tmp_path / "s", seconds=3.0)
    base, _ = mix_session(session, Heuristic(SR), progress=False)
    other = read_params_copy(base)
    for t, fader, pan in zip(other.tracks, (-2.0, -14.0, -6.0), (-0.8, 0.8, 0.0)):
        t.values["fader_db"], t.values["pan"] = fader, pan
    other.master.values["eq.5.gain_db"] = 9.0
    other.master.values["eq.0.gain_db"] = -6.0
    sf.write(tmp_path / "ref.wav", render(session, other).audio, SR)
    ref = render(session, other).audio
    sf.write(tmp_path / "ref.wav", ref, SR)
    params, audio = mix_session(session, Heuristic(SR), reference=tmp_path / "ref.wav", refine_steps=40,
                                progress=False)
    rep = params.extra["notes"]["reference"]
    assert rep["aligned"] and rep["band_error_db_after"] < 0.35 * rep["band_error_db_before"]
    # measured independently on the full-length renders (loudness-matched octave-band balance)
    raw = render(session, neutral_params(base)).audio
    err = {name: metrics.spectral_balance_error_db(a.T, ref.T, SR)[1]
           for name, a in (("raw", raw), ("start", render(session, base).audio), ("refined", audio))}
    assert err["refined"] < 1.0 < err["raw"] and err["refined"] < 0.5 * err["start"], err
    assert abs(metrics.stereo_width(audio.T) - metrics.stereo_width(ref.T)) < \
        0.5 * abs(metrics.stereo_width(render(session, base).audio.T) - metrics.stereo_width(ref.T))


def neutral_params(params):
    import copy

    from mixdown.params import spec as S

    out = copy.deepcopy(params)
    for t in out.tracks:
        t.values.update(S.neutral_track_values(params.sample_rate))
    out.master.values.update(S.neutral_master_values(params.sample_rate))
    return out


def read_params_copy(params):
    import copy

    return copy.deepcopy(params)


def test_batch_mode_mixes_every_session(tmp_path):
    for i in range(2):
        make_stems(tmp_path / "batch" / f"song{i}", n=2, seconds=1.0, seed=i)
    assert main(["mix", "--batch", str(tmp_path / "batch")]) == 0
    for i in range(2):
        assert (tmp_path / "batch" / f"song{i}" / "mixdown_mix.wav").exists()
        assert json.loads((tmp_path / "batch" / f"song{i}" / "mixdown_params.json").read_text())["tracks"]


def test_other_rates_are_resampled_and_short_tracks_padded(tmp_path, caplog):
    session = make_stems(tmp_path / "s", n=2, seconds=2.0)
    rng = np.random.default_rng(1)
    sf.write(session / "late.wav", tone_track(rng, 44100, 44100, 1), 44100)  # 1 s at 44.1 kHz
    caplog.set_level(logging.WARNING)
    params, audio = mix_session(session, Heuristic(SR), progress=False)
    assert params.sample_rate == SR and audio.shape[0] == int(2.0 * SR)
    assert "resampling 44100 Hz -> 22050 Hz" in caplog.text and "padded with silence" in caplog.text


@pytest.mark.parametrize("case", ["empty", "unreadable", "nan"])
def test_bad_sessions_fail_with_the_file_named(tmp_path, caplog, case):
    session = tmp_path / "s"
    session.mkdir()
    if case == "unreadable":
        make_stems(session, n=1)
        (session / "broken.wav").write_text("this is not audio")
    elif case == "nan":
        x = np.zeros((1000, 1), np.float32)
        x[10] = np.nan
        sf.write(session / "nan.wav", x, SR, subtype="FLOAT")
    caplog.set_level(logging.ERROR)
    out = tmp_path / "out.wav"
    assert main(["mix", str(session), "--out", str(out)]) == 2
    expected = {"empty": "no audio files", "unreadable": "broken.wav", "nan": "nan.wav"}[case]
    assert expected in caplog.text
    assert not out.exists()


def test_silent_and_full_scale_tracks_are_kept_with_warnings(tmp_path, caplog):
    session = make_stems(tmp_path / "s", n=2, seconds=1.0)
    sf.write(session / "quiet.wav", np.zeros((SR, 1), np.float32), SR)
    sf.write(session / "hot.wav", np.clip(np.random.default_rng(0).standard_normal((SR, 1)), -1, 1), SR,
             subtype="FLOAT")
    caplog.set_level(logging.WARNING)
    params, audio = mix_session(session, Heuristic(SR), progress=False)
    assert {"quiet", "hot"} <= {t.name for t in params.tracks} and np.isfinite(audio).all()
    assert "'quiet' (quiet.wav) is silent" in caplog.text
    assert "'hot' (hot.wav) peaks at full scale" in caplog.text


def test_short_sessions_at_other_rates_reach_the_model_at_its_own_rate(tmp_path, caplog):
    """A 500-sample, 22.05 kHz session through the shipped 44.1 kHz model: windows are resampled
    for the model (and padded to the STFT's minimum), the mix stays at 22.05 kHz."""
    session = tmp_path / "s"
    session.mkdir()
    sf.write(session / "click.wav", (np.random.default_rng(0).standard_normal(500) * 0.1).astype(np.float32), SR)
    caplog.set_level(logging.INFO)
    out = tmp_path / "m.wav"
    assert main(["mix", str(session), "--out", str(out)]) == 0
    audio, sr = sf.read(out, always_2d=True)
    assert sr == SR and audio.shape == (500, 2)
    assert "resampled 22050 Hz -> 44100 Hz for the model" in caplog.text


@pytest.mark.parametrize("n_tracks", [1, 64])
def test_shipped_model_mixes_one_to_sixty_four_tracks(tmp_path, n_tracks):
    """The default checkpoint on the smallest and the largest session the issue names (mono and
    stereo mixed); the written settings re-render to the same mix."""
    session = make_stems(tmp_path / "s", n=n_tracks, seconds=1.0)
    params, audio = mix_session(session, progress=False)
    assert len(params.tracks) == n_tracks and audio.shape == (SR, 2) and np.isfinite(audio).all()
    assert params.extra["notes"]["model"] == "Engineer"
    assert params.extra["notes"]["checkpoint"]["name"] == "engineer-v5"  # the weights that made it
    assert err_db(render(session, params).audio, audio) < -60


def test_settings_name_the_checkpoint_that_made_them(tmp_path):
    """``notes.checkpoint`` in the written settings: the file and its sha256 (first 12 hex digits,
    checked here against hashlib), and a shipped model's name found by content, not by file name;
    weights mixdown does not ship get no name."""
    import hashlib
    import shutil

    import torch

    session = make_stems(tmp_path / "s", n=2, seconds=1.0)
    shipped = tmp_path / "renamed.pt"
    shutil.copy(ROOT / "src/mixdown/weights/human-v3.pt", shipped)
    state = torch.load(shipped, weights_only=True)
    state["config"] = {**(state.get("config") or {}), "note": "my fine-tune"}  # other contents
    mine = tmp_path / "mine.pt"
    torch.save(state, mine)
    for ckpt, name in ((shipped, "human-v3"), (mine, None)):
        out = tmp_path / f"{ckpt.stem}.json"
        assert main(["mix", str(session), "--out", str(tmp_path / f"{ckpt.stem}.wav"), "--params", str(out),
                     "--checkpoint", str(ckpt)]) == 0
        got = json.loads(out.read_text())["notes"]["checkpoint"]
        assert got["file"] == ckpt.name and got["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()[:12]
        assert got.get("name") == name


@pytest.mark.slow  # reference-mode refinement: gradient steps through the console
def test_locks_are_kept_through_reference_refinement(tmp_path):
    session = make_stems(tmp_path / "s", seconds=2.0)
    base, _ = mix_session(session, Heuristic(SR), progress=False)
    other = read_params_copy(base)
    for t in other.tracks:
        t.values["fader_db"] -= 6.0
    other.master.values["eq.5.gain_db"] = 6.0
    sf.write(tmp_path / "ref.wav", render(session, other).audio, SR)
    locks = {"stem0.fader_db": 3.0, "stem1.pan": -0.5, "master.eq.5.gain_db": -2.0}
    params, _ = mix_session(session, Heuristic(SR), reference=tmp_path / "ref.wav", locks=locks, refine_steps=10,
                            progress=False)
    by = {t.name: t.values for t in params.tracks}
    assert by["stem0"]["fader_db"] == 3.0 and by["stem1"]["pan"] == -0.5
    assert params.master.values["eq.5.gain_db"] == -2.0
    assert by["stem1"]["fader_db"] != base.tracks[1].values["fader_db"]  # unlocked ones did move


@pytest.mark.slow  # reference-mode refinement: gradient steps through the console
def test_a_reference_of_another_length_matches_its_overall_tone(tmp_path):
    """A reference that is not a mix of these stems (another length): no window-by-window
    comparison, but the mix's octave-band balance still moves towards the reference's."""
    session = make_stems(tmp_path / "s", seconds=2.0)
    base, start = mix_session(session, Heuristic(SR), progress=False)
    other = read_params_copy(base)
    other.master.values["eq.0.gain_db"] = 12.0  # a much darker mix
    other.master.values["eq.5.gain_db"] = -12.0
    ref = render(session, other).audio
    ref = np.concatenate([ref, ref[:SR]])  # 3 s: not the session's length
    sf.write(tmp_path / "ref.wav", ref, SR)
    params, audio = mix_session(session, Heuristic(SR), reference=tmp_path / "ref.wav", refine_steps=30,
                                progress=False)
    assert params.extra["notes"]["reference"]["aligned"] is False
    n = len(start)
    before = metrics.spectral_balance_error_db(start.T, ref[:n].T, SR)[1]
    after = metrics.spectral_balance_error_db(audio.T, ref[:n].T, SR)[1]
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("case", ["text", "nan"])
def test_bad_reference_fails_with_the_file_named(tmp_path, caplog, case):
    session = make_stems(tmp_path / "s", n=2, seconds=1.0)
    ref = tmp_path / "ref.wav"
    if case == "text":
        ref.write_text("not audio")
    else:
        x = np.zeros((SR, 2), np.float32)
        x[100, 0] = np.nan
        sf.write(ref, x, SR, subtype="FLOAT")
    caplog.set_level(logging.ERROR)
    out = tmp_path / "m.wav"
    assert main(["mix", str(session), "--out", str(out), "--reference", str(ref)]) == 2
    assert "reference mix:" in caplog.text and "ref.wav" in caplog.text
    assert not out.exists()


def test_takes_are_other_engineers_ways_and_repeat(tmp_path, caplog):
    """`mixdown mix --take K`: the K-th draw of the shipped model (take 0 is the mix it gives unasked),
    recorded in the settings' notes; the same take gives the same settings again (here through the
    library's `predict`); takes differ in their decisions. A model that mixes one way refuses any
    take but 0, and a negative take is refused, both before anything is written."""
    import mixdown

    example = ROOT / "data/examples/rock-8beat"

    def decisions(tracks):
        return [(t["name"], t["highpass_hz"], t["compressor"]["ratio"], t["reverb_send_db"], t["pan"]) for t in tracks]

    got = {}
    for name, extra in (("plain", []), ("t0", ["--take", "0"]), ("t2", ["--take", "2"])):
        assert main(["mix", str(example), "--out", str(tmp_path / f"{name}.wav"), *extra]) == 0
        d = json.loads((tmp_path / f"{name}.json").read_text())
        got[name] = (decisions(d["tracks"]), d["notes"]["take"])
    assert got["plain"] == got["t0"] and got["t0"][1] == 0 and got["t2"][1] == 2
    assert got["t2"][0] != got["t0"][0]  # another engineer's way: other switches taken
    again = mixdown.predict(example, take=2)
    v = [(t.name, t.values["highpass_hz"], t.values["compressor.ratio"], t.values["reverb_send_db"], t.values["pan"])
         for t in again.tracks]
    assert [x[0] for x in v] == [x[0] for x in got["t2"][0]]
    assert np.allclose([x[1:] for x in v], [x[1:] for x in got["t2"][0]], atol=1e-6)
    for extra, says in ((["--checkpoint", "human-v3", "--take", "1"], "one way only"),
                        (["--take", "-1"], "0 (the first take) or more")):
        out = tmp_path / "refused.wav"
        caplog.clear()
        assert main(["mix", str(example), "--out", str(out), *extra]) == 2
        assert "--take" in caplog.text and says in caplog.text
        assert not out.exists() and not out.with_suffix(".json").exists()
