"""Synthetic corpus: real soundfont rendering end to end, the recording variation and the mix prior.

Rendering tests need fluidsynth and a General MIDI soundfont (``scripts/setup_system.sh``); the
song tests also need ``mma``; the corpus test needs the renderer. Each skips with the reason.
"""

import math

import numpy as np
import pytest
import soundfile as sf

from mixdown.data import compose, prior, synth
from mixdown.data.roles import prior_role_of
from mixdown.params import spec as S
from mixdown.params.io import read_params

mido = pytest.importorskip("mido", reason="mido is needed to build MIDI (pip install mido)")
SR = 32000  # not fluidsynth's default rate, so the rate option is exercised
_SYNTH = synth.missing_tools()
_MMA = synth.missing_tools(need_mma=True)
needs_synth = pytest.mark.skipif(_SYNTH is not None, reason=f"cannot render MIDI here: {_SYNTH}")
needs_mma = pytest.mark.skipif(_MMA is not None, reason=f"cannot compose songs here: {_MMA}")
_CORPUS = synth.missing_tools(need_mma=True, need_music21=True)
needs_corpus_tools = pytest.mark.skipif(_CORPUS is not None, reason=f"cannot make a corpus here: {_CORPUS}")
needs_render = pytest.mark.skipif(synth._renderer() is None,
                                  reason="mixdown.dsp.render.render_to_file is not available yet")


def _note(t, note, dur, vel=100):
    return [(t, mido.Message("note_on", note=note, velocity=vel)),
            (t + dur, mido.Message("note_off", note=note))]


def tiny_song() -> compose.Song:
    """Two bars at 120 bpm (2 s): a drum pattern, a bass line, piano chords and a flute line."""
    tpb = 480
    drums = [e for b in range(8) for e in _note(b * tpb, 36 if b % 2 == 0 else 38, 100)
             + _note(b * tpb + tpb // 2, 42, 100, 70)]
    bass = [e for b in range(8) for e in _note(b * tpb, (36, 43)[b % 2], tpb - 20)]
    keys = [e for b in (0, 4) for n in (60, 64, 67) for e in _note(b * tpb, n, 4 * tpb - 20, 70)]
    lead = [e for b, n in enumerate((72, 74, 76, 77, 79, 77, 76, 74)) for e in _note(b * tpb, n, tpb - 40)]
    parts = [compose.Part("drums", 0, [(t, m.copy(channel=9)) for t, m in drums], drum=True),
             compose.Part("bass", 33, bass), compose.Part("keys", 0, keys), compose.Part("lead", 73, lead),
             compose.Part("keys", 4, [(t, mido.Message("control_change", control=10, value=0)) for t in (0,)]
                        + [e for e in _note(0, 48, 200)])]
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=500000))]
    return compose.Song(tpb, conductor, parts, limit_tick=8 * tpb, length_s=2.0)


# ----------------------------------------------------------------------------- no external tools
def test_gm_roles_and_chords():
    assert [compose.gm_role(p) for p in (0, 11, 25, 33, 40, 48, 56, 66, 73, 89)] == \
        ["keys", "keys", "guitar", "bass", "strings", "strings", "brass", "winds", "winds", "pad"]
    assert compose._chord("bVII", 0) == ("Bb", frozenset({10, 2, 5}))
    assert compose._chord("ii7", 2) == ("Em7", frozenset({4, 7, 11, 2}))


def test_split_stems_names_programs_and_dry_controllers():
    stems = synth.split_stems(tiny_song(), split_drums=True)
    assert [s.name for s in stems] == ["kick", "snare", "kit", "bass", "keys", "lead", "keys_2"]
    for s in stems:
        msgs = list(s.midi.tracks[0])
        assert not any(m.type == "control_change" and m.control in (10, 91, 93) for m in msgs)
        progs = [m for m in msgs if m.type == "program_change"]
        assert len(progs) == 1 and (progs[0].channel == 9) == (s.role in ("kick", "snare", "kit"))
    kick = {m.note for m in stems[0].midi.tracks[0] if m.type == "note_on"}
    assert kick == {36}
    assert [s.name for s in synth.split_stems(tiny_song())][0] == "drums"


