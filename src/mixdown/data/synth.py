"""Synthetic multitrack corpus: multi-part MIDI -> dry soundfont stems -> "recording" -> prior mix.

One song, all randomness from one seeded ``numpy`` Generator:

1. compose: an MMA chord chart (groove + progression) with a generated
   lead melody and optional pad, or a music21 corpus piece with General MIDI programs per part;
2. split the MIDI into one file per stem, named by role (drums optionally as kick/snare/kit);
3. render each stem with fluidsynth, reverb and chorus engines off and pan/effect controllers
   removed (dry, centred); vocal stems are sung (:mod:`mixdown.data.vocals`: espeak-ng words on
   the melody with the WORLD vocoder) and drums of some songs use a recorded kit
   (:mod:`mixdown.data.drumkits`); trim to the song length, drop silent stems;
4. "recording" variation (:func:`record`), FLAC PCM_24 stems in ``tracks/``;
5. console settings from :mod:`mixdown.data.prior` (reverb sends and settings by role and genre),
   faders calibrated so each track (with its reverb tail) meets its
   loudness target, output gain set for the mix target under a -1 dBTP ceiling; ``params.json``
   and ``reference_mix.flac`` rendered by :func:`mixdown.dsp.render.render_to_file`.

``scripts/setup_system.sh`` installs fluidsynth, the FluidR3_GM soundfont, mma, espeak-ng and the
drum kits.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, sosfilt

from mixdown.data.compose import FX_CC, KICK, SNARE, Part, Song, Stem, compose, is_on, midi_file, plan_song
from mixdown.data.drumkits import Kit, choose_kit, render_drum_stem
from mixdown.data.fluid import FLUID_GAIN, SOUNDFONTS, find_soundfont, render_midi  # noqa: F401
from mixdown.data.prior import sample_mix_params
from mixdown.data.vocals import missing_vocal_tools, render_vocal_stem
from mixdown.params import spec as S
from mixdown.params.io import MasterParams, MixParams, write_params

log = logging.getLogger(__name__)

#: Roles recorded as mono sources (close-miked or DI); others stay stereo when the patch is stereo.
MONO_ROLES = frozenset({"kick", "snare", "bass", "guitar", "lead", "brass", "winds", "lead_vocal", "backing_vocal"})
#: Roles sung by :mod:`mixdown.data.vocals` instead of played by fluidsynth.
VOCAL_ROLES = frozenset({"lead_vocal", "backing_vocal"})
SILENCE_DBFS = -60.0


def missing_tools(need_mma: bool = False, need_music21: bool = False) -> str | None:
    """Why songs cannot be synthesised here, or None. ``scripts/setup_system.sh`` installs the
    system tools; ``pip install mido music21`` the Python packages."""
    for module, needed in (("mido", True), ("music21", need_music21)):
        if needed and importlib.util.find_spec(module) is None:
            return f"the Python package {module} is not installed (pip install {module})"
    if shutil.which("fluidsynth") is None:
        return "fluidsynth is not installed (run scripts/setup_system.sh)"
    if find_soundfont() is None:
        return "no General MIDI soundfont found (install fluid-soundfont-gm or set MIXDOWN_SOUNDFONT)"
    if need_mma and shutil.which("mma") is None:
        return "mma is not installed (run scripts/setup_system.sh)"
    return None


def split_stems(song: Song, split_drums: bool = False) -> list[Stem]:
    """One MIDI per stem, named by role (``guitar``, ``guitar_2``...): all bass parts merge into
    ``bass``; parts of one role and program merge; drums split into kick/snare/kit when asked.
    Pan and effect controllers are dropped; notes starting after the target length are cut."""
    import mido

    groups: dict[Any, tuple[str, list[Part]]] = {}
    for p in song.parts:
        if p.drum and split_drums:
            for role, keep in (("kick", KICK), ("snare", SNARE), ("kit", None)):
                ev = [(t, m) for t, m in p.events if m.type not in ("note_on", "note_off")
                      or (m.note in keep if keep else m.note not in KICK | SNARE)]
                if any(is_on(m) for _, m in ev):
                    groups[role] = (role, [Part(role, p.program, ev, True)])
            continue
        key = p.role if p.role in ("bass", "drums") else (p.role, p.program)
        groups.setdefault(key, (p.role, []))[1].append(p)
    stems, count, end = [], {}, song.limit_tick + 8 * song.tpb
    for role, parts in groups.values():
        count[role] = count.get(role, 0) + 1
        channels, events = iter([c for c in range(16) if c != 9]), list(song.conductor)
        for p in parts:
            ch = 9 if p.drum else next(channels)
            events.append((0, mido.Message("program_change", channel=ch, program=p.program)))
            for t, m in p.events:
                if (not hasattr(m, "channel") or m.type == "program_change"
                        or (m.type == "control_change" and m.control in FX_CC)
                        or t >= (song.limit_tick if is_on(m) else end)):
                    continue
                events.append((t, m.copy(channel=ch)))
            events.append((end, mido.Message("control_change", channel=ch, control=123, value=0)))
        name = role if count[role] == 1 else f"{role}_{count[role]}"
        stems.append(Stem(name, role, midi_file(song.tpb, events)))
    return stems


# ----------------------------------------------------------------------------- rendering
def fit_length(x: np.ndarray, frames: int, fade_s: float = 0.02, sample_rate: int = 44100) -> np.ndarray:
    """Trim or zero-pad ``(frames, ch)`` audio to ``frames``; a short fade-out avoids a click at a cut."""
    if len(x) >= frames:
        y = x[:frames].copy()
        n = min(frames, int(fade_s * sample_rate))
        if n > 0 and np.abs(x[frames:]).max(initial=0.0) > 0:
            y[frames - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
        return y
    return np.concatenate([x, np.zeros((frames - len(x), x.shape[1]), x.dtype)])


def to_channels(x: np.ndarray, role: str) -> np.ndarray:
    """Mono for close-miked roles or when both channels match; else the stereo patch as rendered."""
    if x.shape[1] == 1:
        return x.astype(np.float32)
    mid, side = x.mean(1), 0.5 * (x[:, 0] - x[:, 1])
    if role in MONO_ROLES or np.sqrt(np.mean(side ** 2)) < 1e-3 * np.sqrt(np.mean(mid ** 2) + 1e-30):
        return mid[:, None].astype(np.float32)
    return x.astype(np.float32)


# ----------------------------------------------------------------------------- recording variation
def record(x: np.ndarray, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Make a dry synthetic stem look like a recorded track. ``x``: ``(frames, ch)``; same shape out.

    In order: uneven dynamics (a smooth random gain ride, 0.5-3 dB deviation, knots every ~2 s),
    a gentle tone tilt (first-order, +-3 dB around 0.5-2 kHz), sub-sonic rumble on ~35 % of
    tracks (noise low-passed at 8-30 Hz, 20-35 dB below the track's RMS), and a recording level
    (peak between -18 and -3 dBFS: a spread of 15 dB across tracks). Returns the audio and a
    record of the draws.
    """
    n = len(x)
    depth = rng.uniform(0.5, 3.0)
    knots = max(2, int(n / sample_rate / 2.0) + 2)
    ride_db = np.interp(np.arange(n), np.linspace(0, n, knots), rng.normal(0.0, depth, knots))
    y = x * (10 ** (ride_db / 20))[:, None]
    tilt_db, tilt_hz = rng.uniform(-3.0, 3.0), float(np.exp(rng.uniform(np.log(500), np.log(2000))))
    b, a = butter(1, tilt_hz, "low", fs=sample_rate)
    low = lfilter(b, a, y, axis=0)
    y = low * 10 ** (-tilt_db / 40) + (y - low) * 10 ** (tilt_db / 40)   # complementary split
    info: dict[str, Any] = {"ride_db": round(float(depth), 2), "tilt_db": round(float(tilt_db), 2),
                            "tilt_hz": round(tilt_hz, 1), "rumble_db": None}
    if rng.random() < 0.35:
        rms = np.sqrt(np.mean(y ** 2)) + 1e-12
        noise = sosfilt(butter(2, rng.uniform(8.0, 30.0), "low", fs=sample_rate, output="sos"),
                        rng.standard_normal(n))
        rel = -rng.uniform(20.0, 35.0)
        y = y + (noise * rms * 10 ** (rel / 20) / (np.sqrt(np.mean(noise ** 2)) + 1e-12))[:, None]
        info["rumble_db"] = round(float(rel), 2)
    peak_db = rng.uniform(-18.0, -3.0)
    y = y * 10 ** (peak_db / 20) / (np.abs(y).max() + 1e-12)
    info["peak_dbfs"] = round(float(peak_db), 2)
    return y.astype(np.float32), info


