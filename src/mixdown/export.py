"""Export a parameter file's console settings as a DAW project: DAWproject or REAPER.

``mixdown export PARAMS.json --format dawproject|reaper --out FILE [--session DIR]``

Both exports put one audio track per stem (the stem file from time 0, full length) with its
fader and pan, plus the master bus. How much of the rest a DAW reproduces differs per format:

* **DAWproject** (``.dawproject``: a ZIP with ``project.xml`` and ``metadata.xml``, optionally the
  stems under ``audio/``), the open exchange format of Bitwig Studio, Studio One and Cubase, read
  against the official schema (``tests/schemas/Project.xsd``, bitwig/dawproject). Each channel
  carries the format's built-in ``Equalizer`` (high-pass + 6 bands, input gain) and
  ``Compressor`` devices; the importing DAW maps them onto its own EQ and compressor, so the
  sound is close to ours but not sample-identical (filter shapes, detector and knee differ).
* **REAPER** (``.RPP``, plain text): tracks, media items, input gain (item volume), fader and pan
  are set exactly. ReaEQ and ReaComp keep their settings in an undocumented binary blob that we
  cannot write and verify, so no FX chain is written: every EQ/compressor setting is listed in the
  project notes (View > Project notes) in ReaEQ/ReaComp terms, to be dialled in by hand.

## Mappings (our unit -> the format's unit)

DAWproject:

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
| time | `Lanes timeUnit="seconds"`; clip `time="0"`, `duration` = file length (s) |

REAPER:

| ours | .RPP |
|---|---|
| `input_gain_db` | item `VOLPAN` field 1, linear `10^(dB/20)` (before track FX, as ours) |
| `fader_db` | track `VOLPAN` field 1, linear amplitude |
| `pan` (-1 .. +1) | track `VOLPAN` field 2, -1 .. +1 (same scale) |
| pan law: -3 dB at centre | track pan law, `VOLPAN` field 3 = 0.7071 (1 = +0 dB, 0.5 = -6 dB) |
| master output (+ normalize) | `MASTER_VOLUME` field 1, linear |
| high-pass, EQ, compressors | project notes only, bell bandwidth `2/ln2 * asinh(1/(2Q))` octaves |
| time | item `POSITION 0`, `LENGTH` = file length (s) |

## Limitations
* DAWproject: DAWs interpret ``Q`` (especially for shelves), the compressor's detector and
  ballistics, and the pan law in their own way; ``Volume`` above the DAW's fader range (ours
  reaches +24 dB) may be clamped. The knee has no standard element.
* REAPER: the pan law matches at centre and at the extremes; REAPER's taper in between (and its
  balance-style panning of stereo tracks, which our spec also uses) is REAPER's own. EQ,
  high-pass and compressors are not applied (see the notes).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from mixdown import __version__
from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import probe

log = logging.getLogger(__name__)

DAWPROJECT_VERSION = "1.0"
HIGHPASS_Q = 1.0 / math.sqrt(2.0)
#: REAPER pan law value for -3 dB at centre (REAPER: 1.0 = +0 dB, 0.5 = -6 dB, <0 = default)
REAPER_PAN_LAW = 1.0 / math.sqrt(2.0)
_DAW_BAND = {"low_shelf": "lowShelf", "peak": "bell", "high_shelf": "highShelf"}
_REAEQ_BAND = {"low_shelf": "Low Shelf", "peak": "Band", "high_shelf": "High Shelf"}
_RPP_SOURCE = {".flac": "FLAC", ".mp3": "MP3", ".ogg": "VORBIS", ".opus": "OPUS"}  # else WAVE


@dataclass
class _Stem:
    """One track's audio file as found on disk."""

    name: str
    path: Path
    channels: int
    sample_rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _stems(params: MixParams, session_dir: Path) -> list[_Stem]:
    """Probe every track's file (raises :class:`mixdown.session.SessionError` naming a bad one)."""
    out = []
    for t in params.tracks:
        info = probe(Path(session_dir) / t.file)
        out.append(_Stem(t.name, info.path.resolve(), info.channels, info.sample_rate, info.frames))
    return out


def _num(x: float) -> str:
    """A float as written to the files: 12 significant digits."""
    return format(float(x), ".12g")


