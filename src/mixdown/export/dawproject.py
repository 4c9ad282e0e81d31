"""DAWproject export (Bitwig Studio, Studio One, Cubase): ``project.xml`` + ``metadata.xml`` in a ZIP.

## Mappings (our unit -> the format's unit)

| ours | DAWproject |
|---|---|
| `input_gain_db` | `Equalizer/InputGain`, `unit="decibel"` (before the EQ, as ours) |
| `highpass_hz` (<= 20 Hz: off) | `Band type="highPass" order="2"`: `Freq` hertz, `Q` 0.7071, `Enabled` |
| EQ band freq / gain / q | `Band` `lowShelf`, `bell` x4, `highShelf`: `Freq` hertz, `Gain` decibel, |
|  | `Q` `unit="linear"` = our RBJ cookbook Q (shelves too) |
| `compressor.threshold_db` | `Threshold`, decibel |
| `compressor.ratio` (x:1) | `Ratio`, `unit="linear"`, the x of x:1 |
| `compressor.attack_ms`, `release_ms` | `Attack`, `Release`, `unit="seconds"` (ms / 1000) |
| `compressor.knee_db` | no schema element: device parameter `RealParameter name="Knee"`, dB |
| `compressor.makeup_db` | `OutputGain`, decibel (`AutoMakeup` false) |
| `fader_db` | channel `Volume`, `unit="linear"`: `10^(dB/20)` (1.0 = 0 dB) |
| `pan` (-1 L .. +1 R) | channel `Pan`, `unit="normalized"`: `(pan + 1) / 2` (0.5 = centre) |
| pan law (constant power) | not in the format: the importing DAW's law applies |
| master `output_gain_db` | master channel `Volume`, linear, plus `normalize.gain_db` if any |
| master EQ, compressor | master channel `Equalizer` (6 bands), `Compressor` |
| `master.limiter` (``/3``) | master channel `Limiter` after the compressor: Attack = lookahead, Release, |
|  | Threshold = `ceiling_dbtp` less the master Volume (the device runs before the fader) |
| time | `Lanes timeUnit="seconds"`; clip `time="0"`, `duration` = file length (s) |
| `reverb_send_db` (> -60 dB) | channel `Sends/Send type="post"` to the reverb's channel, `Volume` linear; |
|  | no `Send` at <= -60 dB |
| `master.reverb` | a track "Reverb return", channel `role="effect"` to the master: a `Device` |
|  | "Convolution reverb" whose `State` is the impulse response inside the archive |
|  | (`reverb/impulse_response.wav`: 2 channels, 32-bit float, the session's rate, the spec's |
|  | unit-energy response), its settings as `Parameters` (pre-delay and decays in seconds, |
|  | Wet 100 %, Dry 0 %); then an `Equalizer` with one `highPass` band (order 2, Q 0.7071, |
|  | enabled iff `reverb.highpass_hz` > 20 Hz) |
| `reverb.return_db` | reverb channel `Volume`, linear |

## Limitations
* DAWproject: DAWs interpret ``Q`` (especially for shelves), the compressor's detector and
  ballistics, and the pan law in their own way; ``Volume`` above the DAW's fader range (ours
  reaches +24 dB) may be clamped. The knee has no standard element.
* DAWproject, reverb: the format has no convolution device, so the reverb is a generic ``Device``
  from vendor "mixdown" that no DAW has: an importing DAW shows the return track, its level, the
  sends and the high-pass (its own EQ), and a missing or placeholder device where the reverb
  goes (or none). To hear the tail, put the DAW's convolution reverb first on "Reverb return"
  (Bitwig: Convolution; Studio One: Open AIR; Cubase: REVerence; ...) and load
  ``reverb/impulse_response.wav`` from the archive (a ``.dawproject`` is a ZIP: extract it),
  100 % wet, with no pre-delay, no IR normalisation, trimming or stretching of its own (many
  convolution devices normalise an IR by default, e.g. REVerence's "Auto Gain": turn that off,
  or the return level differs by that gain). The pre-delay and decays are already in the file;
  the device's ``Parameters`` carry them for reading only. ``type="post"`` is post-fader; whether
  the DAW also sends after its pan control is its own convention (ours: post-pan). Settings where
  no track sends (every ``mixdown.params/1`` file) give exactly the project they gave before.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from mixdown import __version__
from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ, HIGHPASS_Q
from mixdown.dsp.finish import FINISHERS
from mixdown.export.common import (
    ReverbSettings,
    check_path_text,
    db_to_gain,
    fmt_num,
    ir_wav_bytes,
    rel_path,
    reverb_settings,
    safe_text,
    session_tempo,
    stem_files,
)
from mixdown.fileio import atomic_write
from mixdown.params import spec as S
from mixdown.params.io import MixParams

DAWPROJECT_VERSION = "1.0"
REVERB_TRACK_NAME = "Reverb return"
#: the impulse response's path inside the archive
IR_ARCHIVE_PATH = "reverb/impulse_response.wav"
_DAW_BAND = {"low_shelf": "lowShelf", "peak": "bell", "high_shelf": "highShelf"}


class _Ids:
    """Unique ``id`` attributes: id1, id2, ..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id{self.n}"


