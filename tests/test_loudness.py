"""Tests for mixdown.measure.loudness against independent references.

Expected values come from the standards themselves (ITU-R BS.1770-4 coefficient table and the
997 Hz calibration note, the EBU Tech 3341 / Tech 3342 minimum-requirement signals), from analytic
properties of sine waves (true peak) and from an independent implementation (pyloudnorm). No expected
value is produced by the module under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import sosfreqz

from mixdown.measure import loudness as L

FS = 48000


def tone_sequence(levels_dbfs, durations_s, fs=FS, freq=1000.0, channels=2):
    """Continuous-phase sine at ``freq`` whose peak amplitude steps through ``levels_dbfs``.

    This is how the EBU Tech 3341/3342 test files are built: 1 kHz, the same signal in L and R,
    levels stated as sine peak in dBFS.
    """
    gains = np.concatenate([np.full(int(round(d * fs)), 10.0 ** (lv / 20.0))
                            for lv, d in zip(levels_dbfs, durations_s, strict=True)])
    t = np.arange(gains.size) / fs
    return np.tile(gains * np.sin(2 * np.pi * freq * t), (channels, 1))


def music_like(fs, seconds, seed):
    """Random 'music': harmonic notes + decaying noise bursts + sections spanning ~30 dB of level."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = np.zeros((2, n))
    for start in rng.uniform(0, seconds - 1.0, size=int(seconds * 2)):
        i0, length = int(start * fs), int(rng.uniform(0.2, 1.5) * fs)
        seg = slice(i0, min(n, i0 + length))
        f0 = rng.uniform(60, 900)
        env = np.exp(-(t[seg] - start) * rng.uniform(1, 6))
        note = sum(rng.uniform(0.2, 1) / k * np.sin(2 * np.pi * k * f0 * t[seg]) for k in range(1, 8))
        x[:, seg] += rng.uniform(0.3, 1.0, size=(2, 1)) * env * note
    hats = rng.standard_normal((2, n)) * np.exp(-((t * 4) % 1.0) * 30)
    x += 0.05 * hats
    sections = np.repeat(10.0 ** (rng.uniform(-30, 0, size=int(seconds / 2) + 1) / 20.0), 2 * fs)[:n]
    x *= sections
    return 0.3 * x / np.abs(x).max()


