"""MIDI songs whose composers set the mix (CC7 volume, CC10 pan, CC91/93 sends), rendered with a soundfont.

Layout::

    <root>/**/<song>.mid   (e.g. Debian openttd-openmsx and planetblupi-music-midi; links are followed)

Each song gives up to :data:`MAX_EXCERPTS` consecutive excerpts of :data:`EXCERPT_S` seconds
(song id ``<song path without .mid>/<k>``, e.g. ``openmsx/busy_schedule/00``; a last excerpt
shorter than :data:`MIN_EXCERPT_S` is dropped); every excerpt of a song is in the song's split (a
hash of the song name). Rendering (``prepare``) with fluidsynth and a General MIDI soundfont
(FluidR3_GM), at 44.1 kHz and gain :data:`~mixdown.data.synth.FLUID_GAIN`:

- raw tracks: one per sounding channel, only that channel, CC7 = 100, CC10 = 64, CC91 = CC93 = 0
  throughout, fluidsynth's reverb and chorus units off (``-R 0 -C 0``): dry and centred;
- mix: the song as composed, reverb and chorus on (fluidsynth's defaults, driven by the
  composer's CC91/CC93; 40 reverb send where a song sets none, as in General MIDI).

The whole song (up to the last excerpt) is rendered once into ``<out>/rendered/midi/<song>/full/``
and the excerpts cut from it; stems and mix of a song share one scale (``meta.scale_db``) when the
loudest would clip. The composer's controller values over each excerpt are in ``track.meta``
(``cc7``, ``cc10``, ``cc91``, ``cc93``: start/min/max), so the composer's console is known for
evaluation. Skipped with a reason: unreadable files, songs without notes, channels silent in an excerpt.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from mixdown.data.builders import BuildError, Discovery, SongSpec, TrackSpec
from mixdown.data.builders import midi_song as M
from mixdown.data.builders import rendered as RD
from mixdown.data.manifest import Skip, hash_split

log = logging.getLogger(__name__)
NAME = "midi"
LAYOUT = "MIDI files (*.mid, *.midi) anywhere under the root, e.g. /usr/share/games/openttd/baseset/openmsx"
SAMPLE_RATE = 44100
EXCERPT_S = 30.0
MAX_EXCERPTS = 6
MIN_EXCERPT_S = 10.0
#: rendered past an excerpt's end so reverb tails and note releases are not cut at the render's end
TAIL_S = 3.0
RENDER_VERSION = 1


def midi_files(root: Path) -> list[Path]:
    """``*.mid``/``*.midi`` under ``root`` (symbolic links to folders followed, hidden ones skipped), sorted."""
    out = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(folder) / f for f in files if f.lower().endswith((".mid", ".midi")) and not f.startswith(".")]
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def excerpts(length_s: float) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of the excerpts of a song ``length_s`` long."""
    out = []
    for k in range(MAX_EXCERPTS):
        start = k * EXCERPT_S
        end = min(start + EXCERPT_S, length_s)
        if end - start >= min(MIN_EXCERPT_S, length_s) and end > start:
            out.append((start, end))
    return out


def _specs(path: Path, root: Path) -> tuple[list[SongSpec], list[Skip]]:
    base = path.relative_to(root).with_suffix("").as_posix()
    try:
        mid = M.read_midi(path)
        chans = M.channels(mid)
        length = mid.length
    except (M.MidiError, ValueError, KeyError) as e:
        return [], [Skip(base, str(path), str(e))]
    if not chans:
        return [], [Skip(base, str(path), "no notes")]
    split = hash_split(path.stem)
    specs = []
    for k, (start, end) in enumerate(excerpts(length)):
        tracks = []
        for c in chans:
            meta = {"channel": c.channel + 1, "program": c.program,
                    **{f"cc{cc}": c.summary(cc, start, end) for cc in M.NEUTRAL}}
            tracks.append(TrackSpec(Path(f"{c.name}.flac"), c.name, c.role, meta))
        meta = {"file": path.name, "song": base, "render_version": RENDER_VERSION, "excerpt": k, "start_s": start,
                "end_s": round(end, 3),
                "song_length_s": round(length, 3), "channels": len(chans)}
        specs.append(SongSpec(song=f"{base}/{k:02d}", source=NAME, split=split, root=root, tracks=tracks,
                              mix=Path("mix.flac"), meta=meta, decode=path))
    return specs, []


def discover(root: Path) -> Discovery:
    """Excerpts of every MIDI song under ``root``."""
    from mixdown.data.synth import find_soundfont

    if shutil.which("fluidsynth") is None or find_soundfont() is None:
        raise BuildError("the midi source renders with fluidsynth and a General MIDI soundfont; run "
                         "scripts/setup_system.sh (fluidsynth, fluid-soundfont-gm) or set MIXDOWN_SOUNDFONT")
    out = Discovery([])
    for path in midi_files(root):
        specs, skips = _specs(path, root)
        out.songs += specs
        out.skipped += skips
    return out


# ----------------------------------------------------------------------------- rendering
def fluidsynth(mid, workdir: Path, name: str, wet: bool) -> np.ndarray:
    """Render a ``mido.MidiFile`` at the pairs' rate: dry (reverb, chorus off) or ``wet``; returns
    ``(frames, 2)`` float32 (:func:`mixdown.data.fluid.render_midi`: runaway renders are stopped)."""
    from mixdown.data.fluid import render_midi

    return render_midi(mid, SAMPLE_RATE, workdir, name, wet=wet, timeout_s=1800)


