"""DAWproject and REAPER exports: schema validity, structure and round trip of the settings."""

from __future__ import annotations

import base64
import json
import math
import shlex
import struct
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
        assert 20 * math.log10(vol) == pytest.approx(v["fader_db"], abs=1e-9)  # make-up <= 6 dB here
        assert pan == pytest.approx(v["pan"], abs=1e-12)
        assert law == pytest.approx(1 / math.sqrt(2))
        assert [c["tag"] for c in node["children"]] == ["FXCHAIN", "ITEM"]
        item = node["children"][1]
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
    assert all(f"Track {t.name!r}" in text for t in params.tracks)
    assert "ReaEQ then ReaComp" in text and "Approximations" in text and "NOT applied" not in text
    assert "ReaEQ High Pass: 40.0 Hz" in text and "ReaEQ High Pass: off" in text


# An independent reader of ReaEQ / ReaComp state, written from the layout notes (not the exporter's
# code), checked first against blocks REAPER 7 itself saved for default instances.
REAPER_REAEQ_HEADER = "cWVlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAAIAAAAAAAAAzQAAAAEAAAAAABAA"
REAPER_REAEQ_DATA = (
    "IQAAAAUAAAAAAAAAAQAAAAAAAAAAAFlAAAAAAAAA8D+amZmZmZnpPwEIAAAAAQAAAAAAAAAAwHJAAAAAAAAA8D8AAAAAAAAAQAEIAAAAAQAA"
    "AAAAAAAAQI9AAAAAAAAA8D8AAAAAAAAAQAEBAAAAAQAAAAAAAAAAiLNAAAAAAAAA8D+amZmZmZnpPwEEAAAAAAAAAAAAAAAAAFlAAAAAAAAA"
    "8D8AAAAAAAAAQAEBAAAAAQAAAAAAAAAAAPA/AAAAAEACAABrAQAAAgAAAA==")
REAPER_REACOMP_HEADER = (
    "bWNlcu9e7f4EAAAAAQAAAAAAAAACAAAAAAAAAAQAAAAAAAAACAAAAAAAAAACAAAAAQAAAAAAAAACAAAAAAAAAFwAAAAAAAAAAAAQAA==")
REAPER_REACOMP_DATA = (
    "776t3g3wrd4AAIA/ED74PKabxDsK16M8AAAAAAAAAAAAAIA/AAAAAAAAAAAAAAAAnNEHMwAAgD8AAAAAzcxMPQAAAAAAAAAAAAAAAAAAgD4AAAAA"
    "AAAAAAAAAAA=")
LOW_SHELF, HIGH_SHELF, HIGH_PASS, BAND = 0, 1, 4, 8


def _b64(line: str) -> bytes:
    return base64.b64decode(line, validate=True)


def decode_vst_header(header: bytes) -> dict:
    uid, magic, n_in = struct.unpack_from("<III", header)
    off = 12 + 8 * n_in
    (n_out,) = struct.unpack_from("<I", header, off)
    off += 4 + 8 * n_out
    size, x, tail = struct.unpack_from("<III", header, off)
    assert off + 12 == len(header) and tail == 0x00100000
    return {"uid": uid, "magic": magic, "inputs": n_in, "outputs": n_out, "size": size, "x": x}


def decode_reaeq(data: bytes) -> tuple[list[dict], float]:
    """``(bands, output gain dB)``; band gains in dB, bandwidths in octaves."""
    version, n = struct.unpack_from("<ii", data)
    assert version == 33
    bands, off = [], 8
    for _ in range(n):
        kind, on, freq, gain, bw, log_flag = struct.unpack_from("<iidddB", data, off)
        off += 33
        assert on in (0, 1) and log_flag == 1
        bands.append({"type": kind, "on": bool(on), "freq": freq, "gain_db": 20 * math.log10(gain), "bw": bw})
    one, one_b, out_gain = struct.unpack_from("<iid", data, off)
    assert (one, one_b) == (1, 1) and len(data) == off + 16 + 16
    return bands, 20 * math.log10(out_gain)


