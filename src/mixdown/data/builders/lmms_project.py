"""LMMS project files (``.mmp`` XML, ``.mmpz`` compressed): read, list the stems, write neutral stem projects.

A *stem* is one sound source of the song: an instrument track of the song editor, an instrument
track inside the Beat/Bassline editor (played wherever the song's Beat/Bassline tracks trigger
its patterns), or a sample track. :func:`stem_project` turns a project into the project of one
raw track:

- every other instrument and sample track is removed (Beat/Bassline tracks stay: they only say
  when the Beat/Bassline patterns play; a muted or solo flag is cleared on the stem);
- the stem's volume is 100 %, its pan centre, its effect chain removed, its FX-mixer channel the
  master (``fxch`` 0);
- every FX-mixer channel, the master included, is neutral: volume 1, not muted, no effects, a
  single send of 1 to the master; the song's master volume is 100 %;
- automation of the stem's volume and pan, of FX-mixer volumes and of the master volume is removed,
  and so are controller connections (LFO, peak/side-chain) of those values.

What stays is the performance and the sound design: notes, the instrument patch with its own
envelopes, filter and internal effects (e.g. a ZynAddSubFX part's effects), arpeggios, pitch and
tempo, and automation of instrument parameters.
"""

from __future__ import annotations

import copy
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

from mixdown.errors import UsageError

#: LMMS track types (``<track type=...>``)
INSTRUMENT, BEAT_BASSLINE, SAMPLE, AUTOMATION, HIDDEN_AUTOMATION = "0", "1", "2", "5", "6"
#: instrument plugins that play a sample file (the file must exist)
SAMPLE_PLUGINS = ("audiofileprocessor",)


class ProjectError(UsageError):
    """An unreadable or malformed LMMS project; the message names the file."""


@dataclass
class Stem:
    """One raw track of a project.

    Attributes:
        index: position among the project's stems (the order of :func:`stems`).
        name: the track's name in the project; kind: ``instrument``, ``beat-bassline`` or ``sample``.
        plugin: the instrument plugin (e.g. ``zynaddsubfx``), or ``sample`` for a sample track.
        muted: muted in the project as shipped (not heard in the mix).
        files: sample files the stem reads (as written in the project).
        events: notes and sample clips it plays (0: the track is empty; LMMS refuses to render it alone).
    """

    index: int
    name: str
    kind: str
    plugin: str
    muted: bool
    files: list[str]
    events: int = 0


#: project roots LMMS 1.2 opens: its own, and LMMS 0.4's (e.g. Debian's projects/shorties/Greshz-CoolSnip)
ROOT_TAGS = ("lmms-project", "multimedia-project")


