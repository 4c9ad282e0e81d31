"""Stand-in sessions: a real session's track list rendered as role-typical audio at its levels.

MixologyDB gives the settings of human mixes but no audio; a stand-in session lets a model that
listens hear each song's tracks (names, parts, mono/stereo, raw loudness) as one performance.
One seed -> one song: an MMA band groove with a sung melody (:func:`compose.plan_song`,
:func:`compose.compose`: shared tempo, key, chords), from which every track is played:

* drums: the groove (plus tom fills and crashes) on one recorded kit (:mod:`drumkits`), each piece
  rendered alone, then miked: close mics hear their piece and darker, later bleed of the others;
  overheads the whole kit as a spaced pair (level and arrival differ per piece; brighter); room
  the whole kit later, darker and reverberant;
* bass, guitars, keys, percussion, "other": General MIDI programs played by fluidsynth
  (:func:`fluid.render_midi`), comping patterns on the song's chords;
* lead and backing vocals: espeak-ng + WORLD (:mod:`vocals`): the melody, harmonies and "ahs".

Tracks of one part differ (pattern, register, patch, singer, microphone). Stereo tracks get
early reflections per channel (a stereo pair). Each file is scaled to its integrated loudness.
"""

from __future__ import annotations

import logging
import re
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy.io import wavfile
from scipy.signal import butter, oaconvolve, sosfilt

from mixdown.data import vocals
from mixdown.data.compose import NOTE_NAMES, _chord, compose, is_on, midi_file, plan_song
from mixdown.data.drumkits import choose_kit, render_drum_stem
from mixdown.data.fluid import render_midi
from mixdown.data.midinotes import notes_from_midi
from mixdown.data.roles import PARTS, side_of
from mixdown.data.synth import fit_length, missing_tools
from mixdown.errors import UsageError
from mixdown.measure.loudness import integrated_loudness

log = logging.getLogger(__name__)

DRUM_PARTS = frozenset({"kick", "snare", "tom", "hihat", "overheads", "room"})
#: drum pieces rendered alone: GM notes, position in the overheads (-1 left .. 1 right)
PIECES = {"kick": ((35, 36), 0.0), "snare": ((37, 38, 39, 40), -0.2), "tom_hi": ((48, 50), 0.15),
          "tom_mid": ((45, 47), 0.35), "tom_lo": ((41, 43), 0.6), "hihat": ((42, 44, 46), -0.6),
          "crash": ((49, 52, 55, 57), -0.45), "ride": ((51, 53, 59), 0.7)}
#: bleed (dB) of a piece into a close mic; -26 dB otherwise
BLEED_DB = {("kick", "snare"): -20, ("snare", "hihat"): -12, ("snare", "kick"): -18, ("hihat", "snare"): -20,
            ("hihat", "crash"): -16, ("tom", "snare"): -14, ("tom", "kick"): -22, ("tom", "crash"): -16}
#: comping style: (onset patterns in beats, note length in beats, lowest voicing note, voicing size, strum ms)
STYLES = {"power": (((0, .5, 1, 1.5, 2, 2.5, 3, 3.5), (0, .75, 1.5, 2, 2.5, 3, 3.5)), .45, 40, 3, 0),
          "clean": (((0, .5, 1, 1.5, 2, 2.5, 3, 3.5),), .9, 52, 4, 0),
          "strum": (((0, 1, 1.5, 2.5, 3, 3.5), (0, .5, 1, 1.5, 2, 2.5, 3, 3.5)), .5, 45, 6, 12),
          "piano": (((0, 1.5, 2, 3.5), (0, 1, 2, 3)), .9, 57, 4, 0),
          "ep": (((0, 1.5, 2.5), (.5, 1.5, 2.5, 3.5)), .8, 55, 4, 0),
          "organ": (((0,),), 3.9, 53, 4, 0), "pad": (((0,),), 3.95, 50, 4, 0)}
