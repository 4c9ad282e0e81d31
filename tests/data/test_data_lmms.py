"""The LMMS builder: project reading, neutral stem projects, reserved projects, manifests (rendering faked)
and, when LMMS is installed, real repeatable renders."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from lmms_fixtures import PROJECT, write_demo

from mixdown.data.build import BuildError, build_dataset
from mixdown.data.builders import lmms as L
from mixdown.data.builders import lmms_project as P
from mixdown.data.builders import lmms_render as R
from mixdown.data.builders import rendered as RD
from mixdown.data.manifest import SPLITS, hash_split, read_manifest

needs_factory_samples = pytest.mark.skipif(R.resolve_sample("drums/kick01.ogg", Path("/x")) is None,
                                           reason="LMMS factory samples (lmms-common) not installed")


def _track(doc, name):
    return next(t for t in doc.iter("track") if t.get("name") == name)


@pytest.mark.parametrize("compressed", [True, False])
def test_read_project_lists_stems_of_song_beat_bassline_and_sample_tracks(tmp_path, compressed):
    doc = P.read_project(write_demo(tmp_path, compressed=compressed))
    found = P.stems(doc)
    assert [(s.name, s.kind, s.plugin, s.muted, s.events) for s in found] == [
        ("Bass synth", "instrument", "tripleoscillator", False, 1),
        ("Muted lead", "instrument", "tripleoscillator", True, 0), ("Vocal take", "sample", "sample", False, 1),
        ("kick01.ogg", "beat-bassline", "audiofileprocessor", False, 1), ("Hat", "beat-bassline", "kicker", False, 1),
        ("Empty pad", "beat-bassline", "tripleoscillator", False, 0)]
    assert found[3].files == ["drums/kick01.ogg"] and found[2].files == ["vocal.wav"]


def test_an_lmms_0_4_project_reads_like_a_1_2_one(tmp_path):
    """LMMS 0.4 wrote <multimedia-project> roots (Debian's shorties/Greshz-CoolSnip); LMMS 1.2
    opens them, so the builder reads them with the same stems."""
    old = PROJECT.replace("<lmms-project", "<multimedia-project").replace("</lmms-project>", "</multimedia-project>")
    assert old != PROJECT
    new_stems = P.stems(P.read_project(write_demo(tmp_path / "new")))
    old_doc = P.read_project(write_demo(tmp_path / "old", text=old))
    assert old_doc.tag == "multimedia-project"
    assert [(s.name, s.kind, s.events) for s in P.stems(old_doc)] == [(s.name, s.kind, s.events) for s in new_stems]


def test_bad_project_files_name_the_file(tmp_path):
    (tmp_path / "a.mmpz").write_bytes(b"\x00\x00\x00\x10not zlib")
    (tmp_path / "b.mmp").write_text("<html/>")
    with pytest.raises(P.ProjectError, match="a.mmpz: not a zlib"):
        P.read_project(tmp_path / "a.mmpz")
    with pytest.raises(P.ProjectError, match="b.mmp: not an LMMS project"):
        P.read_project(tmp_path / "b.mmp")


def test_stem_project_is_neutral_and_keeps_only_its_track(tmp_path):
    doc = P.read_project(write_demo(tmp_path))
    stem = P.stem_project(doc, 0)  # "Bass synth": automated volume, LFO on pan, reverb, bus channel
    names = [t.get("name") for t in stem.iter("track")]
    assert names == ["Bass synth", "Beat", "Automation track"]  # others gone, the Beat/Bassline track stays
    it = _track(stem, "Bass synth").find("instrumenttrack")
    assert (it.get("vol"), it.get("pan"), it.get("fxch")) == ("100", "0", "0")
    assert it.find("vol") is None and it.find("connection") is None  # automation id and LFO link gone
    assert it.find("fxchain").get("enabled") == "0" and not list(it.find("fxchain"))
    assert it.find("instrument").get("name") == "tripleoscillator" and it.find("eldata") is not None  # patch kept
    for ch in stem.iter("fxchannel"):
        assert ch.get("volume") == "1" and ch.get("muted") == "0" and ch.find("volume") is None
        assert not list(ch.find("fxchain")) and ch.find("connection") is None
        assert [(s.get("channel"), s.get("amount")) for s in ch.findall("send")] == (
            [] if ch.get("num") == "0" else [("0", "1")])
    assert stem.find("head").get("mastervol") == "100"
    objects = [o.get("id") for o in stem.iter("object")]
    assert objects == ["3003"]  # volume and master automation removed, the filter sweep kept
    assert _track(doc, "Bass synth").find("./instrumenttrack/vol").get("value") == "55"  # the original is untouched


def test_beat_bassline_and_sample_stems(tmp_path):
    doc = P.read_project(write_demo(tmp_path))
    kick = P.stem_project(doc, 3)
    assert [t.get("name") for t in kick.iter("track")] == ["Beat", "kick01.ogg", "Automation track"]
    it = _track(kick, "kick01.ogg").find("instrumenttrack")
    assert (it.get("vol"), it.get("pan"), it.get("fxch")) == ("100", "0", "0")
    vocal = P.stem_project(doc, 2)
    st = _track(vocal, "Vocal take")
    assert (st.find("sampletrack").get("vol"), st.find("sampletrack").get("pan")) == ("100", "0")
    assert st.find("sampletco").get("src") == "vocal.wav"
    muted = P.stem_project(doc, 1)
    assert _track(muted, "Muted lead").get("muted") == "0"
    with pytest.raises(IndexError, match="6 stems"):
        P.stem_project(doc, 6)


def test_missing_plugins_and_samples_are_named(tmp_path):
    text = PROJECT.replace('name="kicker"', 'name="vestige"').replace("drums/kick01.ogg", "drums/nothing.ogg")
    doc = P.read_project(write_demo(tmp_path, text=text))
    missing = R.missing_requirements(doc, tmp_path / "Artist-Demo.mmpz")
    assert "instrument plugin vestige" in missing and "sample drums/nothing.ogg" in missing
    assert not any("vocal.wav" in m for m in missing)


def _fake_render(doc, workdir, name, seed_lib, project, retries=3, seed=1):
    """Stands in for LMMS: each stem a tone at its own pitch, the mix their sum delayed by 220 samples."""
    n = 44100
    stems = P.stems(doc)
    t = np.arange(n) / 44100
    parts = [0.1 * np.sin(2 * np.pi * (110 + 50 * s.index) * t) * (t % 0.25 < 0.1) for s in stems
             if not s.muted and s.name != "Hat"]  # "Hat" plays nothing: a silent stem
    x = np.sum(parts, axis=0) if parts else np.zeros(n)
    if name == "mix":
        x = np.concatenate([np.zeros(220), x[:-220]])
    return np.repeat(x[:, None], 2, axis=1).astype(np.float32), 1


def test_build_skips_reserved_muted_and_silent_and_aligns_the_mix(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "render", _fake_render)
    monkeypatch.setattr(R, "find_lmms", lambda: "/usr/bin/lmms")
    monkeypatch.setattr(R, "missing_requirements", lambda doc, path: [])
    root = tmp_path / "demos"
    write_demo(root, "Artist-Demo")
    write_demo(root / "Sub", "Other-Song", compressed=False)
    write_demo(root, "Momo64-esp")  # a reserved name
    report = build_dataset("lmms", root, tmp_path / "out", progress=False)
    recs = {r.song: r for s in SPLITS for r in read_manifest(tmp_path / "out" / f"{s}.jsonl")}
    assert sorted(recs) == ["Artist-Demo", "Sub/Other-Song"]
    assert recs["Artist-Demo"].split == hash_split("Artist-Demo")
    rec = recs["Artist-Demo"]
    assert [(t.name, t.role) for t in rec.tracks] == [("Bass_synth", "bass"), ("Vocal_take", "vocals"),
                                                      ("kick01", "drums")]
    assert rec.tracks[2].meta == {"lmms_index": 3, "lmms_name": "kick01.ogg", "kind": "beat-bassline",
                                  "plugin": "audiofileprocessor"}
    assert rec.meta["mix_shift_samples"] == 220 and rec.meta["align_method"] == "phat"
    assert rec.checks.mix_offset_samples == 0 and rec.checks.aligned
    assert rec.mix.frames == rec.tracks[0].frames == 44100
    reasons = {(k["song"], k["reason"].split(" (")[0]) for k in report.skipped}
    assert ("Momo64-esp", "reserved for independent evaluation") in reasons
    assert ("Artist-Demo", "track 1 'Muted lead' is muted in the project") in reasons
    assert ("Artist-Demo", "track 'Hat' renders silent") in reasons
    assert ("Artist-Demo", "track 5 'Empty pad' plays no notes or clips") in reasons  # LMMS refuses empty songs
    again = build_dataset("lmms", root, tmp_path / "out", progress=False)
    assert again.cached == 2
    reserved = build_dataset("lmms-reserved", root, tmp_path / "eval", progress=False)
    eval_recs = read_manifest(tmp_path / "eval" / "test.jsonl")
    assert [r.song for r in eval_recs] == ["Momo64-esp"] and reserved.splits["train"]["songs"] == 0
    assert eval_recs[0].source == "lmms-reserved" and eval_recs[0].meta["reserved"] is True


def test_reserved_list_matches_the_shared_file():
    shared = Path(__file__).resolve().parents[4] / "shared" / "data" / "lmms-reserved.txt"
    if not shared.is_file():
        shared = Path("/work/shared/data/lmms-reserved.txt")
    if not shared.is_file():
        pytest.skip("the shared reserved list is not on this machine")
    names = {ln.strip() for ln in shared.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    assert names == set(L.RESERVED)


def test_without_lmms_the_build_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "find_lmms", lambda: None)
    write_demo(tmp_path / "demos")
    with pytest.raises(BuildError, match="setup_system.sh"):
        build_dataset("lmms", tmp_path / "demos", tmp_path / "out", progress=False)


def test_envelope_offset_finds_a_limiter_delay_through_a_phase_change():
    rng = np.random.default_rng(0)
    sr = 44100
    gate = np.repeat(rng.random(40) < 0.5, sr // 20)
    x = (rng.standard_normal(len(gate)) * gate)[:, None].repeat(2, 1)
    y = -np.diff(np.concatenate([np.zeros((1, 2)), x]), axis=0)  # a high-pass: waveform no longer matches
    y = np.concatenate([np.zeros((223, 2)), y[:-223]])
    offset, corr = RD.envelope_offset(x, y, sr)
    assert offset == 223 and corr > 0.8
    assert np.allclose(RD.shift(y, offset)[:1000], y[223:1223])
    lag, sharpness = RD.phat_offset(x, y, sr)
    assert abs(lag - 223) <= 1 and sharpness > 2 * RD.PHAT_SHARPNESS  # differencing adds half a sample
    noise = rng.standard_normal(x.shape)
    assert RD.phat_offset(x, noise, sr)[1] < RD.PHAT_SHARPNESS  # unrelated audio: no clear peak
    assert RD.align_offset(x, y, sr)["method"] == "phat" and RD.align_offset(x, noise, sr)["method"] == "envelope"


@pytest.mark.slow
@needs_factory_samples
@pytest.mark.skipif(shutil.which("lmms") is None, reason="LMMS not installed")
def test_real_lmms_render_is_repeatable_and_neutral(tmp_path):
    doc = ET.fromstring(PROJECT.replace('src="vocal.wav"', 'src="drums/snare01.ogg"'))
    seed_lib = R.seed_library(tmp_path / "cache")
    kick = P.stem_project(doc, 3)
    a, _ = R.render(kick, tmp_path / "w", "kick", seed_lib, tmp_path / "p.mmp")
    b, _ = R.render(kick, tmp_path / "w", "kick", seed_lib, tmp_path / "p.mmp")
    assert a.shape[1] == 2 and RD.is_active(a, R.SAMPLE_RATE)
    assert RD.repeat_error_db(a, b) < -100
    assert np.allclose(a[:, 0], a[:, 1], atol=1e-4)  # centred


DEMO = Path("/usr/share/lmms/projects/demos/Oglsdl-Dr8v2.mmpz")  # eight ZynAddSubFX instances, not reserved


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("lmms") is None or not DEMO.is_file(), reason="LMMS or its demos not installed")
def test_a_mix_of_several_zynaddsubfx_instances_renders_bit_identical_twice(tmp_path):
    doc = P.read_project(DEMO)
    seed_lib = R.seed_library(tmp_path / "cache")
    a, _ = R.render(doc, tmp_path / "w", "mix", seed_lib, DEMO)
    b, _ = R.render(doc, tmp_path / "w", "mix", seed_lib, DEMO)
    assert len(a) > 60 * R.SAMPLE_RATE and RD.is_active(a, R.SAMPLE_RATE)
    assert np.array_equal(a, b)


@needs_factory_samples
def test_sample_paths_become_absolute_for_rendering_elsewhere(tmp_path):
    doc = P.read_project(write_demo(tmp_path))
    L._absolute_samples(doc, tmp_path / "Artist-Demo.mmpz")
    srcs = sorted(e.get("src") for e in doc.iter() if e.tag in ("audiofileprocessor", "sampletco"))
    assert srcs[0] == str(tmp_path / "vocal.wav") and srcs[1].endswith("/samples/drums/kick01.ogg")
    assert all(Path(s).is_absolute() and Path(s).is_file() for s in srcs)


def test_cli_offers_the_rendered_sources():
    from mixdown.cli import build_parser

    for source in ("lmms", "lmms-reserved", "midi"):
        args = build_parser().parse_args(["dataset", "build", "--source", source, "--root", "r", "--out", "o"])
        assert args.source == source


def test_a_render_with_absurd_spikes_is_skipped(tmp_path, monkeypatch):
    def spiky(doc, workdir, name, seed_lib, project, retries=3, seed=1):
        x, n = _fake_render(doc, workdir, name, seed_lib, project)
        if name == "mix":
            x[1000] = 500.0  # +54 dBFS: an LMMS glitch seen in one demo's mix
        return x, n

    monkeypatch.setattr(R, "render", spiky)
    monkeypatch.setattr(R, "find_lmms", lambda: "/usr/bin/lmms")
    monkeypatch.setattr(R, "missing_requirements", lambda doc, path: [])
    write_demo(tmp_path / "demos", "Artist-Demo")
    write_demo(tmp_path / "demos", "Other-Song")
    with pytest.raises(BuildError, match="all 2 were skipped"):
        build_dataset("lmms", tmp_path / "demos", tmp_path / "out", progress=False)
    report = (tmp_path / "out" / "build_report.md").read_text()
    assert "peaks 54 dB above full scale" in report