def _real(parent: ET.Element, tag: str, value: float, unit: str, ids: _Ids, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {"id": ids(), **attrs, "unit": unit, "value": fmt_num(value)})


def _bool(parent: ET.Element, tag: str, value: bool, ids: _Ids, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {"id": ids(), **attrs, "value": "true" if value else "false"})


def _eq_device(parent: ET.Element, v: dict[str, float], ids: _Ids, strip: bool) -> None:
    """``Equalizer``: [high-pass,] the six bands in order [, input gain] (``strip``: a track)."""
    eq = ET.SubElement(parent, "Equalizer", {"id": ids(), "name": "mixdown EQ", "deviceName": "Equalizer",
                                             "deviceRole": "audioFX", "deviceVendor": "mixdown"})
    _bool(eq, "Enabled", True, ids, name="Enabled")
    if strip:
        band = ET.SubElement(eq, "Band", {"type": "highPass", "order": "2"})
        _real(band, "Freq", v["highpass_hz"], "hertz", ids, name="High-pass frequency")
        _real(band, "Q", HIGHPASS_Q, "linear", ids, name="High-pass Q")
        _bool(band, "Enabled", v["highpass_hz"] > HIGHPASS_OFF_HZ, ids, name="High-pass enabled")
    for i, kind in enumerate(S.EQ_BAND_TYPES):
        band = ET.SubElement(eq, "Band", {"type": _DAW_BAND[kind]})
        _real(band, "Freq", v[f"eq.{i}.freq_hz"], "hertz", ids, name=f"Band {i + 1} frequency")
        _real(band, "Gain", v[f"eq.{i}.gain_db"], "decibel", ids, name=f"Band {i + 1} gain")
        _real(band, "Q", v[f"eq.{i}.q"], "linear", ids, name=f"Band {i + 1} Q")
        _bool(band, "Enabled", True, ids, name=f"Band {i + 1} enabled")
    if strip:
        _real(eq, "InputGain", v["input_gain_db"], "decibel", ids, name="Input gain")


def _compressor_device(parent: ET.Element, v: dict[str, float], ids: _Ids) -> None:
    """``Compressor`` with the schema's elements in schema order; the knee as a device parameter."""
    c = ET.SubElement(parent, "Compressor", {
        "id": ids(), "name": "mixdown compressor", "deviceName": "Compressor", "deviceRole": "audioFX",
        "deviceVendor": "mixdown",
        "comment": "feed-forward, peak side chain (max over channels), soft knee, smoothing in dB"})
    params = ET.SubElement(c, "Parameters")
    _real(params, "RealParameter", v["compressor.knee_db"], "decibel", ids, name="Knee")
    _bool(c, "Enabled", True, ids, name="Enabled")
    _real(c, "Attack", v["compressor.attack_ms"] / 1000.0, "seconds", ids, name="Attack")
    _bool(c, "AutoMakeup", False, ids, name="Auto makeup")
    _real(c, "OutputGain", v["compressor.makeup_db"], "decibel", ids, name="Makeup gain")
    _real(c, "Ratio", v["compressor.ratio"], "linear", ids, name="Ratio")
    _real(c, "Release", v["compressor.release_ms"] / 1000.0, "seconds", ids, name="Release")
    _real(c, "Threshold", v["compressor.threshold_db"], "decibel", ids, name="Threshold")