def test_music21_piece_becomes_instrument_parts():
    pytest.importorskip("music21", reason="music21 is needed for corpus pieces (pip install music21)")
    assert all(not p.endswith(".krn") for p in compose._m21_pieces("bach"))
    assert "monteverdi/madrigal.5.4.mxl" not in compose._m21_pieces("monteverdi")  # carries a rights notice
    rng = np.random.default_rng(0)
    plan = compose.plan_song(rng, source="music21", composer="bach", piece="bach/bwv66.6.mxl",
                           ensemble="mixed")
    song = compose.compose(plan, rng, 10.0)
    stems = synth.split_stems(song)
    assert stems[0].name == "lead" and stems[-1].name == "bass" and 3 <= len(stems) <= 4
    assert song.length_s == pytest.approx(10.0) and song.meta["piece"] == "bach/bwv66.6.mxl"
    assert all(0 <= p < 128 for p in song.meta["programs"])


def test_record_variation_is_seeded_and_bounded():
    x = np.random.default_rng(0).standard_normal((SR * 3, 1)).astype(np.float32) * 0.1
    a, info = synth.record(x, SR, np.random.default_rng(5))
    b, _ = synth.record(x, SR, np.random.default_rng(5))
    c, _ = synth.record(x, SR, np.random.default_rng(6))
    assert a.shape == x.shape and np.array_equal(a, b) and not np.array_equal(a, c)
    assert 20 * np.log10(np.abs(a).max()) == pytest.approx(info["peak_dbfs"], abs=1e-3)
    assert -18 <= info["peak_dbfs"] <= -3 and abs(info["tilt_db"]) <= 3


def test_record_adds_subsonic_rumble_when_drawn():
    x = np.zeros((SR * 4, 1), np.float32)
    x[::400] = 0.5  # clicks: nothing below 30 Hz to speak of... rumble must add it
    for seed in range(20):
        y, info = synth.record(x, SR, np.random.default_rng(seed))
        if info["rumble_db"] is not None:
            spec = np.abs(np.fft.rfft(y[:, 0])) ** 2
            f = np.fft.rfftfreq(len(y), 1 / SR)
            assert spec[(f > 2) & (f < 30)].sum() / spec.sum() > 1e-4
            return
    pytest.fail("no seed drew rumble")


@pytest.mark.parametrize("seed", range(25))
def test_prior_values_in_range_and_role_rules(seed):
    rng = np.random.default_rng(seed)
    roles = ["kick", "snare", "kit", "bass", "guitar", "guitar", "keys", "strings", "pad", "lead", "brass",
             "drums", "winds", "lead_vocal", "backing_vocal"]
    names = [r if roles.index(r) == i else f"{r}_2" for i, r in enumerate(roles)]
    loud = rng.uniform(-40, -15, len(roles))
    p = prior.sample_mix_params(names, roles, loud, 44100, rng, stereo=[r in ("kit", "pad") for r in roles])
    for t in p.tracks:
        for s in S.TRACK_SPECS:
            assert S.check_value(s, t.values[s.name], 44100) is None, (t.name, s.name)
        v, role = t.values, prior_role_of(t.name)
        if role in ("kick", "bass", "lead", "lead_vocal"):
            assert v["pan"] == 0.0
        if role in ("kick", "bass", "drums"):  # "drums" is a whole kit, kick included
            assert v["highpass_hz"] <= 40.0
        else:
            assert v["highpass_hz"] >= 60.0
        assert v["compressor.ratio"] == 1.0 or 2.0 <= v["compressor.ratio"] <= 6.0
        assert all(abs(v[f"eq.{i}.gain_db"]) <= 5.0 for i in range(S.N_EQ_BANDS))
    for s in S.MASTER_SPECS:
        assert S.check_value(s, p.master.values[s.name], 44100) is None, s.name
    m = p.master.values
    assert 1.5 <= m["compressor.ratio"] <= 3.0 and m["compressor.attack_ms"] >= 10.0
    spread = [t.values["pan"] for t in p.tracks if prior.SETTINGS[prior_role_of(t.name)].pan == "spread"]
    assert min(spread) < 0 < max(spread)  # both sides used
    targets = np.array(list(p.extra["prior"]["track_target_lufs"].values()))
    bus = p.extra["prior"]["bus_target_lufs"]
    assert 10 * np.log10(np.sum(10 ** (targets / 10))) == pytest.approx(bus, abs=0.02)


def test_prior_lead_louder_than_pad_on_average():
    rel = [prior.loudness_targets(["lead", "pad"], np.random.default_rng(s), -20.0) for s in range(50)]
    assert np.mean([a - b for a, b in rel]) > 5.0


