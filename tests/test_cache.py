"""The decoded-audio cache: equals decoding, refuses stale files, resumes after a kill."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from mixdown.data import cache as C
from mixdown.data.dataset import MixDataset
from sessions import make_corpus

SR = 8000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), sr=SR, seconds=1.0, songs=3)


def _files(manifest):
    return [p for p, _, _ in C.manifest_files(manifest)]


def test_cache_round_trip_equals_decoding(corpus, tmp_path):
    counts = C.build_cache([corpus["train"], corpus["val"]], tmp_path / "c", shard_mb=0)  # a shard per file
    files = _files(corpus["train"]) + _files(corpus["val"])
    assert counts == {"cached": 0, "decoded": len(files)}
    cache = C.AudioCache(tmp_path / "c", [corpus["train"], corpus["val"]])
    assert len({e["shard"] for e in cache.entries.values()}) > 1
    for path in files:
        ref, _ = sf.read(path, dtype="float32", always_2d=True)
        np.testing.assert_array_equal(cache.read(path, 0, 10 ** 9), ref)
        np.testing.assert_array_equal(cache.read(path, 1000, 500), ref[1000:1500])
        assert cache.read(path, len(ref) - 10, 500).shape[0] == 10
    # the dataset gives the same items from the cache as from the files
    plain = MixDataset(corpus["train"], segment_s=0.5, sample_rate=SR, max_tracks=4, deterministic=True)
    cached = MixDataset(corpus["train"], segment_s=0.5, sample_rate=SR, max_tracks=4, deterministic=True,
                        cache_dir=tmp_path / "c")
    a, b = plain[0], cached[0]
    for key in ("tracks", "mix", "mask"):
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert a["tracks"].abs().max() > 0


def test_stale_files_are_detected(corpus, tmp_path):
    C.build_cache([corpus["train"]], tmp_path / "c")
    manifest = tmp_path / "train.jsonl"
    recs = [json.loads(line) for line in corpus["train"].read_text().splitlines()]
    victim = recs[0]["tracks"][0]["path"]
    st = os.stat(victim)
    for r in recs:  # a manifest that records sizes and mtimes, as the builders write them
        for e in [*r["tracks"], r["mix"]]:
            s = os.stat(e["path"])
            e["file_size"], e["mtime"] = s.st_size, s.st_mtime
    recs[0]["tracks"][0]["mtime"] = st.st_mtime + 10.0  # the manifest was rebuilt after an edit
    manifest.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(C.CacheError, match="stale"):
        C.AudioCache(tmp_path / "c", [manifest])
    with pytest.raises(C.CacheError, match="changed since"):  # the file itself differs from its manifest
        C.build_cache([manifest], tmp_path / "c")
    with pytest.raises(C.CacheError, match="not cached"):
        C.AudioCache(tmp_path / "c", [corpus["val"]])
    C.AudioCache(tmp_path / "c", [corpus["train"]])  # the untouched manifest still matches


def test_build_resumes_after_an_interruption(corpus, tmp_path, monkeypatch):
    files = _files(corpus["train"])
    real, calls = C.decode, []

    def dying(path):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(path)
        return real(path)

    monkeypatch.setattr(C, "decode", dying)
    with pytest.raises(KeyboardInterrupt):
        C.build_cache([corpus["train"]], tmp_path / "c")
    shard = tmp_path / "c" / "shard-00000.bin"
    with open(shard, "ab") as fh:  # a write that the index never recorded
        fh.write(b"\x01\x02" * 999)
    with open(tmp_path / "c" / "index.jsonl", "a") as fh:  # and a torn index line
        fh.write('{"path": "x", "file_si')
    monkeypatch.setattr(C, "decode", real)
    counts = C.build_cache([corpus["train"]], tmp_path / "c")
    assert counts == {"cached": 3, "decoded": len(files) - 3}
    cache = C.AudioCache(tmp_path / "c", [corpus["train"]])
    for path in files:
        np.testing.assert_array_equal(cache.read(path, 0, 10 ** 9), sf.read(path, dtype="float32", always_2d=True)[0])
    assert C.build_cache([corpus["train"]], tmp_path / "c") == {"cached": len(files), "decoded": 0}


def test_cli_builds_a_cache_the_dataset_reads(corpus, tmp_path):
    from mixdown.cli import main

    assert main(["dataset", "cache", str(corpus["val"]), "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    ds = MixDataset(corpus["val"], segment_s=0.5, sample_rate=SR, deterministic=True, cache_dir=tmp_path / "c")
    assert ds[0]["mix"].abs().max() > 0
