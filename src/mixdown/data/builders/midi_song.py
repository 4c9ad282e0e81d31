"""MIDI songs as composed: their channels, the composer's mix controllers, and dry one-channel stems.

The composer's mix lives in four controllers per channel: volume (CC7), pan (CC10), reverb send
(CC91) and chorus send (CC93). :func:`stem_midi` keeps one channel and sets those to the neutral
values of :data:`NEUTRAL` (volume 100, pan centre 64, no sends) at the start and wherever the song
changes them; everything else (notes, programs, expression CC11, pitch bend, sustain, tempo) is
the performance and stays. :func:`truncate` cuts a song after a time (all notes off there).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import mido

from mixdown.errors import UsageError

log = logging.getLogger(__name__)

VOLUME, PAN, REVERB, CHORUS = 7, 10, 91, 93
#: controller -> the value of a raw (dry, centred, 100-volume) stem
NEUTRAL = {VOLUME: 100, PAN: 64, REVERB: 0, CHORUS: 0}
#: controller values a General MIDI synth (fluidsynth) starts from when the song sets none
GM_DEFAULTS = {VOLUME: 100, PAN: 64, REVERB: 40, CHORUS: 0}
DRUM_CHANNEL = 9
#: General MIDI program families (program // 8) -> (name, mixdown role)
GM_FAMILIES = (("piano", "keys"), ("chromatic-percussion", "percussion"), ("organ", "keys"), ("guitar", "guitar"),
               ("bass", "bass"), ("strings", "strings"), ("ensemble", "strings"), ("brass", "brass"),
               ("reed", "winds"), ("pipe", "winds"), ("synth-lead", "lead"), ("synth-pad", "synth"),
               ("synth-effects", "fx"), ("ethnic", "other"), ("percussive", "percussion"), ("sound-effects", "fx"))


class MidiError(UsageError):
    """An unreadable MIDI file; the message names it."""


@dataclass
class Channel:
    """One sounding channel of a song.

    Attributes:
        channel: 0-based MIDI channel; program: first program (0-127, 0 when never set);
        name: ``chNN-<family>`` (``chNN-drums`` for channel 10); role: mixdown role.
        controls: ``{cc: [(seconds, value), ...]}`` for CC7/10/91/93 as the composer set them.
    """

    channel: int
    program: int
    name: str
    role: str
    controls: dict[int, list[tuple[float, int]]] = field(default_factory=dict)

    def value_at(self, cc: int, seconds: float) -> int:
        """The controller's value in effect at ``seconds`` (the GM default before the first setting)."""
        value = GM_DEFAULTS[cc]
        for t, v in self.controls.get(cc, []):
            if t > seconds + 1e-9:
                break
            value = v
        return value

    def summary(self, cc: int, start: float, end: float) -> dict[str, int]:
        """``{"start", "min", "max"}`` of the controller over ``[start, end)``."""
        vals = [self.value_at(cc, start)] + [v for t, v in self.controls.get(cc, []) if start < t < end]
        return {"start": vals[0], "min": min(vals), "max": max(vals)}


#: a key-signature meta event: FF 59 02 <sharps/flats, signed byte> <mode: 0 major, 1 minor>
_KEY_SIGNATURE = re.compile(rb"\xff\x59\x02(.)(.)", re.DOTALL)


def _valid_key(sf: int, mode: int) -> bool:
    return -7 <= (sf - 256 if sf > 127 else sf) <= 7 and mode in (0, 1)


def repair_key_signatures(data: bytes) -> tuple[bytes, int]:
    """``(data, n)``: the file's bytes with each key signature outside the MIDI standard (more than
    7 sharps or flats, a mode other than major/minor, as some sequencers write) set to C major,
    and how many were. A key signature is notation only: the sound does not change."""
    n = 0

    def fix(m: re.Match) -> bytes:
        nonlocal n
        if _valid_key(m.group(1)[0], m.group(2)[0]):
            return m.group(0)
        n += 1
        return b"\xff\x59\x02\x00\x00"

    return _KEY_SIGNATURE.sub(fix, data), n


def read_midi(path: Path) -> mido.MidiFile:
    """The parsed file; MidiError naming it when unreadable. A file whose only fault is a key
    signature outside the standard is repaired (:func:`repair_key_signatures`) with a warning."""
    errors = (OSError, EOFError, ValueError, KeyError, IndexError, mido.KeySignatureError)
    try:
        return mido.MidiFile(str(path))
    except mido.KeySignatureError as e:
        data, n = repair_key_signatures(Path(path).read_bytes())
        if not n:  # not an event this function can find: refuse as before
            raise MidiError(f"{path}: unreadable MIDI file ({type(e).__name__}: {e})") from e
        try:
            mid = mido.MidiFile(file=io.BytesIO(data))
        except errors as e2:
            raise MidiError(f"{path}: unreadable MIDI file ({type(e2).__name__}: {e2})") from e2
        log.warning("%s: %d key signature(s) outside the MIDI standard (%s) read as C major; "
                    "notation only, the sound is unchanged", path, n, e)
        return mid
    except errors as e:
        raise MidiError(f"{path}: unreadable MIDI file ({type(e).__name__}: {e})") from e