def test_prior_reverb_follows_role_and_genre():
    """Kick and bass drier than lead, strings and pads; funk's room shorter than pop's plates and
    classical halls; the low band decays at least as slowly and the high band faster than the mid."""
    roles = ["kick", "bass", "snare", "lead", "strings", "pad", "guitar"]
    sends: dict[str, list[float]] = {r: [] for r in roles}
    decay: dict[str, list[float]] = {}
    for seed in range(40):
        for genre in ("funk", "pop", "classical", None):
            p = prior.sample_mix_params(roles, roles, [-20.0] * len(roles), 44100, np.random.default_rng(seed),
                                        genre=genre)
            m = p.master.values
            assert m["reverb.decay_low_s"] >= m["reverb.decay_mid_s"] > m["reverb.decay_high_s"]
            assert 100.0 <= m["reverb.highpass_hz"] <= 400.0 and m["reverb.return_db"] == 0.0
            decay.setdefault(str(genre), []).append(m["reverb.decay_mid_s"])
            for t in p.tracks:
                assert t.values["reverb_send_db"] == -60.0 or -40.0 < t.values["reverb_send_db"] <= 0.0
                sends[t.name].append(t.values["reverb_send_db"])
    mean = {r: np.mean(v) for r, v in sends.items()}
    assert max(mean["kick"], mean["bass"]) < min(mean["lead"], mean["strings"], mean["pad"]) - 10.0
    assert max(decay["funk"]) < min(decay["pop"]) and max(decay["funk"]) < min(decay["classical"])


def test_prior_reverb_draws_leave_the_rest_unchanged():
    roles = ["kick", "bass", "lead", "pad"]

    def draw(genre):
        return prior.sample_mix_params(roles, roles, [-20.0] * 4, 44100, np.random.default_rng(3), genre=genre)

    a, b = draw("funk"), draw("classical")
    dry = [i for i, n in enumerate(S.TRACK_NAMES) if n != "reverb_send_db"]
    np.testing.assert_array_equal(a.track_matrix()[:, dry], b.track_matrix()[:, dry])
    keep = [i for i, n in enumerate(S.MASTER_NAMES) if not n.startswith("reverb.")]
    np.testing.assert_array_equal(a.master_vector()[keep], b.master_vector()[keep])
    assert a.master.values["reverb.decay_mid_s"] != b.master.values["reverb.decay_mid_s"]


# ----------------------------------------------------------------------------- fluidsynth
@pytest.mark.slow  # renders songs through fluidsynth (the corpus build)
@needs_synth
def test_rendered_stems_are_real_audio_at_the_rate(tmp_path):
    for stem in synth.split_stems(tiny_song()):
        x = synth.render_midi(stem.midi, SR, tmp_path, stem.name)
        assert x.dtype == np.float32 and x.shape[1] == 2 and len(x) >= 2 * SR
        assert 20 * np.log10(np.abs(x[:2 * SR]).max()) > -40.0, stem.name
        mid = x[:2 * SR].mean(1)  # a real instrument, not a sine: rich spectrum
        spec = np.abs(np.fft.rfft(mid)) ** 2
        assert np.sort(spec)[::-1][:20].sum() / spec.sum() < 0.9, stem.name


@pytest.mark.slow  # renders songs through fluidsynth (the corpus build)
@needs_synth
def test_stems_are_dry_no_reverb_tail(tmp_path):
    """A 0.25 s piano note has died away 0.6 s after its note-off (a reverb tail would ring on)."""
    tpb, ev = 480, [(0, mido.MetaMessage("set_tempo", tempo=500000)),
                    (0, mido.Message("program_change", program=0))] + _note(240, 60, 240)
    x = synth.render_midi(compose.midi_file(tpb, ev + [(tpb * 8, mido.Message("control_change", control=123))]),
                          SR, tmp_path, "note")
    env = np.abs(x).max(1)
    off = int(0.5 * SR)  # note-off at 0.5 s
    assert len(x) > off + SR
    peak = env[:off].max()
    tail = env[off + int(0.6 * SR):off + SR].max()
    # dry: about -75 dB; the same note through fluidsynth's reverb and chorus reads about -52 dB
    assert 20 * np.log10(tail / peak + 1e-12) < -65.0