#: part -> (name pattern, comping style, GM programs): the first pattern found in a track's name wins
PATCHES = {"electric_guitar": ((r"clean|jazz|funk", "clean", (27, 26, 28)),
                               (r"dist|drive|crunch|heavy|\bod\b|lead|solo", "power", (29, 30))),
           "acoustic_guitar": ((r"nylon|classic", "strum", (24,)),),
           "keys": ((r"organ|hammond|\borg|b3|leslie", "organ", (16, 17, 18)), (r"clav", "ep", (7,)),
                    (r"wurl|rhodes|ekeys|e ?keys|e ?p(iano)?\b", "ep", (4, 5)), (r"synth|pad", "pad", (89, 90, 81)),
                    (r"piano|pno|grand", "piano", (0, 1))),
           "other": ((r"string|violin|cello", "pad", (48, 49)), (r"brass|horn|trumpet", "pad", (61,)),
                     (r"sax", "pad", (65, 66)), (r"flute", "pad", (73,)), (r"choir", "pad", (52,)))}
#: part -> (style, GM programs) for the k-th track whose name says nothing more (offset per song)
DEFAULTS = {"electric_guitar": (("power", (29, 30)), ("clean", (27, 26, 28))),
            "acoustic_guitar": (("strum", (25,)),), "other": (("pad", (89, 50, 48, 91)),),
            "keys": (("piano", (0, 1)), ("ep", (4, 5)), ("organ", (16, 17)))}
#: percussion: (name pattern, GM drum notes, onsets in beats); unnamed ones take the first four in turn
PERCUSSION = (("tamb", (54,), (1, 3, 1.5, 3.5)), ("shak|marac", (70,), tuple(i / 4 for i in range(16))),
              ("conga|bongo", (63, 64, 62), (0, .5, 1.5, 2, 2.5, 3.5)), ("cabasa", (69,), (0, .5, 1, 2, 2.5, 3)),
              ("cowbell|bell", (56,), (0, 1, 2, 3)), ("clap|snap", (39,), (1, 3)))


@dataclass(frozen=True)
class StandinTrack:
    name: str          # the session's own track name (the file is tracks/<safe_name(name)>.wav)
    part: str          # one of :data:`mixdown.data.roles.PARTS`
    channels: int      # 1 or 2
    lufs: float        # integrated loudness (ITU-R BS.1770, LUFS) the file must have


@dataclass
class _Song:
    """One performance shared by every track: the composed song (ticks), chords per bar
    (root pitch class, pitch classes), the diatonic scale, the lyrics and the drum kit."""

    song: Any
    plan: dict
    chords: list
    scale: tuple
    words: list
    kit: Any


def safe_name(name: str) -> str:
    """A file name that keeps the track name recognisable ("OH L", "StOH (Stereo)", "LdVox.cmp_01")."""
    return re.sub(r'[\x00-\x1f/\\:*?"<>|]+', "_", name).strip(" .") or "track"


# ----------------------------------------------------------------------------- the song
def _compose(seed: int, seconds: float) -> _Song:
    """A 4/4 band groove with kick, snare and bass (further plans are drawn while one lacks them)."""
    rng = np.random.default_rng([seed, 0])
    for _ in range(12):
        genre = str(rng.choice(("rock", "pop", "funk", "blues", "country")))
        plan = plan_song(rng, source="mma", genre=genre, vocal=True, lead_start_bar=0, backing=None, pad=None)
        song = compose(plan, rng, seconds)
        drums = {m.note for p in song.parts if p.drum for _, m in p.events if is_on(m)}
        if {35, 36} & drums and {38, 40} & drums and any(p.role == "bass" for p in song.parts):
            break
    prog, chords = plan["progression"].split(), []
    for sym in (prog * 64)[: int(song.limit_tick / (4 * song.tpb)) + 2]:
        name, pcs = _chord(sym, plan["key"])
        chords.append((NOTE_NAMES.index(name[:2] if name[1:2] == "b" else name[:1]), pcs))
    scale = (0, 2, 3, 5, 7, 8, 10) if re.fullmatch(r"i7?", prog[0]) else (0, 2, 4, 5, 7, 9, 11)
    n_words = sum(is_on(m) for p in song.parts if p.role == "lead_vocal" for _, m in p.events)
    return _Song(song, plan, chords, scale, vocals.lyrics(rng, n_words, vocabulary=10),
                 choose_kit(float(rng.random()), acoustic=True))


