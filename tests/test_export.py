"""DAWproject and REAPER exports: schema validity, structure and round trip of the settings."""

from __future__ import annotations

import json
import math
import shlex
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown import export
from mixdown.params import spec as S
from mixdown.params.io import read_params, write_params

SCHEMAS = Path(__file__).parent / "schemas"
SR = 22050


@pytest.fixture
def session(tmp_path, make_mix_params):
    """Three short stems (mono, stereo, mono in a subfolder) and settings that differ from neutral."""
    rng = np.random.default_rng(0)
    files = {"kick.wav": (SR, 1), "pad.flac": (SR // 2, 2), "sub/vox.wav": (SR * 2, 1)}
    for name, (frames, ch) in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / name, 0.1 * rng.standard_normal((frames, ch)), SR)
    overrides = {
        "kick": {"fader_db": -6.5, "pan": -0.25, "input_gain_db": 3.0, "highpass_hz": 40.0,
                 "eq.1.gain_db": -4.0, "eq.1.q": 2.5, "compressor.ratio": 4.0,
                 "compressor.threshold_db": -20.0, "compressor.attack_ms": 5.0,
                 "compressor.release_ms": 150.0, "compressor.knee_db": 6.0, "compressor.makeup_db": 2.0},
        "pad": {"fader_db": 1.25, "pan": 0.75, "eq.5.freq_hz": 3000.0, "eq.5.gain_db": 2.0},
        "vox": {"fader_db": -48.0, "pan": 1.0},
    }
    params = make_mix_params(list(files), sample_rate=SR, track_overrides=overrides,
                             master_overrides={"output_gain_db": -1.5, "compressor.ratio": 2.0})
    write_params(params, tmp_path / "params.json")
    return tmp_path, read_params(tmp_path / "params.json")


def _validate(xml: bytes, xsd: str):
    lxml_etree = pytest.importorskip("lxml.etree")  # dev dependency: only this check needs it
    schema = lxml_etree.XMLSchema(lxml_etree.parse(str(SCHEMAS / xsd)))
    doc = lxml_etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    return doc


def _value(el) -> float:
    return float(el.get("value"))


@pytest.mark.parametrize("embed", [False, True])
def test_dawproject_is_valid_and_round_trips(session, tmp_path, embed):
    sdir, params = session
    out = export.export_dawproject(params, sdir, tmp_path / "out" / "mix.dawproject", embed_audio=embed)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        project = _validate(zf.read("project.xml"), "Project.xsd")
        _validate(zf.read("metadata.xml"), "MetaData.xsd")
    assert {"project.xml", "metadata.xml"} <= set(names)
    assert sum(n.startswith("audio/") for n in names) == (3 if embed else 0)

    tracks = project.findall("Structure/Track")
    assert [t.get("name") for t in tracks] == [t.name for t in params.tracks] + ["Master"]
    master_ch = tracks[-1].find("Channel")
    assert master_ch.get("role") == "master"
    for t, el in zip(params.tracks, tracks):
        v = t.values
        ch = el.find("Channel")
        assert ch.get("destination") == master_ch.get("id")
        assert ch.find("Volume").get("unit") == "linear"
        assert 20 * math.log10(_value(ch.find("Volume"))) == pytest.approx(v["fader_db"], abs=1e-9)
        assert ch.find("Pan").get("unit") == "normalized"
        assert 2 * _value(ch.find("Pan")) - 1 == pytest.approx(v["pan"], abs=1e-9)
        eq = ch.find("Devices/Equalizer")
        assert _value(eq.find("InputGain")) == pytest.approx(v["input_gain_db"])
        bands = eq.findall("Band")
        assert [b.get("type") for b in bands] == ["highPass", "lowShelf"] + ["bell"] * 4 + ["highShelf"]
        assert _value(bands[0].find("Freq")) == pytest.approx(v["highpass_hz"])
        assert (bands[0].find("Enabled").get("value") == "true") == (v["highpass_hz"] > 20)
        for i, b in enumerate(bands[1:]):
            assert _value(b.find("Freq")) == pytest.approx(v[f"eq.{i}.freq_hz"], rel=1e-11)
            assert _value(b.find("Gain")) == pytest.approx(v[f"eq.{i}.gain_db"], abs=1e-11)
            assert _value(b.find("Q")) == pytest.approx(v[f"eq.{i}.q"], rel=1e-11)
        _check_compressor(ch.find("Devices/Compressor"), v)
        clip = project.find(f"Arrangement/Lanes/Lanes[@track='{el.get('id')}']/Clips/Clip")
        audio = clip.find("Audio")
        info = sf.info(str(sdir / t.file))
        assert float(clip.get("time")) == 0
        assert float(audio.get("duration")) == pytest.approx(info.frames / info.samplerate)
        assert int(audio.get("channels")) == info.channels
        path = audio.find("File").get("path")
        if embed:
            assert path in names
        else:
            assert (out.parent / path).resolve() == (sdir / t.file).resolve()
    mv = params.master.values
    assert 20 * math.log10(_value(master_ch.find("Volume"))) == pytest.approx(mv["output_gain_db"])
    assert len(master_ch.findall("Devices/Equalizer/Band")) == S.N_EQ_BANDS
    _check_compressor(master_ch.find("Devices/Compressor"), mv)


def _check_compressor(comp, v):
    assert _value(comp.find("Threshold")) == pytest.approx(v["compressor.threshold_db"])
    assert _value(comp.find("Ratio")) == pytest.approx(v["compressor.ratio"])
    assert comp.find("Attack").get("unit") == "seconds"
    assert 1000 * _value(comp.find("Attack")) == pytest.approx(v["compressor.attack_ms"])
    assert 1000 * _value(comp.find("Release")) == pytest.approx(v["compressor.release_ms"])
    assert _value(comp.find("OutputGain")) == pytest.approx(v["compressor.makeup_db"])
    assert _value(comp.find("Parameters/RealParameter[@name='Knee']")) == pytest.approx(v["compressor.knee_db"])


# ----------------------------------------------------------------------------- REAPER
def parse_rpp(text: str) -> dict:
    """REAPER's nested ``<TAG args ... >`` structure -> ``{"tag", "args", "lines", "children"}``."""
    root = {"tag": None, "args": [], "lines": [], "children": []}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<"):
            tokens = _tokens(line[1:])
            node = {"tag": tokens[0], "args": tokens[1:], "lines": [], "children": []}
            stack[-1]["children"].append(node)
            stack.append(node)
        elif line == ">":
            stack.pop()
            assert stack, "unbalanced '>'"
        else:
            stack[-1]["lines"].append(line if line.startswith("|") else _tokens(line))
    assert len(stack) == 1, "unclosed block"
    (project,) = root["children"]
    return project


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = "\"'`"
    return list(lexer)


def _field(node: dict, key: str) -> list[str]:
    (hit,) = [t for t in node["lines"] if isinstance(t, list) and t[0] == key]
    return hit[1:]


def test_reaper_project_structure(session, tmp_path):
    sdir, params = session
    out = export.export_reaper(params, sdir, tmp_path / "rpp" / "mix.RPP")
    project = parse_rpp(out.read_text())
    assert project["tag"] == "REAPER_PROJECT"
    assert _field(project, "SAMPLERATE")[0] == str(SR)
    tracks = [c for c in project["children"] if c["tag"] == "TRACK"]
    assert len(tracks) == len(params.tracks)
    for t, node in zip(params.tracks, tracks):
        v = t.values
        assert _field(node, "NAME") == [t.name]
        vol, pan, law = (float(x) for x in _field(node, "VOLPAN")[:3])
        assert 20 * math.log10(vol) == pytest.approx(v["fader_db"], abs=1e-9)
        assert pan == pytest.approx(v["pan"], abs=1e-12)
        assert law == pytest.approx(1 / math.sqrt(2))
        (item,) = node["children"]
        assert item["tag"] == "ITEM"
        assert float(_field(item, "POSITION")[0]) == 0
        info = sf.info(str(sdir / t.file))
        assert float(_field(item, "LENGTH")[0]) == pytest.approx(info.frames / info.samplerate)
        assert 20 * math.log10(float(_field(item, "VOLPAN")[0])) == pytest.approx(v["input_gain_db"])
        (source,) = item["children"]
        assert source["args"] == ["FLAC" if t.file.endswith(".flac") else "WAVE"]
        assert (out.parent / _field(source, "FILE")[0]).resolve() == (sdir / t.file).resolve()
    master = float(_field(project, "MASTER_VOLUME")[0])
    assert 20 * math.log10(master) == pytest.approx(params.master.values["output_gain_db"])
    (notes,) = [c for c in project["children"] if c["tag"] == "NOTES"]
    text = "\n".join(notes["lines"])
    assert all(f"Track {t.name!r}" in text for t in params.tracks) and "ReaComp" in text


def test_rpp_strings_with_quotes_and_spaces():
    for s in ['my track', 'say "hi"', "it's \"x\"", "a`b'c\"d"]:
        assert len(_tokens(export._rpp_str(s))) == 1


# ----------------------------------------------------------------------------- CLI
def _main(argv, monkeypatch):
    from mixdown import cli

    if "mixdown.export" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("mixdown.export",))
    return cli.main(argv)


def test_cli_writes_both_formats(session, tmp_path, monkeypatch):
    sdir, _ = session
    dp, rpp = tmp_path / "cli.dawproject", tmp_path / "cli.rpp"
    assert _main(["export", str(sdir / "params.json"), "--out", str(dp)], monkeypatch) == 0
    assert _main(["export", str(sdir / "params.json"), "--format", "reaper", "--out", str(rpp),
                  "--session", str(sdir)], monkeypatch) == 0
    assert zipfile.is_zipfile(dp) and rpp.read_text().startswith("<REAPER_PROJECT")


def test_cli_rejects_malformed_params(session, tmp_path, monkeypatch):
    sdir, _ = session
    doc = json.loads((sdir / "params.json").read_text())
    del doc["tracks"][0]["pan"]
    bad = sdir / "bad.json"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "never.dawproject"
    assert _main(["export", str(bad), "--format", "dawproject", "--out", str(out)], monkeypatch) == 2
    assert not out.exists()
    (sdir / "kick.wav").unlink()  # a missing stem is a user error too
    assert _main(["export", str(sdir / "params.json"), "--out", str(out)], monkeypatch) == 2