# ------------------------------------------------------------------------------------------------
# K-weighting filter
def test_k_weighting_matches_bs1770_table_at_48k():
    # ITU-R BS.1770-4, Tables 1 and 2 (pre-filter and RLB filter at 48 kHz).
    expected = np.array([
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ])
    sos = L.k_weighting_sos(48000)
    assert sos.shape == (2, 6)
    np.testing.assert_allclose(sos, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fs", [44100, 88200, 96000])
def test_k_weighting_other_rates_match_48k_response(fs):
    # The filter is defined by its analog prototype, so at other rates the magnitude response must
    # follow the tabulated 48 kHz filter wherever bilinear warping is negligible.
    freqs = np.array([20.0, 38.0, 100.0, 500.0, 1000.0, 1681.0, 3000.0, 6000.0])
    table = np.array([
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ])
    ref = np.abs(sosfreqz(table, worN=freqs, fs=48000)[1])
    got = np.abs(sosfreqz(L.k_weighting_sos(fs), worN=freqs, fs=fs)[1])
    np.testing.assert_allclose(20 * np.log10(got), 20 * np.log10(ref), atol=0.02)


def test_bs1770_calibration_997hz_full_scale_mono_reads_minus_3_01():
    # BS.1770-4 section 2.1: a 0 dBFS 997 Hz sine in one (front) channel reads -3.01 LKFS.
    t = np.arange(10 * FS) / FS
    x = np.sin(2 * np.pi * 997 * t)[None, :]
    assert L.integrated_loudness(x, FS) == pytest.approx(-3.01, abs=0.02)


# ------------------------------------------------------------------------------------------------
# EBU Tech 3341 integrated loudness ("minimum requirements" test signals 1-5, stereo 1 kHz)
@pytest.mark.parametrize(
    "levels, durations",
    [
        # case 1/2: a steady tone reads its level (stereo 1 kHz at L dBFS peak -> L LUFS).
        ([-23.0], [20.0]),
        ([-33.0], [20.0]),
        # case 3: the -36 parts are 13 LU below the -23 part, and the relative gate sits ~11.2 LU below
        # it (abs-gated mean over 80 s is -24.2 LUFS, gate -34.2), so only the -23 part (plus a few
        # boundary blocks holding mostly -23 signal) is averaged -> -23.
        ([-36.0, -23.0, -36.0], [10.0, 60.0, 10.0]),
        # case 4: -72 dBFS parts fall below the -70 LUFS absolute gate, -36 parts below the relative
        # gate as in case 3 -> -23.
        ([-72.0, -36.0, -23.0, -36.0, -72.0], [10.0, 10.0, 60.0, 10.0, 10.0]),
        # case 5: -26 parts are only 6 LU down, so nothing is gated and the energy mean is
        # 10*log10((40 s * 10^-2.6 + 20.1 s * 10^-2.0) / 60.1 s) = -23.0.
        ([-26.0, -20.0, -26.0], [20.0, 20.1, 20.0]),
    ],
    ids=["case1", "case2", "case3", "case4", "case5"],
)
def test_tech3341_integrated(levels, durations):
    x = tone_sequence(levels, durations)
    expected = -33.0 if levels == [-33.0] else -23.0
    assert L.integrated_loudness(x, FS) == pytest.approx(expected, abs=0.1)
    assert L.integrated_loudness(x.astype(np.float32), FS) == pytest.approx(expected, abs=0.1)


def test_tech3341_momentary_constant():
    # Tech 3341 case 6 style: -20 dBFS for 0.18 s then -30 dBFS for 0.22 s, repeated. Every 400 ms
    # window holds exactly one period, so its mean power is (0.18*1e-2 + 0.22*1e-3)/0.4 -> -22.97 LUFS.
    x = tone_sequence([-20.0, -30.0] * 20, [0.18, 0.22] * 20)
    m = L.momentary_loudness(x, FS, hop_s=0.02)
    assert m.shape == ((x.shape[1] - int(0.4 * FS)) // int(0.02 * FS) + 1,)
    expected = 10 * math.log10((0.18e-2 + 0.22e-3) / 0.4)
    np.testing.assert_allclose(m[1:], expected, atol=0.1)


def test_tech3341_short_term_constant():
    # Tech 3341 case 9: -20 dBFS 1.34 s / -30 dBFS 1.66 s alternating; a 3 s window always covers one
    # period -> (1.34*1e-2 + 1.66*1e-3)/3 = -22.99 LUFS.
    x = tone_sequence([-20.0, -30.0] * 5, [1.34, 1.66] * 5)
    s = L.short_term_loudness(x, FS)
    assert s.shape == (round((x.shape[1] - 3 * FS) / (0.1 * FS)) + 1,)
    np.testing.assert_allclose(s, -23.0, atol=0.1)


# ------------------------------------------------------------------------------------------------
# EBU Tech 3342 loudness range (stereo 1 kHz, 20 s per level)
@pytest.mark.parametrize(
    "levels, expected",
    [
        ([-20.0, -30.0], 10.0),  # case 1
        ([-20.0, -15.0], 5.0),  # case 2
        ([-40.0, -20.0], 20.0),  # case 3: the -40 part is within the 20 LU relative gate
        # case 4: the -50 parts are gated (power mean ~ -26.7 -> gate -46.7), leaving -35 and -20.
        ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
    ],
    ids=["case1", "case2", "case3", "case4"],
)
def test_tech3342_loudness_range(levels, expected):
    x = tone_sequence(levels, [20.0] * len(levels))
    assert L.loudness_range(x, FS) == pytest.approx(expected, abs=1.0)


# ------------------------------------------------------------------------------------------------
# comparison with pyloudnorm
@pytest.mark.parametrize("fs", [44100, 48000])
@pytest.mark.parametrize("kind", ["noise", "music"])
def test_integrated_matches_pyloudnorm(fs, kind):
    pyln = pytest.importorskip("pyloudnorm")
    rng = np.random.default_rng(fs)
    if kind == "noise":
        x = 0.1 * rng.standard_normal((2, 15 * fs))
    else:
        x = music_like(fs, 20.0, seed=fs + 1)
    ours = L.integrated_loudness(x, fs)
    # "DeMan" is pyloudnorm's implementation of the exact BS.1770 filters (its own bilinear design).
    assert ours == pytest.approx(pyln.Meter(fs, filter_class="DeMan").integrated_loudness(x.T), abs=0.05)
    # pyloudnorm's default K-weighting uses RBJ-cookbook approximations of the filters, which read
    # ~0.045 LU higher on white noise, so the tolerance against it is looser.
    assert ours == pytest.approx(pyln.Meter(fs).integrated_loudness(x.T), abs=0.1)


def test_more_than_two_channels_weighted_one_each():
    rng = np.random.default_rng(3)
    ch = 0.1 * rng.standard_normal((1, 5 * FS))
    stereo = L.integrated_loudness(np.repeat(ch, 2, axis=0), FS)
    five = L.integrated_loudness(np.repeat(ch, 5, axis=0), FS)
    assert five - stereo == pytest.approx(10 * math.log10(5 / 2), abs=1e-6)


# ------------------------------------------------------------------------------------------------
# true peak
@pytest.mark.parametrize("fs", [44100, 48000, 96000])
@pytest.mark.parametrize("amp_db", [-6.0, 0.0])
def test_true_peak_fs_over_4_at_45_degrees(fs, amp_db):
    # sin(pi/2 n + pi/4) only ever hits +-1/sqrt(2) at the samples; the crest lies half-way between
    # samples, so the true peak is the amplitude, 3.01 dB above the sample peak.
    a = 10 ** (amp_db / 20)
    n = np.arange(fs // 2)
    x = np.tile(a * np.sin(np.pi / 2 * n + np.pi / 4), (2, 1))
    assert L.sample_peak_dbfs(x) == pytest.approx(amp_db - 10 * math.log10(2), abs=1e-6)
    assert L.true_peak_dbtp(x, fs) == pytest.approx(amp_db, abs=0.2)


@pytest.mark.parametrize("div, phase_deg", [(6, 60.0), (8, 67.5)])
def test_true_peak_other_intersample_sines(div, phase_deg):
    # Tech 3341 cases 17/18 style: sines at fs/6 and fs/8 with phases putting the crest between
    # samples. Analytic true peak is the amplitude (0.5 = -6.02 dB).
    n = np.arange(FS // 2)
    x = np.tile(0.5 * np.sin(2 * np.pi * n / div + np.deg2rad(phase_deg)), (2, 1))
    assert L.sample_peak_dbfs(x) < -6.1
    assert L.true_peak_dbtp(x, FS) == pytest.approx(20 * math.log10(0.5), abs=0.2)


def test_true_peak_of_dc_and_low_frequency_sine_equals_sample_peak():
    dc = np.ones((2, FS))
    assert L.true_peak_dbtp(dc, FS) == pytest.approx(0.0, abs=0.01)
    assert L.true_peak_dbtp(0.5 * dc, FS) == pytest.approx(20 * math.log10(0.5), abs=0.01)
    t = np.arange(2 * FS) / FS
    sine = np.tile(np.sin(2 * np.pi * 100 * t), (2, 1))
    assert L.true_peak_dbtp(sine, FS) == pytest.approx(L.sample_peak_dbfs(sine), abs=0.01)
    assert L.true_peak_dbtp(sine, FS) == pytest.approx(0.0, abs=0.01)


def test_true_peak_of_bandlimited_multisine_against_dense_analytic_waveform():
    # A sum of sines (<= 10 kHz at 48 kHz) with a slow taper: its continuous waveform is known in
    # closed form, so its true peak is the maximum over a 64x-dense evaluation. 4x oversampling may
    # under-read by at most 1 - cos(pi*10/(4*48)) ~ 0.12 dB for this content; it must not over-read.
    rng = np.random.default_rng(7)
    freqs, amps = rng.uniform(100, 10000, 12), rng.uniform(0.1, 1.0, 12)
    phases = rng.uniform(0, 2 * np.pi, 12)
    dur = 0.5

    def wave(t):
        taper = np.sin(np.pi * t / dur) ** 2
        return taper * (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(0)

    x = wave(np.arange(int(dur * FS)) / FS)[None, :] / 5.0
    truth = 20 * math.log10(np.abs(wave(np.arange(int(dur * FS * 64)) / (FS * 64))).max() / 5.0)
    tp = L.true_peak_dbtp(x, FS)
    assert truth - 0.15 <= tp <= truth + 0.02


def test_true_peak_finds_bursts_anywhere_including_chunk_edges():
    # An fs/4, 45-degree burst (true peak 0.8, sample peak 0.8/sqrt 2) slid across a long signal, so it
    # lands on every kind of block boundary, the first and the last samples.
    n_total = 20000
    burst = 0.8 * np.sin(np.pi / 2 * np.arange(64) + np.pi / 4)
    for pos in [*range(0, n_total - 64, 997), n_total - 64]:
        x = np.zeros((2, n_total))
        x[1, pos:pos + 64] = burst
        assert L.true_peak_dbtp(x, 44100) == pytest.approx(20 * math.log10(0.8), abs=0.2), pos


def test_true_peak_is_shift_invariant():
    # Time invariance: a fixed +-0.5 pattern whose band-limited waveform peaks ~2.4 dB above its
    # samples (signs of sinc(j - 1/2), i.e. a worst case for the half-sample position) must read the
    # same true peak wherever it sits in a longer signal, including every FFT block seam and the
    # first/last position where the 48-sample pattern fits.
    j = np.arange(-23, 25)
    pattern = 0.5 * np.sign(np.sinc(j - 0.5))
    n_total = 8300
    positions = [*range(0, 40), *range(3990, 4110), *range(8030, 8110), *range(n_total - 88, n_total - 47)]
    values = []
    for pos in positions:
        x = np.zeros((2, n_total))
        x[0, pos:pos + pattern.size] = pattern
        values.append(L.true_peak_dbtp(x, FS))
    values = np.array(values)
    assert values.min() > 20 * math.log10(0.5) + 2.0  # clearly above the sample peak
    np.testing.assert_allclose(values, values[0], atol=1e-4)


def test_true_peak_never_below_sample_peak():
    rng = np.random.default_rng(11)
    for fs in (44100, 96000, 192000):
        x = rng.standard_normal((2, 3000)) * 0.2
        assert L.true_peak_dbtp(x, fs) >= L.sample_peak_dbfs(x) - 1e-9


# ------------------------------------------------------------------------------------------------
# silence, short signals, stats, validation
def test_silence_and_short_signals():
    silence = np.zeros((2, 2 * FS), dtype=np.float32)
    assert L.integrated_loudness(silence, FS) == -math.inf
    assert L.true_peak_dbtp(silence, FS) == -math.inf
    assert L.sample_peak_dbfs(silence) == -math.inf
    assert L.loudness_range(silence, FS) == 0.0
    assert np.all(L.momentary_loudness(silence, FS) == -np.inf)
    short = tone_sequence([-20.0], [0.3])
    assert L.integrated_loudness(short, FS) == -math.inf
    assert L.momentary_loudness(short, FS).shape == (0,)
    assert L.short_term_loudness(short, FS).shape == (0,)
    # below the -70 LUFS absolute gate is gated, hence -inf too
    assert L.integrated_loudness(tone_sequence([-80.0], [2.0]), FS) == -math.inf


def test_loudness_stats_keys_and_values():
    x = tone_sequence([-20.0, -30.0], [20.0, 20.0])
    stats = L.loudness_stats(x, FS)
    assert set(stats) == {"integrated_lufs", "true_peak_dbtp", "sample_peak_dbfs", "loudness_range_lu"}
    assert all(isinstance(v, float) for v in stats.values())
    # -20 part dominates; the -30 part passes the -10 LU gate: energy mean of (20 s @ -20, 20 s @ -30)
    assert stats["integrated_lufs"] == pytest.approx(10 * math.log10((1e-2 + 1e-3) / 2), abs=0.1)
    assert stats["loudness_range_lu"] == pytest.approx(10.0, abs=1.0)
    assert stats["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert stats["true_peak_dbtp"] == pytest.approx(-20.0, abs=0.05)


def _all_calls(x, fs):
    return [
        lambda: L.integrated_loudness(x, fs),
        lambda: L.momentary_loudness(x, fs),
        lambda: L.short_term_loudness(x, fs),
        lambda: L.loudness_range(x, fs),
        lambda: L.true_peak_dbtp(x, fs),
        lambda: L.loudness_stats(x, fs),
    ]


good = np.zeros((2, FS))
nan_sig, inf_sig = good.copy(), good.copy()
nan_sig[0, 10], inf_sig[1, 5] = np.nan, np.inf


@pytest.mark.parametrize(
    "x, fs",
    [
        (np.zeros(FS), FS),  # 1-D
        (np.zeros((1, 2, FS)), FS),  # 3-D
        (np.zeros((0, FS)), FS),  # no channels
        (np.zeros((2, FS), dtype=np.int16), FS),  # integer PCM
        (nan_sig, FS),
        (inf_sig, FS),
        (good, 0),
        (good, -48000),
        (good, float("nan")),
    ],
    ids=["1d", "3d", "0ch", "int", "nan", "inf", "fs0", "fsneg", "fsnan"],
)
def test_bad_input_raises(x, fs):
    for call in _all_calls(x, fs):
        with pytest.raises(ValueError):
            call()
    if fs == FS:
        with pytest.raises(ValueError):
            L.sample_peak_dbfs(x)


def test_bad_hop_and_rate_raise():
    with pytest.raises(ValueError):
        L.momentary_loudness(good, FS, hop_s=0.0)
    with pytest.raises(ValueError):
        L.short_term_loudness(good, FS, hop_s=-1.0)
    with pytest.raises(ValueError):
        L.k_weighting_sos(0.0)
