"""Notes of a MIDI file in seconds: what the sampled renderers (vocals, drum kits) play."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """One note. ``pitch`` is a MIDI note number (fractional allowed: 60.5 is a quarter tone above C4)."""

    onset_s: float
    duration_s: float
    pitch: float
    velocity: int = 100          # 1-127
    channel: int = 0


def notes_from_midi(midi) -> list[Note]:
    """All notes of a ``mido.MidiFile`` (tempo map applied), sorted by onset then pitch.

    A note_on without a matching note_off lasts to the end of the file; a repeated note_on of a
    sounding key ends the earlier one (as synthesisers do).
    """
    t, sounding, out = 0.0, {}, []
    for msg in midi:                     # mido yields delta times in seconds
        t += msg.time
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if key in sounding:
            start, vel = sounding.pop(key)
            out.append(Note(start, max(t - start, 0.0), float(msg.note), vel, msg.channel))
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[key] = (t, msg.velocity)
    for (ch, note), (start, vel) in sounding.items():
        out.append(Note(start, max(t - start, 0.0), float(note), vel, ch))
    return sorted(out, key=lambda n: (n.onset_s, n.pitch))
