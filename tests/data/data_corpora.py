"""Tiny generated corpora in each builder's layout (short noise-burst audio at low rates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 8000


def burst(seed: int, seconds: float = 1.0, sr: int = SR, channels: int = 1, level: float = 0.2) -> np.ndarray:
    """Gated noise ``(n, channels)`` float32: random on/off 0.1 s bursts so correlation peaks are sharp."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    gate = np.repeat(rng.random(-(-n // (sr // 10))) < 0.7, sr // 10)[:n]
    x = rng.standard_normal((n, channels)) * level * gate[:, None]
    return x.astype(np.float32)


def write(path: Path, x: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def shifted(x: np.ndarray, offset: int) -> np.ndarray:
    """``x`` delayed by ``offset`` samples (zeros shifted in), same length."""
    y = np.zeros_like(x)
    if offset >= 0:
        y[offset:] = x[: len(x) - offset]
    else:
        y[:offset] = x[-offset:]
    return y


def mixdown(parts: list[np.ndarray], offset: int = 0) -> np.ndarray:
    """Stereo sum of mono/stereo ``parts`` (padded to the longest), delayed by ``offset``."""
    n = max(len(p) for p in parts)
    out = np.zeros((n, 2), dtype=np.float32)
    for p in parts:
        out[: len(p)] += p if p.shape[1] == 2 else np.repeat(p, 2, axis=1)
    return shifted(out, offset)


def medleydb_song(root: Path, name: str, instruments: list[str], bleed: bool = False, offset: int = 0,
                  seed: int = 0, write_meta: bool = True) -> Path:
    d = root / name
    raws = []
    stems_yaml = []
    for i, inst in enumerate(instruments, 1):
        x = burst(seed * 100 + i)
        raws.append(x)
        write(d / f"{name}_RAW" / f"{name}_RAW_{i:02d}_01.wav", x)
        write(d / f"{name}_STEMS" / f"{name}_STEM_{i:02d}.wav", x)
        stems_yaml.append(f"  S{i:02d}:\n    component: ''\n    filename: {name}_STEM_{i:02d}.wav\n"
                          f"    instrument: {inst}\n    raw:\n      R01:\n"
                          f"        filename: {name}_RAW_{i:02d}_01.wav\n        instrument: {inst}\n")
    write(d / f"{name}_MIX.wav", mixdown(raws, offset))
    if write_meta:
        (d / f"{name}_METADATA.yaml").write_text(
            f"artist: Test\ntitle: {name}\nhas_bleed: {'yes' if bleed else 'no'}\nversion: 1.2\n"
            f"mix_filename: {name}_MIX.wav\nraw_dir: {name}_RAW\nstems:\n" + "".join(stems_yaml))
    return d


def enst(root: Path, drummers: dict[int, list[str]], mics=("kick", "snare", "overhead_L"), wet=True) -> Path:
    for number, takes in drummers.items():
        audio = root / f"drummer_{number}" / "audio"
        for t, take in enumerate(takes):
            parts = [write(audio / mic / f"{take}.wav", burst(number * 1000 + t * 10 + m)) for m, mic in
                     enumerate(mics)]
            x = mixdown([sf.read(str(p), always_2d=True)[0].astype(np.float32) for p in parts])
            write(audio / "dry_mix" / f"{take}.wav", x)
            if wet:
                write(audio / "wet_mix" / f"{take}.wav", 0.5 * x)
    return root


def musdb_song(root: Path, subset: str, name: str, seed: int = 0, skip=()) -> Path:
    d = root / subset / name
    parts = []
    for k, stem in enumerate(("drums", "bass", "other", "vocals")):
        x = burst(seed * 10 + k, channels=2)
        parts.append(x)
        if stem not in skip:
            write(d / f"{stem}.wav", x)
    write(d / "mixture.wav", mixdown(parts))
    return d


def slakh_track(root: Path, name: str, stems: dict[str, tuple[str, bool, bool]], seed: int = 0) -> Path:
    """``stems``: ``{"S00": (inst_class, is_drum, audio_rendered)}``."""
    d = root / name
    parts, lines = [], ["UUID: abc\naudio_dir: stems\nstems:\n"]
    for k, (sid, (cls, drum, rendered)) in enumerate(sorted(stems.items())):
        lines.append(f"  {sid}:\n    inst_class: {cls}\n    is_drum: {str(drum).lower()}\n"
                     f"    audio_rendered: {str(rendered).lower()}\n    program_num: {k}\n")
        if rendered:
            x = burst(seed * 10 + k)
            parts.append(x)
            write(d / "stems" / f"{sid}.flac", x)
    (d / "metadata.yaml").parent.mkdir(parents=True, exist_ok=True)
    (d / "metadata.yaml").write_text("".join(lines))
    write(d / "mix.flac", mixdown(parts))
    return d


def session(d: Path, names: list[str], mix_name: str | None = "reference_mix.wav", tracks_dir: bool = True,
            offset: int = 0, seed: int = 0, sr: int = SR) -> Path:
    """A folder session: ``names`` tracks (in ``tracks/`` or flat) and a reference mix."""
    folder = d / "tracks" if tracks_dir else d
    parts = []
    for k, n in enumerate(names):
        x = burst(seed * 10 + k, sr=sr)
        parts.append(x)
        write(folder / f"{n}.wav", x, sr)
    if mix_name:
        write(d / mix_name, mixdown(parts, offset), sr)
    return d