def _channel(track: ET.Element, ids: _Ids, role: str, channels: int, v: dict[str, float], volume_db: float,
             pan: float, destination: str | None, strip: bool, send: tuple[str, float] | None = None) -> ET.Element:
    """A channel with our EQ and compressor; ``send``: ``(channel id, dB)`` of a post-fader send."""
    attrs = {"id": ids(), "role": role, "audioChannels": str(channels), "solo": "false"}
    if destination:
        attrs["destination"] = destination
    ch = ET.SubElement(track, "Channel", attrs)
    devices = ET.SubElement(ch, "Devices")
    _eq_device(devices, v, ids, strip)
    _compressor_device(devices, v, ids)
    _bool(ch, "Mute", False, ids, name="Mute")
    _real(ch, "Pan", (pan + 1.0) / 2.0, "normalized", ids, name="Pan", min="0", max="1")
    if send is not None:
        el = ET.SubElement(ET.SubElement(ch, "Sends"), "Send", {"id": ids(), "name": "Reverb send",
                                                                "destination": send[0], "type": "post"})
        _bool(el, "Enable", True, ids, name="Send enabled")
        _real(el, "Volume", db_to_gain(send[1]), "linear", ids, name="Send level", min="0", max="1")
    _real(ch, "Volume", db_to_gain(volume_db), "linear", ids, name="Volume", min="0", max=fmt_num(db_to_gain(24.0)))
    return ch


def _safe_quiet(text: str) -> str:
    """:func:`safe_text` without a second warning (the track's name was reported already)."""
    from mixdown.export.common import _UNSAFE

    return _UNSAFE.sub(" ", text)


def _reverb_track(structure: ET.Element, ids: _Ids, channel_id: str, rev: ReverbSettings, master_id: str) -> None:
    """The return track: convolution device (the IR as its state), high-pass, return level."""
    track = ET.SubElement(structure, "Track", {"id": ids(), "name": REVERB_TRACK_NAME, "contentType": "audio",
                                               "loaded": "true"})
    ch = ET.SubElement(track, "Channel", {"id": channel_id, "role": "effect", "audioChannels": "2", "solo": "false",
                                          "destination": master_id})
    devices = ET.SubElement(ch, "Devices")
    conv = ET.SubElement(devices, "Device", {
        "id": ids(), "name": "mixdown reverb", "deviceName": "Convolution reverb", "deviceRole": "audioFX",
        "deviceVendor": "mixdown",
        "comment": f"convolution with {IR_ARCHIVE_PATH} (in this archive), 100 % wet, the file used as it is "
                   "(unit energy per channel: do not normalise); the decays are those of the file"})
    params = ET.SubElement(conv, "Parameters")
    _real(params, "RealParameter", rev.predelay_ms / 1000.0, "seconds", ids, name="Pre-delay")
    for band, decay in zip(("low", "mid", "high"), rev.decays_s):
        _real(params, "RealParameter", decay, "seconds", ids, name=f"Decay {band}")
    _real(params, "RealParameter", 100.0, "percent", ids, name="Wet")
    _real(params, "RealParameter", 0.0, "percent", ids, name="Dry")
    _bool(conv, "Enabled", True, ids, name="Enabled")
    ET.SubElement(conv, "State", {"path": IR_ARCHIVE_PATH, "external": "false"})
    eq = ET.SubElement(devices, "Equalizer", {"id": ids(), "name": "mixdown reverb high-pass",
                                              "deviceName": "Equalizer", "deviceRole": "audioFX",
                                              "deviceVendor": "mixdown"})
    _bool(eq, "Enabled", True, ids, name="Enabled")
    band = ET.SubElement(eq, "Band", {"type": "highPass", "order": "2"})
    _real(band, "Freq", rev.highpass_hz, "hertz", ids, name="High-pass frequency")
    _real(band, "Q", HIGHPASS_Q, "linear", ids, name="High-pass Q")
    _bool(band, "Enabled", rev.highpass_hz > HIGHPASS_OFF_HZ, ids, name="High-pass enabled")
    _bool(ch, "Mute", False, ids, name="Mute")
    _real(ch, "Pan", 0.5, "normalized", ids, name="Pan", min="0", max="1")
    _real(ch, "Volume", db_to_gain(rev.return_db), "linear", ids, name="Volume", min="0", max=fmt_num(db_to_gain(24.0)))


