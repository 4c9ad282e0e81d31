"""The build driver: deterministic splits, resumable cache, shards and merge, parallel jobs, errors, report."""

import json
import os

import pytest
from data_corpora import burst, session, write

import mixdown.data.build as build_mod
from mixdown.data.build import BuildError, build_dataset, merge_shards
from mixdown.data.manifest import SPLITS, read_manifest

N_SONGS = 12


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for i in range(N_SONGS):
        session(root / f"song {i:02d}", ["kick", "bass", "vox"], seed=i)
    return root


def texts(out, shard=None):
    suffix = ".jsonl" if shard is None else f".shard-{shard[0]}-of-{shard[1]}.jsonl"
    return {s: (out / f"{s}{suffix}").read_text(encoding="utf-8") for s in SPLITS}


def songs_by_split(out):
    return {s: [r.song for r in read_manifest(out / f"{s}.jsonl")] for s in SPLITS}


@pytest.fixture
def count_calls(monkeypatch):
    calls = []
    real = build_mod.analyse_song

    def counting(spec, opts):
        calls.append(spec.song)
        return real(spec, opts)

    monkeypatch.setattr(build_mod, "analyse_song", counting)
    return calls


def test_same_input_gives_identical_manifests_and_no_song_in_two_splits(corpus, tmp_path):
    build_dataset("folder", corpus, tmp_path / "a", progress=False)
    build_dataset("folder", corpus, tmp_path / "b", progress=False)
    assert texts(tmp_path / "a") == texts(tmp_path / "b")
    by_split = songs_by_split(tmp_path / "a")
    all_songs = [s for songs in by_split.values() for s in songs]
    assert sorted(all_songs) == [f"song {i:02d}" for i in range(N_SONGS)] and len(set(all_songs)) == N_SONGS
    assert len(by_split["train"]) > len(by_split["val"])  # 80/10/10 by hash
    for songs in by_split.values():
        assert songs == sorted(songs)


def test_rebuild_after_losing_a_split_file_reads_nothing_again(corpus, tmp_path, count_calls):
    out = tmp_path / "out"
    first = build_dataset("folder", corpus, out, progress=False)
    assert sorted(count_calls) == [f"song {i:02d}" for i in range(N_SONGS)] and first.analysed == N_SONGS
    before = texts(out)
    (out / "train.jsonl").unlink()
    count_calls.clear()
    again = build_dataset("folder", corpus, out, progress=False)
    assert count_calls == [] and again.cached == N_SONGS and again.analysed == 0
    assert texts(out) == before


def test_a_changed_or_new_song_is_the_only_one_reanalysed(corpus, tmp_path, count_calls):
    import shutil

    root = tmp_path / "c"
    shutil.copytree(corpus, root)
    out = tmp_path / "out"
    build_dataset("folder", root, out, progress=False)
    count_calls.clear()
    write(root / "song 03" / "tracks" / "kick.wav", burst(99, seconds=0.5))  # new size and mtime
    session(root / "song new", ["keys"], seed=50)
    build_dataset("folder", root, out, progress=False)
    assert sorted(count_calls) == ["song 03", "song new"]
    rec = next(r for s in SPLITS for r in read_manifest(out / f"{s}.jsonl") if r.song == "song 03")
    assert rec.tracks[1].frames == 4000 and rec.tracks[1].name == "kick"


