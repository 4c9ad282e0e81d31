"""Recorded drum kits for the synthetic corpus: Hydrogen kits and the AVL soundfont kits.

A Hydrogen kit is a folder of WAV/FLAC samples with a ``drumkit.xml`` listing its instruments,
each with velocity layers (``min``/``max`` velocity in 0-1, a sample file, a gain), a volume, a
pan and an optional mute group (an open hi-hat is cut by the closed one). Instruments are
matched to General MIDI drum notes by their names (:func:`drum_class`: "Kick", "Hi Hat Closed",
"Tom Low"...), since most kits' own MIDI notes are not General MIDI. A kit counts as usable when it
has at least a kick, a snare and a closed hi-hat.

The AVL kits (Debian ``avldrums.lv2-soundfont``) are SF2 soundfonts with their kit on bank 0,
program 0; fluidsynth plays them on a melodic channel (the caller renders them; see
:func:`sf2_notes`). Notes a kit lacks (congas, shakers...) are left to the General MIDI soundfont.

``scripts/setup_system.sh`` installs ``hydrogen-drumkits`` and ``avldrums.lv2-soundfont``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from mixdown.data.midinotes import Note

log = logging.getLogger(__name__)

#: folders searched for Hydrogen kits (``$MIXDOWN_DRUMKITS``, a ``:``-separated list, comes first)
HYDROGEN_DIRS = ("/usr/share/hydrogen/data/drumkits",)
#: AVL drum kits as SF2 soundfonts
AVL_SOUNDFONTS = ("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2", "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")
#: (class, name pattern) rules on lower-cased instrument names; first match wins
_CLASS_RULES = (
    ("ride_bell", r"ride.*(bell|cup)|(bell|cup).*ride"), ("ride", r"\bride"),
    ("china", r"china|splash"), ("crash", r"crash|cymbal"),
    ("hh_pedal", r"(h\.?h|hat).*\b(pedal|pd|foot)\b|\b(pedal|foot)\b.*(hh|hat)"),
    ("hh_open", r"(h\.?h|hat).*\b(open\w*|op)\b|\bopen\w*\b.*(hh|hat)"),
    ("hh_closed", r"(h\.?h|hat).*\b(closed?|cl)\b|\bclosed?\b.*(hh|hat)"),
    ("kick", r"kick|bass ?drum|\bbd\d*\b"), ("stick", r"stick|rim ?click"),
    ("snare", r"snare(?!.*(roll|rim))"), ("clap", r"clap"),
    ("tom_low", r"tom.*(floor|low|\blo\b)|floor ?tom|low ?tom"), ("tom_mid", r"tom.*mid|mid\w* ?tom"),
    ("tom_high", r"tom.*(\bhi\b|high)|(high|\bhi\b) ?tom|tom ?1\b"), ("tom_mid", r"\btom\b"),
    ("cowbell", r"cowbell"), ("tambourine", r"tambourine"),
)
_COMPILED = tuple((c, re.compile(p)) for c, p in _CLASS_RULES)
#: General MIDI drum note -> instrument classes to try, best first
GM_NOTES: dict[int, tuple[str, ...]] = {
    35: ("kick",), 36: ("kick",), 37: ("stick", "snare"), 38: ("snare",), 39: ("clap",), 40: ("snare",),
    41: ("tom_low", "tom_mid"), 43: ("tom_low", "tom_mid"), 45: ("tom_mid", "tom_low", "tom_high"),
    47: ("tom_mid", "tom_high", "tom_low"), 48: ("tom_high", "tom_mid"), 50: ("tom_high", "tom_mid"),
    42: ("hh_closed",), 44: ("hh_pedal", "hh_closed"), 46: ("hh_open",), 49: ("crash", "ride"),
    52: ("china", "crash"), 55: ("china", "crash"), 57: ("crash", "ride"), 51: ("ride", "crash"), 59: ("ride", "crash"),
    53: ("ride_bell", "ride"), 54: ("tambourine",), 56: ("cowbell",),
}
ESSENTIAL = ("kick", "snare", "hh_closed")
#: stand-ins for GM notes a soundfont kit lacks (acoustic <-> electric kick and snare, cymbals)
SUBSTITUTES = {35: 36, 36: 35, 38: 40, 40: 38, 44: 42, 52: 49, 55: 49, 57: 49, 59: 51, 53: 51}


def drum_class(name: str) -> str | None:
    """The drum class an instrument name names (``"Sabian Hat Closed"`` -> ``"hh_closed"``), or None."""
    text = re.sub(r"[_\-]+", " ", name.lower())
    text = re.sub(r"\bhi ?hat|\bhihat", "hat", text)
    for cls, pattern in _COMPILED:
        if pattern.search(text):
            return cls
    return None


@dataclass(frozen=True)
class Layer:
    path: Path
    vmin: float                  # velocity range, 0-1
    vmax: float
    gain: float = 1.0


@dataclass(frozen=True)
class Instrument:
    name: str
    layers: tuple[Layer, ...]
    volume: float = 1.0          # linear
    pan_l: float = 1.0           # channel gains
    pan_r: float = 1.0
    mute_group: int = -1


@dataclass(frozen=True)
class Kit:
    """A drum kit: ``kind`` ``"hydrogen"`` (samples, :meth:`render`) or ``"sf2"`` (a soundfont)."""

    name: str
    path: Path
    kind: str
    instruments: tuple[Instrument, ...] = ()

    def note_map(self) -> dict[int, Instrument]:
        """General MIDI drum note -> the kit's instrument (first instrument of the best class)."""
        by_class: dict[str, Instrument] = {}
        for ins in self.instruments:
            cls = drum_class(ins.name)
            if cls is not None and ins.layers:
                by_class.setdefault(cls, ins)
        out = {}
        for note, classes in GM_NOTES.items():
            cls = next((c for c in classes if c in by_class), None)
            if cls is not None:
                out[note] = by_class[cls]
        return out

    def notes(self) -> frozenset[int]:
        """The GM drum notes this kit plays."""
        return frozenset(self.note_map()) if self.kind == "hydrogen" else sf2_notes(str(self.path))

    def render(self, notes: Sequence[Note], sample_rate: int, frames: int) -> np.ndarray:
        """Place the kit's samples at the notes' onsets. Returns ``(frames, 2)`` float32.

        Each note plays the layer of its instrument whose velocity range holds ``velocity / 127``
        (the nearest when none does), scaled by that velocity, the layer gain and the instrument
        volume, panned by the instrument's channel gains; a note cuts the sounding notes of its
        mute group with a 5 ms fade. Notes the kit does not play are skipped.
        """
        if self.kind != "hydrogen":
            raise ValueError(f"{self.name} is a soundfont kit; render it with fluidsynth")
        mapping, out = self.note_map(), np.zeros((frames, 2), np.float32)
        played = sorted((n for n in notes if int(n.pitch) in mapping), key=lambda n: n.onset_s)
        starts = [int(round(n.onset_s * sample_rate)) for n in played]
        fade = max(1, int(0.005 * sample_rate))
        for i, (n, a) in enumerate(zip(played, starts)):
            ins = mapping[int(n.pitch)]
            v = n.velocity / 127.0
            layer = min(ins.layers, key=lambda ly: 0.0 if ly.vmin <= v <= ly.vmax else min(abs(v - ly.vmin),
                                                                                       abs(v - ly.vmax)))
            x = _sample(str(layer.path), sample_rate)
            end = min(frames, a + len(x))
            if ins.mute_group >= 0:       # cut by the next note of its group
                nxt = next((s for m, s in zip(played[i + 1:], starts[i + 1:])
                            if mapping[int(m.pitch)].mute_group == ins.mute_group), None)
                end = min(end, nxt + fade) if nxt is not None else end
            if end <= a:
                continue
            seg = x[: end - a] * (v * layer.gain * ins.volume)
            if ins.mute_group >= 0 and end < a + len(x):
                seg[-fade:] *= np.linspace(1.0, 0.0, min(fade, len(seg)), dtype=np.float32)[:, None]
            out[a:end] += seg * np.array([ins.pan_l, ins.pan_r], np.float32)
        return out