def decode_reacomp(data: bytes) -> dict:
    assert len(data) == 92 and data[:8] == bytes.fromhex("efbeadde0df0adde")
    p = struct.unpack_from("<21f", data, 8)
    return {"threshold_db": 20 * math.log10(p[0]), "ratio": 1 + 99 * p[1], "attack_ms": 500 * p[2],
            "release_ms": 5000 * p[3], "precomp_ms": 250 * p[4], "dry": p[10], "wet_db": 20 * math.log10(p[11]),
            "rms_ms": 100 * p[13], "knee_db": 24 * p[14], "auto_makeup": p[15], "auto_release": p[16], "raw": p}


def test_decoder_reads_reapers_own_default_instances():
    bands, out_db = decode_reaeq(_b64(REAPER_REAEQ_DATA))
    assert [(b["type"], b["on"], b["freq"], b["bw"]) for b in bands] == [
        (LOW_SHELF, True, 100.0, 0.8), (BAND, True, 300.0, 2.0), (BAND, True, 1000.0, 2.0),
        (HIGH_SHELF, True, 5000.0, 0.8), (HIGH_PASS, False, 100.0, 2.0)]
    assert all(b["gain_db"] == 0 for b in bands) and out_db == 0
    eq_head = decode_vst_header(_b64(REAPER_REAEQ_HEADER))
    assert eq_head == {"uid": 1919247729, "magic": 0xFEED5EEE, "inputs": 2, "outputs": 2,
                       "size": len(_b64(REAPER_REAEQ_DATA)), "x": 1}
    comp = decode_reacomp(_b64(REAPER_REACOMP_DATA))
    # ReaComp's documented defaults: threshold 0 dB, 4:1, attack 3 ms, release 100 ms, dry -inf, wet 0 dB,
    # RMS 5 ms, knee 0 dB, pre-comp 0, auto make-up / auto release off
    expected = {"threshold_db": 0.0, "ratio": 4.0, "attack_ms": 3.0, "release_ms": 100.0, "wet_db": 0.0,
                "rms_ms": 5.0, "knee_db": 0.0, "precomp_ms": 0.0, "auto_makeup": 0.0, "auto_release": 0.0}
    for k, want in expected.items():
        assert comp[k] == pytest.approx(want, abs=1e-5), k
    assert 20 * math.log10(comp["dry"]) < -140
    comp_head = decode_vst_header(_b64(REAPER_REACOMP_HEADER))
    assert comp_head == {"uid": 1919247213, "magic": 0xFEED5EEF, "inputs": 4, "outputs": 2, "size": 92, "x": 0}


def _vst_blocks(chain: dict) -> list[tuple[str, dict, bytes]]:
    """``(name, header fields, data)`` per ``<VST`` of an FX chain, checking the line syntax."""
    out = []
    assert all(c["tag"] == "VST" for c in chain["children"])
    for vst in chain["children"]:
        name, dll, _, _, ident, _ = vst["args"]
        uid, uid_hex = ident.rstrip(">").split("<")
        assert bytes.fromhex(uid_hex) == (b"VST" + int(uid).to_bytes(4, "big") + dll[:-4].encode()).ljust(16, b"\0")
        lines = [line[0] for line in vst["lines"]]
        assert all(len(line) == 1 for line in vst["lines"]) and all(len(x) <= 128 for x in lines)
        parts = [_b64(x) for x in lines]  # every line valid base64 on its own
        assert parts[-1] == bytes.fromhex("000010000000")
        header, data = parts[0], b"".join(parts[1:-1])
        assert data == _b64("".join(lines[1:-1]))
        fields = decode_vst_header(header)
        assert header[:4] == struct.pack("<I", int(uid)) and fields["uid"] == int(uid)
        assert fields["size"] == len(data)
        out.append((name, fields, data))
    assert [(n, f["magic"]) for n, f, _ in out] == [("VST: ReaEQ (Cockos)", 0xFEED5EEE),
                                                    ("VST: ReaComp (Cockos)", 0xFEED5EEF)]
    for _, fields, _ in out:  # the pin layout REAPER saved
        assert (fields["inputs"], fields["outputs"]) in ((2, 2), (4, 2))
    return out


