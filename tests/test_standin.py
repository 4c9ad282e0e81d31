"""Stand-in sessions (mixdown.data.builders.standin): checked by physics measured here, not by the
module's own numbers. Loudness by pyloudnorm (an independent BS.1770 meter; a K-weighted meter
written below when it is absent), spectra and alignment by numpy FFTs.

Rendering needs fluidsynth, mma, espeak-ng, pyworld and a recorded drum kit
(``scripts/setup_system.sh``); those tests skip with the reason. The default-suite session is
5 tracks of 6 s; the 14-track session is marked slow.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

from mixdown.data.builders import standin
from mixdown.data.builders.standin import StandinTrack as T
from mixdown.data.drumkits import find_kits
from mixdown.data.synth import missing_tools
from mixdown.data.vocals import missing_vocal_tools

_WHY = missing_tools(need_mma=True) or missing_vocal_tools() or (None if find_kits() else "no recorded drum kit")
needs_tools = pytest.mark.skipif(_WHY is not None, reason=f"cannot render stand-ins here: {_WHY}")
SR = 44100
FAST = [T("Kin.09", "kick", 1, -18.0), T("SnT2", "snare", 1, -21.2), T("HH", "hihat", 1, -31.0),
        T("StOH (Stereo)", "overheads", 2, -24.5), T("LdVox.cmp_01", "lead_vocal", 1, -19.0)]


# ----------------------------------------------------------------------------- independent measures
def _biquad(kind: str, f0: float, q: float, gain_db: float, fs: int):
    """BS.1770's two K-weighting stages as bilinear-designed biquads (Brecht De Man's derivation)."""
    k = np.tan(np.pi * f0 / fs)
    if kind == "shelf":
        vh = 10 ** (gain_db / 20)
        vb = vh ** 0.4996667741545416
        a0 = 1 + k / q + k * k
        return [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0], \
            [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    a0 = 1 + k / q + k * k
    return [1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]


def lufs(x: np.ndarray, fs: int) -> float:
    """Gated integrated loudness of ``x`` ``(frames, ch)``: pyloudnorm, else the K-weighted meter here."""
    try:
        import pyloudnorm

        return float(pyloudnorm.Meter(fs).integrated_loudness(x))
    except ImportError:
        pass
    y = x
    for stage in (("shelf", 1681.974450955533, 0.7071752369554196, 3.999843853973347),
                  ("hp", 38.13547087602444, 0.5003270373238773, 0.0)):
        b, a = _biquad(*stage, fs)
        y = lfilter(b, a, y, axis=0)
    step, size = int(0.1 * fs), int(0.4 * fs)
    z = np.array([np.mean(y[i:i + size] ** 2, axis=0).sum() for i in range(0, len(y) - size + 1, step)])
    loud = -0.691 + 10 * np.log10(z + 1e-30)
    keep = loud > -70.0                                       # absolute gate, then relative gate
    return float(-0.691 + 10 * np.log10(z[keep & (loud > -0.691 + 10 * np.log10(z[keep].mean()) - 10)].mean()))


def centroid_hz(x: np.ndarray, fs: int) -> float:
    """Power-weighted mean frequency of the mono sum."""
    p = np.abs(np.fft.rfft(x.mean(1))) ** 2
    return float((np.fft.rfftfreq(len(x), 1 / fs) * p).sum() / p.sum())


def power_share(x: np.ndarray, fs: int, lo_hz: float = 0.0, hi_hz: float = np.inf) -> float:
    """Share of the mono sum's power between ``lo_hz`` and ``hi_hz``."""
    p = np.abs(np.fft.rfft(x.mean(1))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return float(p[(f >= lo_hz) & (f < hi_hz)].sum() / p.sum())


def onsets(x: np.ndarray, fs: int) -> np.ndarray:
    """Onset strength below 150 Hz (the kick) on a 1 ms grid: half-wave rectified rise of the band's energy."""
    spec = np.fft.rfft(x.mean(1))
    spec[np.fft.rfftfreq(len(x), 1 / fs) > 150] = 0
    e = np.fft.irfft(spec, len(x)) ** 2
    hop = fs // 1000
    env = np.convolve(e[: len(e) // hop * hop].reshape(-1, hop).mean(1), np.ones(5) / 5, mode="same")
    return np.maximum(np.diff(env, prepend=env[0]), 0)


def best_lag_ms(a: np.ndarray, b: np.ndarray, max_ms: int = 50) -> tuple[int, float]:
    """(lag of b after a in ms, normalised correlation there), searched over +-``max_ms``."""
    a, b = (a - a.mean()) / (a.std() + 1e-30), (b - b.mean()) / (b.std() + 1e-30)
    c = {lag: float(np.mean(a[max(0, -lag):len(a) - max(0, lag)] * b[max(0, lag):len(b) - max(0, -lag)]))
         for lag in range(-max_ms, max_ms + 1)}
    lag = max(c, key=c.get)
    return lag, c[lag]


def read(paths) -> dict[str, np.ndarray]:
    return {p.stem: sf.read(str(p), always_2d=True)[0] for p in paths}


def digest(paths) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


# ----------------------------------------------------------------------------- no tools needed
def test_safe_names_keep_the_session_names():
    assert standin.safe_name("OH L") == "OH L"
    assert standin.safe_name("StOH (Stereo)") == "StOH (Stereo)"
    assert standin.safe_name("LdVox.cmp_01") == "LdVox.cmp_01"
    assert standin.safe_name("Gtr 1/2: L?") == "Gtr 1_2_ L_"


def test_refuses_bad_tracks_before_rendering(tmp_path):
    with pytest.raises(ValueError, match="part"):
        standin.render_standin([T("x", "drums", 1, -20.0)], tmp_path)
    with pytest.raises(ValueError, match="channels"):
        standin.render_standin([T("x", "kick", 3, -20.0)], tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        standin.render_standin([T("Kick", "kick", 1, -20.0), T("kick", "kick", 1, -20.0)], tmp_path)


def test_missing_tool_is_named(tmp_path, monkeypatch):
    why = "fluidsynth is not installed (run scripts/setup_system.sh)"
    monkeypatch.setattr(standin, "missing_tools", lambda **kw: why)
    with pytest.raises(RuntimeError, match="fluidsynth is not installed"):
        standin.render_standin(FAST, tmp_path)


# ----------------------------------------------------------------------------- a small session
@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    """The 5-track session rendered with seed 0 twice and with seed 1 (6 s each)."""
    root = tmp_path_factory.mktemp("standin")
    return {name: standin.render_standin(FAST, root / name, seconds=6.0, seed=seed)
            for name, seed in (("a", 0), ("b", 0), ("c", 1))}


@needs_tools
def test_files_named_shaped_and_at_their_loudness(fast):
    paths = fast["a"]
    assert [p.name for p in paths] == [t.name + ".wav" for t in FAST]
    for p, t in zip(paths, FAST):
        x, fs = sf.read(str(p), always_2d=True)
        assert fs == SR and x.shape == (6 * SR, t.channels), p.name
        assert lufs(x, fs) == pytest.approx(t.lufs, abs=0.5), p.name


@needs_tools
def test_stereo_overheads_are_truly_stereo(fast):
    x = read(fast["a"])["StOH (Stereo)"]
    assert x.shape[1] == 2
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] < 0.98
    assert np.sqrt(np.mean((x[:, 0] - x[:, 1]) ** 2)) > 0.1 * np.sqrt(np.mean(x ** 2))


@needs_tools
def test_close_mics_hear_their_piece(fast):
    a = read(fast["a"])
    assert power_share(a["Kin.09"], SR, hi_hz=200.0) > 0.8 and centroid_hz(a["Kin.09"], SR) < 300.0
    assert power_share(a["HH"], SR, lo_hz=5000.0) > 0.5 and centroid_hz(a["HH"], SR) > 5000.0
    assert 200.0 < centroid_hz(a["SnT2"], SR) < 5000.0


@needs_tools
def test_kick_mic_and_overheads_are_one_performance(fast):
    a, c = read(fast["a"]), read(fast["c"])
    lag, corr = best_lag_ms(onsets(a["Kin.09"], SR), onsets(a["StOH (Stereo)"], SR))
    assert abs(lag) <= 5 and corr > 0.5, (lag, corr)
    _, other = best_lag_ms(onsets(c["Kin.09"], SR), onsets(a["StOH (Stereo)"], SR))
    assert other < corr - 0.2, (other, corr)       # another seed's kick is not this kit's


@needs_tools
def test_deterministic_in_seed(fast):
    assert digest(fast["a"]) == digest(fast["b"])
    assert all(x != y for x, y in zip(digest(fast["a"]), digest(fast["c"])))


# ----------------------------------------------------------------------------- a full session
@pytest.mark.slow
@needs_tools
def test_full_session_parts_differ_and_drum_mics_sound_their_place(tmp_path):
    tracks = [T("Kick In", "kick", 1, -20.0), T("Kick Out", "kick", 1, -22.0), T("Tom 1", "tom", 1, -30.0),
              T("Floor Tom", "tom", 1, -29.0), T("OH L", "overheads", 1, -25.0), T("OH R", "overheads", 1, -25.0),
              T("Room", "room", 2, -27.0), T("Tamb", "percussion", 1, -31.0), T("Bass DI", "bass", 1, -21.0),
              T("Gtr 1", "electric_guitar", 1, -23.0), T("Gtr 2", "electric_guitar", 1, -23.0),
              T("Act Guit (Stereo)", "acoustic_guitar", 2, -24.0), T("Hammond", "keys", 2, -26.0),
              T("Strings", "other", 2, -28.0)] + [T(f"BG vox {i}", "backing_vocal", 1, -27.0) for i in range(1, 5)]
    x = read(standin.render_standin(tracks, tmp_path, seconds=10.0, seed=3))
    for t in tracks:
        assert x[t.name].shape == (10 * SR, t.channels)
        assert lufs(x[t.name], SR) == pytest.approx(t.lufs, abs=0.5), t.name
    for t in (t for t in tracks if t.channels == 2):
        assert np.corrcoef(x[t.name].T)[0, 1] < 0.995, t.name
    def corr(a, b):
        return abs(np.corrcoef(x[a].mean(1), x[b].mean(1))[0, 1])

    for a, b in [("Kick In", "Kick Out"), ("OH L", "OH R")]:              # two mics on one source: alike, not copies
        assert corr(a, b) < 0.99, (a, b, corr(a, b))
    players = [("Tom 1", "Floor Tom"), ("Gtr 1", "Gtr 2")] + \
        [(f"BG vox {i}", f"BG vox {j}") for i in range(1, 5) for j in range(i + 1, 5)]
    for a, b in players:                                                  # different drums, players, singers
        assert corr(a, b) < 0.8, (a, b, corr(a, b))
    oh = np.concatenate([x["OH L"], x["OH R"]], axis=1)
    assert centroid_hz(x["Room"], SR) < 0.5 * centroid_hz(oh, SR)          # room darker, overheads brighter
    assert power_share(x["Kick Out"], SR, 200.0) < 0.8 * power_share(x["Kick In"], SR, 200.0)   # boom, less beater
    assert centroid_hz(x["Floor Tom"], SR) < 1000.0 and centroid_hz(x["Tamb"], SR) > 3000.0