def _loudness(x: np.ndarray, sample_rate: int) -> float:
    try:
        from mixdown.measure.loudness import integrated_loudness
    except ImportError:  # RMS fallback, LUFS-like offset
        return float(10 * np.log10(np.mean(x ** 2) * x.shape[1] + 1e-20) - 0.691)
    return float(integrated_loudness(x.T.astype(np.float64), sample_rate))


# ----------------------------------------------------------------------------- one song
def make_song(song_dir: Path, rng: np.random.Generator, plan: dict[str, Any], *, seconds: float = 30.0,
              sample_rate: int = 44100, render_mix: bool = True, workers: int = 2,
              subtype: str = "PCM_24", targets: str = "prior") -> dict[str, Any]:
    """Compose, render and record one song into ``song_dir``; mix it when the renderer exists.

    Args:
        song_dir: output folder (created); gets ``tracks/*.flac``, ``params.json``, ``reference_mix.flac``.
        rng: the song's generator (continues the one :func:`plan_song` drew ``plan`` from).
        plan: from :func:`plan_song`.
        seconds: target length; shorter pieces end earlier.
        render_mix: calibrate and render the reference mix (needs :mod:`mixdown.dsp.render`).
        workers: fluidsynth processes run at once.
        subtype: FLAC sample format of the stems and the reference mix (``PCM_24`` or ``PCM_16``).
        targets: where the mix's settings come from: ``"prior"`` (:mod:`mixdown.data.prior`) or
            ``"engineers"`` (an engineer's mix of MixologyDB transplanted, :mod:`mixdown.data.transplant`).

    Returns:
        summary: stem names, roles, timings, mix stats.
    """
    t0 = time.perf_counter()
    if plan.get("vocal") and (why := missing_vocal_tools()):
        log.info("%s: the lead is played, not sung: %s", song_dir.name, why)
        plan = {**plan, "vocal": False}
    song = compose(plan, rng, seconds)
    stems = split_stems(song, plan.get("split_drums", False))
    frames = int(round(min(seconds, song.length_s + 1.0) * sample_rate))
    tracks_dir = song_dir / "tracks"
    tracks_dir.mkdir(parents=True, exist_ok=True)
    kit = _drum_kit(plan)
    if any(p.drum for p in song.parts):
        song.meta["drum_kit"] = kit.name if kit is not None else "GM soundfont"
    seeds = {s.name: int(rng.integers(2 ** 32)) for s in stems if s.role in VOCAL_ROLES}
    sung: dict[str, dict[str, Any]] = {}

    def render(s: Stem) -> np.ndarray:
        if s.role in VOCAL_ROLES:   # sung: espeak-ng + WORLD (mixdown.data.vocals)
            y, sung[s.name] = render_vocal_stem(s.midi, sample_rate, np.random.default_rng(seeds[s.name]),
                                                plan.get("voice", "low"), length_s=frames / sample_rate)
            return y
        if kit is not None and any(m.type == "note_on" and m.channel == 9 for m in s.midi.tracks[0]):
            return render_drum_stem(s.midi, kit, sample_rate, Path(tmp), s.name)
        return render_midi(s.midi, sample_rate, Path(tmp), s.name)

    with tempfile.TemporaryDirectory(prefix="mixdown-synth-") as tmp:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            audio = list(pool.map(render, stems))
    t_synth = time.perf_counter() - t0
    names, roles, loud, stereo, recording = [], [], [], [], {}
    for stem, x in zip(stems, audio, strict=True):
        x = fit_length(x, frames, sample_rate=sample_rate)
        if 20 * np.log10(np.abs(x).max() + 1e-12) < SILENCE_DBFS:
            log.info("%s: stem %s is silent in the first %.1f s; dropped", song_dir.name, stem.name, seconds)
            continue
        y, info = record(to_channels(x, stem.role), sample_rate, rng)
        if stem.name in sung:
            info["vocal"] = sung[stem.name]
        sf.write(str(tracks_dir / f"{stem.name}.flac"), y, sample_rate, subtype=subtype, format="FLAC")
        names.append(stem.name)
        roles.append(stem.role)
        loud.append(_loudness(y, sample_rate))
        stereo.append(y.shape[1] == 2)
        recording[stem.name] = info
    if not names:
        raise RuntimeError(f"{song_dir.name}: every stem is silent")
    genre = plan.get("genre") or ("classical" if plan.get("source") == "music21" else None)
    if targets == "engineers":
        from mixdown.data.mixology import read_mixologydb
        from mixdown.data.roles import part_of
        from mixdown.data.transplant import engineer_mix_params

        params = engineer_mix_params(names, [part_of(n) for n in names], loud, sample_rate, rng, read_mixologydb(),
                                     stereo=stereo)
    elif targets == "prior":
        params = sample_mix_params(names, roles, loud, sample_rate, rng, stereo=stereo, genre=genre)
    else:
        raise ValueError(f"targets must be 'prior' or 'engineers', got {targets!r}")
    params.extra.update({"generator": "mixdown.data.synth", "source": song.meta,
                         "roles": dict(zip(names, roles, strict=True)), "recording": recording,
                         "raw_loudness_lufs": {n: round(v, 2) if math.isfinite(v) else None
                                               for n, v in zip(names, loud, strict=True)}})
    summary: dict[str, Any] = {"song": song_dir.name, "tracks": names, "roles": roles,
                               "synth_s": round(t_synth, 2), "mix": None}
    render_mod = _renderer() if render_mix else None
    if render_mod is not None:
        t1 = time.perf_counter()
        summary["mix"] = mix_reference(song_dir, params, render_mod, subtype=subtype)
        summary["mix_s"] = round(time.perf_counter() - t1, 2)
    else:
        write_params(params, song_dir / "params.json")
        if render_mix:
            log.warning("mixdown.dsp.render is not available: wrote stems and params.json, no reference mix")
    summary["total_s"] = round(time.perf_counter() - t0, 2)
    return summary