def test_interrupted_build_resumes_with_the_finished_songs_cached(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real, done = build_mod.analyse_song, []

    def dies_after_five(spec, opts):
        if len(done) == 5:
            raise KeyboardInterrupt
        done.append(spec.song)
        return real(spec, opts)

    monkeypatch.setattr(build_mod, "analyse_song", dies_after_five)
    with pytest.raises(KeyboardInterrupt):
        build_dataset("folder", corpus, out, progress=False)
    assert len(list((out / ".cache").glob("*.json"))) == 5 and not (out / "train.jsonl").exists()
    monkeypatch.setattr(build_mod, "analyse_song", real)
    report = build_dataset("folder", corpus, out, progress=False)
    assert report.cached == 5 and report.analysed == N_SONGS - 5
    build_dataset("folder", corpus, tmp_path / "fresh", progress=False)
    assert texts(out) == texts(tmp_path / "fresh")


def test_shards_take_every_nth_song_and_merge_to_the_full_build(corpus, tmp_path):
    out = tmp_path / "sharded"
    sizes = []
    for i in range(3):
        rep = build_dataset("folder", corpus, out, shard=(i, 3), progress=False)
        recs = [r.song for s in SPLITS for r in read_manifest(out / f"{s}.shard-{i}-of-3.jsonl")]
        assert sorted(recs) == [f"song {k:02d}" for k in range(i, N_SONGS, 3)]
        sizes.append(rep.songs_found)
        assert (out / f"build_report.shard-{i}-of-3.json").is_file()
    assert sizes == [4, 4, 4] and not (out / "train.jsonl").exists()
    merged = merge_shards(out)
    build_dataset("folder", corpus, tmp_path / "full", progress=False)
    assert texts(out) == texts(tmp_path / "full")
    assert merged.songs_written == N_SONGS and merged.splits["train"]["songs"] == len(songs_by_split(out)["train"])
    assert json.loads((out / "build_report.json").read_text())["songs_written"] == N_SONGS


def test_merge_refuses_an_incomplete_set_of_shards(corpus, tmp_path):
    build_dataset("folder", corpus, tmp_path, shard=(1, 4), progress=False)
    with pytest.raises(BuildError, match=r"shards \[0, 2, 3\] of 4 are missing"):
        merge_shards(tmp_path)


def test_parallel_jobs_give_the_same_manifests(corpus, tmp_path):
    build_dataset("folder", corpus, tmp_path / "one", jobs=1, progress=False)
    report = build_dataset("folder", corpus, tmp_path / "two", jobs=2, progress=False)
    assert report.analysed == N_SONGS and report.failed == 0
    assert texts(tmp_path / "one") == texts(tmp_path / "two")


def test_a_song_whose_analysis_raises_is_skipped_and_retried(corpus, tmp_path, monkeypatch):
    real = build_mod.analyse_song

    def flaky(spec, opts):
        if spec.song == "song 04":
            raise RuntimeError("disk hiccup")
        return real(spec, opts)

    monkeypatch.setattr(build_mod, "analyse_song", flaky)
    report = build_dataset("folder", corpus, tmp_path, progress=False)
    assert report.failed == 1 and report.songs_written == N_SONGS - 1
    assert {"song": "song 04", "path": None, "reason": "analysis failed: RuntimeError: disk hiccup"} in report.skipped
    monkeypatch.setattr(build_mod, "analyse_song", real)
    again = build_dataset("folder", corpus, tmp_path, progress=False)
    assert again.analysed == 1 and again.songs_written == N_SONGS


def test_report_files_describe_splits_and_skips(tmp_path):
    root = tmp_path / "r"
    session(root / "a", ["kick", "bass"], seed=1)
    (root / "a" / "tracks" / "junk.wav").write_text("junk")
    report = build_dataset("folder", root, tmp_path / "out", progress=False)
    doc = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert doc["songs_written"] == 1 and doc["source"] == "folder" and doc["root"] == str(root)
    assert doc["skipped"][0]["path"].endswith("junk.wav") and sum(v["songs"] for v in doc["splits"].values()) == 1
    hours = sum(v["hours"] for v in doc["splits"].values())
    assert hours == pytest.approx(1.0 / 3600, rel=1e-3)
    md = (tmp_path / "out" / "build_report.md").read_text()
    assert "## Skipped (1)" in md and "junk.wav" in md and report.summary() in md


@pytest.mark.parametrize("source", ["medleydb", "enst", "musdb", "cambridge", "slakh", "folder"])
def test_a_root_of_the_wrong_layout_says_what_was_expected(tmp_path, source):
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "readme.txt").write_text("nothing here")
    with pytest.raises(BuildError, match=f"does not look like a {source} corpus.*expected"):
        build_dataset(source, tmp_path, tmp_path / "out", progress=False)


def test_missing_root_bad_shard_and_all_skipped_are_clear_errors(tmp_path):
    with pytest.raises(BuildError, match="no such folder.*--root"):
        build_dataset("folder", tmp_path / "nope", tmp_path / "out")
    session(tmp_path / "s", ["a"])
    with pytest.raises(BuildError, match="0-based"):
        build_dataset("folder", tmp_path / "s", tmp_path / "out", shard=(3, 3))
    with pytest.raises(BuildError, match="unknown source 'bogus'"):
        build_dataset("bogus", tmp_path / "s", tmp_path / "out")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.wav").write_text("not audio")
    (bad / "y.wav").touch()
    with pytest.raises(BuildError, match="all 1 were skipped"):
        build_dataset("folder", bad, tmp_path / "out2", progress=False)
    assert os.path.isfile(tmp_path / "out2" / "build_report.md")


def test_a_single_session_folder_is_one_song(tmp_path):
    session(tmp_path / "My Session", ["kick", "bass"], mix_name="mix.wav", tracks_dir=False)
    report = build_dataset("folder", tmp_path / "My Session", tmp_path / "out", progress=False)
    (rec,) = [r for s in SPLITS for r in read_manifest(tmp_path / "out" / f"{s}.jsonl")]
    assert rec.song == "My Session" and [t.path for t in rec.tracks] == ["bass.wav", "kick.wav"]
    assert rec.mix.path == "mix.wav" and rec.root == str(tmp_path / "My Session") and report.songs_written == 1
