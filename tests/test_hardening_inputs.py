"""Issue 13 at the library and command level: files outside the session (item 1), hostile names
in DAW projects (item 4), truncated and odd audio, unwritable exports and broken checkpoints
(items 6, 7, 9), pipes named as tracks (item 8). Inputs are generated in ``tmp_path``."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.cli import main
from mixdown.inference.checkpoint import CheckpointError, load_model, save_checkpoint
from mixdown.params.io import write_params

SR = 22050
SCHEMAS = Path(__file__).parent / "schemas"


def noise(frames, channels=1, amp=0.2, seed=0):
    return np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)


@pytest.fixture
def session(tmp_path, make_mix_params):
    """``tmp_path/session`` with two stems and ``tmp_path/p.json`` naming them."""
    s = tmp_path / "session"
    s.mkdir()
    sf.write(s / "a.wav", noise(SR, 1, seed=1), SR)
    sf.write(s / "b.wav", noise(SR // 2, 2, seed=2), SR)
    write_params(make_mix_params(["a.wav", "b.wav"], sample_rate=SR), tmp_path / "p.json")
    return s


def set_file(params_path: Path, track: int, file: str, name: str | None = None) -> Path:
    doc = json.loads(params_path.read_text())
    doc["tracks"][track]["file"] = file
    if name is not None:
        doc["tracks"][track]["name"] = name
    params_path.write_text(json.dumps(doc))
    return params_path


def errors(caplog) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def warnings_(caplog) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


# ----------------------------------------------------------------------------- item 1: outside the session
OUTSIDE = {"climbing": "../secret.wav", "absolute": "{tmp}/secret.wav", "missing outside": "../nothing.wav",
           "folder outside": "..", "not audio outside": "../notes.txt"}


@pytest.mark.parametrize("kind", sorted(OUTSIDE))
def test_render_refuses_files_outside_the_session_with_one_message(tmp_path, session, caplog, kind):
    sf.write(tmp_path / "secret.wav", noise(SR, seed=9), SR)
    (tmp_path / "notes.txt").write_text("private")
    params = set_file(tmp_path / "p.json", 0, OUTSIDE[kind].format(tmp=tmp_path))
    assert main(["render", str(session), "--params", str(params), "--out", str(tmp_path / "m.wav")]) == 2
    err = errors(caplog)
    # the same words whatever the target is: nothing tells which outside paths exist
    generic = re.sub(r"file '[^']*'", "file X", err)
    assert generic.endswith(f"track 'a': file X is outside the session folder {session}; a track's file must lie "
                            "inside the session folder (symbolic links resolved): copy or move it there, or pass "
                            "--allow-outside-session"), err
    assert not (tmp_path / "m.wav").exists()


def test_a_symlink_leading_outside_is_refused_and_the_flag_allows_it(tmp_path, session, caplog):
    sf.write(tmp_path / "secret.wav", noise(SR, seed=9), SR)
    (session / "link.wav").symlink_to(tmp_path / "secret.wav")
    params = set_file(tmp_path / "p.json", 0, "link.wav")
    out = tmp_path / "m.wav"
    assert main(["render", str(session), "--params", str(params), "--out", str(out)]) == 2
    assert "outside the session folder" in errors(caplog) and not out.exists()
    assert main(["render", str(session), "--params", str(params), "--out", str(out), "--allow-outside-session"]) == 0
    assert sf.info(str(out)).frames == SR


@pytest.mark.parametrize("fmt", ["dawproject", "reaper"])
def test_export_refuses_files_outside_the_session(tmp_path, session, caplog, fmt):
    sf.write(tmp_path / "secret.wav", noise(SR, seed=9), SR)
    params = set_file(tmp_path / "p.json", 1, str(tmp_path / "secret.wav"))
    out = tmp_path / ("x.dawproject" if fmt == "dawproject" else "x.RPP")
    extra = ["--embed-audio"] if fmt == "dawproject" else []
    assert main(["export", str(params), "--session", str(session), "--out", str(out), *extra]) == 2
    assert "track 'b': file" in errors(caplog) and "outside the session folder" in errors(caplog)
    assert not out.exists()
    assert main(["export", str(params), "--session", str(session), "--out", str(out), *extra,
                 "--allow-outside-session"]) == 0
    if fmt == "dawproject":
        assert "audio/secret.wav" in zipfile.ZipFile(out).namelist()


# ----------------------------------------------------------------------------- item 4: hostile names
HOSTILE = {
    "newline": "kick\n<JS evil/script 0\n>\nNAME x",
    "carriage return": "kick\r  <JS evil",
    "quotes": "say \"hi\" it's `x`",
    "angle brackets": "<TRACK> & </Track>",
    "long": "x" * 5000,
    "unicode": "Bässe 🎸 ドラム \u202e",
    "control": "a\x00b\x07c\x1bd\u2028e",
}


def _rpp_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_track_names_cannot_break_out_of_an_rpp_field(tmp_path, session, kind, caplog):
    plain = tmp_path / "plain.RPP"
    assert main(["export", str(tmp_path / "p.json"), "--session", str(session), "--out", str(plain)]) == 0
    params = set_file(tmp_path / "p.json", 0, "a.wav", name=HOSTILE[kind])
    out = tmp_path / "hostile.RPP"
    assert main(["export", str(params), "--session", str(session), "--out", str(out)]) == 0
    lines, ref = _rpp_lines(out.read_text(encoding="utf-8")), _rpp_lines(plain.read_text(encoding="utf-8"))
    assert len(lines) == len(ref)  # no line added: nothing injected
    assert [line.split(" ", 1)[0] for line in lines] == [line.split(" ", 1)[0] for line in ref]
    name_line = next(line for line in lines if line.startswith("NAME "))
    value = name_line[5:]
    assert value[0] == value[-1] and value[0] in "\"'`" and value[0] not in value[1:-1]  # one quoted token
    assert not re.search("[\x00-\x1f\x7f\u2028]", value)
    if kind in ("newline", "carriage return", "control"):
        assert "control characters replaced by spaces" in warnings_(caplog)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_track_names_give_a_schema_valid_dawproject(tmp_path, session, kind):
    lxml_etree = pytest.importorskip("lxml.etree")
    params = set_file(tmp_path / "p.json", 0, "a.wav", name=HOSTILE[kind])
    out = tmp_path / "hostile.dawproject"
    assert main(["export", str(params), "--session", str(session), "--out", str(out), "--embed-audio"]) == 0
    xml = zipfile.ZipFile(out).read("project.xml")
    schema = lxml_etree.XMLSchema(lxml_etree.parse(str(SCHEMAS / "Project.xsd")))
    doc = lxml_etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    names = [t.get("name") for t in doc.iter("Track")]
    expected = re.sub("[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", HOSTILE[kind])
    assert names[0] == expected


@pytest.mark.parametrize("fmt", ["x.RPP", "x.dawproject"])
def test_a_file_name_with_a_newline_is_refused_not_mangled(tmp_path, session, caplog, fmt):
    sf.write(session / "evil\nname.wav", noise(SR), SR)
    params = set_file(tmp_path / "p.json", 0, "evil\nname.wav")
    assert main(["export", str(params), "--session", str(session), "--out", str(tmp_path / fmt)]) == 2
    assert "control character" in errors(caplog) and "rename the file" in errors(caplog)
    assert not (tmp_path / fmt).exists()


@pytest.mark.parametrize("fmt", ["x.RPP", "x.dawproject"])
def test_export_to_an_unwritable_path_is_a_message(tmp_path, session, caplog, fmt):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / fmt
    assert main(["export", str(tmp_path / "p.json"), "--session", str(session), "--out", str(out)]) == 2
    assert f"{out}: cannot write" in errors(caplog)


# ----------------------------------------------------------------------------- items 6, 7: odd audio
def test_truncated_flac_is_a_message_naming_the_file(tmp_path, session, caplog):
    sf.write(session / "c.flac", noise(SR * 2, seed=3), SR)
    data = (session / "c.flac").read_bytes()
    (session / "c.flac").write_bytes(data[:len(data) // 2])
    doc = json.loads((tmp_path / "p.json").read_text())
    doc["tracks"].append({**doc["tracks"][0], "name": "c", "file": "c.flac"})
    (tmp_path / "p.json").write_text(json.dumps(doc))
    assert main(["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "m.wav")]) == 2
    assert f"{session / 'c.flac'}: cannot be decoded" in errors(caplog) and "truncated or corrupt" in errors(caplog)
    assert not (tmp_path / "m.wav").exists()


def test_truncated_wav_is_reported_as_truncated(tmp_path, session, caplog):
    sf.write(session / "a.wav", noise(SR, seed=1), SR, subtype="PCM_16")
    data = (session / "a.wav").read_bytes()
    (session / "a.wav").write_bytes(data[:44 + SR])  # half the samples
    caplog.set_level(logging.INFO)
    assert main(["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "m.wav")]) == 0
    w = warnings_(caplog)
    assert f"{session / 'a.wav'}: truncated: its header declares {SR} frames" in w and "re-copy" in w


def test_dc_only_track_is_reported(tmp_path, session, caplog):
    sf.write(session / "a.wav", np.full((SR, 1), 0.25, np.float32), SR, subtype="FLOAT")
    caplog.set_level(logging.INFO)
    assert main(["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "m.wav")]) == 0
    assert "track 'a' (a.wav) holds only a constant (DC) offset" in warnings_(caplog)
    assert "track 'b'" not in warnings_(caplog)


# ----------------------------------------------------------------------------- items 8, 9: pipes, loops
def test_a_pipe_named_as_a_track_is_refused_without_hanging(tmp_path, session):
    os.mkfifo(session / "fifo.wav")
    params = set_file(tmp_path / "p.json", 0, "fifo.wav")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())",
                           "render", str(session), "--params", str(params), "--out", str(tmp_path / "m.wav")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert proc.returncode == 2 and time.monotonic() - t0 < 120
    assert "fifo.wav: not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def test_a_symlink_loop_is_named_as_such(tmp_path, session, caplog):
    (session / "loop.wav").symlink_to("loop.wav")
    params = set_file(tmp_path / "p.json", 0, "loop.wav")
    assert main(["render", str(session), "--params", str(params), "--out", str(tmp_path / "m.wav")]) == 2
    assert "loop.wav: a symbolic link loop" in errors(caplog) and "not found" not in errors(caplog)


# ----------------------------------------------------------------------------- items 6, 9: checkpoints
@pytest.fixture
def good_checkpoint(tmp_path):
    from mixdown.models import DMC

    kwargs = {"sample_rate": SR, "dim": 8, "hidden": 8}
    path = tmp_path / "good.pt"
    save_checkpoint(path, DMC(**kwargs), kwargs, sample_rate=SR)
    return path


def _doctor(src: Path, dst: Path, fn) -> Path:
    state = torch.load(src, weights_only=True)
    fn(state)
    torch.save(state, dst)
    return dst


BAD_CHECKPOINTS = {
    "kwargs of the wrong type": (lambda s: s["model"]["kwargs"].update(dim="eight"), "dim='eight'"),
    "a list for kwargs": (lambda s: s["model"].update(kwargs=[1, 2]), "kwargs must be a mapping"),
    "a string for the model": (lambda s: s.update(model="mixdown.models.dmc.DMC"), "'model' must be an object"),
    "unknown kwarg": (lambda s: s["model"]["kwargs"].update(depth=3), "'depth' is not an argument of DMC"),
    "sample rate 0": (lambda s: s.update(sample_rate=0), "sample_rate 0 Hz is outside"),
    "kwargs sample rate 0": (lambda s: s["model"]["kwargs"].update(sample_rate=0), "sample_rate=0: 0 Hz is outside"),
    "huge kwargs": (lambda s: s["model"]["kwargs"].update(dim=10 ** 9, hidden=10 ** 9), "1 .. 8192"),
    "big kwargs, small weights": (lambda s: s["model"]["kwargs"].update(dim=8000, hidden=8000),
                                  "weights do not fit"),
    "NaN weights": (lambda s: next(v for v in s["state_dict"].values() if v.is_floating_point()).fill_(float("nan")),
                    "weights hold NaN or infinite values"),
}


@pytest.mark.parametrize("kind", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoints_are_refused_before_allocation(tmp_path, good_checkpoint, kind):
    fn, fragment = BAD_CHECKPOINTS[kind]
    path = _doctor(good_checkpoint, tmp_path / "bad.pt", fn)
    t0 = time.monotonic()
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    assert time.monotonic() - t0 < 10  # no gigabytes allocated before the check
    assert str(path) in str(e.value) and fragment in str(e.value), str(e.value)
    assert "weights_only=False" not in str(e.value)


def test_checkpoint_errors_never_advise_unsafe_loading(tmp_path, caplog):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "mixdown.checkpoint/1", "model": Evil()}, tmp_path / "evil.pt")
    (tmp_path / "trunc.pt").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    session = tmp_path / "s"
    session.mkdir()
    sf.write(session / "a.wav", noise(SR), SR)
    for ckpt in ("evil.pt", "trunc.pt"):
        caplog.clear()
        assert main(["mix", str(session), "--checkpoint", str(tmp_path / ckpt), "--out", str(tmp_path / "m.wav")]) == 2
        err = errors(caplog)
        assert ckpt in err and "weights_only" not in err and "trust" not in err, err


def test_nan_weights_are_blamed_on_the_checkpoint_not_the_parameter_file(tmp_path, good_checkpoint, caplog):
    bad = _doctor(good_checkpoint, tmp_path / "nan.pt", BAD_CHECKPOINTS["NaN weights"][0])
    session = tmp_path / "s"
    session.mkdir()
    sf.write(session / "a.wav", noise(SR), SR)
    assert main(["mix", str(session), "--checkpoint", str(bad), "--out", str(tmp_path / "m.wav")]) == 2
    assert "nan.pt: weights hold NaN" in errors(caplog) and "m.json" not in errors(caplog)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.pt", "nan.pt", "s"]