def dawproject_xml(params: MixParams, stems: list, audio_paths: list[tuple[str, bool]]) -> tuple[bytes, bytes]:
    """``(project.xml, metadata.xml)`` bytes. ``audio_paths``: ``(path, external)`` per stem."""
    ids = _Ids()
    project = ET.Element("Project", {"version": DAWPROJECT_VERSION})
    ET.SubElement(project, "Application", {"name": "mixdown", "version": __version__})
    transport = ET.SubElement(project, "Transport")
    _real(transport, "Tempo", session_tempo(params), "bpm", ids, name="Tempo")
    ET.SubElement(transport, "TimeSignature", {"id": ids(), "numerator": "4", "denominator": "4"})
    structure = ET.SubElement(project, "Structure")
    master_track = ET.Element("Track", {"id": ids(), "name": "Master", "contentType": "audio", "loaded": "true"})
    mv = params.master.values
    master_ch = _channel(master_track, ids, "master", 2, mv, mv["output_gain_db"] + params.normalize_gain_db,
                         0.0, None, strip=False)
    for f in FINISHERS:  # the master's finishing stages (the limiter) after its compressor
        if f.KEY in params.master.finish:
            dev = ET.SubElement(master_ch.find("Devices"), "Limiter", {
                "id": ids(), "name": f"mixdown {f.KEY}", "deviceName": "Limiter", "deviceRole": "audioFX",
                "deviceVendor": "mixdown", "comment": f.describe(params.master.finish[f.KEY]) + "; Threshold is "
                "the ceiling before the master Volume (a limiter commutes with gain)"})
            _bool(dev, "Enabled", True, ids, name="Enabled")
            for tag, value, unit in f.dawproject_device(params.master.finish[f.KEY],
                                                        mv["output_gain_db"] + params.normalize_gain_db):
                _real(dev, tag, value, unit, ids, name=tag)
    if params.master.normalize:
        master_ch.set("comment", "Volume = output_gain_db {:+.2f} dB + normalize.gain_db {:+.2f} dB".format(
            mv["output_gain_db"], params.normalize_gain_db))
    rev = reverb_settings(params)
    reverb_id = ids() if rev is not None else ""
    track_ids = []
    for k, (t, stem) in enumerate(zip(params.tracks, stems)):
        tid = ids()
        track_ids.append(tid)
        track = ET.SubElement(structure, "Track", {"id": tid, "name": safe_text(t.name, "track name"),
                                                   "contentType": "audio",
                                                   "loaded": "true"})
        send = (reverb_id, rev.sends_db[k]) if rev is not None and rev.sends_db[k] is not None else None
        _channel(track, ids, "regular", stem.channels, t.values, t.values["fader_db"], t.values["pan"],
                 master_ch.get("id"), strip=True, send=send)
    if rev is not None:
        _reverb_track(structure, ids, reverb_id, rev, master_ch.get("id"))
    structure.append(master_track)
    arrangement = ET.SubElement(project, "Arrangement", {"id": ids()})
    lanes = ET.SubElement(arrangement, "Lanes", {"id": ids(), "timeUnit": "seconds"})
    for tid, stem, (path, external) in zip(track_ids, stems, audio_paths):
        track_lanes = ET.SubElement(lanes, "Lanes", {"id": ids(), "track": tid})
        clips = ET.SubElement(track_lanes, "Clips", {"id": ids()})
        clip = ET.SubElement(clips, "Clip", {"name": _safe_quiet(stem.name), "time": "0",
                                             "duration": fmt_num(stem.seconds), "contentTimeUnit": "seconds",
                                             "playStart": "0"})
        audio = ET.SubElement(clip, "Audio", {"id": ids(), "timeUnit": "seconds", "duration": fmt_num(stem.seconds),
                                              "channels": str(stem.channels), "sampleRate": str(stem.sample_rate)})
        ET.SubElement(audio, "File", {"path": check_path_text(path, stem.name),
                                      "external": "true" if external else "false"})
    ET.indent(project)
    meta = ET.Element("MetaData")
    ET.SubElement(meta, "Title").text = safe_text(str(params.extra.get("title", "mixdown export")), "title")
    ET.SubElement(meta, "Comment").text = (
        f"Console settings exported by mixdown {__version__} (mixdown.params/{1 if rev is None else 2}, "
        f"{params.sample_rate} Hz). "
        "Volume is linear amplitude, Pan normalised 0..1 (0.5 = centre; mixdown's pan law is constant "
        "power, -3 dB at centre), EQ Q is the RBJ cookbook Q, compressor times in seconds, knee in the "
        "compressor's 'Knee' parameter." + ("" if rev is None else (
            f" Reverb: load {IR_ARCHIVE_PATH} (inside this file, a ZIP) into your convolution reverb on the "
            f"track '{REVERB_TRACK_NAME}', 100 % wet, without normalising it; the sends are post-fader.")))
    ET.indent(meta)
    return (ET.tostring(project, encoding="utf-8", xml_declaration=True),
            ET.tostring(meta, encoding="utf-8", xml_declaration=True))