def _drum_kit(plan: dict[str, Any]) -> Kit | None:
    """The recorded kit a song's drums use (None: the GM soundfont's kit). MMA plans draw
    ``sampled_drums`` and ``kit_pick``; jazz, blues, country, latin and waltz keep acoustic kits."""
    if not plan.get("sampled_drums"):
        return None
    kit = choose_kit(plan["kit_pick"], acoustic=plan.get("genre") not in ("rock", "pop", "funk"))
    if kit is None:
        log.info("no recorded drum kit installed (scripts/setup_system.sh); drums from the GM soundfont")
    return kit


def _renderer():
    try:
        import mixdown.dsp.render as R

        return R if hasattr(R, "render_to_file") else None
    except ImportError:
        return None


#: the loudness an engineer's transplanted mix is brought to (the prior draws its own target)
ENGINEER_MIX_LUFS = -14.0


def mix_reference(song_dir: Path, params: MixParams, R, ceiling_dbtp: float = -1.0,
                  subtype: str = "PCM_24") -> dict[str, Any]:
    """Calibrate faders to the prior's loudness targets (an engineer's transplanted mix keeps its
    faders and aims at :data:`ENGINEER_MIX_LUFS`), set the output gain, write params and mix.

    Each track is rendered alone through its strip and its send into the song's reverb (neutral
    master EQ and compressor) and its fader moved by the miss: the fader is linear after the
    compressor and the send is post-fader, so one pass is exact (the target is the track's loudness
    with its tail). The output gain (linear
    after the master compressor) then brings the mix to the target, lowered to keep the true
    peak at or below ``ceiling_dbtp`` so the PCM reference never clips.
    """
    prior = params.extra.get("prior")
    lo, hi = S.TRACK_SPECS[S.index(S.TRACK_SPECS, "fader_db")].limits()
    neutral = {**S.neutral_master_values(), **{k: params.master.values[k] for k in S.REVERB_MASTER_NAMES}}
    for t in params.tracks if prior is not None else ():  # an engineer's faders are taken as they were set
        one = MixParams(params.sample_rate, [t], MasterParams(dict(neutral)))
        got = R.measure(R.render(song_dir, one).audio, params.sample_rate)["integrated_lufs"]
        if math.isfinite(got):
            miss = prior["track_target_lufs"][t.name] - got
            t.values["fader_db"] = float(np.clip(t.values["fader_db"] + miss, lo, hi))
    m = params.master.values
    m["output_gain_db"] = 0.0
    stats = R.measure(R.render(song_dir, params).audio, params.sample_rate)
    target = prior["mix_target_lufs"] if prior is not None else ENGINEER_MIX_LUFS
    gain = min(target - stats["integrated_lufs"], ceiling_dbtp - stats["true_peak_dbtp"])
    lo, hi = S.MASTER_SPECS[S.index(S.MASTER_SPECS, "output_gain_db")].limits()
    m["output_gain_db"] = float(np.clip(gain, lo, hi))
    write_params(params, song_dir / "params.json")
    out = R.render_to_file(song_dir, params, song_dir / "reference_mix.flac", subtype=subtype)
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}