def _check_chain(chain: dict, v: dict, strip: bool) -> float:
    """The chain carries ``v``; returns ReaComp's Wet in dB."""
    (_, _, eq), (_, _, comp) = _vst_blocks(chain)
    bands, out_db = decode_reaeq(eq)
    assert out_db == 0
    if strip:
        hp, bands = bands[0], bands[1:]
        assert hp["type"] == HIGH_PASS and hp["on"] == (v["highpass_hz"] > 20)
        assert hp["freq"] == v["highpass_hz"] and hp["gain_db"] == 0
        assert hp["bw"] == pytest.approx(2 / math.log(2) * math.asinh(1 / math.sqrt(2)), rel=1e-12)
    kinds = {"low_shelf": LOW_SHELF, "peak": BAND, "high_shelf": HIGH_SHELF}
    assert [b["type"] for b in bands] == [kinds[k] for k in S.EQ_BAND_TYPES]
    for i, b in enumerate(bands):
        assert b["on"] and b["freq"] == v[f"eq.{i}.freq_hz"]
        assert b["gain_db"] == pytest.approx(v[f"eq.{i}.gain_db"], abs=1e-9)
        assert b["bw"] == pytest.approx(2 / math.log(2) * math.asinh(1 / (2 * v[f"eq.{i}.q"])), rel=1e-12)
    c = decode_reacomp(comp)
    for k in ("threshold_db", "ratio", "attack_ms", "release_ms", "knee_db"):
        assert c[k] == pytest.approx(v[f"compressor.{k}"], rel=1e-6, abs=1e-5), k
    assert c["rms_ms"] == 0 and c["precomp_ms"] == 0 and c["auto_makeup"] == 0 and c["auto_release"] == 0
    assert 20 * math.log10(c["dry"]) < -140
    wet_db = min(v["compressor.makeup_db"], 20 * math.log10(2))
    assert c["wet_db"] == pytest.approx(wet_db, abs=1e-5)
    return c["wet_db"]


def _db(x: str) -> float:
    return 20 * math.log10(float(x))


@pytest.mark.parametrize("hot", [False, True])
def test_reaper_fx_chains_carry_the_settings(session, tmp_path, hot):
    sdir, params = session
    if hot:  # make-up beyond ReaComp's Wet range: the rest goes into the volume after the compressor
        params.tracks[0].values["compressor.makeup_db"] = 10.0
        params.tracks[1].values["compressor.makeup_db"] = 24.0
        params.master.values["compressor.makeup_db"] = 8.0
        params.master.normalize = {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 2.5}
    text = export.export_reaper(params, sdir, tmp_path / "mix.RPP").read_text()
    project = parse_rpp(text)
    tracks = [c for c in project["children"] if c["tag"] == "TRACK"]
    offs = [t for t in params.tracks if t.values["highpass_hz"] <= 20]
    assert offs and len(offs) < len(params.tracks)  # both high-pass states are exercised
    for t, node in zip(params.tracks, tracks):
        v = t.values
        (chain,) = [c for c in node["children"] if c["tag"] == "FXCHAIN"]
        wet_db = _check_chain(chain, v, strip=True)
        assert wet_db + _db(_field(node, "VOLPAN")[0]) == pytest.approx(
            v["compressor.makeup_db"] + v["fader_db"], abs=1e-5)
    (master_fx,) = [c for c in project["children"] if c["tag"] == "MASTERFXLIST"]
    mv = params.master.values
    wet_db = _check_chain(master_fx, mv, strip=False)
    assert wet_db + _db(_field(project, "MASTER_VOLUME")[0]) == pytest.approx(
        mv["compressor.makeup_db"] + mv["output_gain_db"] + params.normalize_gain_db, abs=1e-5)
    if hot:
        assert _db(_field(tracks[0], "VOLPAN")[0]) > params.tracks[0].values["fader_db"] + 3.9
    fxids = [line[1] for line in _iter_lines(project) if line[0] == "FXID"]
    assert len(fxids) == 2 * (len(params.tracks) + 1) == len(set(fxids))
    # deterministic apart from the time stamp on the first line
    again = export.export_reaper(params, sdir, tmp_path / "again.RPP").read_text()
    assert again.split("\n", 1)[1] == text.split("\n", 1)[1]


def _iter_lines(node: dict):
    yield from (line for line in node["lines"] if isinstance(line, list))
    for c in node["children"]:
        yield from _iter_lines(c)


def test_rpp_strings_with_quotes_and_spaces():
    for s in ['my track', 'say "hi"', "it's \"x\"", "a`b'c\"d"]:
        assert len(_tokens(export.reaper._rpp_str(s))) == 1


# ----------------------------------------------------------------------------- CLI
def _main(argv, monkeypatch):
    from mixdown import cli

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
