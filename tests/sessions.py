"""Generated test sessions and manifests (shared by several test files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.params import spec as S
from mixdown.params.io import MixParams, write_params


def tone_track(rng, n: int, sr: int, channels: int) -> np.ndarray:
    """Decaying harmonic notes with a little noise: ``(n, channels)`` float32."""
    t = np.arange(n) / sr
    f0 = rng.choice([55.0, 110.0, 220.0, 440.0, 880.0])
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
    env = np.exp(-((t * rng.uniform(1, 4)) % 1.0) * 5)
    x = 0.3 * x * env + 0.01 * rng.standard_normal(n)
    out = np.stack([x, x * rng.uniform(0.5, 1.0)], 1) if channels == 2 else x[:, None]
    return out.astype(np.float32)


def make_song(folder: Path, sr: int, seconds: float, n_tracks: int, seed: int) -> dict:
    """A session folder with tracks, params.json and reference_mix.wav; returns its manifest record."""
    from mixdown.dsp.render import render_to_file

    rng = np.random.default_rng(seed)
    (folder / "tracks").mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    names, chans = [f"track{i}" for i in range(n_tracks)], [1 + (i % 2) for i in range(n_tracks)]
    for name, c in zip(names, chans):
        sf.write(folder / "tracks" / f"{name}.wav", tone_track(rng, n, sr, c), sr)
    tv = S.denormalize(rng.uniform(0.3, 0.7, (n_tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, sr)
    tv[:, S.index(S.TRACK_SPECS, "input_gain_db")] = rng.uniform(-6, 6, n_tracks)
    tv[:, S.index(S.TRACK_SPECS, "fader_db")] = rng.uniform(-12, -3, n_tracks)
    for band in (1, 3):  # bands left flat, as an engineer leaves most bands (tone augmentation uses them)
        tv[:, S.index(S.TRACK_SPECS, f"eq.{band}.gain_db")] = 0.0
    if sr <= S.REVERB_MIN_SAMPLE_RATE:  # the spec defines no reverb at such rates: sends off
        tv[:, S.index(S.TRACK_SPECS, "reverb_send_db")] = S.SEND_OFF_DB
    mv = S.denormalize(np.full(S.N_MASTER_PARAMS, 0.5), S.MASTER_SPECS, sr)
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -6.0
    params = MixParams.from_arrays(sr, names, [f"tracks/{n}.wav" for n in names], tv, mv)
    write_params(params, folder / "params.json")
    render_to_file(folder, params, folder / "reference_mix.wav")
    return {"song": folder.name, "source": "test", "split": "train",
            "tracks": [{"path": str(folder / "tracks" / f"{nm}.wav"), "name": nm, "role": "other", "channels": c,
                        "sample_rate": sr, "frames": n, "active_regions": [[0.0, seconds]]}
                       for nm, c in zip(names, chans)],
            "mix": {"path": str(folder / "reference_mix.wav"), "channels": 2, "sample_rate": sr, "frames": n},
            "params": str(folder / "params.json")}


def make_corpus(root: Path, sr: int = 16000, seconds: float = 3.0, songs: int = 3) -> dict[str, Path]:
    """Songs in ``root`` and manifests ``train.jsonl`` / ``val.jsonl`` (last song is validation)."""
    records = [make_song(root / f"song{i}", sr, seconds, 2 + i % 3, seed=i) for i in range(songs)]
    out = {}
    for split, recs in (("train", records[:-1]), ("val", records[-1:])):
        path = root / f"{split}.jsonl"
        path.write_text("".join(json.dumps({**r, "split": split}) + "\n" for r in recs))
        out[split] = path
    return out