def _timed(mid: mido.MidiFile):
    """``(seconds, message)`` of the merged tracks, in order (tempo changes applied)."""
    t = 0.0
    for msg in mid:  # mido yields messages with delta times in seconds
        t += msg.time
        yield t, msg


def channels(mid: mido.MidiFile) -> list[Channel]:
    """Channels that play notes, in channel order, with their first program and mix controllers."""
    programs: dict[int, int] = {}
    sounding: set[int] = set()
    controls: dict[int, dict[int, list[tuple[float, int]]]] = {}
    for t, msg in _timed(mid):
        if msg.type == "program_change":
            programs.setdefault(msg.channel, msg.program)
        elif msg.type == "note_on" and msg.velocity > 0:
            sounding.add(msg.channel)
        elif msg.type == "control_change" and msg.control in NEUTRAL:
            controls.setdefault(msg.channel, {}).setdefault(msg.control, []).append((round(t, 6), msg.value))
    out = []
    for ch in sorted(sounding):
        prog = programs.get(ch, 0)
        if ch == DRUM_CHANNEL:
            name, role = "drums", "drums"
        else:
            name, role = GM_FAMILIES[prog // 8]
        out.append(Channel(ch, prog, f"ch{ch + 1:02d}-{name}", role, controls.get(ch, {})))
    return out


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    t, out = 0, []
    for msg in track:
        t += msg.time
        out.append((t, msg))
    return out


def _relative(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    track, last = mido.MidiTrack(), 0
    for t, msg in sorted(events, key=lambda e: e[0]):  # stable: same-tick order kept
        track.append(msg.copy(time=t - last))
        last = t
    return track


def _rewrite(mid: mido.MidiFile, keep, edit, head: list[mido.Message], end_tick: int | None) -> mido.MidiFile:
    """A copy with channel messages filtered by ``keep``, changed by ``edit``; ``head`` messages at tick 0
    of the first track; nothing from ``end_tick`` on (there every sounding note ends, and sustain and all
    notes are switched off on every channel)."""
    out = mido.MidiFile(type=1 if mid.type == 0 else mid.type, ticks_per_beat=mid.ticks_per_beat)
    for i, track in enumerate(mid.tracks):
        events = [(0, m) for m in head] if i == 0 else []
        last, sounding = 0, set()
        for t, msg in _absolute(track):
            if end_tick is not None and t >= end_tick:
                break
            if msg.is_meta and msg.type == "end_of_track":
                continue
            if hasattr(msg, "channel"):
                if not keep(msg):
                    continue
                msg = edit(msg)
                _track_notes(sounding, msg)
            events.append((t, msg))
            last = t
        if end_tick is not None:  # release what still sounds: a note left on can keep a synth running forever
            last = end_tick
            events += [(end_tick, mido.Message("note_off", channel=c, note=n, velocity=0)) for c, n in sorted(sounding)]
            if i == 0:
                events += [(end_tick, mido.Message("control_change", channel=c, control=cc, value=0))
                           for c in range(16) for cc in (64, 123)]
        rel = _relative(events)
        rel.append(mido.MetaMessage("end_of_track", time=max(0, last - sum(m.time for m in rel))))
        out.tracks.append(rel)
    return out


def _track_notes(sounding: set[tuple[int, int]], msg: mido.Message) -> None:
    """Keep ``sounding`` (channel, note) up to date with a note message."""
    if msg.type == "note_on" and msg.velocity > 0:
        sounding.add((msg.channel, msg.note))
    elif msg.type in ("note_on", "note_off"):
        sounding.discard((msg.channel, msg.note))


def seconds_to_tick(mid: mido.MidiFile, seconds: float) -> int:
    """The tick at ``seconds`` (the song's tempo map applied)."""
    tempo, tick, now = 500000, 0, 0.0
    changes = sorted((t, m.tempo) for track in mid.tracks for t, m in _absolute(track) if m.type == "set_tempo")
    for t, new in changes:
        dt = mido.tick2second(t - tick, mid.ticks_per_beat, tempo)
        if now + dt >= seconds:
            break
        now, tick, tempo = now + dt, t, new
    return tick + int(round(mido.second2tick(seconds - now, mid.ticks_per_beat, tempo)))


def stem_midi(mid: mido.MidiFile, channel: int, end_s: float | None = None) -> mido.MidiFile:
    """Only ``channel``, its CC7/10/91/93 at the :data:`NEUTRAL` values throughout; cut at ``end_s``."""
    def edit(msg):
        if msg.type == "control_change" and msg.control in NEUTRAL:
            return msg.copy(value=NEUTRAL[msg.control])
        return msg

    head = [mido.Message("control_change", channel=channel, control=cc, value=v) for cc, v in NEUTRAL.items()]
    end = seconds_to_tick(mid, end_s) if end_s is not None else None
    return _rewrite(mid, lambda m: m.channel == channel, edit, head, end)


def truncate(mid: mido.MidiFile, end_s: float | None) -> mido.MidiFile:
    """The song as composed, cut at ``end_s`` (unchanged when None)."""
    end = seconds_to_tick(mid, end_s) if end_s is not None else None
    return _rewrite(mid, lambda m: True, lambda m: m, [], end)
