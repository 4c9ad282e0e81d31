"""Recorded drum kits (:mod:`mixdown.data.drumkits`): kit parsing, GM note mapping, sample placement.

Most tests build their own small Hydrogen kit in ``tmp_path`` (so they run anywhere); the
installed-kit tests need ``hydrogen-drumkits`` / ``avldrums.lv2-soundfont``
(``scripts/setup_system.sh``) and skip with the reason when they are absent.
"""

import numpy as np
import pytest
import soundfile as sf

from mixdown.data import drumkits as D
from mixdown.data import synth
from mixdown.data.midinotes import Note

SR = 32000
_KITS = [k for k in D.find_kits() if k.kind == "hydrogen"]
_SF2 = [k for k in D.find_kits() if k.kind == "sf2"]
_SYNTH = synth.missing_tools()
needs_kits = pytest.mark.skipif(not _KITS, reason="no Hydrogen drum kit installed (scripts/setup_system.sh)")

KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name><volume>0.9</volume><pan_L>1</pan_L><pan_R>0.5</pan_R>
   <muteGroup>-1</muteGroup>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>0.8</gain></layer>
  </instrument>
  <instrument><id>1</id><name>Snare</name><volume>1</volume><pan_L>1</pan_L><pan_R>1</pan_R>
   <filename>snare.wav</filename></instrument>
  <instrument><id>2</id><name>Closed HH</name><volume>1</volume><pan_L>1</pan_L><pan_R>1</pan_R>
   <muteGroup>1</muteGroup><layer><filename>hh_closed.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>3</id><name>Open HH</name><volume>1</volume><pan_L>1</pan_L><pan_R>1</pan_R>
   <muteGroup>1</muteGroup><layer><filename>hh_open.wav</filename><min>0</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>4</id><name>Muted Crash</name><isMuted>true</isMuted>
   <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
 </instrumentList>
</drumkit_info>
"""


def burst(seed, seconds, decay_s):
    """A decaying noise burst: every sample differs, so a misplaced copy cannot match."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    return (0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / (decay_s * SR))).astype(np.float32)


@pytest.fixture
def kit(tmp_path):
    samples = {"kick_soft": burst(1, 0.2, 0.05), "kick_hard": burst(2, 0.2, 0.05), "snare": burst(3, 0.15, 0.04),
               "hh_closed": burst(4, 0.05, 0.01), "hh_open": burst(5, 0.8, 0.3)}
    for name, x in samples.items():
        sf.write(tmp_path / f"{name}.wav", x, SR, subtype="FLOAT")
    (tmp_path / "drumkit.xml").write_text(KIT_XML)
    return D.load_hydrogen_kit(tmp_path), samples


@pytest.mark.parametrize("name, cls", [
    ("Sabian Hat Closed", "hh_closed"), ("Hi-Hat Pedal (Paiste Alpha)", "hh_pedal"), ("VariBreaks Hat 1 Op", "hh_open"),
    ("Closed HH", "hh_closed"), ("Pearl Tom Floor", "tom_low"), ("Tom Mid", "tom_mid"), ("Pearl Tom 1", "tom_high"),
    ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"), ("Kick Lite 1", "kick"), ("Pearl Side Stick", "stick"),
    ("Snare Jazz", "snare"), ("Snare Roll", None), ("ride-cup", "ride_bell"), ("Paiste Ride", "ride"),
    ("China (Paiste Alpha 18\")", "china"), ("Crash Left", "crash"), ("Hand Clap", "clap"), ("Djembe1 Slap", None)])
def test_drum_class_of_instrument_names(name, cls):
    assert D.drum_class(name) == cls


def test_kit_parsing_and_gm_note_map(kit):
    k, _ = kit
    assert k.name == "Test Kit" and [i.name for i in k.instruments] == ["Kick", "Snare", "Closed HH", "Open HH"]
    kick = k.instruments[0]
    assert [(ly.path.name, ly.vmin, ly.vmax, ly.gain) for ly in kick.layers] == [
        ("kick_soft.wav", 0.0, 0.5, 1.0), ("kick_hard.wav", 0.5, 1.0, 0.8)]
    assert (kick.volume, kick.pan_l, kick.pan_r) == (0.9, 1.0, 0.5)
    names = {n: i.name for n, i in k.note_map().items()}
    assert names == {35: "Kick", 36: "Kick", 37: "Snare", 38: "Snare", 40: "Snare", 42: "Closed HH",
                     44: "Closed HH", 46: "Open HH"}
    assert k.notes() == frozenset(names)


