"""``mixdown dataset build`` / ``merge`` end to end through ``mixdown.cli.main``."""

import argparse
import json
import logging

import pytest
from data_corpora import enst, session

import mixdown.cli.dataset as data_cli
from mixdown.cli import build_parser, main
from mixdown.data.manifest import SPLITS, read_manifest


def test_build_writes_manifests_and_report(tmp_path):
    root = enst(tmp_path / "enst", {1: ["001_a", "002_b"], 3: ["003_c"]})
    out = tmp_path / "out"
    rc = main(["dataset", "build", "--source", "enst", "--root", str(root), "--out", str(out), "--jobs", "1",
               "--no-progress"])
    assert rc == 0
    songs = {r.song: r.split for s in SPLITS for r in read_manifest(out / f"{s}.jsonl")}
    assert songs["drummer_1/001_a"] == songs["drummer_1/002_b"] == "train" and songs["drummer_3/003_c"] != "train"
    assert json.loads((out / "build_report.json").read_text())["songs_written"] == 3


def test_sharded_build_then_merge(tmp_path):
    root = tmp_path / "s"
    for i in range(4):
        session(root / f"song{i}", ["kick", "bass"], seed=i)
    out = tmp_path / "out"
    for i in range(2):
        assert main(["dataset", "build", "--source", "folder", "--root", str(root), "--out", str(out),
                     "--shard", f"{i}/2", "--no-progress"]) == 0
    assert main(["dataset", "merge", "--out", str(out)]) == 0
    assert sorted(r.song for s in SPLITS for r in read_manifest(out / f"{s}.jsonl")) == [f"song{i}" for i in range(4)]


def test_user_errors_exit_2_with_the_reason_logged(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.ERROR):
        rc = main(["dataset", "build", "--source", "slakh", "--root", str(tmp_path / "empty"), "--out",
                   str(tmp_path / "out"), "--no-progress"])
    assert rc == 2 and "does not look like a slakh corpus" in caplog.text and "TrackNNNNN" in caplog.text
    with caplog.at_level(logging.ERROR):
        rc = main(["dataset", "build", "--source", "folder", "--root", str(tmp_path / "missing"), "--out",
                   str(tmp_path / "out")])
    assert rc == 2 and "no such folder" in caplog.text
    with caplog.at_level(logging.ERROR):
        assert main(["dataset", "merge", "--out", str(tmp_path / "empty")]) == 2
    assert "no <split>.shard-I-of-N.jsonl files" in caplog.text


def test_malformed_shard_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["dataset", "build", "--source", "folder", "--root", str(tmp_path), "--out", str(tmp_path),
              "--shard", "two"])
    assert e.value.code == 2
    assert "--shard must look like I/N" in capsys.readouterr().err


def test_another_dataset_command_can_be_registered(monkeypatch):
    monkeypatch.setattr(data_cli, "_COMMANDS", dict(data_cli._COMMANDS))

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--songs", type=int, default=1)
        p.set_defaults(func=lambda args: args.songs)

    data_cli.add_dataset_command("demo", configure, "a registered extra command")
    args = build_parser().parse_args(["dataset", "demo", "--songs", "7"])
    assert args.func(args) == 7
    assert build_parser().parse_args(["dataset", "build", "--source", "folder", "--root", "r", "--out", "o"]).jobs == 1
