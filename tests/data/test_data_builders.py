"""Each corpus layout is read into the right tracks, roles, mixes, splits, flags and skip entries."""

import os
import stat
import sys

import numpy as np
import pytest
import soundfile as sf
from data_corpora import SR, burst, enst, medleydb_song, musdb_song, session, slakh_track, write

from mixdown.data.build import BuildError, build_dataset
from mixdown.data.builders import musdb as musdb_builder
from mixdown.data.manifest import SPLITS, hash_split, read_manifest


def build(source, root, out, **kw):
    report = build_dataset(source, root, out, progress=False, **kw)
    recs = {r.song: r for s in SPLITS for r in read_manifest(out / f"{s}.jsonl")}
    return report, recs


def test_medleydb_raw_tracks_roles_bleed_offset_and_missing_files(tmp_path):
    root = tmp_path / "MedleyDB" / "Audio"
    medleydb_song(root, "ArtA_Song", ["drum set", "electric bass", "female singer"], bleed=True, seed=1)
    medleydb_song(root, "ArtB_Late", ["piano", "violin"], offset=25, seed=2)
    c = medleydb_song(root, "ArtC_Gap", ["acoustic guitar", "trumpet", "flute"], seed=3)
    (c / "ArtC_Gap_RAW" / "ArtC_Gap_RAW_02_01.wav").unlink()
    medleydb_song(root, "ArtD_NoMeta", ["x", "y"], seed=4, write_meta=False)
    report, recs = build("medleydb", tmp_path / "MedleyDB", tmp_path / "out")
    a = recs["Audio/ArtA_Song"]
    assert [t.role for t in a.tracks] == ["drums", "bass", "vocals"]
    assert [t.name for t in a.tracks] == [f"ArtA_Song_RAW_0{i}_01" for i in (1, 2, 3)]
    assert a.tracks[1].path == "Audio/ArtA_Song/ArtA_Song_RAW/ArtA_Song_RAW_02_01.wav"
    assert a.tracks[1].meta["instrument"] == "electric bass" and a.tracks[1].meta["stem"] == "S02"
    assert a.mix.path.endswith("ArtA_Song_MIX.wav") and a.mix.channels == 2
    assert a.meta["has_bleed"] is True and recs["Audio/ArtB_Late"].meta["has_bleed"] is False
    assert a.checks.aligned and a.checks.mix_offset_samples == 0 and a.checks.mix_correlation > 0.99
    b = recs["Audio/ArtB_Late"]
    assert b.checks.mix_offset_samples == 25 and not b.checks.aligned
    assert [t.role for t in recs["Audio/ArtC_Gap"].tracks] == ["guitar", "winds"]
    assert any(k["reason"] == "listed in the metadata but missing" and k["path"].endswith("RAW_02_01.wav")
               for k in report.skipped)
    d = recs["Audio/ArtD_NoMeta"]
    assert d.meta["has_bleed"] is None and any("METADATA" in w for w in d.checks.warnings)
    for song, rec in recs.items():
        assert rec.split == hash_split(song.split("/")[-1])


def test_enst_takes_mics_reference_and_drummer_split(tmp_path):
    root = enst(tmp_path / "ENST-drums-public", {1: ["001_hits"], 2: ["002_beat"], 3: ["003_a", "004_b", "005_c"]})
    (root / "drummer_3" / "audio" / "wet_mix" / "004_b.wav").unlink()
    _, recs = build("enst", tmp_path, tmp_path / "out")
    assert sorted(recs) == ["ENST-drums-public/drummer_1/001_hits", "ENST-drums-public/drummer_2/002_beat",
                            "ENST-drums-public/drummer_3/003_a", "ENST-drums-public/drummer_3/004_b",
                            "ENST-drums-public/drummer_3/005_c"]
    r = recs["ENST-drums-public/drummer_1/001_hits"]
    assert [t.name for t in r.tracks] == ["kick", "overhead_L", "snare"] and {t.role for t in r.tracks} == {"drums"}
    assert "/wet_mix/" in r.mix.path and r.meta["reference"] == "wet_mix" and r.checks.aligned
    assert "/dry_mix/" in recs["ENST-drums-public/drummer_3/004_b"].mix.path
    splits = {s: r.split for s, r in recs.items()}
    assert splits["ENST-drums-public/drummer_1/001_hits"] == splits["ENST-drums-public/drummer_2/002_beat"] == "train"
    assert {v for k, v in splits.items() if "drummer_3" in k} <= {"val", "test"}