def test_render_places_velocity_layers_at_the_onsets(kit):
    k, s = kit
    notes = [Note(0.25, 0.1, 36, 127), Note(0.5, 0.1, 38, 100), Note(0.75, 0.1, 36, 40), Note(0.9, 0.1, 63, 100)]
    out = k.render(notes, SR, SR + 100)
    want = np.zeros((SR + 100, 2), np.float32)
    for t, x, gain, pan in ((0.25, s["kick_hard"], 1.0 * 0.8 * 0.9, (1.0, 0.5)), (0.5, s["snare"], 100 / 127, (1, 1)),
                            (0.75, s["kick_soft"], 40 / 127 * 0.9, (1.0, 0.5))):
        a = int(round(t * SR))
        want[a:a + len(x)] += x[:, None] * gain * np.array(pan, np.float32)
    np.testing.assert_allclose(out, want, atol=1e-6)      # note 63 (a conga) is not in the kit: silent


def test_mute_group_cuts_the_open_hat(kit):
    k, s = kit
    out = k.render([Note(0.1, 0.1, 46, 127), Note(0.4, 0.1, 42, 127)], SR, SR)
    a, b = int(0.1 * SR), int(0.4 * SR)
    fade = int(0.005 * SR)
    np.testing.assert_allclose(out[a:b, 0], s["hh_open"][: b - a], atol=1e-6)       # open until the closed hat
    after = out[b + fade:b + len(s["hh_closed"]), 0]
    np.testing.assert_allclose(after, s["hh_closed"][fade:], atol=1e-6)             # then only the closed hat
    assert np.abs(out[b + len(s["hh_closed"]):, 0]).max() == 0.0


def test_samples_are_resampled_to_the_render_rate(kit):
    k, s = kit
    out = k.render([Note(0.0, 0.1, 38, 127)], 2 * SR, 2 * SR)
    n = 2 * len(s["snare"])
    assert np.abs(out[:n]).max() > 0.1 and np.abs(out[n + 50:]).max() < 1e-3


@needs_kits
def test_installed_kit_sample_lands_on_the_note(kit):
    k = next(k for k in _KITS if "Pearl" in k.name) if any("Pearl" in k.name for k in _KITS) else _KITS[0]
    ins = k.note_map()[36]
    layer = max(ins.layers, key=lambda ly: ly.vmax)          # velocity 127: the hardest layer
    x, fs = sf.read(str(layer.path), dtype="float32", always_2d=True)
    out = k.render([Note(0.3, 0.2, 36, 127), Note(0.8, 0.2, 38, 127)], fs, fs * 2)
    ref = x[:, 0]
    seg = out[: int(0.7 * fs), 0]
    corr = np.correlate(seg, ref[: int(0.1 * fs)], mode="valid")
    assert int(np.argmax(np.abs(corr))) == int(round(0.3 * fs))
    assert np.abs(out[: int(0.3 * fs)]).max() == 0.0       # nothing before the first note


@pytest.mark.skipif(not (_SF2 and _SYNTH is None), reason="no AVL kit soundfont or no fluidsynth")
def test_avl_soundfont_kit_notes_are_probed():
    notes = _SF2[0].notes()
    assert {36, 38, 42, 46, 49, 51} <= notes
    assert all(n in D.GM_NOTES for n in notes)


@pytest.mark.skipif(_SYNTH is not None, reason=f"cannot render MIDI here: {_SYNTH}")
def test_drum_stem_sends_notes_the_kit_lacks_to_the_gm_soundfont(kit, tmp_path):
    mido = pytest.importorskip("mido")
    from mixdown.data.compose import midi_file

    k, s = kit
    tpb = 480
    ev = [(0, mido.MetaMessage("set_tempo", tempo=500000))]
    for t, note in ((0, 36), (tpb, 63), (2 * tpb, 38)):       # 63: open high conga, not in the kit
        ev += [(t, mido.Message("note_on", channel=9, note=note, velocity=127)),
               (t + 100, mido.Message("note_off", channel=9, note=note))]
    out = D.render_drum_stem(midi_file(tpb, ev), k, SR, tmp_path, "drums")
    kit_only = k.render([Note(0.0, 0.1, 36, 127), Note(1.0, 0.1, 38, 127)], SR, len(out))
    gm = out - kit_only
    conga = gm[int(0.5 * SR):int(0.75 * SR)]
    assert 20 * np.log10(np.abs(conga).max()) > -40.0                # the conga, from the soundfont
    assert np.abs(gm[: int(0.45 * SR)]).max() < 1e-6                 # the kick came from the kit only
