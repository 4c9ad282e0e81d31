"""Issue 13 at the command line: outputs never replace inputs or each other (item 2), a mix left in
the session is not mixed in again (item 3), ``mix`` publishes its two outputs together and writes
FLAC (item 5), ``--batch`` goes on after a failing session and ``train`` refuses bad overrides and
missing manifests without a traceback or an empty output folder (item 6, "Also")."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.params.io import read_params, write_params

SR = 22050
SRC = str(Path(__file__).parents[1] / "src")


def noise(frames, channels=1, amp=0.2, seed=0):
    return np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)


@pytest.fixture
def session(tmp_path):
    s = tmp_path / "session"
    s.mkdir()
    for i in range(3):
        sf.write(s / f"t{i}.wav", noise(SR, 1 + i % 2, seed=i), SR)
    return s


@pytest.fixture
def params(tmp_path, session, make_mix_params):
    path = tmp_path / "p.json"
    write_params(make_mix_params([f"t{i}.wav" for i in range(3)], sample_rate=SR), path)
    return path


def errors(caplog) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- item 2: outputs vs inputs
def test_render_refuses_to_write_over_a_stem_or_its_parameter_file(tmp_path, session, params, caplog):
    before = snapshot(tmp_path)
    for out in (session / "t0.wav", params):
        caplog.clear()
        assert main(["render", str(session), "--params", str(params), "--out", str(out)]) == 2
        assert f"--out {out} is the input" in errors(caplog) and "choose another output path" in errors(caplog)
    (tmp_path / "hard.wav").hardlink_to(session / "t1.wav")  # the same file under another name
    assert main(["render", str(session), "--params", str(params), "--out", str(tmp_path / "hard.wav")]) == 2
    assert snapshot(tmp_path) == before | {"hard.wav": before["session/t1.wav"]}


@pytest.mark.parametrize("flags", [["--out", "{s}/t1.wav"], ["--params", "{s}/t2.wav"],
                                   ["--out", "{t}/same.wav", "--params", "{t}/same.wav"],
                                   ["--out", "{t}/m.wav", "--report", "{s}/t0.wav"]])
def test_mix_refuses_outputs_that_are_inputs_or_each_other(tmp_path, session, caplog, flags):
    flags = [f.format(s=session, t=tmp_path) for f in flags]
    if "--out" not in flags:
        flags += ["--out", str(tmp_path / "m.wav")]
    before = snapshot(tmp_path)
    assert main(["mix", str(session), *flags]) == 2
    assert "is the input" in errors(caplog) or "is the same file as" in errors(caplog)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt", ["dawproject", "reaper"])
def test_export_refuses_to_write_over_its_own_parameter_file(tmp_path, session, params, caplog, fmt):
    before = snapshot(tmp_path)
    assert main(["export", str(params), "--session", str(session), "--format", fmt, "--out", str(params)]) == 2
    assert "is the input the parameter file" in errors(caplog)
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- item 3: mixing twice
def test_a_second_mix_does_not_take_the_first_mix_as_a_track(session, caplog):
    caplog.set_level(logging.INFO)
    assert main(["mix", str(session)]) == 0
    first = read_params(session / "mixdown_mix.json")
    assert [t.name for t in first.tracks] == ["t0", "t1", "t2"]
    assert main(["mix", str(session)]) == 0
    second = read_params(session / "mixdown_mix.json")
    assert [t.name for t in second.tracks] == ["t0", "t1", "t2"]
    assert "skipping mixes that mixdown wrote (not tracks): mixdown_mix.wav" in caplog.text
    # a mix renamed by hand is still recognised by its metadata
    os.rename(session / "mixdown_mix.wav", session / "my mix.wav")
    assert main(["mix", str(session), "--out", str(session / "again.wav")]) == 0
    assert [t.name for t in read_params(session / "again.json").tracks] == ["t0", "t1", "t2"]


# ----------------------------------------------------------------------------- item 5: half a result
def test_mix_writes_flac_and_the_pair_shares_a_run_id(tmp_path, session):
    from mixdown.outputs import run_id_of

    out = tmp_path / "out" / "mix.flac"
    assert main(["mix", str(session), "--out", str(out)]) == 0
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels) == ("FLAC", "PCM_24", 2)
    params = read_params(out.with_suffix(".json"))
    assert params.extra["notes"]["run_id"] == run_id_of(out)
    assert sorted(os.listdir(out.parent)) == ["mix.flac", "mix.json"]


@pytest.mark.parametrize("out", ["mix.mp3", "mix.xyz", "mix"])
def test_mix_refuses_an_unknown_output_format_before_any_work(tmp_path, session, caplog, out):
    before = snapshot(tmp_path)
    t0 = time.monotonic()
    assert main(["mix", str(session), "--out", str(tmp_path / out), "--params", str(tmp_path / "p.json")]) == 2
    assert "name the file .wav or .flac" in errors(caplog)
    assert snapshot(tmp_path) == before and time.monotonic() - t0 < 30


def test_mix_to_an_unwritable_place_is_a_message_and_writes_nothing(tmp_path, session, caplog):
    (tmp_path / "file").write_text("x")
    before = snapshot(tmp_path)
    assert main(["mix", str(session), "--out", str(tmp_path / "file" / "m.wav"),
                 "--params", str(tmp_path / "m.json")]) == 2
    assert "m.wav: cannot write" in errors(caplog)
    assert snapshot(tmp_path) == before  # no orphan parameter file


STALLED_MIX = """
import os, sys, time
import mixdown.outputs as outputs
real = outputs.write_tagged_audio
def stalled(tmp, audio, *a, **k):
    real(tmp, audio[: len(audio) // 2], *a, **k)  # half the mix written, then stuck
    print("stalled", flush=True)
    time.sleep(120)
outputs.write_tagged_audio = stalled
from mixdown.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_mix_killed_while_writing_leaves_the_old_pair_and_no_mismatch(tmp_path, session):
    """A ``mix`` process is SIGKILLed while it writes its outputs: the earlier mix and settings stay
    as they were (a pair), and the next run removes the temporaries and publishes a new pair.
    (A spawned process: torch in a forked child of a process that used it can deadlock.)"""
    from mixdown.outputs import run_id_of

    out = tmp_path / "m.wav"
    assert main(["mix", str(session), "--out", str(out)]) == 0
    old = snapshot(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", STALLED_MIX, "mix", str(session), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert proc.stdout.readline().strip() == "stalled"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    visible = {k: v for k, v in snapshot(tmp_path).items() if not Path(k).name.startswith(".")}
    assert visible == old
    assert any(Path(k).name.startswith(".m.") for k in snapshot(tmp_path))  # the killed run's temporary
    for p in tmp_path.iterdir():
        if p.name.startswith("."):
            os.utime(p, (time.time() - 3600,) * 2)
    assert main(["mix", str(session), "--out", str(out)]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert read_params(tmp_path / "m.json").extra["notes"]["run_id"] == run_id_of(out)


# ----------------------------------------------------------------------------- item 6: batch, train
def test_batch_goes_on_after_a_failing_session_and_lists_it(tmp_path, caplog):
    batch = tmp_path / "batch"
    for name in ("a", "b", "c"):
        (batch / name).mkdir(parents=True)
        sf.write(batch / name / "x.wav", noise(SR, seed=len(name)), SR)
    data = (batch / "b" / "x.wav").read_bytes()
    sf.write(batch / "b" / "y.flac", noise(SR * 2), SR)
    flac = (batch / "b" / "y.flac").read_bytes()
    (batch / "b" / "y.flac").write_bytes(flac[: len(flac) // 2])  # truncated FLAC
    assert data
    assert main(["mix", "--batch", str(batch)]) == 2
    assert (batch / "a" / "mixdown_mix.wav").exists() and (batch / "c" / "mixdown_mix.wav").exists()
    assert not (batch / "b" / "mixdown_mix.wav").exists() and not (batch / "b" / "mixdown_params.json").exists()
    err = errors(caplog)
    assert "y.flac: cannot be decoded" in err and f"1 of 3 sessions failed: {batch / 'b'}" in err


def _train(tmp_path, *overrides):
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())",
                           "train", "experiment=heuristic", *overrides], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("overrides, fragment", [
    (["trainer.max_steps=abc"], "trainer.max_steps='abc': must be a whole number"),
    (["data.train.manifests=[nowhere/train.jsonl]"], "nowhere/train.jsonl: manifest not found"),
    (["trainer.no_such_key=1"], "no_such_key"),
])
def test_train_with_bad_input_says_so_and_leaves_no_output_folder(tmp_path, overrides, fragment):
    proc = _train(tmp_path, *overrides)
    assert proc.returncode == 2, proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert fragment in out and "Traceback" not in out
    assert list(tmp_path.iterdir()) == []  # no empty outputs/DATE/TIME
