"""MUSDB18-HQ (WAV) and MUSDB18 (``.stem.mp4``): four stems and the mixture.

Layout::

    {train,test}/<song>/{mixture,drums,bass,other,vocals}.wav      MUSDB18-HQ
    {train,test}/<song>.stem.mp4          MUSDB18 (streams: mixture, drums, bass, other, vocals)

Tracks are drums, bass, other and vocals (role = stem name); the mix is ``mixture``. Standard
split: ``test`` is test; ``train`` is train except the 14 validation songs of the ``musdb``
package (:data:`VALIDATION_TRACKS`), which are val. ``.stem.mp4`` files are decoded (when not
cached) to ``<out>/decoded/musdb/<split folder>/<song>/*.wav`` with an ``ffmpeg`` binary or the
``stempeg`` package; without either, the build stops naming the file.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import soundfile as sf

from mixdown.data.builders import BuildError, Discovery, SongSpec, TrackSpec, audio_stem
from mixdown.data.manifest import Skip
from mixdown.fileio import atomic_write

NAME = "musdb"
LAYOUT = ("train/<song>/{mixture,drums,bass,other,vocals}.wav and test/<song>/... (MUSDB18-HQ), or "
          "train/<song>.stem.mp4 and test/<song>.stem.mp4 (MUSDB18)")
STEMS = ("drums", "bass", "other", "vocals")
STREAMS = ("mixture",) + STEMS  # stream order inside a .stem.mp4
#: the validation songs of the ``musdb`` package (taken from the train folder)
VALIDATION_TRACKS = frozenset((
    "Actions - One Minute Smile", "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies", "Patrick Talbot - A Reason To Leave", "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero", "Fergessen - Nos Palpitants", "Leaf - Summerghost",
    "Skelpolu - Human Mistakes", "Young Griffo - Pennies", "ANiMAL - Rockshow", "James May - On The Line",
    "Meaxic - Take A Step", "Traffic Experiment - Sirens",
))


def find_decoder() -> str | None:
    """``"ffmpeg"`` (a binary on PATH), ``"stempeg"`` (importable) or None."""
    if shutil.which("ffmpeg"):
        return "ffmpeg"
    if importlib.util.find_spec("stempeg") is not None:
        return "stempeg"
    return None


def _split(subset: str, song: str) -> str:
    if subset == "test":
        return "test"
    return "val" if song in VALIDATION_TRACKS else "train"


def _hq_song(d: Path, subset: str, root: Path) -> SongSpec:
    sid = f"{subset}/{d.name}"
    spec = SongSpec(song=sid, source=NAME, split=_split(subset, d.name), root=root, tracks=[])
    for stem in STEMS:
        path = next((p for p in (d / f"{stem}.wav", d / f"{stem}.flac") if p.is_file()), None)
        if path is None:
            spec.skips.append(Skip(sid, str(d / f"{stem}.wav"), "missing (a MUSDB18-HQ song has drums, bass, "
                                                                   "other and vocals)"))
        else:
            spec.tracks.append(TrackSpec(path, stem, stem))
    spec.mix = next((p for p in (d / "mixture.wav", d / "mixture.flac") if p.is_file()), None)
    if spec.mix is None:
        spec.warnings.append("no mixture.wav")
    spec.meta = {"subset": subset, "format": "hq"}
    return spec


def _stem_song(f: Path, subset: str, root: Path) -> SongSpec:
    name = audio_stem(f)
    sid = f"{subset}/{name}"
    spec = SongSpec(song=sid, source=NAME, split=_split(subset, name), root=root, tracks=[], decode=f)
    spec.tracks = [TrackSpec(Path(f"{stem}.wav"), stem, stem) for stem in STEMS]  # placed by prepare()
    spec.mix = Path("mixture.wav")
    spec.meta = {"subset": subset, "format": "stem.mp4"}
    return spec


def _subsets(root: Path) -> list[Path]:
    subs = [root / s for s in ("train", "test") if (root / s).is_dir()]
    return subs or ([root] if root.name in ("train", "test") else [])


def discover(root: Path) -> Discovery:
    """Songs of ``root/train`` and ``root/test``; BuildError for ``.stem.mp4`` without a decoder."""
    out = Discovery([])
    for sub in _subsets(root):
        for p in sorted(sub.iterdir(), key=lambda p: p.name):
            if p.name.startswith("."):
                continue
            if p.is_dir() and any((p / f"{s}.{e}").is_file() for s in STREAMS for e in ("wav", "flac")):
                spec = _hq_song(p, sub.name, root)
                if spec.tracks:
                    out.songs.append(spec)
                else:
                    out.skipped += spec.skips + [Skip(spec.song, None, "no stem files")]
            elif p.is_file() and p.name.lower().endswith(".stem.mp4"):
                out.songs.append(_stem_song(p, sub.name, root))
    encoded = [s.decode for s in out.songs if s.decode is not None]
    if encoded and find_decoder() is None:
        raise BuildError(f"{encoded[0]}: MUSDB18 .stem.mp4 files need a decoder, and neither an ffmpeg binary nor "
                         f"the stempeg package was found; install ffmpeg (or pip install stempeg), or use "
                         f"MUSDB18-HQ (WAV stems)")
    return out


def prepare(spec: SongSpec, out: Path) -> SongSpec:
    """Decode ``spec.decode`` (a ``.stem.mp4``) into ``<out>/decoded/musdb/<song>/``; HQ songs pass through."""
    if spec.decode is None:
        return spec
    dest = Path(out) / "decoded" / NAME / spec.song
    dest.mkdir(parents=True, exist_ok=True)
    targets = {s: dest / f"{s}.wav" for s in STREAMS}
    src_mtime = spec.decode.stat().st_mtime
    if not all(t.is_file() and t.stat().st_mtime >= src_mtime for t in targets.values()):
        _decode(spec.decode, targets)
    tracks = [replace(t, path=targets[t.name]) for t in spec.tracks]
    return replace(spec, tracks=tracks, mix=targets["mixture"])


def _decode(src: Path, targets: dict[str, Path]) -> None:
    """Write each stream of ``src`` to ``targets[name]`` (16-bit WAV) atomically."""
    decoder = find_decoder()
    if decoder is None:
        raise RuntimeError(f"{src}: no decoder (install ffmpeg or stempeg, or use MUSDB18-HQ)")
    if decoder == "stempeg":
        import stempeg

        audio, rate = stempeg.read_stems(str(src))  # (streams, frames, channels)
        for k, name in enumerate(STREAMS):
            atomic_write(targets[name], lambda tmp, k=k: sf.write(tmp, audio[k], int(rate), format="WAV"))
        return
    for k, name in enumerate(STREAMS):
        def run(tmp: Path, k: int = k, name: str = name) -> None:
            cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", f"0:a:{k}",
                   "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{src}: ffmpeg could not decode stream {k} ({name}): {res.stderr.strip()[-300:]}")
        atomic_write(targets[name], run)
