"""The MIDI builder: channels and the composer's controllers, neutral stem MIDI, excerpts, discovery and,
with fluidsynth, an end-to-end build whose stems times the composer's gains match the mix in band power."""

import shutil

import numpy as np
import pytest
import soundfile as sf

mido = pytest.importorskip("mido")

from mixdown.data.build import build_dataset  # noqa: E402
from mixdown.data.builders import midi as MB  # noqa: E402
from mixdown.data.builders import midi_song as M  # noqa: E402
from mixdown.data.builders.rendered import band_db  # noqa: E402
from mixdown.data.manifest import SPLITS, hash_split, read_manifest  # noqa: E402

TPB = 480


def cc(ch, control, value, time=0):
    return mido.Message("control_change", channel=ch, control=control, value=value, time=time)


def song(path, seconds=8.0, tempo=500000, mix=None):
    """A 3-channel song (piano ch1, bass ch2, drums ch10), one note per beat; ``mix``: {ch: (cc7, cc10, cc91)}."""
    mix = mix or {0: (60, 20, 80), 1: (127, 100, 0), 9: (90, 64, 30)}
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    mid.tracks.append(meta)
    beats = int(seconds / (tempo / 1e6))
    for ch, prog, key in ((0, 0, 64), (1, 33, 40), (9, 0, 36)):
        tr = mido.MidiTrack()
        if ch != 9:
            tr.append(mido.Message("program_change", channel=ch, program=prog, time=0))
        v, p, r = mix[ch]
        tr += [cc(ch, 7, v), cc(ch, 10, p), cc(ch, 91, r)]
        for b in range(beats):
            tr.append(mido.Message("note_on", channel=ch, note=key + (b % 3) * 2, velocity=100, time=0))
            tr.append(mido.Message("note_off", channel=ch, note=key + (b % 3) * 2, velocity=0, time=TPB))
        mid.tracks.append(tr)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def test_channels_names_roles_and_the_composers_controllers(tmp_path):
    mid = M.read_midi(song(tmp_path / "a.mid"))
    chans = M.channels(mid)
    assert [(c.channel, c.program, c.name, c.role) for c in chans] == [
        (0, 0, "ch01-piano", "keys"), (1, 33, "ch02-bass", "bass"), (9, 0, "ch10-drums", "drums")]
    piano = chans[0]
    assert piano.value_at(7, 0.0) == 60 and piano.value_at(10, 3.0) == 20 and piano.value_at(93, 1.0) == 0
    assert piano.summary(91, 0.0, 5.0) == {"start": 80, "min": 80, "max": 80}
    fresh = M.Channel(3, 0, "x", "keys", {7: [(2.0, 50), (4.0, 110)]})
    assert fresh.value_at(7, 1.0) == 100 and fresh.value_at(91, 0.0) == 40  # General MIDI defaults
    assert fresh.summary(7, 1.0, 5.0) == {"start": 100, "min": 50, "max": 110}


def test_stem_midi_keeps_one_channel_with_neutral_controllers(tmp_path):
    mid = M.read_midi(song(tmp_path / "a.mid"))
    mid.tracks[1].insert(10, cc(0, 7, 20))  # a fade mid-song
    mid.tracks[1].insert(11, cc(0, 93, 90))
    stem = M.stem_midi(mid, 0)
    msgs = [(t, m) for tr in stem.tracks for t, m in M._absolute(tr)]
    chan = [m for _, m in msgs if hasattr(m, "channel")]
    assert {m.channel for m in chan} == {0}
    ccs = [(m.control, m.value) for m in chan if m.type == "control_change"]
    assert {v for c, v in ccs if c == 7} == {100} and {v for c, v in ccs if c == 10} == {64}
    assert {v for c, v in ccs if c in (91, 93)} == {0}
    notes = lambda f: [(t, m.note) for tr in f.tracks for t, m in M._absolute(tr)  # noqa: E731
                       if m.type == "note_on" and m.channel == 0]
    assert notes(stem) == notes(mid)  # the performance is untouched, at the same ticks
    assert any(m.type == "set_tempo" for _, m in msgs)
    assert [m.program for m in chan if m.type == "program_change"] == [0]


def test_truncate_cuts_at_a_time_through_tempo_changes(tmp_path):
    mid = M.read_midi(song(tmp_path / "a.mid", seconds=8.0))
    mid.tracks[0].append(mido.MetaMessage("set_tempo", tempo=250000, time=TPB * 4))  # 2 s at 120, then 240 bpm
    assert M.seconds_to_tick(mid, 1.0) == TPB * 2
    assert M.seconds_to_tick(mid, 3.0) == TPB * 4 + TPB * 4
    cut = M.truncate(mid, 3.0)
    last = max(t for tr in cut.tracks for t, m in M._absolute(tr))
    assert last == TPB * 8
    offs = [m for tr in cut.tracks for t, m in M._absolute(tr) if m.type == "control_change" and m.control == 123]
    assert len(offs) == 16
    for tr in cut.tracks:  # every note that starts also ends, none starts at the cut
        on = [(m.channel, m.note) for t, m in M._absolute(tr) if m.type == "note_on" and m.velocity > 0]
        off = [(m.channel, m.note) for t, m in M._absolute(tr) if m.type == "note_off" or
               (m.type == "note_on" and m.velocity == 0)]
        assert sorted(on) == sorted(off)
        assert all(t < TPB * 8 for t, m in M._absolute(tr) if m.type == "note_on" and m.velocity > 0)