@pytest.mark.slow  # renders songs through fluidsynth (the corpus build)
@needs_mma
def test_make_song_names_rate_and_determinism(tmp_path):
    def run(d):
        rng = np.random.default_rng(11)
        plan = compose.plan_song(rng, source="mma", genre="rock", groove="8Beat", pad=48, split_drums=False,
                                 vocal=False, sampled_drums=False)
        return synth.make_song(d, rng, plan, seconds=3.0, sample_rate=SR, render_mix=False)

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a["tracks"] == b["tracks"]
    assert {"drums", "bass", "lead", "strings"} <= set(a["tracks"])
    assert len(set(a["tracks"])) == len(a["tracks"])
    for name in a["tracks"]:
        info = sf.info(str(tmp_path / "a" / "tracks" / f"{name}.flac"))
        assert (info.samplerate, info.frames, info.subtype, info.format) == (SR, 3 * SR, "PCM_24", "FLAC")
        xa, _ = sf.read(str(tmp_path / "a" / "tracks" / f"{name}.flac"))
        xb, _ = sf.read(str(tmp_path / "b" / "tracks" / f"{name}.flac"))
        assert np.array_equal(xa, xb), name
        assert 20 * np.log10(np.abs(xa).max()) > -20.0
    pa, pb = read_params(tmp_path / "a" / "params.json"), read_params(tmp_path / "b" / "params.json")
    assert np.array_equal(pa.track_matrix(), pb.track_matrix())
    assert [t.file for t in pa.tracks] == [f"tracks/{n}.flac" for n in a["tracks"]]


@pytest.mark.slow  # renders songs through fluidsynth (the corpus build)
@needs_corpus_tools
@needs_render
def test_tiny_corpus_renders_and_resumes(tmp_path):
    res = synth.synthesize_corpus(tmp_path, 1, seed=0, seconds=5.0, progress=False)
    song = tmp_path / res[0]["song"]
    assert [p.name for p in tmp_path.iterdir()] == [song.name]  # no temporary folder left
    params = read_params(song / "params.json")
    assert all((song / t.file).is_file() and t.file.startswith("tracks/") for t in params.tracks)
    assert any(t.values["reverb_send_db"] > -60.0 for t in params.tracks)  # the reference mix has a reverb
    mix, sr = sf.read(str(song / "reference_mix.flac"), always_2d=True)
    assert sr == 44100 and mix.shape == (5 * 44100, 2)
    assert -40.0 < 20 * math.log10(np.abs(mix).max()) <= 0.0
    from mixdown.dsp.render import render
    again = render(song, params).audio
    assert np.abs(again - mix).max() < 2 ** -22  # the reference is the params' mix (24-bit quantised)
    mtime = (song / "reference_mix.flac").stat().st_mtime_ns
    assert synth.synthesize_corpus(tmp_path, 1, seed=0, seconds=5.0, progress=False)[0].get("skipped")
    assert (song / "reference_mix.flac").stat().st_mtime_ns == mtime


@pytest.mark.slow  # renders a song through fluidsynth and mixes it
@needs_corpus_tools
@needs_render
def test_corpus_song_with_an_engineers_mix(tmp_path):
    """`--targets engineers`: the reference mix is rendered from an engineer's transplanted mix."""
    from mixdown.data.mixology import TEST_SONGS, read_mixologydb

    res = synth.synthesize_corpus(tmp_path, 1, seed=2, seconds=4.0, progress=False, targets="engineers")
    song = tmp_path / res[0]["song"]
    params = read_params(song / "params.json")
    src = params.extra["engineer"]
    assert src["song"] not in TEST_SONGS and set(src["donors"]) == {t.name for t in params.tracks}
    db = read_mixologydb()
    donors = {d.name: d for d in db.decisions if d.song == src["song"] and d.mix == src["mix"]}
    for t in params.tracks:  # the donor's high-pass and send, as the engineer set them
        d = donors[src["donors"][t.name]]
        assert t.values["highpass_hz"] == pytest.approx(min(d.values["highpass_hz"], 0.45 * 44100))
        assert t.values["reverb_send_db"] == pytest.approx(d.values["reverb_send_db"])
    mix, sr = sf.read(str(song / "reference_mix.flac"), always_2d=True)
    from mixdown.dsp.render import render
    assert np.abs(render(song, params).audio - mix).max() < 2 ** -22