def render_song(path: Path, end_s: float, dest: Path) -> dict[str, Any]:
    """Render the stems and the mix of ``path`` up to ``end_s`` into ``dest``; returns the ``done.json`` result."""
    mid = M.read_midi(path)
    work = dest / ".work"
    mix = fluidsynth(M.truncate(mid, end_s), work, "mix", wet=True)
    audio = {}
    for c in M.channels(mid):
        audio[f"{c.name}.flac"] = fluidsynth(M.stem_midi(mid, c.channel, end_s), work, c.name, wet=False)
    frames = int(round(end_s * SAMPLE_RATE))
    files = {dest / k: RD.fit_length(v, frames) for k, v in audio.items()}
    files[dest / "mix.flac"] = RD.fit_length(mix, frames)
    total = np.sum([files[dest / k] for k in audio], axis=0)
    offset, corr = RD.envelope_offset(total, files[dest / "mix.flac"], SAMPLE_RATE)
    lag, sharp = RD.phat_offset(total, files[dest / "mix.flac"], SAMPLE_RATE)
    scale_db = RD.write_song_audio(files, SAMPLE_RATE)
    shutil.rmtree(work, ignore_errors=True)
    return {"files": [p.name for p in files], "scale_db": scale_db, "measured_offset_samples": offset,
            "envelope_correlation": round(corr, 4), "phat_offset_samples": lag, "phat_sharpness": round(sharp, 2)}


def _cut(src: Path, dst: Path, start: int, frames: int) -> np.ndarray:
    x, _ = sf.read(str(src), start=start, frames=frames, dtype="float32", always_2d=True)
    x = RD.fit_length(x, frames)
    from mixdown.fileio import atomic_write

    atomic_write(dst, lambda tmp: sf.write(str(tmp), x, SAMPLE_RATE, subtype="PCM_24", format="FLAC"))
    return x


def _span(meta: dict) -> tuple[int, int]:
    """``(first frame, frames)`` of an excerpt in its song's render, from its ``start_s``/``end_s``."""
    start_s, end_s = float(meta["start_s"]), float(meta["end_s"])
    return int(start_s * SAMPLE_RATE), int(round((end_s - start_s) * SAMPLE_RATE))


def prepare(spec: SongSpec, out: Path) -> SongSpec:
    """Render the song once (shared by its excerpts), cut this excerpt, and point the spec at its files."""
    song_dir = Path(out) / "rendered" / NAME / spec.meta["song"]
    full = song_dir / "full"
    end_s = min(spec.meta["song_length_s"], len(excerpts(spec.meta["song_length_s"])) * EXCERPT_S) + TAIL_S
    st = spec.decode.stat()
    key = {"v": RENDER_VERSION, "file": str(spec.decode), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
           "end_s": end_s}
    from mixdown.fileio import folder_lock

    with folder_lock(song_dir):  # excerpts in other workers wait for the one render of their song
        done = RD.read_done(full / "done.json", key)
        if done is None:
            log.info("%s: rendering %d channels and the mix with fluidsynth", spec.meta["song"], len(spec.tracks))
            done = dict(key=key, **render_song(spec.decode, end_s, full))
            RD.write_done(full / "done.json", key, done)
    dest = song_dir / f"{spec.meta['excerpt']:02d}"
    start, frames = _span(spec.meta)
    tracks, skips = [], list(spec.skips)
    for t in spec.tracks:
        x = _cut(full / t.path.name, dest / "tracks" / t.path.name, start, frames)
        if RD.is_active(x, SAMPLE_RATE):
            tracks.append(replace(t, path=dest / "tracks" / t.path.name))
        else:
            skips.append(Skip(spec.song, str(dest / "tracks" / t.path.name),
                              f"channel {t.name} is silent in this excerpt (below {RD.ACTIVE_DB:.0f} dBFS)"))
    _cut(full / "mix.flac", dest / "mix.flac", start, frames)
    meta = dict(spec.meta, **{k: done.get(k) for k in ("scale_db", "measured_offset_samples", "envelope_correlation",
                                                       "phat_offset_samples", "phat_sharpness")})
    return replace(spec, tracks=tracks, mix=dest / "mix.flac", meta=meta, skips=skips)


def composer_mix(rec: dict, wet: bool = False) -> np.ndarray:
    """The composer's mix of one built excerpt (a manifest record of this source), rendered again.

    ``wet=False``: fluidsynth's reverb and chorus units off, so only what the composer set on the
    channels' volume (CC7) and pan (CC10) shapes it: the *dry* composer mix, which the stems times
    the composer's gains reproduce; ``wet=True``: as the pair's mix. The song is found as the build
    named it (``root``/``meta.song``'s folder/``meta.file``), rendered to the excerpt's end plus
    :data:`TAIL_S`, cut to the excerpt and scaled by ``meta.scale_db`` as the pair's files were.
    Raises ValueError naming the record when it is not a MIDI excerpt or its song is gone.
    Returns ``(frames, 2)`` float32.
    """
    meta = rec.get("meta") or {}
    song = rec.get("song")
    if rec.get("source") != NAME or not {"file", "song", "start_s", "end_s"} <= set(meta):
        raise ValueError(f"{song!r}: not an excerpt built by the {NAME!r} source (no meta.file/song/start_s/end_s)")
    path = Path(rec["root"]) / Path(meta["song"]).parent / meta["file"]
    if not path.is_file():
        raise ValueError(f"{song!r}: its MIDI file {path} is gone; rebuild the pairs from the songs")
    mid = M.read_midi(path)
    start, frames = _span(meta)
    with tempfile.TemporaryDirectory(prefix="mixdown-composer-") as tmp:
        x = fluidsynth(M.truncate(mid, float(meta["end_s"]) + TAIL_S), Path(tmp), "composer", wet=wet)
    x = RD.fit_length(x[start:], frames)
    return (x * np.float32(10.0 ** (float(meta.get("scale_db") or 0.0) / 20.0))).astype(np.float32)