def test_musdb_hq_standard_and_validation_splits(tmp_path):
    root = tmp_path / "musdb18hq"
    musdb_song(root, "train", "Actions - One Minute Smile", seed=1)
    musdb_song(root, "train", "Some One - Train Song", seed=2)
    musdb_song(root, "test", "Other Band - Test Song", seed=3)
    musdb_song(root, "train", "Half - Done", seed=4, skip=("vocals",))
    report, recs = build("musdb", root, tmp_path / "out")
    assert recs["train/Actions - One Minute Smile"].split == "val"
    assert recs["train/Some One - Train Song"].split == "train"
    assert recs["test/Other Band - Test Song"].split == "test"
    r = recs["train/Some One - Train Song"]
    assert [(t.name, t.role, t.channels) for t in r.tracks] == [
        ("drums", "drums", 2), ("bass", "bass", 2), ("other", "other", 2), ("vocals", "vocals", 2)]
    assert r.mix.path == "train/Some One - Train Song/mixture.wav" and r.checks.mix_offset_samples == 0
    assert [t.name for t in recs["train/Half - Done"].tracks] == ["drums", "bass", "other"]
    assert any(k["path"].endswith("Half - Done/vocals.wav") and "missing" in k["reason"] for k in report.skipped)
    assert len(musdb_builder.VALIDATION_TRACKS) == 14


def test_musdb_stem_mp4_without_a_decoder_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "A - B.stem.mp4").write_bytes(b"\0" * 64)
    monkeypatch.setattr(musdb_builder, "find_decoder", lambda: None)
    with pytest.raises(BuildError, match=r"A - B\.stem\.mp4.*ffmpeg.*MUSDB18-HQ"):
        build_dataset("musdb", tmp_path, tmp_path / "out", progress=False)