def _midi(s: _Song, notes: list, program: int = 0, channel: int = 0):
    """A one-part ``mido.MidiFile`` of ``notes`` ``[(tick, length_ticks, pitch, velocity)]``."""
    import mido

    ev = list(s.song.conductor) + [(0, mido.Message("program_change", channel=channel, program=program))]
    for t, d, p, v in notes:
        t = max(int(t), 0)
        ev += [(t, mido.Message("note_on", channel=channel, note=int(p), velocity=int(np.clip(v, 1, 127)))),
               (t + max(int(d), 1), mido.Message("note_off", channel=channel, note=int(p)))]
    return midi_file(s.song.tpb, ev)


def _notes(s: _Song, role: str) -> list:
    """The notes ``[(tick, length_ticks, pitch, velocity)]`` of the song's parts of ``role`` ("drums", "bass"...)."""
    out = []
    for part in (p for p in s.song.parts if p.role == role):
        on = {}
        for t, m in sorted(part.events, key=lambda e: e[0]):
            if is_on(m):
                on[m.note] = (t, m.velocity)
            elif m.type in ("note_on", "note_off") and m.note in on:
                t0, v = on.pop(m.note)
                out.append((t0, t - t0, m.note, v))
    return [n for n in out if n[0] < s.song.limit_tick]


