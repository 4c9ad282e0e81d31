"""The reverb in the DAW exports (issue 11): REAPER's return track, sends and impulse-response WAV,
DAWproject's effect channel, sends and archived impulse response; checked by independent readers
(the RPP parser and plug-in state decoders of ``test_export``, a ReaVerb state reader written from
public REAPER projects, soundfile, scipy and the DAWproject schema)."""

from __future__ import annotations

import io
import math
import struct
import zipfile

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

from mixdown import export
from mixdown.dsp.reverb_ir import reverb_impulse_response
from test_export import HIGH_PASS, _b64, _field, _validate, _value, decode_reaeq, decode_vst_header, parse_rpp

SR = 44100
REVERB = {"reverb.predelay_ms": 20.0, "reverb.decay_low_s": 1.8, "reverb.decay_mid_s": 1.5,
          "reverb.decay_high_s": 0.7, "reverb.highpass_hz": 200.0, "reverb.return_db": -4.5}
SENDS = {"kick": -60.0, "pad": -12.5, "vox": -3.0}

# ReaVerb states REAPER saved, as found in public REAPER projects: a default instance (REAPER 6/7,
# macOS) and an instance with a chain of two echo generators and a filter (REAPER 3.73, macOS).
REAPER_REAVERB_HEADER = "YnZlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAAIAAAAAAAAAKAAAAAEAAAAAABAA"
REAPER_REAVERB_DEFAULT = "AAAQwcybgD4AAIA/AAAAAAAAgD8AAIA/AAAAPwAAgD8AAIA/AAAAQA=="
REAPER_373_REAVERB = ("YnZlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAA==",
                      "AgAAAAAAAACBAAAAAQAAAAAAAAAAAODAtvNuPgAAgD8AAAAAAACAPw==",
                      "AACAP6rxkj4AAAAARUNIT0dFTgAcAAAAKUyUQhDdZkSu6PJAKc4xPw==",
                      "Q9LPOwZGZ0AAAAA/RUNIT0dFTgAcAAAAAACgQQAAIEIAAPBBVUJ/Pw==",
                      "bxZsPwAAAAAAAAA/RklMVAAIAAAAW3tJPolA5Ds=")
REAVERB_UID = 1919252066  # "revb"


def without_reverb(params):
    """``params`` as a ``mixdown.params/1`` file holds them: no ``reverb_send_db``, no ``reverb.*``."""
    for t in params.tracks:
        t.values.pop("reverb_send_db", None)
    for k in [k for k in params.master.values if k.startswith("reverb.")]:
        del params.master.values[k]
    return params


def with_reverb(params, sends_db: dict[str, float], **master):
    """``params`` (a :class:`MixParams`) with the reverb keys of ``mixdown.params/2`` added: each
    track's ``reverb_send_db`` from ``sends_db`` (by track name) and the master's ``reverb.*``
    (``REVERB`` updated with ``master``, given as ``predelay_ms=...`` etc.)."""
    for t in params.tracks:
        t.values["reverb_send_db"] = float(sends_db[t.name])
    params.master.values.update(REVERB)
    params.master.values.update({f"reverb.{k}": float(x) for k, x in master.items()})
    return params