def read_project(path: Path) -> ET.Element:
    """The ``<lmms-project>`` root of an ``.mmp`` or ``.mmpz`` (4-byte length + zlib) file (or the
    ``<multimedia-project>`` root of an LMMS 0.4 project: the same layout, upgraded by LMMS on load)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ProjectError(f"{path}: cannot read ({e.strerror})") from e
    if path.suffix.lower() == ".mmpz":
        if len(data) < 4:
            raise ProjectError(f"{path}: too short for an .mmpz file")
        try:
            data = zlib.decompress(data[4:])
        except zlib.error as e:
            raise ProjectError(f"{path}: not a zlib-compressed LMMS project ({e})") from e
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ProjectError(f"{path}: not valid XML ({e})") from e
    if root.tag not in ROOT_TAGS or root.find("song") is None:
        raise ProjectError(f"{path}: not an LMMS project (root <{root.tag}>, expected <lmms-project>, "
                           "or LMMS 0.4's <multimedia-project>, with <song>)")
    return root


def write_project(root: ET.Element, path: Path, compressed: bool = False) -> Path:
    """Write ``root`` as ``.mmp`` XML, or as ``.mmpz`` when ``compressed``; returns ``path``."""
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    if compressed:
        data = struct.pack(">I", len(data)) + zlib.compress(data)
    Path(path).write_bytes(data)
    return Path(path)


# ----------------------------------------------------------------------------- finding stems
def _song_tracks(root: ET.Element) -> list[ET.Element]:
    return root.findall("./song/trackcontainer/track")


def _bb_tracks(root: ET.Element) -> list[ET.Element]:
    """Instrument and sample tracks inside the Beat/Bassline editor."""
    out = []
    for t in _song_tracks(root):
        if t.get("type") == BEAT_BASSLINE:
            out += t.findall("./bbtrack/trackcontainer/track")
    return out


def _stem_elements(root: ET.Element) -> list[tuple[ET.Element, str]]:
    """``(track element, kind)`` of every stem, song editor first, then the Beat/Bassline editor."""
    out = []
    for t in _song_tracks(root):
        if t.get("type") == INSTRUMENT:
            out.append((t, "instrument"))
        elif t.get("type") == SAMPLE:
            out.append((t, "sample"))
    out += [(t, "beat-bassline") for t in _bb_tracks(root) if t.get("type") in (INSTRUMENT, SAMPLE)]
    return out


def _files(track: ET.Element) -> list[str]:
    """Sample files a track reads: audiofileprocessor ``src`` and sample clips ``src``."""
    files = []
    for plugin in track.iter():
        if plugin.tag in SAMPLE_PLUGINS or plugin.tag == "sampletco":
            src = plugin.get("src")
            if src:
                files.append(src)
    return files


def stems(root: ET.Element) -> list[Stem]:
    """Every stem of the project (see the module docstring), in a fixed order."""
    out = []
    for i, (t, kind) in enumerate(_stem_elements(root)):
        inst = t.find("./instrumenttrack/instrument")
        plugin = "sample" if t.get("type") == SAMPLE else (inst.get("name", "?") if inst is not None else "?")
        events = len(t.findall("./pattern/note")) + len(t.findall("sampletco"))
        out.append(Stem(i, t.get("name", f"track {i}"), kind, plugin, t.get("muted") == "1", _files(t), events))
    return out


# ----------------------------------------------------------------------------- neutralising
def set_model(elem: ET.Element, name: str, value: str, ids: set[str]) -> None:
    """Set model ``name`` of ``elem`` (an attribute, or a ``<name id= value=>`` child) to ``value``.

    The ids of child forms (automated or controlled models) are added to ``ids``; the child is
    replaced by the plain attribute, which drops its automation id.
    """
    for child in elem.findall(name):
        if child.get("id"):
            ids.add(child.get("id"))
        elem.remove(child)
    elem.set(name, value)


def _drop_connections(elem: ET.Element, names: tuple[str, ...]) -> None:
    """Remove controller connections of the models ``names`` directly under ``elem``."""
    for conn in elem.findall("connection"):
        for child in list(conn):
            if child.tag in names:
                conn.remove(child)
        if len(conn) == 0:
            elem.remove(conn)


def _clear_chain(elem: ET.Element) -> None:
    """Replace the ``<fxchain>`` under ``elem`` by an empty, disabled one."""
    for chain in elem.findall("fxchain"):
        elem.remove(chain)
    ET.SubElement(elem, "fxchain", {"enabled": "0", "numofeffects": "0"})


def _neutral_track(track: ET.Element, ids: set[str]) -> None:
    """Volume 100 %, pan centre, no effects, master FX channel, not muted or solo."""
    track.set("muted", "0")
    track.set("solo", "0")
    for tag in ("instrumenttrack", "sampletrack"):
        for elem in track.findall(tag):
            set_model(elem, "vol", "100", ids)
            set_model(elem, "pan", "0", ids)
            if tag == "instrumenttrack" or elem.get("fxch") is not None:
                set_model(elem, "fxch", "0", ids)
            _drop_connections(elem, ("vol", "pan", "fxch"))
            _clear_chain(elem)


def neutral_mixer(root: ET.Element, ids: set[str]) -> None:
    """Every FX channel at volume 1, unmuted, no effects, sending 1 to the master; master volume 100 %."""
    song = root.find("song")
    for ch in song.findall("./fxmixer/fxchannel"):
        set_model(ch, "volume", "1", ids)
        ch.set("muted", "0")
        ch.set("soloed", "0")
        _drop_connections(ch, ("volume", "muted"))
        _clear_chain(ch)
        for send in ch.findall("send"):
            ch.remove(send)
        if ch.get("num") != "0":
            ET.SubElement(ch, "send", {"channel": "0", "amount": "1"})
    head = root.find("head")  # <head> (tempo, master volume and pitch) is a sibling of <song>
    if head is not None:
        set_model(head, "mastervol", "100", ids)
        _drop_connections(head, ("mastervol",))


def drop_automation(root: ET.Element, ids: set[str]) -> int:
    """Remove automation of the models ``ids`` (and patterns left without targets); returns objects removed."""
    removed = 0
    for track in _song_tracks(root):
        if track.get("type") not in (AUTOMATION, HIDDEN_AUTOMATION):
            continue
        for pattern in track.findall("automationpattern"):
            for obj in pattern.findall("object"):
                if obj.get("id") in ids:
                    pattern.remove(obj)
                    removed += 1
            if not pattern.findall("object"):
                track.remove(pattern)
    return removed


def _mixer_ids(root: ET.Element) -> set[str]:
    """Automation ids of the FX-mixer volumes and the master volume (before neutralising)."""
    ids = set()
    song = root.find("song")
    for elem in song.findall("./fxmixer/fxchannel/volume") + root.findall("./head/mastervol"):
        if elem.get("id"):
            ids.add(elem.get("id"))
    return ids


def stem_project(root: ET.Element, index: int) -> ET.Element:
    """A copy of the project that plays only stem ``index``, neutral (see the module docstring)."""
    doc = copy.deepcopy(root)
    elems = _stem_elements(doc)
    if not 0 <= index < len(elems):
        raise IndexError(f"stem {index} out of range: the project has {len(elems)} stems")
    keep = elems[index][0]
    for t, _ in elems:
        if t is not keep:
            parent = _parent(doc, t)
            parent.remove(t)
    ids = _mixer_ids(doc)
    _neutral_track(keep, ids)
    neutral_mixer(doc, ids)
    drop_automation(doc, ids)
    return doc


def _parent(root: ET.Element, elem: ET.Element) -> ET.Element:
    for p in root.iter():
        for c in p:
            if c is elem:
                return p
    raise ValueError("element not in the document")
