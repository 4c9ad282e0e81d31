"""Baselines on human-like references: the power-domain oracle against phase-changing processing,
alignment of offset references, and the prior as a baseline."""

import logging
import math

import numpy as np
import pytest
from scipy.signal import fftconvolve, lfilter

from mixdown.evaluate import check_alignment
from mixdown.measure import metrics
from mixdown.measure.align import envelope_lag, shift
from mixdown.models import baselines as B
from mixdown.params import spec as S
from mixdown.session import Session

SR = 16000
FADER, PAN = S.index(S.TRACK_SPECS, "fader_db"), S.index(S.TRACK_SPECS, "pan")


F0 = (55.0, 131.0, 311.0, 740.0, 1760.0)


def tracks(seed: int, n_tracks: int = 4, seconds: float = 6.0) -> list[np.ndarray]:
    """Instruments in different registers (distinct pitches, so their powers add), own rhythms."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = []
    for i in range(n_tracks):
        f0 = F0[i % len(F0)] * rng.uniform(0.97, 1.03)
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
        env = np.exp(-((t * rng.uniform(1, 4) + rng.uniform()) % 1.0) * rng.uniform(2, 8))
        x = 0.3 * x * env + 0.003 * rng.standard_normal(n)
        out.append((np.stack([x, x * rng.uniform(0.5, 1.0)]) if i % 2 else x[None]).astype(np.float32))
    return out


def mix(audio, fader_db, pan) -> np.ndarray:
    """Gain and constant-power pan/balance, written out independently of the console."""
    out = np.zeros((2, audio[0].shape[1]))
    for x, f, p in zip(audio, fader_db, pan):
        theta = (p + 1) * math.pi / 4
        out += 10 ** (f / 20) * np.array([math.cos(theta), math.sin(theta)])[:, None] * x[[0, -1]]
    return out


def allpass(x: np.ndarray, rng) -> np.ndarray:
    """Two random second-order all-pass sections: magnitude 1 at every frequency, phase changed."""
    for _ in range(2):
        r, w = rng.uniform(0.6, 0.95), rng.uniform(0.05, 2.5)
        a = np.array([1.0, -2 * r * math.cos(w), r * r])
        x = lfilter(a[::-1], a, x, axis=-1)
    return x


def human_reference(audio, fader_db, pan, seed: int) -> np.ndarray:
    """What a person's console does beyond gain and pan: per-track all-pass and delay, then reverb."""
    rng = np.random.default_rng(seed)
    processed = [np.roll(allpass(x.astype(np.float64), rng), int(rng.integers(3, 40)), axis=-1) for x in audio]
    dry = mix(processed, fader_db, pan)
    t = np.arange(int(0.4 * SR)) / SR
    ir = rng.standard_normal((2, len(t))) * np.exp(-t / 0.08) * 0.02  # wet about -6 dB
    return dry + np.stack([fftconvolve(dry[c], ir[c])[: dry.shape[1]] for c in (0, 1)])


def score(session, tv, ref) -> dict:
    est = mix(session.audio, tv[:, FADER], tv[:, PAN])
    return metrics.mix_metrics(est, ref, SR)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_oracle_beats_the_raw_sum_on_a_phase_changed_reference(seed):
    audio = tracks(seed)
    rng = np.random.default_rng(100 + seed)
    fader, pan = rng.uniform(-18, 0, len(audio)), rng.uniform(-0.8, 0.8, len(audio))
    ref = human_reference(audio, fader, pan, seed)
    session = Session.from_arrays(audio, SR)
    raw = score(session, B.neutral(len(audio), SR)[0], ref)
    power = score(session, B.power_oracle(session, ref)[0], ref)
    wave = score(session, B.waveform_oracle(session, ref)[0], ref)
    assert power["mrstft"] < 0.8 * raw["mrstft"]
    assert power["spectral_balance_mae_db"] < 0.5 * raw["spectral_balance_mae_db"]
    # the waveform fit may do worse than the raw sum here; the power fit does not
    assert power["mrstft"] <= wave["mrstft"] + 0.05


def test_power_oracle_recovers_gain_and_pan_of_a_plain_mix():
    audio = tracks(3)
    fader, pan = np.array([-3.0, -12.0, 0.0, -7.0]), np.array([0.5, -0.6, 0.0, 0.3])
    session = Session.from_arrays(audio, SR)
    tv, _ = B.power_oracle(session, mix(audio, fader, pan))
    # relative levels (a common offset is loudness, not balance); tracks overlap, so not exact
    rel = (tv[:, FADER] - fader) - np.mean(tv[:, FADER] - fader)
    assert np.abs(rel).max() < 1.0
    assert np.abs(tv[:, PAN] - pan).max() < 0.1


@pytest.mark.parametrize("lag", [220, -97, 0])
def test_envelope_lag_finds_the_offset_of_a_processed_reference(lag):
    audio = tracks(4, seconds=8.0)
    dry = mix(audio, np.zeros(4), np.zeros(4))
    ref = allpass(dry, np.random.default_rng(0))
    ref = np.roll(ref, lag, axis=-1)
    found, corr = envelope_lag(dry, ref, SR)
    assert abs(found - lag) <= 12 and corr > 0.5  # the all-pass delays onsets by a few samples
    assert np.abs(shift(ref, found)[:, 1000:-1000] - ref[:, 1000 + found:ref.shape[1] - 1000 + found]).max() == 0


def test_evaluation_aligns_an_offset_reference_with_a_warning(caplog):
    audio = tracks(5)
    session = Session.from_arrays(audio, SR)
    ref = np.roll(mix(audio, np.zeros(4), np.zeros(4)), 220, axis=-1)
    with caplog.at_level(logging.WARNING):
        out = check_alignment("song", session, ref.astype(np.float32))
    assert "220 samples later" in caplog.text
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        check_alignment("song", session, out)
    assert "later" not in caplog.text


def test_prior_baseline_follows_the_roles():
    audio = tracks(6, n_tracks=3)
    session = Session.from_arrays(audio, SR, names=["ch10-drums", "ch02-bass", "ch05-piano"])
    tv, mv = B.prior(session, ["drums", "bass", "keys"], seed="song")
    lo, hi = np.array([s.limits(SR) for s in S.TRACK_SPECS]).T
    assert tv.shape == (3, S.N_TRACK_PARAMS) and np.all((tv >= lo - 1e-9) & (tv <= hi + 1e-9))
    assert tv[1, PAN] == 0.0 and abs(tv[2, PAN]) >= 0.1   # bass centred, keys spread
    again, _ = B.prior(session, ["drums", "bass", "keys"], seed="song")
    np.testing.assert_array_equal(tv, again)