@functools.lru_cache(maxsize=512)
def _sample(path: str, sample_rate: int) -> np.ndarray:
    """A kit sample as ``(frames, 2)`` float32 at ``sample_rate`` (mono duplicated)."""
    x, fs = sf.read(path, dtype="float32", always_2d=True)
    if fs != sample_rate:
        g = gcd(int(fs), int(sample_rate))
        x = resample_poly(x, sample_rate // g, fs // g, axis=0).astype(np.float32)
    x = np.repeat(x[:, :1], 2, axis=1) if x.shape[1] == 1 else x[:, :2]
    x.setflags(write=False)
    return x


def _text(el: ET.Element, tag: str, default: str | None = None) -> str | None:
    child = el.find(tag)
    return child.text if child is not None and child.text is not None else default


def _strip_ns(root: ET.Element) -> ET.Element:
    for el in root.iter():
        el.tag = el.tag.rsplit("}", 1)[-1]
    return root


def load_hydrogen_kit(folder: Path) -> Kit:
    """Read ``folder/drumkit.xml``: old (one ``filename`` per instrument) and layered formats."""
    folder = Path(folder)
    root = _strip_ns(ET.parse(folder / "drumkit.xml").getroot())
    instruments = []
    for el in root.iter("instrument"):
        name = _text(el, "name", "") or ""
        layers = [Layer(folder / f, float(_text(ly, "min", "0")), float(_text(ly, "max", "1")),
                        float(_text(ly, "gain", "1"))) for ly in el.iter("layer") if (f := _text(ly, "filename"))]
        if not layers and _text(el, "filename"):
            layers = [Layer(folder / _text(el, "filename"), 0.0, 1.0)]
        layers = [ly for ly in layers if ly.path.is_file()]
        if (_text(el, "isMuted", "false") or "").lower() == "true":
            continue
        if _text(el, "pan_L") is not None:
            pan_l, pan_r = float(_text(el, "pan_L", "1")), float(_text(el, "pan_R", "1"))
        else:
            p = float(_text(el, "pan", "0"))
            pan_l, pan_r = min(1.0, 1.0 - p), min(1.0, 1.0 + p)
        volume = float(_text(el, "volume", "1")) * float(_text(el, "gain", "1"))
        instruments.append(Instrument(name, tuple(layers), volume, pan_l, pan_r,
                                      int(_text(el, "muteGroup", "-1"))))
    return Kit(_text(root, "name", folder.name) or folder.name, folder, "hydrogen", tuple(instruments))


@functools.lru_cache(maxsize=None)
def find_kits(include_sf2: bool = True) -> tuple[Kit, ...]:
    """Usable installed kits (kick, snare and closed hi-hat present), sorted by name.

    Hydrogen kits under ``$MIXDOWN_DRUMKITS`` and :data:`HYDROGEN_DIRS`; AVL soundfont kits from
    :data:`AVL_SOUNDFONTS` when ``include_sf2``. Unreadable kits are skipped with a log line.
    """
    env = [p for p in os.environ.get("MIXDOWN_DRUMKITS", "").split(":") if p]
    kits = []
    for d in env + list(HYDROGEN_DIRS):
        for xml in sorted(Path(d).glob("*/drumkit.xml")) if Path(d).is_dir() else []:
            try:
                kit = load_hydrogen_kit(xml.parent)
            except (ET.ParseError, ValueError, OSError) as e:
                log.info("drum kit %s unreadable: %s", xml.parent, e)
                continue
            classes = {drum_class(i.name) for i in kit.instruments if i.layers}
            if all(c in classes for c in ESSENTIAL):
                kits.append(kit)
    if include_sf2:
        kits += [Kit(Path(p).stem, Path(p), "sf2") for p in AVL_SOUNDFONTS if Path(p).is_file()]
    return tuple(sorted(kits, key=lambda k: k.name))


@functools.lru_cache(maxsize=None)
def sf2_notes(path: str, sample_rate: int = 22050) -> frozenset[int]:
    """The GM drum notes a kit soundfont plays, found by rendering each note of :data:`GM_NOTES`
    alone on channel 0 (bank 0, program 0) and keeping those that sound (peak above -50 dBFS)."""
    import mido

    from mixdown.data.fluid import render_midi

    notes, spacing = sorted(GM_NOTES), 480          # one note per beat at 120 bpm: 0.5 s apart
    track = mido.MidiTrack([mido.Message("program_change", channel=0, program=0)])
    for n in notes:
        track += [mido.Message("note_on", note=n, velocity=100, time=0),
                  mido.Message("note_off", note=n, time=spacing)]
    mf = mido.MidiFile(ticks_per_beat=480)
    mf.tracks.append(track)
    with tempfile.TemporaryDirectory(prefix="mixdown-kit-") as tmp:
        x = render_midi(mf, sample_rate, Path(tmp), "probe", soundfont=Path(path))
    hop = sample_rate // 2
    peaks = [np.abs(x[i * hop:(i + 1) * hop]).max(initial=0.0) for i in range(len(notes))]
    return frozenset(n for n, p in zip(notes, peaks) if p > 10 ** (-50 / 20))


def choose_kit(pick: float, acoustic: bool = False) -> Kit | None:
    """The installed kit at fraction ``pick`` (0-1) of :func:`find_kits` (None when none is
    installed); ``acoustic`` leaves out electronic kits (names with "electr" or "breaks")."""
    kits = [k for k in find_kits() if not (acoustic and re.search(r"electr|breaks", k.name.lower()))]
    return kits[min(int(pick * len(kits)), len(kits) - 1)] if kits else None


def render_drum_stem(midi, kit: Kit, sample_rate: int, workdir: Path, name: str,
                     soundfont: Path | None = None) -> np.ndarray:
    """Render a drum stem (``mido.MidiFile``, drums on channel 9) with ``kit``; the notes the kit
    lacks are played by the General MIDI ``soundfont`` in the same stem. Returns ``(frames, 2)``
    float32 (frames: as long as the longer of the two renders)."""
    import mido

    from mixdown.data.compose import _abs, is_on, midi_file
    from mixdown.data.fluid import render_midi
    from mixdown.data.midinotes import notes_from_midi

    plays = kit.notes()

    def mapped(note: int) -> int | None:
        if note in plays:
            return note
        return SUBSTITUTES.get(note) if kit.kind == "sf2" and SUBSTITUTES.get(note) in plays else None

    kit_ev, rest_ev = [(0, mido.Message("program_change", channel=0, program=0))], []
    for t, m in _abs(midi.tracks[0]):
        if m.type in ("note_on", "note_off") and m.channel == 9:
            n = mapped(m.note)
            if n is None:
                rest_ev.append((t, m))
            else:
                kit_ev.append((t, m.copy(channel=0, note=n)))
        elif m.is_meta:
            kit_ev.append((t, m))
            rest_ev.append((t, m))
        else:
            rest_ev.append((t, m))
    tpb, parts = midi.ticks_per_beat, []
    if kit.kind == "sf2":
        parts.append(render_midi(midi_file(tpb, kit_ev), sample_rate, workdir, f"{name}-kit", soundfont=kit.path))
    else:
        notes = notes_from_midi(midi_file(tpb, kit_ev))
        frames = int((max((n.onset_s for n in notes), default=0.0) + 4.0) * sample_rate)
        parts.append(kit.render(notes, sample_rate, frames))
    if any(is_on(m) for _, m in rest_ev):
        log.debug("%s: %d notes not in kit %s, played by the GM soundfont", name,
                  sum(is_on(m) for _, m in rest_ev), kit.name)
        parts.append(render_midi(midi_file(tpb, rest_ev), sample_rate, workdir, f"{name}-gm", soundfont=soundfont))
    out = np.zeros((max(len(p) for p in parts), 2), np.float32)
    for p in parts:
        out[: len(p)] += p[:, :2] if p.shape[1] >= 2 else np.repeat(p, 2, axis=1)
    return out