def _lin(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _tempo(params: MixParams) -> float:
    source = params.extra.get("source")
    tempo = source.get("tempo") if isinstance(source, dict) else None
    return float(tempo) if isinstance(tempo, (int, float)) and 20 <= tempo <= 999 else 120.0


def _atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then move the result onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rel_path(target: Path, start: Path) -> str:
    """``target`` relative to folder ``start`` (POSIX separators), absolute when impossible."""
    try:
        return Path(os.path.relpath(target, start.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return target.as_posix()


# ----------------------------------------------------------------------------- DAWproject
class _Ids:
    """Unique ``id`` attributes: id1, id2, ..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id{self.n}"


def _real(parent: ET.Element, tag: str, value: float, unit: str, ids: _Ids, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {"id": ids(), **attrs, "unit": unit, "value": _num(value)})


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
             pan: float, destination: str | None, strip: bool) -> ET.Element:
    attrs = {"id": ids(), "role": role, "audioChannels": str(channels), "solo": "false"}
    if destination:
        attrs["destination"] = destination
    ch = ET.SubElement(track, "Channel", attrs)
    devices = ET.SubElement(ch, "Devices")
    _eq_device(devices, v, ids, strip)
    _compressor_device(devices, v, ids)
    _bool(ch, "Mute", False, ids, name="Mute")
    _real(ch, "Pan", (pan + 1.0) / 2.0, "normalized", ids, name="Pan", min="0", max="1")
    _real(ch, "Volume", _lin(volume_db), "linear", ids, name="Volume", min="0", max=_num(_lin(24.0)))
    return ch


def dawproject_xml(params: MixParams, stems: list, audio_paths: list[tuple[str, bool]]) -> tuple[bytes, bytes]:
    """``(project.xml, metadata.xml)`` bytes. ``audio_paths``: ``(path, external)`` per stem."""
    ids = _Ids()
    project = ET.Element("Project", {"version": DAWPROJECT_VERSION})
    ET.SubElement(project, "Application", {"name": "mixdown", "version": __version__})
    transport = ET.SubElement(project, "Transport")
    _real(transport, "Tempo", _tempo(params), "bpm", ids, name="Tempo")
    ET.SubElement(transport, "TimeSignature", {"id": ids(), "numerator": "4", "denominator": "4"})
    structure = ET.SubElement(project, "Structure")
    master_track = ET.Element("Track", {"id": ids(), "name": "Master", "contentType": "audio", "loaded": "true"})
    mv = params.master.values
    master_ch = _channel(master_track, ids, "master", 2, mv, mv["output_gain_db"] + params.normalize_gain_db,
                         0.0, None, strip=False)
    if params.master.normalize:
        master_ch.set("comment", "Volume = output_gain_db {:+.2f} dB + normalize.gain_db {:+.2f} dB".format(
            mv["output_gain_db"], params.normalize_gain_db))
    track_ids = []
    for t, stem in zip(params.tracks, stems):
        tid = ids()
        track_ids.append(tid)
        track = ET.SubElement(structure, "Track", {"id": tid, "name": t.name, "contentType": "audio",
                                                   "loaded": "true"})
        _channel(track, ids, "regular", stem.channels, t.values, t.values["fader_db"], t.values["pan"],
                 master_ch.get("id"), strip=True)
    structure.append(master_track)
    arrangement = ET.SubElement(project, "Arrangement", {"id": ids()})
    lanes = ET.SubElement(arrangement, "Lanes", {"id": ids(), "timeUnit": "seconds"})
    for tid, stem, (path, external) in zip(track_ids, stems, audio_paths):
        track_lanes = ET.SubElement(lanes, "Lanes", {"id": ids(), "track": tid})
        clips = ET.SubElement(track_lanes, "Clips", {"id": ids()})
        clip = ET.SubElement(clips, "Clip", {"name": stem.name, "time": "0", "duration": _num(stem.seconds),
                                             "contentTimeUnit": "seconds", "playStart": "0"})
        audio = ET.SubElement(clip, "Audio", {"id": ids(), "timeUnit": "seconds", "duration": _num(stem.seconds),
                                              "channels": str(stem.channels), "sampleRate": str(stem.sample_rate)})
        ET.SubElement(audio, "File", {"path": path, "external": "true" if external else "false"})
    ET.indent(project)
    meta = ET.Element("MetaData")
    ET.SubElement(meta, "Title").text = str(params.extra.get("title", "mixdown export"))
    ET.SubElement(meta, "Comment").text = (
        f"Console settings exported by mixdown {__version__} (mixdown.params/1, {params.sample_rate} Hz). "
        "Volume is linear amplitude, Pan normalised 0..1 (0.5 = centre; mixdown's pan law is constant "
        "power, -3 dB at centre), EQ Q is the RBJ cookbook Q, compressor times in seconds, knee in the "
        "compressor's 'Knee' parameter.")
    ET.indent(meta)
    return (ET.tostring(project, encoding="utf-8", xml_declaration=True),
            ET.tostring(meta, encoding="utf-8", xml_declaration=True))


def export_dawproject(params: MixParams, session_dir: str | os.PathLike, out_path: str | os.PathLike,
                      embed_audio: bool = False) -> Path:
    """Write a ``.dawproject`` file (ZIP) for ``params``; returns its path.

    Args:
        params: the console settings.
        session_dir: folder the tracks' ``file`` entries are relative to.
        out_path: the ``.dawproject`` file to write (replaced atomically).
        embed_audio: copy the stems into the archive under ``audio/``; otherwise the clips refer to
            the stems on disk by a path relative to the ``.dawproject`` file (``external="true"``).
    """
    out_path = Path(out_path)
    stems = _stems(params, Path(session_dir))
    if embed_audio:
        names: list[str] = []
        for stem in stems:
            name = stem.path.name
            while f"audio/{name}" in names:
                name = f"{len(names)}_{name}"
            names.append(f"audio/{name}")
        audio_paths = [(n, False) for n in names]
    else:
        audio_paths = [(_rel_path(s.path, out_path.parent), True) for s in stems]
    project_xml, metadata_xml = dawproject_xml(params, stems, audio_paths)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("project.xml", project_xml)
            zf.writestr("metadata.xml", metadata_xml)
            if embed_audio:
                for stem, (name, _) in zip(stems, audio_paths):
                    zf.write(stem.path, name, compress_type=zipfile.ZIP_STORED)

    _atomic_write_bytes(out_path, write)
    return out_path


# ----------------------------------------------------------------------------- REAPER
def _rpp_str(s: str) -> str:
    """A REAPER string token: quoted with the first quote character it does not contain."""
    for q in "\"'`":
        if q not in s:
            return f"{q}{s}{q}"
    return '"' + s.replace('"', "'") + '"'


def _bandwidth_octaves(q: float) -> float:
    """Bandwidth in octaves of a peaking band of quality ``q`` (analog prototype relation)."""
    return 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))


def _settings_notes(params: MixParams) -> list[str]:
    """The EQ / compressor settings, one line each, as to be dialled into ReaEQ and ReaComp."""

    def eq_lines(v: dict[str, float], strip: bool) -> list[str]:
        out = []
        if strip:
            hp = v["highpass_hz"]
            out.append(f"  ReaEQ High Pass: {hp:.1f} Hz, Q 0.707 (12 dB/oct)" if hp > HIGHPASS_OFF_HZ
                       else "  ReaEQ High Pass: off")
        for i, kind in enumerate(S.EQ_BAND_TYPES):
            f, g, q = (v[f"eq.{i}.{k}"] for k in ("freq_hz", "gain_db", "q"))
            bw = f" (~{_bandwidth_octaves(q):.2f} oct)" if kind == "peak" else ""
            out.append(f"  ReaEQ {_REAEQ_BAND[kind]} {i + 1}: {f:.1f} Hz, {g:+.2f} dB, Q {q:.3f}{bw}")
        c = {k: v[f"compressor.{k}"] for k in S.COMPRESSOR_KEYS}
        out.append(f"  ReaComp: threshold {c['threshold_db']:.2f} dB, ratio {c['ratio']:.2f}:1, attack "
                   f"{c['attack_ms']:.1f} ms, release {c['release_ms']:.1f} ms, knee {c['knee_db']:.2f} dB, "
                   f"makeup {c['makeup_db']:+.2f} dB")
        return out

    lines = [f"mixdown {__version__} console settings ({params.sample_rate} Hz).",
             "Set in this project: input gain (item volume), fader and pan (track), master output gain.",
             "NOT applied (ReaEQ/ReaComp state cannot be written): the EQ and compressor settings below.",
             "Insert ReaEQ then ReaComp on each track (and on the master) and enter these values.",
             "RBJ cookbook filters; Q as in the cookbook (bandwidth in octaves approximate).", ""]
    for t in params.tracks:
        v = t.values
        lines.append(f"Track {t.name!r}: input gain {v['input_gain_db']:+.2f} dB, fader {v['fader_db']:+.2f} dB, "
                     f"pan {v['pan']:+.3f}")
        lines += eq_lines(v, strip=True)
    mv = params.master.values
    lines.append(f"Master: output gain {mv['output_gain_db']:+.2f} dB"
                 + (f", normalize gain {params.normalize_gain_db:+.2f} dB" if params.master.normalize else ""))
    lines += eq_lines(mv, strip=False)
    return lines


def reaper_rpp(params: MixParams, stems: list, files: list[str]) -> str:
    """The text of a REAPER project; ``files``: each stem's path as written in ``FILE``."""
    mv = params.master.values
    out = [f"<REAPER_PROJECT 0.1 \"6.0/mixdown-{__version__}\" {int(time.time())}", "  <NOTES 0 2"]
    out += [f"    |{line}" for line in _settings_notes(params)]
    out += ["  >", f"  SAMPLERATE {params.sample_rate} 0 0", f"  TEMPO {_num(_tempo(params))} 4 4",
            "  MASTER_NCH 2 2",
            f"  MASTER_VOLUME {_num(_lin(mv['output_gain_db'] + params.normalize_gain_db))} 0 -1 -1 1"]
    for t, stem, path in zip(params.tracks, stems, files):
        v = t.values
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mixdown:{t.name}:{t.file}")).upper()
        source = _RPP_SOURCE.get(stem.path.suffix.lower(), "WAVE")
        out += [f"  <TRACK {{{guid}}}", f"    NAME {_rpp_str(t.name)}",
                f"    VOLPAN {_num(_lin(v['fader_db']))} {_num(v['pan'])} {_num(REAPER_PAN_LAW)} -1 1",
                "    MUTESOLO 0 0 0", "    NCHAN 2", "    MAINSEND 1 0",
                "    <ITEM", "      POSITION 0", f"      LENGTH {_num(stem.seconds)}", "      LOOP 0",
                f"      NAME {_rpp_str(stem.path.name)}",
                f"      VOLPAN {_num(_lin(v['input_gain_db']))} 0 1 -1",
                f"      <SOURCE {source}", f"        FILE {_rpp_str(path)}", "      >", "    >", "  >"]
    out.append(">")
    return "\n".join(out) + "\n"


def export_reaper(params: MixParams, session_dir: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Write a REAPER ``.RPP`` project for ``params``; returns its path.

    The items refer to the stems by a path relative to the project file (REAPER resolves relative
    paths from the project folder), absolute when there is none.
    """
    out_path = Path(out_path)
    stems = _stems(params, Path(session_dir))
    text = reaper_rpp(params, stems, [_rel_path(s.path, out_path.parent) for s in stems])
    _atomic_write_bytes(out_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return out_path


# ----------------------------------------------------------------------------- CLI
FORMATS = {"dawproject": ".dawproject", "reaper": ".rpp"}


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a parameter file's settings as a DAW project",
                       description="Write the console settings of PARAMS.json as a DAWproject (Bitwig, "
                                   "Studio One, Cubase) or REAPER project referring to the session's stems.")
    p.add_argument("params", type=Path, help="mixdown.params/1 JSON file")
    p.add_argument("--format", choices=sorted(FORMATS), help="project format (default: from --out's suffix)")
    p.add_argument("--out", type=Path, required=True, help="project file to write (.dawproject or .RPP)")
    p.add_argument("--session", type=Path, help="folder the stems' paths are relative to "
                                                "(default: the parameter file's folder)")
    p.add_argument("--embed-audio", action="store_true", help="dawproject: copy the stems into the file")
    p.set_defaults(func=_cli_export)


def _cli_export(args) -> int:
    from mixdown.cli import CliError
    from mixdown.params.io import ParamsError, read_params
    from mixdown.session import SessionError

    fmt = args.format or next((k for k, suf in FORMATS.items() if args.out.suffix.lower() == suf), None)
    if fmt is None:
        raise CliError(f"{args.out}: cannot tell the format from the suffix; give --format dawproject|reaper")
    try:
        params = read_params(args.params)
    except ParamsError as e:
        raise CliError(str(e)) from e
    session = args.session if args.session is not None else args.params.parent
    if not session.is_dir():
        raise CliError(f"{session}: session folder not found; give --session DIR")
    try:
        if fmt == "dawproject":
            path = export_dawproject(params, session, args.out, embed_audio=args.embed_audio)
        else:
            path = export_reaper(params, session, args.out)
    except SessionError as e:
        raise CliError(str(e)) from e
    log.info("wrote %s (%s, %d tracks + master)", path, fmt, len(params.tracks))
    return 0
