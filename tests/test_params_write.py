"""Writing ``mixdown.params/2`` files: atomic, no temporaries left, the old file kept when the
rename fails, the umask's mode, strict JSON."""

import json
import os

import pytest

from mixdown.params.io import ParamsError, write_params
from test_params import example, read_doc


# ----------------------------------------------------------------------------- writing
def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    p = read_doc(tmp_path, example())
    out = tmp_path / "w" / "mix.json"
    write_params(p, out)
    assert os.listdir(out.parent) == ["mix.json"]
    before = out.read_bytes()

    p.tracks[0].values["pan"] = 1.5  # out of range: validation fails before anything is written
    with pytest.raises(ParamsError, match="pan"):
        write_params(p, out)
    assert out.read_bytes() == before and os.listdir(out.parent) == ["mix.json"]

    p.tracks[0].values["pan"] = float("nan")
    with pytest.raises(ParamsError, match="pan"):
        write_params(p, out)
    assert out.read_bytes() == before and os.listdir(out.parent) == ["mix.json"]


def test_write_failure_during_rename_keeps_old_file(tmp_path, monkeypatch):
    p = read_doc(tmp_path, example())
    out = tmp_path / "w" / "mix.json"
    write_params(p, out)
    before = out.read_bytes()
    p.tracks[0].values["pan"] = 0.5

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_params(p, out)
    monkeypatch.undo()
    assert out.read_bytes() == before and os.listdir(out.parent) == ["mix.json"]


def test_written_file_mode_follows_umask_and_extra_nan_is_refused(tmp_path, make_mix_params):
    write_params(make_mix_params(["a.wav"]), tmp_path / "p.json")
    (tmp_path / "plain").write_text("")  # what open() gives under this umask (not mkstemp's 0600)
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
    with pytest.raises(ParamsError, match="non-finite"):
        write_params(make_mix_params(["a.wav"], notes={"score": float("nan")}), tmp_path / "q.json")
    assert sorted(os.listdir(tmp_path)) == ["p.json", "plain"]


def test_written_file_is_strict_json(tmp_path, make_mix_params):
    p = make_mix_params(["a.wav"], notes="ok")
    write_params(p, tmp_path / "p.json")

    def no_constants(name):
        raise AssertionError(f"writer produced the non-JSON literal {name}")

    doc = json.loads((tmp_path / "p.json").read_text(), parse_constant=no_constants)
    assert doc["format"] == "mixdown.params/2" and doc["tracks"][0]["name"] == "a"
    assert [b["type"] for b in doc["master"]["eq"]] == ["low_shelf", "peak", "peak", "peak", "peak",
                                                        "high_shelf"]