def test_excerpts():
    assert MB.excerpts(8.0) == [(0.0, 8.0)]
    assert MB.excerpts(65.0) == [(0.0, 30.0), (30.0, 60.0)]  # a 5-s tail is too short
    assert MB.excerpts(75.0)[-1] == (60.0, 75.0)
    assert len(MB.excerpts(1800.0)) == MB.MAX_EXCERPTS


def test_discovery_excerpts_share_the_song_split_and_bad_files_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(MB.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr("mixdown.data.synth.find_soundfont", lambda: tmp_path / "gm.sf2")
    root = tmp_path / "songs"
    song(root / "pack" / "long.mid", seconds=65.0)
    song(root / "short.mid", seconds=6.0)
    (root / "broken.mid").write_bytes(b"MThd\x00\x00")
    silent = mido.MidiFile()
    silent.tracks.append(mido.MidiTrack([cc(0, 7, 10)]))
    silent.save(str(root / "quiet.mid"))
    found = MB.discover(root)
    assert [s.song for s in found.songs] == ["pack/long/00", "pack/long/01", "short/00"]
    assert {s.split for s in found.songs[:2]} == {hash_split("long")}
    assert found.songs[1].meta["start_s"] == 30.0 and found.songs[0].tracks[0].meta["cc7"]["start"] == 60
    reasons = {k.song: k.reason for k in found.skipped}
    assert "unreadable MIDI file" in reasons["broken"] and "broken.mid" in reasons["broken"]
    assert reasons["quiet"] == "no notes"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_build_renders_honest_pairs(tmp_path):
    from mixdown.data.synth import find_soundfont

    if find_soundfont() is None:
        pytest.skip("no General MIDI soundfont")
    song(tmp_path / "songs" / "demo.mid", seconds=6.0)
    report = build_dataset("midi", tmp_path / "songs", tmp_path / "out", progress=False)
    (rec,) = [r for s in SPLITS for r in read_manifest(tmp_path / "out" / f"{s}.jsonl")]
    assert rec.song == "demo/00" and [t.name for t in rec.tracks] == ["ch01-piano", "ch02-bass", "ch10-drums"]
    assert report.skipped == [] and rec.mix.frames == rec.tracks[0].frames
    mix, sr = sf.read(rec.mix.path)
    plain, weighted = np.zeros(10), np.zeros(10)
    for t in rec.tracks:
        x, _ = sf.read(t.path)
        if t.name == "ch02-bass":  # a mono patch the composer panned right (CC10 = 100): centred in the stem
            assert np.allclose(x[:, 0], x[:, 1], atol=1e-3 * np.abs(x).max())
        gain = (t.meta["cc7"]["start"] / 100) ** 2  # GM volume curve: amplitude ~ CC7 squared
        theta = (t.meta["cc10"]["start"] - 64) / 64 * np.pi / 4 + np.pi / 4  # constant-power pan
        lr = np.array([np.cos(theta), np.sin(theta)]) / np.cos(np.pi / 4)
        plain += 10 ** (band_db(x, sr) / 10)
        weighted += 10 ** (band_db(x * lr * gain, sr) / 10)
    target = band_db(mix, sr)
    err_weighted = np.mean(np.abs(10 * np.log10(weighted) - target))
    err_plain = np.mean(np.abs(10 * np.log10(plain) - target))
    assert err_weighted < 2.0, (err_weighted, err_plain)  # reverb and chorus add the rest
    assert err_weighted < err_plain - 1.0
    left_right = [band_db(mix[:, [c]], sr) for c in (0, 1)]
    assert np.mean(left_right[0] - left_right[1]) < -2  # the loud bass (CC7 = 127) is panned right (CC10 = 100)


def test_a_runaway_render_is_stopped_before_it_fills_the_disk(tmp_path):
    out = tmp_path / "out.wav"
    script = f"import time\nwith open({str(out)!r}, 'wb') as f:\n    while True:\n        f.write(bytes(1 << 20))\n" \
             "        f.flush()\n        time.sleep(0.01)\n"
    import sys

    from mixdown.data.fluid import run_capped

    code, why = run_capped([sys.executable, "-c", script], out, 5_000_000, 60)
    assert code == -1 and "passed 5 MB" in why and out.stat().st_size < 50_000_000


def test_a_key_signature_outside_the_standard_is_repaired_with_a_warning(tmp_path, caplog):
    """Some sequencers write key signatures mido refuses (Debian simutrans-data: 'mode 255');
    notation only, so the song reads with them as C major, the valid ones kept, and a warning."""
    path = song(tmp_path / "a.mid")
    mid = mido.MidiFile(str(path))
    mid.tracks[0].insert(0, mido.MetaMessage("key_signature", key="F", time=0))   # FF 59 02 FF 00
    mid.tracks[0].insert(1, mido.MetaMessage("key_signature", key="E", time=0))   # FF 59 02 04 00: valid
    mid.save(str(tmp_path / "b.mid"))
    data = (tmp_path / "b.mid").read_bytes()
    assert data.count(b"\xff\x59\x02\xff\x00") == 1
    (tmp_path / "b.mid").write_bytes(data.replace(b"\xff\x59\x02\xff\x00", b"\xff\x59\x02\xff\xff"))
    with pytest.raises(Exception, match="mode 255"):
        mido.MidiFile(str(tmp_path / "b.mid"))
    with caplog.at_level("WARNING"):
        fixed = M.read_midi(tmp_path / "b.mid")
    assert "b.mid" in caplog.text and "1 key signature" in caplog.text
    keys = [m.key for m in fixed.tracks[0] if m.type == "key_signature"]
    assert keys == ["C", "E"]
    notes = [[(m.type, m.note, m.time) for m in tr if m.type.startswith("note")] for tr in fixed.tracks]
    assert notes == [[(m.type, m.note, m.time) for m in tr if m.type.startswith("note")] for tr in mid.tracks]
    assert [c.name for c in M.channels(fixed)] == ["ch01-piano", "ch02-bass", "ch10-drums"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_the_composer_mix_renders_again_wet_as_the_pair_and_dry_as_the_stems_times_the_gm_gains(tmp_path):
    """The dry composer mix is what the composer's CC7/CC10 alone make of the stems (General MIDI's
    volume curve and pan law, not this code's), the wet one the pair's mix; what separates them is
    the renderer's reverb and chorus, which ``scripts/midi_mix_effects.py`` measures."""
    import json

    from mixdown.data.synth import find_soundfont
    from mixdown.measure.metrics import mrstft_distance, spectral_balance_error_db

    if find_soundfont() is None:
        pytest.skip("no General MIDI soundfont")
    song(tmp_path / "songs" / "demo.mid", seconds=6.0, mix={0: (60, 20, 127), 1: (127, 100, 127), 9: (90, 64, 127)})
    build_dataset("midi", tmp_path / "songs", tmp_path / "out", progress=False)
    (m,) = [tmp_path / "out" / f"{s}.jsonl" for s in SPLITS if read_manifest(tmp_path / "out" / f"{s}.jsonl")]
    rec = json.loads(m.read_text().splitlines()[0])
    mix, sr = sf.read(rec["mix"]["path"], dtype="float32")
    wet = MB.composer_mix(rec, wet=True)
    assert wet.shape == mix.shape and np.abs(wet - mix).max() < 1e-4
    dry = MB.composer_mix(rec, wet=False)
    weighted = 0
    for t in rec["tracks"]:
        x, _ = sf.read(t["path"], dtype="float32")
        gain = (t["meta"]["cc7"]["start"] / 100) ** 2
        theta = (t["meta"]["cc10"]["start"] - 64) / 64 * np.pi / 4 + np.pi / 4
        weighted = weighted + x * gain * np.array([np.cos(theta), np.sin(theta)]) / np.cos(np.pi / 4)
    assert spectral_balance_error_db(weighted.T, dry.T, sr)[1] < 0.5
    # the reverb (every send at 127) is in the wet mix only: it smears the notes in time
    gains_stft, effects_stft = mrstft_distance(weighted.T, dry.T, sr), mrstft_distance(dry.T, mix.T, sr)
    assert gains_stft < 0.3 and effects_stft > 3 * gains_stft, (gains_stft, effects_stft)
    effects_db = 10 * np.log10(np.sum((mix - dry) ** 2) / np.sum(dry**2))
    gains_db = 10 * np.log10(np.sum((weighted - dry) ** 2) / np.sum(dry**2))
    assert gains_db < effects_db - 8, (effects_db, gains_db)
    dry_vs_wet = spectral_balance_error_db(dry.T, mix.T, sr)[1]
    # the script's three comparisons on this manifest
    from scripts_helper import load_script

    mme = load_script("midi_mix_effects")
    (res,) = mme.main([str(m)]).values()
    assert res["excerpts"] == 1
    assert abs(res["dry_vs_mix"]["balance_db"] - dry_vs_wet) < 0.01
    plain = sum(sf.read(t["path"], dtype="float32")[0] for t in rec["tracks"])
    assert abs(res["sum_vs_dry"]["balance_db"] - spectral_balance_error_db(plain.T, dry.T, sr)[1]) < 0.01
    # refused, naming the song: another source's record, a song whose MIDI file is gone
    with pytest.raises(ValueError, match="demo/00.*not an excerpt"):
        MB.composer_mix(dict(rec, source="lmms"))
    (tmp_path / "songs" / "demo.mid").unlink()
    with pytest.raises(ValueError, match="demo/00.*demo.mid is gone"):
        MB.composer_mix(rec)
