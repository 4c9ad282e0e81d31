"""MIDI music inside Doom WADs (Debian freedoom): extraction to .mid files the midi source builds from,
refusals of damaged files, and a build of two excerpts of one song in two workers (one render, shared)."""

import io
import logging
import shutil
import struct
import threading
import time

import pytest

mido = pytest.importorskip("mido")

from test_data_midi import song  # noqa: E402

from mixdown.data.builders import midi as MB  # noqa: E402
from mixdown.data.builders.wad import WadError, extract_midi, music_lumps  # noqa: E402
from mixdown.fileio import folder_lock  # noqa: E402


def wad(path, lumps, magic=b"IWAD"):
    """Write a WAD: header, the lumps' bytes, then the directory (as id Software's tools lay it out)."""
    body, entries, offset = b"", [], 12
    for name, blob in lumps:
        entries.append(struct.pack("<ii8s", offset, len(blob), name.encode()))
        body += blob
        offset += len(blob)
    path.write_bytes(magic + struct.pack("<ii", len(lumps), offset) + body + b"".join(entries))
    return path


def midi_bytes(tmp_path, name, **kw):
    return song(tmp_path / "src" / f"{name}.mid", **kw).read_bytes()


def test_music_lumps_are_extracted_once_each_and_rerun_leaves_them(tmp_path, caplog):
    a = midi_bytes(tmp_path, "a", seconds=45.0)
    b = midi_bytes(tmp_path, "b", mix={0: (30, 0, 0), 1: (100, 64, 0), 9: (127, 64, 0)})
    w1 = wad(tmp_path / "one.wad", [("MAP01", b"\0" * 40), ("D_RUNNIN", a), ("D_MUSIC", b"MUS\x1a" + b"\0" * 20),
                                    ("D_AGAIN", a), ("PLAYPAL", b"\1" * 30)])
    w2 = wad(tmp_path / "two.wad", [("D_E1M1", b), ("D_ODD", b"RIFF0000")], magic=b"PWAD")
    assert [n for n, _ in music_lumps(w1)] == ["D_RUNNIN", "D_MUSIC", "D_AGAIN"]
    out = tmp_path / "songs"
    with caplog.at_level(logging.INFO, logger="mixdown.data.builders.wad"):
        files = extract_midi([w1, w2], out)
    assert files == [out / "one" / "d_runnin.mid", out / "two" / "d_e1m1.mid"]
    assert files[0].read_bytes() == a and files[1].read_bytes() == b
    log = caplog.text
    assert "D_AGAIN repeats" in log and "MUS format" in log and "D_ODD is neither MIDI nor MUS" in log
    stamp = files[0].stat().st_mtime_ns
    assert extract_midi([w1, w2], out) == files and files[0].stat().st_mtime_ns == stamp
    assert sorted(p.name for p in out.rglob("*")) == ["d_e1m1.mid", "d_runnin.mid", "one", "two"]  # no temporaries
    # the extracted songs are what the midi source finds, with the composer's controllers
    found = MB.discover(out) if shutil.which("fluidsynth") else None
    if found is not None:
        assert [s.song for s in found.songs] == ["one/d_runnin/00", "one/d_runnin/01", "two/d_e1m1/00"]
        assert found.songs[2].tracks[0].meta["cc7"]["start"] == 30


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 a zip, not a wad", "not a WAD file"),
    (b"IWAD" + struct.pack("<ii", 5, 4000), "damaged WAD directory"),
    (b"IWAD" + struct.pack("<ii", 1, 12) + struct.pack("<ii8s", 9999, 10, b"D_X"), "lump D_X lies outside"),
])
def test_damaged_wads_are_refused_by_name(tmp_path, content, message):
    path = tmp_path / "bad.wad"
    path.write_bytes(content)
    with pytest.raises(WadError, match=message) as info:
        extract_midi([path], tmp_path / "out")
    assert "bad.wad" in str(info.value) and not (tmp_path / "out").exists()
    with pytest.raises(WadError, match="cannot read"):
        music_lumps(tmp_path / "missing.wad")


def test_folder_lock_makes_a_second_worker_wait(tmp_path):
    order, held = [], threading.Event()

    def first():
        with folder_lock(tmp_path / "song"):
            held.set()
            time.sleep(0.3)
            order.append("first done")

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    with folder_lock(tmp_path / "song"):
        order.append("second")
    t.join()
    assert order == ["first done", "second"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_two_workers_build_two_excerpts_of_one_song_from_one_render(tmp_path):
    """``--jobs 2``: both excerpts of a song render it once (they used to race in one work folder)."""
    from mixdown.data.build import build_dataset
    from mixdown.data.manifest import SPLITS, read_manifest
    from mixdown.data.synth import find_soundfont

    if find_soundfont() is None:
        pytest.skip("no General MIDI soundfont")
    w = wad(tmp_path / "game.wad", [("D_SONG", io.BytesIO(midi_bytes(tmp_path, "s", seconds=42.0)).read())])
    extract_midi([w], tmp_path / "songs")
    report = build_dataset("midi", tmp_path / "songs", tmp_path / "out", jobs=2, progress=False)
    recs = [r for s in SPLITS for r in read_manifest(tmp_path / "out" / f"{s}.jsonl")]
    assert sorted(r.song for r in recs) == ["game/d_song/00", "game/d_song/01"] and report.skipped == []
    assert all(len(r.tracks) == 3 for r in recs)
