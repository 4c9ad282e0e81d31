"""The ``composer`` baseline of ``mixdown evaluate``: a MIDI pair mixed at the composer's own channel
volumes and pans (General MIDI's volume curve and the constant-power pan law, written out here), and
no row for a song whose manifest does not carry them."""

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf

from mixdown.evaluate import run_evaluation
from mixdown.models import baselines as B

SR = 16000
CC7 = (100, 50, 80)
CC10 = (64, 20, 110)


def _pair(root, name, controls: bool):
    rng = np.random.default_rng(len(name))
    n = 3 * SR
    folder = root / name
    (folder / "tracks").mkdir(parents=True)
    mix, tracks = np.zeros((2, n)), []
    for i, (v, p) in enumerate(zip(CC7, CC10)):
        x = np.convolve(rng.standard_normal(n), np.hanning(8 + 24 * i), "same") * 0.05
        x *= (np.arange(n) % (SR // (2 + i)) < SR // 8)  # notes: on and off
        sf.write(folder / "tracks" / f"ch{i + 1:02d}.wav", x.astype(np.float32), SR, subtype="FLOAT")
        theta = ((p - 64) / 64 + 1) * math.pi / 4
        mix += (v / 100) ** 2 * np.stack([math.cos(theta) * x, math.sin(theta) * x])
        meta = {"channel": i + 1, "cc7": {"start": v, "min": v, "max": v},
                "cc10": {"start": p, "min": p, "max": p}} if controls else {}
        tracks.append({"path": str(folder / "tracks" / f"ch{i + 1:02d}.wav"), "name": f"ch{i + 1:02d}", "role": "other",
                       "channels": 1, "sample_rate": SR, "frames": n, "active_regions": [[0.0, 3.0]],
                       "silent": False, "clipped": 0.0, "peak": 0.5, "rms_db": -20.0, "file_size": 1,
                       "mtime": 0.0, "meta": meta})
    sf.write(folder / "mix.wav", mix.T.astype(np.float32), SR, subtype="FLOAT")
    return {"schema": "mixdown.manifest/1", "song": name, "source": "midi" if controls else "folder",
            "split": "test", "root": str(root), "tracks": tracks,
            "mix": {"path": str(folder / "mix.wav"), "channels": 2, "sample_rate": SR, "frames": n, "clipped": 0.0,
                    "peak": 0.5, "silent": False, "file_size": 1, "mtime": 0.0},
            "params": None, "checks": {"length_mismatch": False, "rate_mismatch": False, "mix_offset_samples": None,
                                       "mix_correlation": None, "aligned": True, "warnings": []}, "meta": {}}


@pytest.mark.slow  # renders and scores two songs
def test_composer_settings_reproduce_the_composers_mix_and_skip_songs_without_them(tmp_path, caplog):
    manifest = tmp_path / "test.jsonl"
    manifest.write_text(json.dumps(_pair(tmp_path, "midi-song", True)) + "\n"
                        + json.dumps(_pair(tmp_path, "other-song", False)) + "\n")
    with caplog.at_level("INFO"):
        run_evaluation(manifest, tmp_path / "out", baselines=("raw_sum", "composer"), include_model=False,
                       progress=False)
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert sorted((r["song"], r["system"]) for r in rows) == [
        ("midi-song", "composer"), ("midi-song", "raw_sum"), ("other-song", "raw_sum")]
    assert "other-song: composer does not apply" in caplog.text
    score = {r["system"]: r for r in rows if r["song"] == "midi-song"}
    assert float(score["composer"]["spectral_balance_mae_db"]) < 0.05
    assert float(score["composer"]["mrstft"]) < 0.05
    assert float(score["composer"]["lr_imbalance_diff_db"]) == pytest.approx(0.0, abs=0.05)
    assert float(score["raw_sum"]["spectral_balance_mae_db"]) > 0.5
    assert float(score["raw_sum"]["mrstft"]) > 0.2


def test_composer_needs_both_controllers_on_every_track():
    class Session:
        audio = [np.zeros((1, 10))] * 2
        sample_rate = SR

    ok = {"cc7": {"start": 127, "min": 127, "max": 127}, "cc10": {"start": 0}}
    fade_in = {"cc7": {"start": 0, "min": 0, "max": 100}, "cc10": {"start": 64}}  # counts at its highest
    tv, _ = B.composer(Session, [ok, fade_in])
    fader, pan = tv[:, B._T["fader_db"]], tv[:, B._T["pan"]]
    assert fader[0] == pytest.approx(40 * math.log10(1.27)) and fader[1] == 0.0
    assert pan.tolist() == [-1.0, 0.0]
    assert B.composer(Session, [ok, {"cc7": {"start": 100}}]) is None
    assert B.composer(Session, [ok, {"cc7": {}, "cc10": {"start": 64}}]) is None  # hand-edited manifests
    assert B.composer(Session, [ok, {"cc7": {"start": "loud"}, "cc10": {"start": 64}}]) is None
    assert B.composer(Session, [ok, None]) is None
    assert B.composer(Session, [ok]) is None and B.composer(Session, None) is None


def test_the_command_line_takes_composer_by_name_and_names_it_when_refusing(tmp_path, caplog):
    from mixdown.cli import main

    with caplog.at_level("ERROR"):
        assert main(["evaluate", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--baselines",
                     "raw_sum,bogus"]) == 2
    assert "bogus" in caplog.text and "composer" in caplog.text
    caplog.clear()
    with caplog.at_level("ERROR"):  # accepted: the next refusal is the missing songs, not the name
        assert main(["evaluate", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--baselines",
                     "composer"]) == 2
    assert "unknown baselines" not in caplog.text and "none" in caplog.text


def test_songs_without_the_composers_settings_are_not_even_read_and_none_at_all_is_an_error(tmp_path, monkeypatch):
    import mixdown.session as session_module

    manifest = tmp_path / "test.jsonl"
    manifest.write_text(json.dumps(_pair(tmp_path, "other-song", False)) + "\n")

    def no_reading(*a, **k):
        raise AssertionError("read the tracks of a song no system applies to")

    monkeypatch.setattr(session_module, "read_tracks", no_reading)
    with pytest.raises(ValueError, match="none of composer applies"):
        run_evaluation(manifest, tmp_path / "out", baselines=("composer",), include_model=False, progress=False)