def export_dawproject(params: MixParams, session_dir: str | os.PathLike, out_path: str | os.PathLike,
                      embed_audio: bool = False, allow_outside_session: bool = False) -> Path:
    """Write a ``.dawproject`` file (ZIP) for ``params``; returns its path.

    Args:
        params: the console settings.
        session_dir: folder the tracks' ``file`` entries are relative to.
        out_path: the ``.dawproject`` file to write (replaced atomically).
        embed_audio: copy the stems into the archive under ``audio/``; otherwise the clips refer to
            the stems on disk by a path relative to the ``.dawproject`` file (``external="true"``).
        allow_outside_session: accept ``file`` entries that resolve outside ``session_dir``
            (refused by default: neither referred to nor embedded).

    Names lose the characters XML cannot carry (with a warning); paths holding them are refused.

    With a reverb, the impulse response is always inside the archive (:data:`IR_ARCHIVE_PATH`).
    """
    out_path = Path(out_path)
    stems = stem_files(params, Path(session_dir), allow_outside_session)
    if embed_audio:
        names: list[str] = []
        for stem in stems:
            name = stem.path.name
            while f"audio/{name}" in names:
                name = f"{len(names)}_{name}"
            names.append(f"audio/{name}")
        audio_paths = [(n, False) for n in names]
    else:
        audio_paths = [(rel_path(s.path, out_path.parent), True) for s in stems]
    project_xml, metadata_xml = dawproject_xml(params, stems, audio_paths)
    rev = reverb_settings(params)
    ir_wav = None if rev is None else ir_wav_bytes(rev.impulse_response(params.sample_rate), params.sample_rate)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.xml", project_xml)
            zf.writestr("metadata.xml", metadata_xml)
            if ir_wav is not None:
                zf.writestr(IR_ARCHIVE_PATH, ir_wav, compress_type=zipfile.ZIP_STORED)
            if embed_audio:
                for stem, (name, _) in zip(stems, audio_paths):
                    zf.write(stem.path, name, compress_type=zipfile.ZIP_STORED)

    atomic_write(out_path, write)
    return out_path