def test_musdb_stem_mp4_is_decoded_with_ffmpeg(tmp_path, monkeypatch):
    """A stand-in ``ffmpeg`` on PATH writes stream K of the fake file; the build decodes all five."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "ffmpeg"
    fake.write_text(f"#!{sys.executable}\nimport sys, numpy as np, soundfile as sf\n"
                    "a = sys.argv; k = int(a[a.index('-map') + 1].split(':')[-1])\n"
                    "x = [np.random.default_rng(s).standard_normal((8000, 2)) * 0.1 for s in range(1, 5)]\n"
                    "sf.write(a[-1], sum(x) / 2 if k == 0 else x[k - 1] / 2, 8000, format='WAV')\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "musdb18"
    (root / "test").mkdir(parents=True)
    (root / "test" / "X - Y.stem.mp4").write_bytes(b"\0" * 64)
    _, recs = build("musdb", root, tmp_path / "out")
    r = recs["test/X - Y"]
    decoded = tmp_path / "out" / "decoded" / "musdb" / "test" / "X - Y"
    assert [t.path for t in r.tracks] == [str(decoded / f"{s}.wav") for s in ("drums", "bass", "other", "vocals")]
    assert r.mix.path == str(decoded / "mixture.wav") and r.checks.aligned and r.tracks[0].frames == 8000


def test_cambridge_tracks_folders_bare_full_folders_and_mix_names(tmp_path):
    root = tmp_path / "cmt"
    session(root / "Song1", ["01_Kick", "02_Snare", "BassDI", "LeadVox", "ElecGtr2"], mix_name="Song1_Mix.wav")
    session(root / "Artist_Song2_Full", ["Kick", "Pno_L"], mix_name=None, tracks_dir=False, seed=2)
    parts = [sf.read(str(p), always_2d=True)[0] for p in sorted((root / "Artist_Song2_Full").glob("*.wav"))]
    write(root / "Artist_Song2_Mix.wav", sum(parts))
    d3 = root / "Song3"
    session(d3 / "Band_Song3_Full", ["Vox", "Strings"], mix_name=None, tracks_dir=False, seed=3)
    write(d3 / "mix.flac", burst(5))
    report, recs = build("cambridge", root, tmp_path / "out")
    assert sorted(recs) == ["Artist_Song2_Full", "Song1", "Song3"]
    assert [(t.name, t.role) for t in recs["Song1"].tracks] == [
        ("01_Kick", "drums"), ("02_Snare", "drums"), ("BassDI", "bass"), ("ElecGtr2", "guitar"), ("LeadVox", "vocals")]
    assert recs["Song1"].mix.path == "Song1/Song1_Mix.wav"
    assert recs["Artist_Song2_Full"].mix.path == "Artist_Song2_Mix.wav"
    assert [t.role for t in recs["Artist_Song2_Full"].tracks] == ["drums", "keys"]
    assert recs["Artist_Song2_Full"].checks.mix_offset_samples == 0
    assert recs["Song3"].mix.path == "Song3/mix.flac"
    assert [t.role for t in recs["Song3"].tracks] == ["strings", "vocals"]


def test_slakh_standard_splits_roles_unrendered_and_omitted(tmp_path):
    base = tmp_path / "slakh2100_flac_redux"
    stems = {"S00": ("Piano", False, True), "S01": ("Drums", True, True), "S02": ("Bass", False, True),
             "S03": ("Guitar", False, False), "S04": ("Synth Lead", False, True)}
    t1 = slakh_track(base / "train", "Track00001", stems, seed=1)
    (t1 / "stems" / "S04.flac").unlink()
    slakh_track(base / "validation", "Track00002", {"S00": ("Reed", False, True)}, seed=2)
    slakh_track(base / "test", "Track00003", {"S00": ("Synth Pad", False, True)}, seed=3)
    slakh_track(base / "omitted", "Track00004", {"S00": ("Organ", False, True)}, seed=4)
    report, recs = build("slakh", tmp_path, tmp_path / "out")
    assert sorted(recs) == sorted(f"slakh2100_flac_redux/{s}/Track0000{i}" for i, s in
                                  ((1, "train"), (2, "validation"), (3, "test")))
    r = recs["slakh2100_flac_redux/train/Track00001"]
    assert [(t.name, t.role) for t in r.tracks] == [("S00", "keys"), ("S01", "drums"), ("S02", "bass")]
    assert r.meta["unrendered"] == ["S03"] and r.tracks[1].meta["is_drum"] is True and r.split == "train"
    assert recs["slakh2100_flac_redux/validation/Track00002"].split == "val"
    assert recs["slakh2100_flac_redux/test/Track00003"].tracks[0].role == "synth"
    reasons = {(k["song"], k["reason"]) for k in report.skipped}
    omitted = "in the Slakh redux 'omitted' folder (a duplicate song)"
    assert ("slakh2100_flac_redux/omitted/Track00004", omitted) in reasons
    assert any(k["path"] and k["path"].endswith("S04.flac") for k in report.skipped)
    assert r.checks.mix_offset_samples == 0 and 0.5 < r.checks.mix_correlation < 0.99  # S04 is in the mix only


def test_folder_sessions_broken_odd_silent_clipped_offset_params_and_mismatches(tmp_path, make_mix_params):
    from mixdown.params.io import write_params

    root = tmp_path / "sessions"
    one = session(root / "Sess One", ["kick", "Bässe & Gitarre", "lead vox"], offset=40, seed=1)
    write(one / "tracks" / "silent pad.wav", np.zeros((SR, 1), np.float32))
    clip = np.clip(burst(9) * 20, -1, 1)
    write(one / "tracks" / "clipped gtr.wav", clip)
    (one / "tracks" / "broken.wav").write_text("RIFF? no, just text")
    (one / "tracks" / "empty.wav").touch()
    write_params(make_mix_params(["tracks/kick.wav", "tracks/lead vox.wav"]), one / "params.json")
    two = root / "sess2"
    write(two / "a.wav", burst(1, seconds=0.8))
    write(two / "b.wav", burst(2, sr=16000), 16000)
    write(two / "mix.wav", burst(3))
    write(root / "only_mix" / "mix.wav", burst(4))
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("hi")
    report, recs = build("folder", root, tmp_path / "out")
    assert sorted(recs) == ["Sess One", "sess2"]
    r = recs["Sess One"]
    names = {t.name: t for t in r.tracks}
    assert sorted(names) == sorted(["kick", "Bässe & Gitarre", "lead vox", "silent pad", "clipped gtr"])
    assert [names[n].role for n in ("kick", "lead vox", "clipped gtr")] == ["drums", "vocals", "guitar"]
    assert names["silent pad"].silent and names["silent pad"].active_regions == []
    assert not names["kick"].silent and names["kick"].active_regions[0][1] <= 1.0
    assert names["clipped gtr"].clipped > 0.05 and any("clipped gtr" in w and "clips" in w for w in r.checks.warnings)
    assert (tmp_path / "sessions" / names["Bässe & Gitarre"].path).is_file()
    assert r.mix.path == "Sess One/reference_mix.wav" and r.params == "Sess One/params.json"
    assert r.checks.mix_offset_samples == 40 and not r.checks.aligned and "Sess One" in report.not_aligned
    skipped = {os.path.basename(k["path"] or ""): k["reason"] for k in report.skipped}
    assert "not readable as audio" in skipped["broken.wav"] and skipped["empty.wav"] == "empty file (0 bytes)"
    assert any(k["song"] == "only_mix" and "without any track audio" in k["reason"] for k in report.skipped)
    s2 = recs["sess2"]
    assert s2.checks.rate_mismatch and s2.checks.length_mismatch and s2.checks.mix_offset_samples is None
    assert any("sample rates differ: [8000, 16000]" in w for w in s2.checks.warnings)
    assert {t.sample_rate for t in s2.tracks} == {8000, 16000} and s2.tracks[0].frames == int(0.8 * SR)


def test_folder_built_manifest_feeds_the_training_dataset(tmp_path):
    torch = pytest.importorskip("torch")
    from mixdown.data.dataset import MixDataset

    for i in range(3):
        session(tmp_path / "c" / "train" / f"s{i}", ["kick", "bass", "keys"], seed=i)
    build_dataset("folder", tmp_path / "c", tmp_path / "out", progress=False)
    ds = MixDataset(tmp_path / "out" / "train.jsonl", segment_s=0.5, sample_rate=SR, max_tracks=4)
    item = ds[0]
    assert item["tracks"].shape == (4, 2, SR // 2) and int(item["mask"].sum()) == 3
    assert torch.isfinite(item["tracks"]).all() and item["mix"].abs().max() > 0


def test_broken_metadata_is_reported_and_unsplit_slakh_is_hash_split(tmp_path):
    song = medleydb_song(tmp_path / "mdb", "Art_Song", ["drum set", "piano"])
    (song / "Art_Song_METADATA.yaml").write_text("stems: [unclosed\n  - : :")
    report, recs = build("medleydb", tmp_path / "mdb", tmp_path / "out1")
    assert [t.role for t in recs["Art_Song"].tracks] == ["other", "other"]  # RAW_01_01 names carry no keyword
    assert any(k["path"].endswith("METADATA.yaml") and "unreadable YAML" in k["reason"] for k in report.skipped)
    slakh_track(tmp_path / "slakh", "Track00042", {"S00": ("Guitar", False, True)})
    _, recs = build("slakh", tmp_path / "slakh", tmp_path / "out2")
    r = recs["Track00042"]
    assert r.split == hash_split("Track00042") and r.meta["split_from"] == "hash" and r.tracks[0].role == "guitar"
