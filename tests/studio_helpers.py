"""Generated sessions and a running studio for the studio's tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.params import spec as S
from mixdown.params.io import MixParams, write_params
from sessions import tone_track

SR = 22050
TOKEN = "test-token-0123456789abcdef"
PORT = 8765
HOSTS = {f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}"}
BASE = f"http://127.0.0.1:{PORT}"
P = f"/s/{TOKEN}/"


def make_session(folder: Path, n_tracks: int = 3, seconds: float = 4.0, seed: int = 0,
                 linear_master: bool = True) -> Path:
    """Tracks in ``folder/tracks``, ``folder/params.json`` (compressors on the tracks; with
    ``linear_master`` the master only scales: flat EQ, ratio 1) and ``folder/reference_mix.wav``
    (the tracks' plain sum at -6 dB). Returns the parameter file."""
    rng = np.random.default_rng(seed)
    (folder / "tracks").mkdir(parents=True, exist_ok=True)
    n = int(seconds * SR)
    names = [f"track{i}" for i in range(n_tracks)]
    ref = np.zeros((n, 2), dtype=np.float32)
    for i, name in enumerate(names):
        x = tone_track(rng, n, SR, 1 + i % 2)
        sf.write(folder / "tracks" / f"{name}.wav", x, SR, subtype="FLOAT")
        ref += 0.5 * (x if x.shape[1] == 2 else np.repeat(x, 2, 1))
    sf.write(folder / "reference_mix.wav", ref, SR, subtype="FLOAT")
    tv = S.denormalize(rng.uniform(0.3, 0.7, (n_tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
    tv[:, S.index(S.TRACK_SPECS, "fader_db")] = -6.0
    mv = S.denormalize(np.full(S.N_MASTER_PARAMS, 0.5), S.MASTER_SPECS, SR)
    if linear_master:
        for i in range(S.N_EQ_BANDS):
            mv[S.index(S.MASTER_SPECS, f"eq.{i}.gain_db")] = 0.0
        mv[S.index(S.MASTER_SPECS, "compressor.ratio")] = 1.0
        mv[S.index(S.MASTER_SPECS, "compressor.makeup_db")] = 0.0
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -3.0
    params = MixParams.from_arrays(SR, names, [f"tracks/{m}.wav" for m in names], tv, mv)
    write_params(params, folder / "params.json")
    return folder / "params.json"


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


@pytest.fixture
def studio(tmp_path):
    """A running studio on a generated session with a reference and the heuristic model."""
    from mixdown.models import Heuristic
    from mixdown.studio.service import Paths, Studio

    params = make_session(tmp_path / "song")
    s = Studio(Paths.resolve(tmp_path / "song", params, tmp_path / "song" / "reference_mix.wav"),
               model=Heuristic(sample_rate=SR))
    s.engine.start()
    yield s
    s.engine.stop()


@pytest.fixture
def client(studio):
    """Starlette's test client on ``studio``'s app (Host 127.0.0.1:8765)."""
    from starlette.testclient import TestClient

    from mixdown.studio.app import build_app

    return TestClient(build_app(studio, TOKEN, HOSTS), base_url=BASE)
