"""Sung vocal tracks for the synthetic corpus: espeak-ng speech re-sung on a melody with WORLD.

For each note of a melody (:class:`~mixdown.data.midinotes.Note`) one lyric word is spoken by
``espeak-ng``, analysed with the WORLD vocoder (``pyworld``: f0, spectral envelope, aperiodicity on
5 ms frames) and time-warped onto the note: the onset consonant is kept at its spoken speed and
placed just before the beat (as singers do), the voiced nucleus is stretched to the note length and
the coda consonant ends the note. The f0 of voiced frames is replaced by the note's pitch with a
singer's habits: a scoop into phrase starts, glides between legato notes, delayed vibrato, small
intonation errors and a slow drift (:class:`Voice`). The whole track is then synthesised at once.

:func:`record_vocal` makes the dry take sound recorded: mic colour (proximity low shelf, presence
peak), breaths before phrases and a noise floor. :func:`harmony_pitch` gives backing-vocal notes
(a diatonic third above, or any other number of scale steps).

Needs ``espeak-ng`` (``scripts/setup_system.sh``) and ``pyworld`` (the ``synth`` extra);
:func:`missing_vocal_tools` says what is missing.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

from mixdown.data.midinotes import Note, notes_from_midi
from mixdown.dsp.coefficients import biquad_coefficients

log = logging.getLogger(__name__)

#: WORLD frame period (ms)
FRAME_MS = 5.0
#: one-syllable lyric words (a song draws its vocabulary from these)
WORDS = ("love", "heart", "night", "light", "fire", "home", "time", "dream", "free", "stay", "run", "rain",
         "sun", "you", "me", "we", "go", "know", "oh", "yeah", "hold", "soul", "blue", "sea", "day", "way",
         "mine", "shine", "fall", "call", "stone", "gold", "road", "far", "near", "song", "long", "burn",
         "turn", "true", "new", "moon", "star", "sky", "fly", "high", "low", "down", "sound", "dance",
         "world", "hand", "land", "wind", "rise", "eyes", "fade", "hope", "years", "slow", "wait", "cry")
#: espeak-ng voices (language + variant) per register
VOICES = {"low": ("en+m1", "en+m2", "en+m3", "en+m4", "en+m7", "en-us+m1", "en-us+m3"),
          "high": ("en+f1", "en+f2", "en+f3", "en+f4", "en-us+f2", "en-us+f3")}
#: centre of the melodic range (MIDI note) of each register: around B3 and A4
REGISTER_CENTRE = {"low": 59, "high": 69}


@functools.lru_cache(maxsize=None)
def world():
    """The ``pyworld`` module.

    pyworld 0.3.5's ``__init__`` imports ``pkg_resources`` (removed from setuptools 81) only to read
    its own version; when that import fails, the compiled extension is loaded directly.
    """
    try:
        import pyworld

        return pyworld
    except ModuleNotFoundError as e:
        if e.name != "pkg_resources":
            raise
    spec = importlib.util.find_spec("pyworld")
    if spec is None or spec.origin is None:
        raise ImportError("pyworld is not installed")
    ext = next(iter(sorted(Path(spec.origin).parent.glob("pyworld*.so")) + sorted(
        Path(spec.origin).parent.glob("pyworld*.pyd"))), None)
    if ext is None:
        raise ImportError("pyworld's compiled extension was not found")
    loader = importlib.machinery.ExtensionFileLoader("pyworld.pyworld", str(ext))
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(
        "pyworld.pyworld", str(ext), loader=loader))
    loader.exec_module(module)
    return module


def missing_vocal_tools() -> str | None:
    """Why vocals cannot be sung here, or None."""
    if shutil.which("espeak-ng") is None:
        return "espeak-ng is not installed (run scripts/setup_system.sh)"
    try:
        world()
    except ImportError as e:
        return f"pyworld is not usable ({e}; pip install pyworld)"
    return None


@dataclass(frozen=True)
class Voice:
    """One singer's voice and habits.

    Attributes:
        espeak: espeak-ng voice and variant (``"en+f3"``).
        speed_wpm: speaking rate of the source words (words per minute).
        formant_ratio: frequency scaling of the spectral envelope (> 1: smaller, brighter singer).
        vibrato_hz, vibrato_cents: vibrato rate and peak depth; starts 0.2 s into notes >= 0.45 s.
        scoop_cents, scoop_ms: depth below the note and time constant of scooped attacks.
        scoop_prob: fraction of phrase starts that are scooped.
        lag_ms, jitter_ms: constant timing offset of the take and per-note onset jitter (std).
        intonation_cents: per-note pitch error (std).
        breathiness: 0-1, raises the aperiodicity of voiced frames.
    """

    espeak: str = "en+m3"
    speed_wpm: int = 140
    formant_ratio: float = 1.0
    vibrato_hz: float = 5.5
    vibrato_cents: float = 25.0
    scoop_cents: float = 60.0
    scoop_ms: float = 30.0
    scoop_prob: float = 0.6
    lag_ms: float = 0.0
    jitter_ms: float = 8.0
    intonation_cents: float = 6.0
    breathiness: float = 0.1


def draw_voice(rng: np.random.Generator, register: str = "low") -> Voice:
    """A random singer of ``register`` (``"low"`` or ``"high"``)."""
    return Voice(espeak=str(rng.choice(VOICES[register])), speed_wpm=int(rng.integers(120, 170)),
                 formant_ratio=float(rng.uniform(0.94, 1.08)), vibrato_hz=float(rng.uniform(4.8, 6.5)),
                 vibrato_cents=float(rng.uniform(10.0, 35.0)), scoop_cents=float(rng.uniform(30.0, 120.0)),
                 scoop_ms=float(rng.uniform(20.0, 45.0)), scoop_prob=float(rng.uniform(0.3, 0.9)),
                 lag_ms=float(rng.uniform(-10.0, 15.0)), jitter_ms=float(rng.uniform(3.0, 10.0)),
                 intonation_cents=float(rng.uniform(2.0, 8.0)), breathiness=float(rng.uniform(0.0, 0.4)))


def lyrics(rng: np.random.Generator, n: int, vocabulary: int = 20, line: int = 16) -> list[str]:
    """``n`` words from a song vocabulary drawn from :data:`WORDS`; lines of ``line`` words tend to
    come back (70 % of words repeat the line before last, like verses and choruses)."""
    vocab = list(rng.choice(WORDS, size=min(vocabulary, len(WORDS)), replace=False))
    out: list[str] = []
    for i in range(n):
        repeat = i >= 2 * line and rng.random() < 0.7
        out.append(out[i - 2 * line] if repeat else str(rng.choice(vocab)))
    return out


# ----------------------------------------------------------------------------- analysis
@dataclass(frozen=True)
class Syllable:
    """WORLD parameters of one spoken word on :data:`FRAME_MS` frames.

    ``f0``: ``(frames,)`` Hz, 0 on unvoiced frames; ``sp``: ``(frames, bins)`` power spectral
    envelope; ``ap``: ``(frames, bins)`` aperiodicity in [0, 1]; ``start:end``: the vowel (the
    longest run of periodic frames), stretched to the note's length when sung.
    """

    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray
    start: int
    end: int


@functools.lru_cache(maxsize=256)
def speak(word: str, espeak_voice: str = "en+m3", speed_wpm: int = 140) -> tuple[np.ndarray, int]:
    """``word`` spoken by espeak-ng, leading and trailing silence trimmed. Returns ``(x, fs)``:
    ``(samples,)`` float64 and its sample rate (22050 Hz)."""
    res = subprocess.run(["espeak-ng", "-v", espeak_voice, "-s", str(speed_wpm), "--stdout", word],
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if res.returncode != 0 or not res.stdout:
        raise RuntimeError(f"espeak-ng failed on {word!r} ({espeak_voice}): {res.stderr.decode()[-300:]}")
    x, fs = sf.read(io.BytesIO(res.stdout), dtype="float64")
    hop = fs // 200
    rms = np.sqrt(np.convolve(x ** 2, np.ones(hop) / hop, mode="same"))
    keep = np.flatnonzero(rms > rms.max() * 10 ** (-40 / 20))
    a, b = max(keep[0] - hop, 0), min(keep[-1] + hop, len(x))
    return x[a:b].copy(), fs


class NoVoicedFrame(RuntimeError):
    """espeak-ng spoke a word without one periodic frame (with some voices, e.g. "hope")."""


#: sung in place of a word that has no voiced frame in the voice (a warning says which)
FALLBACK_WORD = "la"


@functools.lru_cache(maxsize=64)
def analyse(word: str, voice: Voice, sample_rate: int) -> Syllable:
    """WORLD analysis of ``word`` in ``voice`` for synthesis at ``sample_rate``.

    The speech is analysed at espeak's rate and its envelopes interpolated onto the frequency bins
    of ``sample_rate``, formants scaled by ``voice.formant_ratio``; above 9 kHz (espeak's band ends
    at 11 kHz) the envelope is extended with a -6 dB/octave slope of noise ("air")."""
    pw = world()
    x, fs = speak(word, voice.espeak, voice.speed_wpm)
    f0, t = pw.dio(x, fs, frame_period=FRAME_MS, f0_floor=60.0, f0_ceil=500.0)
    f0 = pw.stonemask(x, f0, t, fs)
    sp_src, ap_src = pw.cheaptrick(x, f0, t, fs), pw.d4c(x, f0, t, fs)
    # onto the output rate's bins, formants scaled: output bin at hz reads the source at hz / ratio
    bins = pw.get_cheaptrick_fft_size(sample_rate) // 2 + 1
    hz = np.arange(bins) * sample_rate / (2.0 * (bins - 1))
    src = np.clip(hz / voice.formant_ratio / (fs / 2.0) * (sp_src.shape[1] - 1), 0, sp_src.shape[1] - 1)
    i0 = np.minimum(src.astype(int), sp_src.shape[1] - 2)
    w = src - i0
    sp = sp_src[:, i0] * (1 - w) + sp_src[:, i0 + 1] * w
    ap = ap_src[:, i0] * (1 - w) + ap_src[:, i0 + 1] * w
    edge = int(np.searchsorted(hz, min(9000.0, 0.8 * fs / 2.0)))
    if edge < bins:
        sp[:, edge:] = sp[:, edge - 1:edge] * (hz[edge - 1] / np.maximum(hz[edge:], 1.0)) ** 2
        ap[:, edge:] = np.maximum(ap[:, edge:], 0.9)
    # periodic frames: voiced with low aperiodicity below 2 kHz (DIO also marks some fricatives and
    # espeak's breathy word endings voiced); the nucleus is the longest periodic run
    low = max(2, int(2000.0 / (fs / 2.0) * (ap_src.shape[1] - 1)))
    f0 = np.where((f0 > 0) & (ap_src[:, 1:low].mean(1) < 0.5), f0, 0.0)
    start, end = _longest_run(f0 > 0)
    if end == start:
        raise NoVoicedFrame(f"espeak-ng word {word!r} has no voiced frame")
    return Syllable(f0, sp, ap, start, end)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """``(start, end)`` of the longest run of True in ``mask`` (``(0, 0)`` when there is none)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    if len(edges) == 0:
        return 0, 0
    starts, ends = edges[::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def harmony_pitch(pitch: int, key: int, scale: Sequence[int], steps: int = 2) -> int:
    """The note ``steps`` degrees of the scale above ``pitch`` (2: a diatonic third).

    Args:
        pitch: MIDI note; a note outside the scale keeps its distance from the degree below it.
        key: tonic pitch class (0 = C).
        scale: semitones of the scale above the tonic, e.g. ``(0, 2, 4, 5, 7, 9, 11)``.
        steps: scale degrees to move (negative: below).
    """
    pcs = {(key + s) % 12 for s in scale}
    notes = [n for n in range(pitch - 24, pitch + 25) if n % 12 in pcs]
    below = max(n for n in notes if n <= pitch)
    return notes[notes.index(below) + steps] + (pitch - below)


# ----------------------------------------------------------------------------- singing
def _note_cents(n: int, pre: int, note: Note, legato_from: float | None, voice: Voice,
                rng: np.random.Generator) -> np.ndarray:
    """Pitch (MIDI cents) of the ``n`` frames of one sung note whose onset is frame ``pre``."""
    t = (np.arange(n) - pre) * FRAME_MS / 1000.0
    cents = np.full(n, 100.0 * note.pitch + rng.normal(0.0, voice.intonation_cents))
    if legato_from is not None:
        start = float(np.clip(100.0 * (legato_from - note.pitch), -400.0, 400.0))
    else:
        start = -voice.scoop_cents * rng.uniform(0.5, 1.0) if rng.random() < voice.scoop_prob else 0.0
    cents += start * np.exp(-np.maximum(t, 0.0) / (voice.scoop_ms / 1000.0))
    if note.duration_s >= 0.45:
        ramp = np.clip((t - 0.2) / 0.2, 0.0, 1.0)
        cents += voice.vibrato_cents * ramp * np.sin(2 * np.pi * voice.vibrato_hz * t + rng.uniform(0, 2 * np.pi))
    return cents


def sing(notes: Sequence[Note], sample_rate: int, rng: np.random.Generator, voice: Voice | None = None,
         words: Sequence[str] | None = None, length_s: float | None = None) -> np.ndarray:
    """Sing ``notes`` (one lyric word each) in ``voice``.

    Args:
        notes: the melody; overlapping notes are sung one after the other (monophonic).
        sample_rate: output rate (Hz).
        rng: all random choices (lyrics, timing, scoops, vibrato phase, drift).
        voice: the singer (default :class:`Voice`).
        words: lyrics, one per note (default :func:`lyrics`).
        length_s: output length (default: the last note's end + 0.5 s).

    Returns:
        ``(samples,)`` float32, dry and unnormalised (peaks around 0.1-0.5).
    """
    voice = voice or Voice()
    notes = sorted(notes, key=lambda n: n.onset_s)
    words = list(words) if words is not None else lyrics(rng, len(notes))
    fp = FRAME_MS / 1000.0
    total = length_s if length_s is not None else max((n.onset_s + n.duration_s for n in notes), default=0) + 0.5
    n_frames = int(total / fp) + 2
    bins = world().get_cheaptrick_fft_size(sample_rate) // 2 + 1
    f0, sp, ap = np.zeros(n_frames), np.full((n_frames, bins), 1e-16), np.ones((n_frames, bins))
    written = np.zeros(n_frames, bool)
    drift = np.interp(np.arange(n_frames), np.linspace(0, n_frames, n_frames // 400 + 2),
                      rng.normal(0.0, 5.0, n_frames // 400 + 2))
    last_end, last_pitch = -10 ** 9, None
    for note, word in zip(notes, words):
        try:
            syl = analyse(word, voice, sample_rate)
        except NoVoicedFrame:  # the note is sung on "la" rather than the song lost
            log.warning("espeak-ng voice %s speaks %r without a voiced frame: sung as %r",
                        voice.espeak, word, FALLBACK_WORD)
            syl = analyse(FALLBACK_WORD, voice, sample_rate)
        onset = note.onset_s + (voice.lag_ms + np.clip(rng.normal(0, voice.jitter_ms), -25, 25)) / 1000.0
        a, d = int(round(onset / fp)), max(int(round(note.duration_s / fp)), 6)
        pre = int(min(syl.start, 16, max(a - last_end, 0)))
        coda = int(min(len(syl.f0) - syl.end, 12, d // 3))
        body = d - coda
        idx = np.concatenate([np.arange(syl.start - pre, syl.start, dtype=float),
                              np.linspace(syl.start, syl.end - 1, body), np.arange(syl.end, syl.end + coda)])
        frames = np.arange(a - pre, a - pre + len(idx))
        keep = (frames >= 0) & (frames < n_frames)
        i0 = np.minimum(idx.astype(int), len(syl.f0) - 1)
        i1, w = np.minimum(i0 + 1, len(syl.f0) - 1), (idx - i0)[:, None]
        seg_sp = syl.sp[i0] * (1 - w) + syl.sp[i1] * w
        seg_ap = syl.ap[i0] * (1 - w) + syl.ap[i1] * w
        voiced = syl.f0[np.round(idx).astype(int).clip(0, len(syl.f0) - 1)] > 0
        seg_ap[voiced] = seg_ap[voiced] ** (1.0 - 0.5 * voice.breathiness)
        legato = last_pitch if a - last_end < int(0.06 / fp) else None
        cents = _note_cents(len(idx), pre, note, legato, voice, rng) + drift[np.clip(frames, 0, n_frames - 1)]
        env = np.ones(len(idx))
        env[-4:] = np.linspace(1.0, 0.2, min(4, len(idx)))
        gain = (note.velocity / 100.0) ** 2 * env ** 2                       # power
        f0[frames[keep]] = np.where(voiced, 440.0 * 2 ** ((cents / 100.0 - 69) / 12), 0.0)[keep]
        sp[frames[keep]] = (seg_sp * gain[:, None])[keep]
        ap[frames[keep]] = seg_ap[keep]
        written[frames[keep]] = True
        last_end, last_pitch = a - pre + len(idx), note.pitch
    return _synthesize(f0, sp, ap, sample_rate, written, int(round(total * sample_rate)))


def _synthesize(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, sample_rate: int, written: np.ndarray,
                samples: int, pad: int = 20) -> np.ndarray:
    """WORLD synthesis of the sung stretches only (``written`` frames, padded by ``pad`` silent
    frames; stretches closer than ``2 * pad`` merged); silence between them stays digital zero.
    Returns ``(samples,)`` float32."""
    y = np.zeros(samples, np.float32)
    idx = np.flatnonzero(written)
    if len(idx) == 0:
        return y
    breaks = np.flatnonzero(np.diff(idx) > 2 * pad)
    for a, b in zip(np.concatenate([[idx[0]], idx[breaks + 1]]), np.concatenate([idx[breaks], [idx[-1]]])):
        start, end = max(0, int(a) - pad), min(len(f0), int(b) + pad + 1)
        seg = world().synthesize(np.ascontiguousarray(f0[start:end]), np.ascontiguousarray(sp[start:end]),
                                 np.ascontiguousarray(ap[start:end]), sample_rate, FRAME_MS)
        s0 = int(round(start * FRAME_MS / 1000.0 * sample_rate))
        n = min(len(seg), samples - s0)
        if n > 0:
            y[s0:s0 + n] += seg[:n].astype(np.float32)
    return y


# ----------------------------------------------------------------------------- recording
def _band_noise(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float, sample_rate: int) -> np.ndarray:
    sos = butter(2, [lo_hz, hi_hz], "bandpass", fs=sample_rate, output="sos")
    x = sosfilt(sos, rng.standard_normal(n))
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def record_vocal(x: np.ndarray, sample_rate: int, rng: np.random.Generator,
                 notes: Sequence[Note] = ()) -> tuple[np.ndarray, dict]:
    """Mic colour, breaths and a noise floor on a dry sung take. ``x``: ``(samples,)``; same shape out.

    Proximity effect: low shelf at 150-300 Hz, 0 to +5 dB. Mic presence: peak at 2.5-6 kHz, -2 to
    +4 dB. Breaths: band-passed noise (0.5-4 kHz) of 0.15-0.35 s ending 60 ms before each phrase
    start (a note after >= 0.35 s of rest), 18-28 dB below the voice's RMS while singing. Noise
    floor: 48-62 dB below that RMS, low-passed at 6-12 kHz. Returns the audio and the draws.
    """
    y = np.asarray(x, dtype=np.float64)
    shelf_db, shelf_hz = rng.uniform(0.0, 5.0), rng.uniform(150.0, 300.0)
    pres_db, pres_hz = rng.uniform(-2.0, 4.0), float(np.exp(rng.uniform(np.log(2500), np.log(6000))))
    for kind, hz, db, q in (("low_shelf", shelf_hz, shelf_db, 0.7), ("peak", pres_hz, pres_db, rng.uniform(0.7, 1.4))):
        b, a = biquad_coefficients(kind, np.float64(hz), np.float64(db), np.float64(q), sample_rate)
        y = lfilter(b, a, y)
    active = np.abs(y) > 1e-4 * (np.abs(y).max() + 1e-12)
    rms = np.sqrt(np.mean(y[active] ** 2)) if active.any() else 1e-6
    breath_db, breaths, prev_end = -rng.uniform(18.0, 28.0), 0, -1.0
    for n in sorted(notes, key=lambda n: n.onset_s):
        if n.onset_s - prev_end >= 0.35:
            dur = rng.uniform(0.15, 0.35)
            end = int((n.onset_s - 0.06) * sample_rate)
            start = max(0, end - int(dur * sample_rate))
            if end - start > 16:
                env = np.sin(np.linspace(0, np.pi, end - start)) ** 2
                y[start:end] += rms * 10 ** (breath_db / 20) * env * _band_noise(rng, end - start, 500, 4000,
                                                                                   sample_rate)
                breaths += 1
        prev_end = max(prev_end, n.onset_s + n.duration_s)
    floor_db, floor_hz = -rng.uniform(48.0, 62.0), rng.uniform(6000.0, 12000.0)
    noise = sosfilt(butter(1, floor_hz, "low", fs=sample_rate, output="sos"), rng.standard_normal(len(y)))
    y = y + noise * rms * 10 ** (floor_db / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-12)
    info = {"proximity_db": round(float(shelf_db), 2), "presence_db": round(float(pres_db), 2),
            "presence_hz": round(pres_hz, 1), "breath_db": round(float(breath_db), 2), "breaths": breaths,
            "noise_floor_db": round(float(floor_db), 2)}
    return y.astype(np.float32), info


def render_vocal_stem(midi, sample_rate: int, rng: np.random.Generator, register: str = "low",
                      length_s: float | None = None) -> tuple[np.ndarray, dict]:
    """Sing and record the notes of a ``mido.MidiFile``: ``(samples, 1)`` float32 and a record of the
    voice and recording draws (for ``params.extra``)."""
    notes = notes_from_midi(midi)
    voice = draw_voice(rng, register)
    dry = sing(notes, sample_rate, rng, voice, length_s=length_s)
    y, info = record_vocal(dry, sample_rate, rng, notes)
    info.update({"voice": voice.espeak, "register": register, "formant_ratio": round(voice.formant_ratio, 3),
                 "vibrato_cents": round(voice.vibrato_cents, 1), "notes": len(notes)})
    return y[:, None], info