# ----------------------------------------------------------------------------- corpus
def _complete(song_dir: Path, need_mix: bool) -> bool:
    mixed = not need_mix or (song_dir / "reference_mix.flac").is_file()
    return (song_dir / "params.json").is_file() and mixed


def _corpus_song(out: Path, i: int, seed: int, seconds: float, sample_rate: int,
                 workers: int, targets: str = "prior") -> dict[str, Any]:
    rng = np.random.default_rng([seed, i])
    plan = plan_song(rng)
    name = f"{i:04d}-{plan['slug']}"
    final, need_mix = out / name, _renderer() is not None
    if _complete(final, need_mix):
        return {"song": name, "skipped": True}
    tmp = out / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    summary = make_song(tmp, rng, plan, seconds=seconds, sample_rate=sample_rate, workers=workers, targets=targets)
    shutil.rmtree(final, ignore_errors=True)   # an incomplete earlier attempt
    os.rename(tmp, final)
    summary["song"] = name
    return summary


def synthesize_corpus(out: Path, n_songs: int, seed: int = 0, seconds: float = 30.0, jobs: int = 1,
                      sample_rate: int = 44100, progress: bool = True, targets: str = "prior") -> list[dict[str, Any]]:
    """Write ``n_songs`` songs: ``<out>/<NNNN-style>/{tracks/*.flac, params.json, reference_mix.flac}``.

    Deterministic given ``seed`` (song ``i`` draws from ``default_rng([seed, i])``), atomic (a song
    is built in ``.tmp-<name>`` and renamed when complete) and resumable (complete songs are
    skipped). ``jobs`` songs are made at once in worker processes. ``targets``: where each mix's
    settings come from (:func:`make_song`).
    """
    from tqdm import tqdm

    reason = missing_tools(need_mma=True, need_music21=True)
    if reason:
        raise RuntimeError(f"cannot synthesise a corpus: {reason}")
    if (why := missing_vocal_tools()) is not None:
        log.warning("songs drawn with vocals get a played lead instead: %s", why)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    args = [(out, i, seed, seconds, sample_rate, 1 if jobs > 1 else 2, targets) for i in range(n_songs)]
    results: list[dict[str, Any]] = []
    bar = tqdm(total=n_songs, desc="songs", unit="song", disable=not progress)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            futures = [pool.submit(_corpus_song, *a) for a in args]
            for f in futures:
                results.append(f.result())
                bar.update()
    else:
        for a in args:
            results.append(_corpus_song(*a))
            bar.update()
    bar.close()
    made = [r for r in results if not r.get("skipped")]
    if made:
        log.info("made %d songs (%d skipped), %.1f s per song", len(made), len(results) - len(made),
                 sum(r["total_s"] for r in made) / len(made))
    return results
