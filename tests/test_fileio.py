"""Atomic writes: whole files or nothing, with the permissions open() would give."""

import os

import pytest

from mixdown.fileio import atomic_write, atomic_write_text


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_written_files_get_open_permissions_and_no_temporaries(tmp_path):
    out = atomic_write_text(tmp_path / "sub" / "a.json", "{}\n")
    assert out.read_text() == "{}\n"
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in out.parent.iterdir()] == ["a.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "mix.wav"
    target.write_bytes(b"old")

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["mix.wav"]


def test_exported_project_is_readable_by_others(tmp_path, make_mix_params):
    import numpy as np
    import soundfile as sf

    from mixdown.export import export_reaper

    sf.write(tmp_path / "a.wav", np.zeros((100, 1)), 22050)
    out = export_reaper(make_mix_params(["a.wav"], sample_rate=22050), tmp_path, tmp_path / "p.RPP")
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