@pytest.fixture
def session(tmp_path, make_mix_params):
    """Three short stems; track names are kick, pad, vox (quotes in a name come later)."""
    rng = np.random.default_rng(1)
    files = {"kick.wav": 1, "pad.wav": 2, "sub/vox.wav": 1}
    for name, ch in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / name, 0.1 * rng.standard_normal((SR // 4, ch)), SR)
    params = make_mix_params(list(files), sample_rate=SR,
                             track_overrides={"kick": {"fader_db": -6.0, "pan": -0.5}, "pad": {"pan": 0.5}})
    return tmp_path, params


def decode_reaverb(data: bytes) -> tuple[list[float], list[tuple[str, bytes]]]:
    """``(header values, [(module name, module data)])``: a float32 ``-n``, ``n`` 4-byte values,
    then modules (NUL-terminated name, uint32 size, data) to the end."""
    (neg_n,) = struct.unpack_from("<f", data)
    n = int(-neg_n)
    assert neg_n == -n and n > 0
    values = list(struct.unpack_from(f"<{n}f", data, 4))
    off, modules = 4 + 4 * n, []
    while off < len(data):
        end = data.index(b"\0", off)
        (size,) = struct.unpack_from("<I", data, end + 1)
        modules.append((data[off:end].decode("ascii"), data[end + 5:end + 5 + size]))
        off = end + 5 + size
    assert off == len(data)
    return values, modules


def test_reaverb_reader_reads_reapers_own_states():
    """The layout hypothesis behind ``reaper_fx``: both public states parse completely."""
    values, modules = decode_reaverb(_b64(REAPER_REAVERB_DEFAULT))
    assert len(values) == 9 and modules == []
    assert 20 * math.log10(values[0]) == pytest.approx(-12.0, abs=1e-4)  # a -12 dB level among the defaults
    old = b"".join(_b64(x) for x in REAPER_373_REAVERB)
    uid, magic = struct.unpack_from("<II", old)
    (size,) = struct.unpack_from("<I", old, 48)
    assert (uid, magic, size) == (REAVERB_UID, 0xFEED5EEE, len(old) - 60)
    _, modules = decode_reaverb(old[60:])
    assert [(name, len(d)) for name, d in modules] == [("ECHOGEN", 28), ("ECHOGEN", 28), ("FILT", 8)]


def _vsts(chain: dict) -> list[tuple[str, dict, bytes]]:
    out = []
    for vst in chain["children"]:
        assert vst["tag"] == "VST"
        name, dll, _, _, ident, _ = vst["args"]
        uid, uid_hex = ident.rstrip(">").split("<")
        assert bytes.fromhex(uid_hex) == (b"VST" + int(uid).to_bytes(4, "big") + dll[:-4].encode()).ljust(16, b"\0")
        parts = [_b64(line[0]) for line in vst["lines"]]
        assert parts[-1] == bytes.fromhex("000010000000")
        fields, data = decode_vst_header(parts[0]), b"".join(parts[1:-1])
        assert fields["uid"] == int(uid) and fields["size"] == len(data)
        out.append((name, fields, data))
    return out


def _db(x) -> float:
    return 20 * math.log10(float(x))


@pytest.mark.parametrize("highpass_hz", [200.0, 20.0])
def test_reaper_return_track_and_sends(session, tmp_path, highpass_hz):
    sdir, params = session
    with_reverb(params, SENDS, highpass_hz=highpass_hz)
    out = export.export_reaper(params, sdir, tmp_path / "rpp" / "mix.RPP")
    project = parse_rpp(out.read_text())
    tracks = [c for c in project["children"] if c["tag"] == "TRACK"]
    assert len(tracks) == len(params.tracks) + 1
    ret = tracks[-1]
    assert _field(ret, "NAME") == ["Reverb return"]
    vol, pan, law = (float(x) for x in _field(ret, "VOLPAN")[:3])
    assert _db(vol) == pytest.approx(REVERB["reverb.return_db"], abs=1e-9) and pan == 0 and law == 1
    assert _field(ret, "MUTESOLO")[0] == "1"  # muted until the IR is loaded by hand
    recv = [line for line in ret["lines"] if isinstance(line, list) and line[0] == "AUXRECV"]
    got = {int(r[1]): r for r in recv}
    assert len(got) == len(recv)  # one receive per source track
    for k, t in enumerate(params.tracks):
        send = SENDS[t.name]
        if send <= -60:
            assert k not in got
            continue
        r = got[k]
        assert r[2] == "0"  # mode 0: post-fader (post-pan)
        assert _db(r[3]) == pytest.approx(send, abs=1e-9)
        assert float(r[4]) == 0 and r[5] == "0"  # centred, not muted
    assert sorted(got) == [k for k, t in enumerate(params.tracks) if SENDS[t.name] > -60]
    for node in tracks[:-1]:  # the stems send nowhere else and receive nothing
        assert not any(isinstance(x, list) and x[0] == "AUXRECV" for x in node["lines"])
    (chain,) = [c for c in ret["children"] if c["tag"] == "FXCHAIN"]
    (verb_name, verb_head, verb_data), (eq_name, _, eq_data) = _vsts(chain)
    assert verb_name == "VST: ReaVerb (Cockos)" and verb_head["uid"] == REAVERB_UID
    assert verb_head == decode_vst_header(_b64(REAPER_REAVERB_HEADER))  # REAPER's own header, size included
    assert verb_data == _b64(REAPER_REAVERB_DEFAULT)  # a default instance: the IR is loaded by hand
    assert eq_name == "VST: ReaEQ (Cockos)"
    (hp,), out_db = decode_reaeq(eq_data)
    assert hp["type"] == HIGH_PASS and out_db == 0 and hp["gain_db"] == 0
    assert hp["on"] == (highpass_hz > 20) and hp["freq"] == highpass_hz
    assert hp["bw"] == pytest.approx(2 / math.log(2) * math.asinh(1 / math.sqrt(2)), rel=1e-12)
    (notes,) = [c for c in project["children"] if c["tag"] == "NOTES"]
    text = "\n".join(notes["lines"])
    assert text.index("REVERB") < text.index("console settings")  # the manual step comes first
    assert "'mix.reverb_ir.wav'" in text and "Wet to 0.0 dB" in text and "Dry to -inf" in text and "UNMUTE" in text
    assert "Reverb send: off" in text and "Reverb send: -12.50 dB" in text


def test_all_sends_off_is_no_reverb(session, tmp_path):
    """A reverb nothing feeds (as every ``mixdown.params/1`` file reads: sends at -60 dB, the
    default reverb) adds nothing to the mix, so the projects are those without the reverb keys."""
    sdir, params = session
    with_reverb(params, {t.name: -60.0 for t in params.tracks})
    rpp = export.export_reaper(params, sdir, tmp_path / "a" / "mix.RPP").read_text()
    dp = export.export_dawproject(params, sdir, tmp_path / "a" / "mix.dawproject")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mix.RPP", "mix.dawproject"]
    without_reverb(params)
    rpp_v1 = export.export_reaper(params, sdir, tmp_path / "b" / "mix.RPP").read_text()
    dp_v1 = export.export_dawproject(params, sdir, tmp_path / "b" / "mix.dawproject")
    assert rpp.split("\n", 1)[1] == rpp_v1.split("\n", 1)[1]  # all but the time stamp
    with zipfile.ZipFile(dp) as a, zipfile.ZipFile(dp_v1) as b:
        assert sorted(a.namelist()) == sorted(b.namelist()) == ["metadata.xml", "project.xml"]
        assert all(a.read(n) == b.read(n) for n in a.namelist())


def _schroeder_t60(x: np.ndarray, fs: float, lo_db=-5.0, hi_db=-35.0) -> float:
    """T60 from a line fit of the backward-integrated energy decay of ``x`` ``(2, n)``."""
    edc = np.cumsum((x ** 2).sum(0)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    sel = (edc_db <= lo_db) & (edc_db >= hi_db)
    return -60.0 / np.polyfit(np.arange(x.shape[-1])[sel] / fs, edc_db[sel], 1)[0]


def check_ir_wav(data: bytes, settings: dict[str, float]):
    """The WAV is the spec's IR (float32) and, measured independently, has unit energy per
    channel, the pre-delay and each band's decay time."""
    h, fs = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    info = sf.info(io.BytesIO(data))
    assert (info.format, info.subtype, info.channels, fs) == ("WAV", "FLOAT", 2, SR)
    h = h.T
    ref = reverb_impulse_response(SR, *(settings[f"reverb.{k}"] for k in
                                        ("predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s")))
    np.testing.assert_array_equal(h, ref.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose((h ** 2).sum(-1), [1.0, 1.0], rtol=1e-5)
    p0 = math.floor(settings["reverb.predelay_ms"] * SR / 1000)
    assert np.all(h[:, :p0] == 0) and np.all(h[:, p0] != 0)
    analysis = {"low": (40, 250), "mid": (1200, 1800), "high": (11000, 18000)}
    for band, (f1, f2) in analysis.items():
        t60 = _schroeder_t60(ss.sosfilt(ss.butter(4, [f1, f2], "bandpass", fs=SR, output="sos"), h[:, p0:]), SR)
        assert t60 == pytest.approx(settings[f"reverb.decay_{band}_s"], rel=0.05), band


def test_reaper_ir_wav_is_the_spec_response(session, tmp_path):
    sdir, params = session
    with_reverb(params, SENDS)
    out = export.export_reaper(params, sdir, tmp_path / "mix.RPP")
    check_ir_wav((tmp_path / "mix.reverb_ir.wav").read_bytes(), REVERB)
    assert sorted(p.name for p in tmp_path.glob("mix*")) == ["mix.RPP", "mix.reverb_ir.wav"]
    assert out.read_text().count("AUXRECV") == 2


@pytest.mark.parametrize("embed", [False, True])
def test_dawproject_reverb_is_valid(session, tmp_path, embed):
    sdir, params = session
    with_reverb(params, SENDS, highpass_hz=150.0)
    out = export.export_dawproject(params, sdir, tmp_path / "mix.dawproject", embed_audio=embed)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        project = _validate(zf.read("project.xml"), "Project.xsd")
        meta = _validate(zf.read("metadata.xml"), "MetaData.xsd")
        tracks = project.findall("Structure/Track")
        assert [t.get("name") for t in tracks] == [t.name for t in params.tracks] + ["Reverb return", "Master"]
        ret, master = tracks[-2].find("Channel"), tracks[-1].find("Channel")
        assert ret.get("role") == "effect" and ret.get("destination") == master.get("id")
        assert _db(_value(ret.find("Volume"))) == pytest.approx(REVERB["reverb.return_db"], abs=1e-9)
        assert _value(ret.find("Pan")) == 0.5
        conv, eq = list(ret.find("Devices"))
        assert conv.tag == "Device" and conv.get("deviceRole") == "audioFX"
        state = conv.find("State")
        assert state.get("external") == "false"
        check_ir_wav(zf.read(state.get("path")), {**REVERB, "reverb.highpass_hz": 150.0})
        p = {el.get("name"): el for el in conv.findall("Parameters/RealParameter")}
        assert _value(p["Pre-delay"]) == pytest.approx(0.02) and p["Pre-delay"].get("unit") == "seconds"
        assert [_value(p[f"Decay {b}"]) for b in ("low", "mid", "high")] == [1.8, 1.5, 0.7]
        assert (_value(p["Wet"]), _value(p["Dry"])) == (100.0, 0.0)
        (band,) = eq.findall("Band")
        assert eq.tag == "Equalizer" and band.get("type") == "highPass" and band.get("order") == "2"
        assert _value(band.find("Freq")) == 150.0 and band.find("Enabled").get("value") == "true"
        assert _value(band.find("Q")) == pytest.approx(1 / math.sqrt(2))
        for t, el in zip(params.tracks, tracks):
            sends = el.findall("Channel/Sends/Send")
            if SENDS[t.name] <= -60:
                assert sends == []
                continue
            (send,) = sends
            assert send.get("destination") == ret.get("id") and send.get("type") == "post"
            assert send.find("Volume").get("unit") == "linear"
            assert _db(_value(send.find("Volume"))) == pytest.approx(SENDS[t.name], abs=1e-9)
    assert "mixdown.params/2" in meta.find("Comment").text


def test_v1_params_export_as_before(session, tmp_path):
    """No ``reverb_send_db`` / ``reverb.*`` (a ``mixdown.params/1`` file): no reverb anywhere."""
    sdir, params = session
    without_reverb(params)
    rpp = export.export_reaper(params, sdir, tmp_path / "mix.RPP")
    text = rpp.read_text()
    assert "AUXRECV" not in text and "ReaVerb" not in text and "REVERB" not in text and "Reverb" not in text
    assert text.count("<TRACK") == len(params.tracks)
    assert [p.name for p in tmp_path.glob("mix*")] == ["mix.RPP"]
    out = export.export_dawproject(params, sdir, tmp_path / "mix.dawproject")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["metadata.xml", "project.xml"]
        xml = zf.read("project.xml").decode()
        assert "mixdown.params/1" in zf.read("metadata.xml").decode()
    assert "<Send" not in xml and 'role="effect"' not in xml and "Reverb" not in xml


def test_half_present_reverb_is_an_error(session, tmp_path):
    sdir, params = session
    with_reverb(params, SENDS)
    del params.tracks[1].values["reverb_send_db"]
    with pytest.raises(ValueError, match="'pad'.*reverb_send_db"):
        export.export_reaper(params, sdir, tmp_path / "mix.RPP")
    params.tracks[1].values["reverb_send_db"] = -10.0
    del params.master.values["reverb.return_db"]
    with pytest.raises(ValueError, match="reverb.return_db"):
        export.export_dawproject(params, sdir, tmp_path / "mix.dawproject")
    assert not list(tmp_path.glob("mix*"))


def test_ir_never_overwrites_a_track(session):
    """A project written into the session under the name that puts its IR onto a stem is refused."""
    from mixdown.session import SessionError

    sdir, params = session
    sf.write(sdir / "x.reverb_ir.wav", np.zeros((100, 1)), SR)
    params.tracks[0].file = "x.reverb_ir.wav"
    with_reverb(params, SENDS)
    before = (sdir / "x.reverb_ir.wav").read_bytes()
    with pytest.raises(SessionError, match="overwrite a track"):
        export.export_reaper(params, sdir, sdir / "x.RPP")
    assert (sdir / "x.reverb_ir.wav").read_bytes() == before and not (sdir / "x.RPP").exists()


def test_hostile_names_with_a_reverb(session, tmp_path):
    """Quotes and spaces in track names and in the project's name: every line still parses, the
    sends still point at the right tracks, the WAV is named after the project."""
    sdir, params = session
    params.tracks[1].name = "it's \"pad\""
    params.tracks[2].name = "a`b'c\"d"
    with_reverb(params, {params.tracks[0].name: -20.0, params.tracks[1].name: -7.0, params.tracks[2].name: -1.0})
    name = "my \"mix\" it's"
    out = export.export_reaper(params, sdir, tmp_path / f"{name}.RPP")
    project = parse_rpp(out.read_text())
    tracks = [c for c in project["children"] if c["tag"] == "TRACK"]
    assert [_field(t, "NAME")[0] for t in tracks[:2]] == [params.tracks[0].name, params.tracks[1].name]
    recv = [line for line in tracks[-1]["lines"] if isinstance(line, list) and line[0] == "AUXRECV"]
    assert [(int(r[1]), round(_db(r[3]), 9)) for r in recv] == [(0, -20.0), (1, -7.0), (2, -1.0)]
    assert (tmp_path / f"{name}.reverb_ir.wav").is_file()
    notes = "\n".join(next(c for c in project["children"] if c["tag"] == "NOTES")["lines"])
    assert repr(f"{name}.reverb_ir.wav") in notes


def _daw_return(outputs, receives, ir, highpass_hz, highpass_on, gain):
    """What a DAW computes from the exported project: the sum of the post-pan track outputs, each at
    its send's linear level, convolved per channel with the IR file, high-passed (2nd-order
    Butterworth, scipy's design), times the return track's volume; cut at the tracks' length."""
    bus = sum(level * outputs[k] for k, level in receives)
    wet = np.stack([ss.fftconvolve(bus[:, c], ir[c])[:bus.shape[0]] for c in (0, 1)], axis=1)
    if highpass_on:
        wet = ss.sosfilt(ss.butter(2, highpass_hz, "highpass", fs=SR, output="sos"), wet, axis=0)
    return gain * wet


@pytest.mark.parametrize("fmt", ["reaper", "dawproject"])
def test_exported_return_reproduces_the_console(session, tmp_path, fmt):
    """The exported numbers, read back and applied as the format defines them, give mixdown's own
    return (:func:`mixdown.dsp.reverb_stream.reverb_return_full`) to better than -100 dB."""
    from mixdown.dsp.reverb_ir import reverb_send_gain
    from mixdown.dsp.reverb_stream import reverb_return_full

    sdir, params = session
    with_reverb(params, SENDS, predelay_ms=7.3, decay_low_s=0.4, decay_mid_s=0.3, decay_high_s=0.2)
    rng = np.random.default_rng(2)
    outputs = [rng.standard_normal((SR // 2, 2)) for _ in params.tracks]  # post-fader, post-pan outputs
    mv = params.master.values
    bus = sum(reverb_send_gain(t.values["reverb_send_db"]) * y for t, y in zip(params.tracks, outputs))
    want = reverb_return_full(bus, SR, *(mv[k] for k in export.common.REVERB_KEYS))
    if fmt == "reaper":
        out = export.export_reaper(params, sdir, tmp_path / "mix.RPP")
        ret = [c for c in parse_rpp(out.read_text())["children"] if c["tag"] == "TRACK"][-1]
        receives = [(int(r[1]), float(r[3])) for r in ret["lines"] if isinstance(r, list) and r[0] == "AUXRECV"]
        (chain,) = [c for c in ret["children"] if c["tag"] == "FXCHAIN"]
        (hp,), _ = decode_reaeq(_vsts(chain)[1][2])
        ir = sf.read(tmp_path / "mix.reverb_ir.wav", always_2d=True)[0].T
        got = _daw_return(outputs, receives, ir, hp["freq"], hp["on"], float(_field(ret, "VOLPAN")[0]))
    else:
        out = export.export_dawproject(params, sdir, tmp_path / "mix.dawproject")
        with zipfile.ZipFile(out) as zf:
            project = _validate(zf.read("project.xml"), "Project.xsd")
            tracks = project.findall("Structure/Track")
            ret = tracks[-2].find("Channel")
            conv, eq = list(ret.find("Devices"))
            ir = sf.read(io.BytesIO(zf.read(conv.find("State").get("path"))), always_2d=True)[0].T
        receives = [(k, _value(s.find("Volume"))) for k, el in enumerate(tracks[:-2])
                    for s in el.findall("Channel/Sends/Send") if s.get("destination") == ret.get("id")]
        band = eq.find("Band")
        got = _daw_return(outputs, receives, ir, _value(band.find("Freq")),
                          band.find("Enabled").get("value") == "true", _value(ret.find("Volume")))
    err_db = 10 * np.log10(np.sum((got - want) ** 2) / np.sum(want ** 2))
    assert err_db < -100, err_db


def test_cli_exports_a_params2_file_with_its_reverb_and_a_params1_file_without(session, tmp_path):
    """Through ``mixdown export``: a /2 file (written by the package's writer) gives the return track,
    the sends and the WAV; the same settings as a /1 file (no reverb keys) give none of them."""
    import json

    from mixdown import cli
    from mixdown.params.io import write_params

    sdir, params = session
    with_reverb(params, SENDS)
    write_params(params, sdir / "v2.json")
    doc = json.loads((sdir / "v2.json").read_text())
    assert doc["format"] == "mixdown.params/2" and "reverb" in doc["master"]
    assert cli.main(["export", str(sdir / "v2.json"), "--out", str(tmp_path / "v2.RPP")]) == 0
    text = (tmp_path / "v2.RPP").read_text()
    assert text.count("AUXRECV") == 2 and "Reverb return" in text and (tmp_path / "v2.reverb_ir.wav").is_file()
    doc["format"] = "mixdown.params/1"
    del doc["master"]["reverb"]
    for t in doc["tracks"]:
        del t["reverb_send_db"]
    (sdir / "v1.json").write_text(json.dumps(doc))
    assert cli.main(["export", str(sdir / "v1.json"), "--out", str(tmp_path / "v1.dawproject")]) == 0
    assert cli.main(["export", str(sdir / "v1.json"), "--out", str(tmp_path / "v1.RPP")]) == 0
    assert "AUXRECV" not in (tmp_path / "v1.RPP").read_text() and not (tmp_path / "v1.reverb_ir.wav").exists()
    with zipfile.ZipFile(tmp_path / "v1.dawproject") as zf:
        assert sorted(zf.namelist()) == ["metadata.xml", "project.xml"]