def _drum_notes(s: _Song) -> list:
    """The kit's performance: the groove, a tom fill closing each 4-bar phrase, a crash opening it."""
    tpb, notes = s.song.tpb, _notes(s, "drums")
    for b in range(3, len(s.chords), 4):
        a = (4 * b + 2) * tpb
        notes = [n for n in notes if not a <= n[0] < a + 2 * tpb or n[2] in (35, 36)]
        notes += [(a + i * tpb // 4, tpb // 4, (50, 48, 47, 45, 43, 41, 41, 41)[i], 90 + 4 * (i % 2)) for i in range(8)]
    notes += [(4 * b * tpb, tpb, 49, 110) for b in range(0, len(s.chords), 4)]
    if sum(n[2] in (42, 44, 46) for n in notes) < 4 * len(s.chords):    # grooves without a hat pulse get eighths
        hats = {n[0] for n in notes if n[2] in (42, 44, 46)}
        notes += [(t, tpb // 4, 42, 75 + 15 * (t % tpb == 0)) for t in range(0, 4 * len(s.chords) * tpb, tpb // 2)
                  if t not in hats]
    return notes


def _comp(s: _Song, style: str, rng: np.random.Generator, shift: int = 0) -> list:
    """Comping notes in ``style`` (:data:`STYLES`) on the song's chords, voicings ``shift`` semitones up."""
    patterns, length, low, size, strum_ms = STYLES[style]
    pattern, tpb = patterns[int(rng.integers(len(patterns)))], s.song.tpb
    ticks_per_ms, out = tpb * s.plan["tempo"] / 60000.0, []
    for b, (root, pcs) in enumerate(s.chords):
        r = low + shift + (root - low - shift) % 12
        voicing = [r, r + 7, r + 12] if style == "power" else \
            [n for n in range(low + shift, low + shift + 24) if n % 12 in pcs][:size]
        voicing = [36 + (root - 36) % 12] + voicing if style in ("piano", "pad") else voicing   # + a bass note
        for i, beat in enumerate(pattern):
            t = (4 * b + beat) * tpb + rng.normal(0, 3) * ticks_per_ms
            vel = 72 + 14 * (beat % 2 == 0) + rng.normal(0, 6)
            up = strum_ms and beat % 1 != 0                    # up-strokes on off-beats: high strings first
            chord = [voicing[i % len(voicing)]] if style == "clean" else voicing[::-1] if up else voicing
            for j, n in enumerate(chord):
                out.append((t + j * strum_ms * ticks_per_ms, length * tpb, n, vel - 3 * j * bool(up)))
    return [n for n in out if n[0] < s.song.limit_tick]


# ----------------------------------------------------------------------------- microphones
def _filter(x: np.ndarray, kind: str, hz: float, sr: int, order: int = 2) -> np.ndarray:
    return sosfilt(butter(order, hz, kind, fs=sr, output="sos"), x, axis=0)


def _delay(x: np.ndarray, ms: float, sr: int) -> np.ndarray:
    n = int(round(ms * sr / 1000))
    return np.concatenate([np.zeros((n,) + x.shape[1:]), x[: len(x) - n]]) if n > 0 else x


def _shelf(x: np.ndarray, hz: float, db: float, sr: int) -> np.ndarray:
    """High shelf: ``db`` above ``hz`` (first-order complementary split)."""
    low = _filter(x, "low", hz, sr, 1)
    return low + (x - low) * 10 ** (db / 20)


def _space(x: np.ndarray, sr: int, rng: np.random.Generator, rt60_s: float, wet_db: float, channels: int = 2,
           dark_hz: float = 8000.0) -> np.ndarray:
    """``x`` ``(frames,)`` / ``(frames, ch)`` plus a diffuse tail (decaying noise from 4 ms, its own per
    channel) ``wet_db`` relative to the direct sound, low-passed at ``dark_hz``. Returns ``(frames, channels)``."""
    x = x[:, None] if x.ndim == 1 else x
    x = np.repeat(x[:, :1], channels, 1) if x.shape[1] < channels else x[:, :channels]
    t, out = np.arange(int(rt60_s * sr)) / sr, np.empty_like(x)
    for c in range(channels):
        ir = rng.standard_normal(len(t)) * np.exp(-6.91 * t / rt60_s) * (t >= 0.004)
        wet = oaconvolve(x[:, c], ir / np.sqrt(np.sum(ir ** 2)))[: len(x)]
        out[:, c] = x[:, c] + 10 ** (wet_db / 20) * _filter(wet, "low", dark_hz, sr, 1)
    return out


def _drum_mics(s: _Song, jobs: list, sr: int, frames: int, tmp: Path) -> dict[int, np.ndarray]:
    """Drum tracks ``[(index, StandinTrack, k-th of its part, n of its part, rng)]`` -> ``{index:
    (frames, channels)}``: microphones of one kit performance, each piece (:data:`PIECES`) rendered once."""
    perf, piece, out, sided = _drum_notes(s), {}, {}, {"overheads": 0, "room": 0}
    for name, (gm, _) in PIECES.items():
        notes = [n for n in perf if n[2] in gm]
        x = render_drum_stem(_midi(s, notes, 0, 9), s.kit, sr, tmp, name) if notes else np.zeros((frames, 2))
        x = fit_length(np.asarray(x, np.float64), frames, sample_rate=sr)
        piece[name] = (x, x.mean(1), _filter(x.mean(1), "low", 7000, sr, 1))   # stereo, mid, off-axis mid
    for i, tr, k, n, rng in jobs:
        name, side = tr.name.lower(), side_of(tr.name)
        y: np.ndarray                          # (frames, 2) or (frames,) while being built
        if tr.part in ("overheads", "room"):   # a spaced pair; "OH L" + "OH R" are the two sides of one
            room, pair = tr.part == "room", k
            if tr.channels == 1 and side:
                pair, sided[tr.part] = 100 + sided[tr.part] // 2, sided[tr.part] + 1
            geo = np.random.default_rng([s.plan["mma_seed"], 5, room, pair])
            spacing_ms, y = geo.uniform(0.4, 1.0), np.zeros((frames, 2))
            for p, (x, _, _) in piece.items():
                pos = np.clip(PIECES[p][1] * (-1 if pair % 2 else 1) + geo.normal(0, 0.1), -1, 1)
                gain = 10 ** ((-8 if p == "kick" and not room else 3 if p in ("crash", "ride") else 0) / 20)
                base_ms = geo.uniform(10, 20) if room else 2.5 + 0.5 * (p == "kick")
                for c, sign in ((0, -1), (1, 1)):      # the far side: later and quieter
                    delayed = _delay(x[:, c], base_ms - sign * pos * spacing_ms, sr)
                    y[:, c] += np.sqrt(0.5 * (1 + sign * pos)) * gain * delayed
            if room:
                y = _space(_filter(y, "low", geo.uniform(3000, 5000), sr), sr, geo, geo.uniform(0.7, 1.3), 4, 2, 5000)
            else:
                y = _shelf(_filter(y, "high", 120, sr, 1), 5000, geo.uniform(3, 6), sr)
            y = y if tr.channels == 2 else y[:, :1] if side < 0 else y[:, 1:] if side > 0 else y.mean(1, keepdims=True)
        else:                                  # a close mic: its piece, bleed of the others
            own = [tr.part]
            if tr.part == "tom":               # the kit's toms shared out among the tom mics
                groups = [["tom_hi", "tom_mid", "tom_lo"]] if n == 1 else [["tom_hi", "tom_mid"], ["tom_lo"]] \
                    if n == 2 else [["tom_hi"], ["tom_mid"], ["tom_lo"]]
                own = groups[-1] if re.search(r"floor|flr|\bft|low", name) else groups[k % len(groups)]
            far = tr.part in ("kick", "snare") and bool(re.search(r"out|sub|bot|btm|under|\bb\b|snb", name) or k % 2)
            y = np.zeros(frames)
            for p, (_, mid, dark) in piece.items():
                if p in own:
                    y += _delay(mid, 0.7 if far else 0.0, sr)
                else:
                    db = BLEED_DB.get((tr.part, p.split("_")[0]), -26) + rng.normal(0, 2) + 6 * far
                    y += 10 ** (db / 20) * _delay(dark, rng.uniform(1.0, 2.5), sr)
            if tr.part == "kick" and far:      # kick out / sub: the shell's boom, less beater
                y = _shelf(_filter(y, "low", 1500, sr, 1), 120, -6, sr)
            elif tr.part == "snare" and far:   # snare bottom: the wires, polarity inverted
                y = -_shelf(_filter(y, "high", 250, sr), 4000, 6, sr)
            elif tr.part == "hihat":           # a small condenser (presence rise), its low-cut on
                y = _shelf(_filter(y, "high", 500, sr), 6000, 4, sr)
            y = y[:, None] if tr.channels == 1 else _space(y, sr, rng, 0.3, -16)
        out[i] = y
    return out


# ----------------------------------------------------------------------------- instruments and voices
def _played(s: _Song, tr: StandinTrack, k: int, rng: np.random.Generator, sr: int, tmp: Path) -> np.ndarray:
    """A fluidsynth track: bass, guitars, keys, percussion, "other". Returns ``(frames', 2)``."""
    name, channel, tpb = tr.name.lower(), 0, s.song.tpb
    if tr.part == "bass":                      # one player: every bass track (DI, amp) hears the same take
        take = np.random.default_rng([s.plan["mma_seed"], 3])
        notes = [(t + take.normal(0, 4), d, p, v + take.normal(0, 5)) for t, d, p, v in _notes(s, "bass")]
        program = 34 if "pick" in name else 38 if "synth" in name else (33, 34)[s.plan["mma_seed"] % 2]
    elif tr.part == "percussion":
        _, gm, beats = next((p for p in PERCUSSION if re.search(p[0], name)), PERCUSSION[(k + s.plan["key"]) % 4])
        program, channel = 0, 9
        notes = [((4 * b + beat) * tpb + rng.normal(0, 4), tpb // 4, gm[j % len(gm)], 70 + 20 * (beat % 1 == 0)
                  + rng.normal(0, 8)) for b in range(len(s.chords)) for j, beat in enumerate(beats)
                 if (4 * b + beat) * tpb < s.song.limit_tick]
    else:
        style, programs = next((p[1:] for p in PATCHES[tr.part] if re.search(p[0], name)), None) or \
            DEFAULTS[tr.part][(k + s.plan["mma_seed"]) % len(DEFAULTS[tr.part])]
        program, notes = int(rng.choice(programs)), _comp(s, style, rng, shift=(0, 7, 12, 5)[k % 4])
    y = render_midi(_midi(s, notes, program, channel), sr, tmp, f"t{zlib.crc32(tr.name.encode())}-{k}")
    if tr.part == "bass" and (re.search(r"amp|mic|cab", name) or k % 2):   # the amp's mic: driven, darker
        y = _filter(np.tanh(4.0 * y / (np.abs(y).max() + 1e-9)), "low", 2500, sr)
    return y


def _sung(s: _Song, tr: StandinTrack, k: int, rng: np.random.Generator, sr: int, frames: int) -> np.ndarray:
    """A vocal track, ``(frames, 1)``. Lead: the melody (further lead tracks: the singer's other takes).
    Backing k: each its own singer, in the other register for even k; a harmony of the melody
    (scale steps (2, 4, -3, 5)[k // 2 % 4]) for even k, "ahs" on chord tones (two per bar) for odd k."""
    tpb, melody, lead = s.song.tpb, _notes(s, "lead_vocal"), s.plan["voice"]
    if tr.part == "lead_vocal":
        voice, notes, words = vocals.draw_voice(np.random.default_rng([s.plan["mma_seed"], 7]), lead), melody, s.words
    else:
        register = {"low": "high", "high": "low"}[lead] if k % 2 == 0 else lead
        voice, centre = vocals.draw_voice(rng, register), vocals.REGISTER_CENTRE[register]
        if k % 2 == 0:
            steps, words = (2, 4, -3, 5)[k // 2 % 4], s.words
            notes = [(t, d, vocals.harmony_pitch(p, s.plan["key"], s.scale, steps), v - 10) for t, d, p, v in melody]
        else:
            tones = [[n for n in range(centre - 6, centre + 7) if n % 12 in pcs] for _, pcs in s.chords]
            notes = [((4 * b + 2 * h) * tpb, 1.9 * tpb, tones[b][(h - 1 - k // 2) % len(tones[b])], 70)
                     for b in range(len(s.chords)) for h in (0, 1) if (4 * b + 2 * h) * tpb < s.song.limit_tick]
            words = [str(rng.choice(("ah", "oh", "ooh")))] * len(notes)
        octave = 12 * round((centre - np.mean([n[2] for n in notes])) / 12) if notes else 0
        notes = [(t, d, p + octave, v) for t, d, p, v in notes]
    sung = [n for n in notes_from_midi(_midi(s, notes)) if n.onset_s < frames / sr - 0.5]
    dry = vocals.sing(sung, sr, rng, voice, words[: len(sung)], length_s=frames / sr)
    return vocals.record_vocal(dry, sr, rng, sung)[0][:, None]


# ----------------------------------------------------------------------------- the session
def _level(y: np.ndarray, lufs: float, sr: int, name: str) -> np.ndarray:
    """``y`` ``(frames, ch)`` scaled to ``lufs`` (passes until within 0.005 LU: the -70 LUFS gate moves)."""
    for _ in range(4):
        got = integrated_loudness(y.T, sr)
        if not np.isfinite(got):
            raise RuntimeError(f"stand-in track {name!r} came out silent; its loudness cannot be set")
        if abs(got - lufs) < 0.005:
            break
        y = y * 10 ** ((lufs - got) / 20)
    return y


def render_standin(tracks: Sequence[StandinTrack], out_dir: Path, *, seconds: float = 30.0,
                   sample_rate: int = 44100, seed: int = 0, workers: int = 2) -> list[Path]:
    """Write ``out_dir/tracks/<safe_name(name)>.wav`` (float32 WAV, ``(seconds * sample_rate, channels)``)
    for every track: one performance (shared tempo, key, arrangement; drum tracks are microphones
    of one kit), each file at its ``lufs``. Deterministic in ``seed``; ``workers`` threads render
    (fluidsynth runs in parallel, WORLD synthesis does not). Returns the paths in track order.

    Raises:
        ValueError: a bad part, channel count or loudness, or two tracks with one file name.
        RuntimeError: a tool is missing (the message names what to install).
    """
    tracks, vocal = list(tracks), {"lead_vocal", "backing_vocal"}
    files = [safe_name(t.name) + ".wav" for t in tracks]
    for t in tracks:
        if t.part not in PARTS or t.channels not in (1, 2) or not np.isfinite(t.lufs):
            raise UsageError(f"bad stand-in track {t}: part in {PARTS}, channels 1 or 2, a finite lufs")
    if len({f.lower() for f in files}) < len(files):
        raise UsageError(f"track names must give distinct file names: {files}")
    why = missing_tools(need_mma=True) or (vocals.missing_vocal_tools() if vocal & {t.part for t in tracks} else None)
    if why:
        raise RuntimeError(f"cannot render stand-in sessions: {why}")
    frames, song = int(round(seconds * sample_rate)), _compose(seed, seconds)
    if song.kit is None and any(t.part in DRUM_PARTS for t in tracks):
        raise RuntimeError("cannot render stand-in drums: no recorded drum kit installed "
                           "(hydrogen-drumkits or avldrums.lv2-soundfont: run scripts/setup_system.sh)")
    jobs = [(i, t, sum(u.part == t.part for u in tracks[:i]), sum(u.part == t.part for u in tracks),
             np.random.default_rng([seed, 1, i])) for i, t in enumerate(tracks)]
    with tempfile.TemporaryDirectory(prefix="mixdown-standin-") as tmp:
        audio = _drum_mics(song, [j for j in jobs if j[1].part in DRUM_PARTS], sample_rate, frames, Path(tmp))

        def one(job) -> tuple[int, np.ndarray]:
            i, t, k, _, rng = job
            return i, (_sung(song, t, k, rng, sample_rate, frames) if t.part in vocal
                       else _played(song, t, k, rng, sample_rate, Path(tmp)))

        with ThreadPoolExecutor(max(1, workers)) as pool:
            audio.update(pool.map(one, [j for j in jobs if j[1].part not in DRUM_PARTS]))
    (tracks_dir := Path(out_dir) / "tracks").mkdir(parents=True, exist_ok=True)
    for i, t, _, _, rng in jobs:
        y = fit_length(np.asarray(audio[i], np.float64), frames, sample_rate=sample_rate)
        if t.part not in DRUM_PARTS:
            y = y.mean(1, keepdims=True) if t.channels == 1 else _space(y, sample_rate, rng, 0.3, -10)
        # scipy's float WAV has no PEAK chunk (libsndfile's carries a time stamp): same seed, same bytes
        wavfile.write(tracks_dir / files[i], sample_rate, _level(y, t.lufs, sample_rate, t.name).astype(np.float32))
    log.info("stand-in session %s: %d tracks, %.0f s, seed %d", out_dir, len(tracks), seconds, seed)
    return [tracks_dir / f for f in files]
