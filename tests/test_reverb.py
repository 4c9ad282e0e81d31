"""The reverb against independent references: the spec text re-implemented plainly here
(SplitMix64 in Python integers, scipy's Butterworth design, plain numpy envelopes), scipy's
``fftconvolve`` and ``sosfilt``, Schroeder decay analysis, and autograd."""

import math

import numpy as np
import pytest
import scipy.signal as ss
import torch

from mixdown.dsp.reverb import Reverb, impulse_response, reverb_return, reverb_send
from mixdown.dsp.reverb_ir import band_sections, reverb_impulse_response, reverb_noise, reverb_send_gain
from mixdown.dsp.reverb_stream import PartitionedConvolver, ReverbReturn, reverb_return_full
from mixdown.params import spec as S

FS = 44100
SETTINGS = dict(predelay_ms=20.3, decay_low_s=1.8, decay_mid_s=1.5, decay_high_s=0.7)  # the spec's example
CHECK = {0: [0.76662162, -0.13694401, -0.94713246, 0.94176396],
         1: [-0.45284307, 0.81248490, 0.20256661, -0.76605626]}


# ----------------------------------------------------------------- the spec text, written out here
def _splitmix_py(c: int, m: int) -> float:
    """u_c[m] in Python integers, straight from the spec."""
    mask = (1 << 64) - 1
    z = ((c * 2 ** 32 + m + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z = z ^ (z >> 31)
    return ((z >> 11) + 0.5) * 2.0 ** -52 - 1.0


def _spec_noise(c: int, n: int) -> np.ndarray:
    """The same in numpy uint64 (checked against the Python-integer version in a test)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(c) * np.uint64(2 ** 32) + np.arange(n, dtype=np.uint64) + np.uint64(1)) \
            * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -52 - 1.0


def _spec_ir(fs, predelay_ms, decay_low_s, decay_mid_s, decay_high_s) -> np.ndarray:
    """The spec's impulse response with scipy's 4th-order Butterworth designs (= two RBJ sections
    at the spec's Qs: both are the bilinear transform prewarped at the corner). ``(2, M + P0 + 1)``."""
    decays = [decay_low_s, decay_mid_s, decay_high_s]
    big_m = math.ceil(fs * max(decays))
    noise = np.stack([_spec_noise(0, big_m), _spec_noise(1, big_m)])
    lp500 = ss.butter(4, 500, "lowpass", fs=fs, output="sos")
    hp500 = ss.butter(4, 500, "highpass", fs=fs, output="sos")
    lp4k = ss.butter(4, 4000, "lowpass", fs=fs, output="sos")
    hp4k = ss.butter(4, 4000, "highpass", fs=fs, output="sos")
    bands = [ss.sosfilt(lp500, noise), ss.sosfilt(lp4k, ss.sosfilt(hp500, noise)), ss.sosfilt(hp4k, noise)]
    m = np.arange(big_m)
    r = sum(10.0 ** (-3 * m / (fs * t)) * band for t, band in zip(decays, bands))
    p = predelay_ms * fs / 1000
    p0 = math.floor(p)
    a = p - p0
    q = np.zeros((2, big_m + p0 + 1))
    q[:, p0:p0 + big_m] += (1 - a) * r
    q[:, p0 + 1:p0 + big_m + 1] += a * r
    return q / np.sqrt((q ** 2).sum(-1, keepdims=True))


def _spec_return(bus_tc, fs, s, highpass_hz, return_db):
    """Spec return with scipy: ``(frames, 2)`` bus -> ``(frames, 2)``."""
    h = _spec_ir(fs, **s)
    y = np.stack([ss.fftconvolve(bus_tc[:, c], h[c])[:len(bus_tc)] for c in range(2)], 1)
    if highpass_hz > 20:
        y = ss.sosfilt(ss.butter(2, highpass_hz, "highpass", fs=fs, output="sos"), y, axis=0)
    return y * 10 ** (return_db / 20)


def _rel_db(x, ref) -> float:
    """Error energy relative to the reference, dB (-inf for identical signals)."""
    err = np.sum((np.asarray(x) - np.asarray(ref)) ** 2)
    return 10 * math.log10(err / np.sum(np.asarray(ref) ** 2)) if err > 0 else -math.inf


def _t(*v, dtype=torch.float64):
    return torch.tensor(v, dtype=dtype)


# ----------------------------------------------------------------------------------- noise, bands
def test_noise_check_values_and_python_integers():
    for c, values in CHECK.items():
        np.testing.assert_allclose(reverb_noise(c, 4), values, atol=5e-9)
        np.testing.assert_allclose([_splitmix_py(c, m) for m in range(4)], values, atol=5e-9)
        ref = np.array([_splitmix_py(c, m) for m in range(2000)])
        np.testing.assert_array_equal(reverb_noise(c, 2000), ref)
        np.testing.assert_array_equal(_spec_noise(c, 2000), ref)
    u = reverb_noise(1, 100000)
    assert -1 < u.min() and u.max() < 1 and abs(u.mean()) < 0.01


@pytest.mark.parametrize("fs", [44100, 48000, 96000])
def test_bands_are_fourth_order_butterworth(fs):
    w = np.geomspace(20, 0.45 * fs, 400)
    refs = [ss.butter(4, 500, "lowpass", fs=fs, output="sos"),
            np.r_[ss.butter(4, 500, "highpass", fs=fs, output="sos"),
                  ss.butter(4, 4000, "lowpass", fs=fs, output="sos")],
            ss.butter(4, 4000, "highpass", fs=fs, output="sos")]
    for sos, ref in zip(band_sections(fs), refs):
        _, h = ss.sosfreqz(sos, w, fs=fs)
        _, h_ref = ss.sosfreqz(ref, w, fs=fs)
        np.testing.assert_allclose(h, h_ref, atol=1e-9)


# ----------------------------------------------------------------------------------- impulse response
@pytest.mark.parametrize("s", [SETTINGS, dict(predelay_ms=0.0, decay_low_s=0.1, decay_mid_s=0.25, decay_high_s=0.1),
                               dict(predelay_ms=99.99, decay_low_s=0.4, decay_mid_s=0.3, decay_high_s=1.1)])
def test_impulse_response_matches_spec_text(s):
    h = reverb_impulse_response(FS, **s)
    ref = _spec_ir(FS, **s)
    assert h.shape == ref.shape == (2, math.ceil(FS * max(list(s.values())[1:])) +
                                    math.floor(s["predelay_ms"] * FS / 1000) + 1)
    np.testing.assert_allclose(h, ref, atol=1e-12)
    np.testing.assert_allclose((h ** 2).sum(-1), [1.0, 1.0], rtol=1e-12)  # unit energy per channel


def _schroeder_t60(x: np.ndarray, fs: float, lo_db=-5.0, hi_db=-35.0) -> float:
    """T60 from a line fit of the backward-integrated energy decay (both channels' energy summed)
    between ``lo_db`` and ``hi_db``. Shape: ``x`` ``(2, n)``."""
    edc = np.cumsum((x ** 2).sum(0)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    sel = (edc_db <= lo_db) & (edc_db >= hi_db)
    slope = np.polyfit(np.arange(x.shape[-1])[sel] / fs, edc_db[sel], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("decays", [(1.8, 1.5, 0.7), (1.2, 1.0, 1.4), (2.5, 1.2, 0.8), (1.5, 2.0, 1.0),
                                    (8.0, 5.0, 3.0)])
def test_band_decay_times_measured(decays):
    """Each band's T60, measured well inside the band, within 5 % of its parameter.

    Limits of the measurement (not of the IR): the bands overlap on their 24 dB/octave skirts, so
    a neighbour decaying several times slower dominates a band's late energy; and a 200 Hz wide
    band holds too few degrees of freedom for a one-realisation estimate of a sub-second decay
    to be within 5 %. The cases stay clear of both.
    """
    h = reverb_impulse_response(FS, 0.0, *decays)
    analysis = {0: (40, 250), 1: (1200, 1800), 2: (11000, 18000)}
    for band, (f1, f2) in analysis.items():
        t60 = _schroeder_t60(ss.sosfilt(ss.butter(4, [f1, f2], "bandpass", fs=FS, output="sos"), h), FS)
        assert abs(t60 / decays[band] - 1) < 0.05, (band, t60, decays[band])


def test_predelay_position_and_fractional_interpolation():
    fs = 48000
    dec = (0.3, 0.2, 0.1)
    h480 = reverb_impulse_response(fs, 10.0, *dec)  # P = 480 exactly
    h504 = reverb_impulse_response(fs, 10.5, *dec)  # P = 504 exactly
    for h, p0 in ((h480, 480), (h504, 504)):
        assert np.all(h[:, :p0] == 0) and np.all(h[:, p0] != 0)  # first non-zero sample at P
    np.testing.assert_allclose(h504[:, 24:], h480, atol=1e-15)  # an integer delay only shifts
    frac = reverb_impulse_response(fs, 10.3, *dec)
    p = 10.3 * fs / 1000
    a = p - 494  # P = 494.4
    assert 0.3 < a < 0.5 and np.all(frac[:, :494] == 0) and np.all(frac[:, 494] != 0)
    body = h480[:, 480:-1]  # r / |r|, the M samples of the body
    mix = np.zeros_like(frac)
    mix[:, 494:494 + body.shape[1]] += (1 - a) * body  # linear interpolation of the two neighbours
    mix[:, 495:495 + body.shape[1]] += a * body
    np.testing.assert_allclose(frac, mix / np.sqrt((mix ** 2).sum(-1, keepdims=True)), atol=1e-12)
    t = impulse_response(fs, _t(10.3), *(_t(d) for d in dec), frac.shape[1])[0].numpy()
    np.testing.assert_allclose(t, frac, atol=1e-12)


def test_left_right_decorrelated():
    """Independent noise per channel: the correlation is of the order of 1/sqrt(degrees of freedom)
    (a few hundredths here); a shared or shifted sequence would give 1 at some lag."""
    h = reverb_impulse_response(FS, **SETTINGS)
    assert abs(np.corrcoef(h[0], h[1])[0, 1]) < 0.1
    xc = ss.fftconvolve(h[0], h[1][::-1])  # unit-energy channels: this is the correlation at every lag
    assert np.max(np.abs(xc)) < 0.1


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="decay"):
        reverb_impulse_response(FS, 0.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="predelay"):
        reverb_impulse_response(FS, -1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="sample rate"):
        reverb_impulse_response(8000, 0.0, 1.0, 1.0, 1.0)


# ----------------------------------------------------------------------------------- return, sends
def test_send_law():
    db = np.array([-70.0, -60.0, -59.9, -6.0, 0.0])
    np.testing.assert_allclose(reverb_send_gain(db), [0, 0, 10 ** (-59.9 / 20), 10 ** (-6 / 20), 1.0])
    np.testing.assert_allclose(reverb_send_gain(torch.tensor(db)).numpy(), reverb_send_gain(db))
    rng = np.random.default_rng(1)
    panned = torch.tensor(rng.standard_normal((2, 3, 2, 50)))
    send_db = torch.tensor([[-6.0, -80.0, 0.0], [-12.0, -3.0, -20.0]])
    mask = torch.tensor([[True, True, True], [True, False, True]])
    out = reverb_send(panned, send_db, mask)
    for b in range(2):
        ref = sum(panned[b, n] * (10 ** (float(send_db[b, n]) / 20) if mask[b, n] and send_db[b, n] > -60 else 0)
                  for n in range(3))
        torch.testing.assert_close(out[b], ref)


@pytest.mark.parametrize("highpass_hz,return_db", [(200.0, -3.0), (20.0, 6.0)])
def test_return_against_fftconvolve(highpass_hz, return_db):
    rng = np.random.default_rng(2)
    bus = rng.standard_normal((int(1.5 * FS), 2)) * np.r_[0.3, 0.1]
    bus[FS // 2:] = 0.0  # a tail to ring out
    s = dict(predelay_ms=12.34, decay_low_s=1.2, decay_mid_s=2.0, decay_high_s=0.5)  # IR longer than the bus
    ref = _spec_return(bus, FS, s, highpass_hz, return_db)
    np.testing.assert_allclose(reverb_return_full(bus, FS, **s, highpass_hz=highpass_hz, return_db=return_db),
                               ref, atol=1e-9 * np.abs(ref).max())
    for dtype, limit in ((torch.float64, -100.0), (torch.float32, -60.0)):
        y = reverb_return(torch.tensor(bus.T[None], dtype=dtype), FS, *(_t(v, dtype=dtype) for v in s.values()),
                          _t(highpass_hz, dtype=dtype), _t(return_db, dtype=dtype))
        assert _rel_db(y[0].numpy().T, ref) < limit


def test_block_whole_and_torch_paths_agree_with_sends():
    """The renderer's use: panned tracks -> sends -> blocks of the return; vs whole signal, vs torch."""
    rng = np.random.default_rng(3)
    n_frames = 3 * FS + 123
    panned = rng.standard_normal((4, n_frames, 2)).astype(np.float32) * 0.2
    send_db = np.array([-12.0, -60.0, -3.0, -30.0])
    s = dict(SETTINGS, highpass_hz=150.0, return_db=-2.0)
    bus = np.einsum("n,ntc->tc", reverb_send_gain(send_db), panned.astype(np.float64))
    whole = reverb_return_full(bus, FS, **s)
    for block, partition in ((65536, 16384), (10007, 4096), (65536, 65536)):
        rev = ReverbReturn.from_settings(FS, s, partition=partition)
        out = np.concatenate([rev.process(np.einsum("n,ntc->tc", reverb_send_gain(send_db), panned[:, i:i + block]))
                              for i in range(0, n_frames, block)])
        assert _rel_db(out, whole) < -200
    x = torch.tensor(panned.transpose(0, 2, 1)[None])
    tb = reverb_send(x, torch.tensor(send_db[None], dtype=torch.float32))
    y = Reverb(FS)(tb, *(_t(v, dtype=torch.float32) for v in s.values()))
    assert _rel_db(y[0].numpy().T, whole) < -60


def test_batched_equals_looped():
    rng = np.random.default_rng(4)
    bus = torch.tensor(rng.standard_normal((3, 2, 20000)))
    p = torch.tensor([[5.5, 0.3, 0.2, 0.1, 100.0, 0.0], [0.0, 0.15, 0.6, 0.2, 20.0, -6.0],
                      [33.3, 0.2, 0.2, 0.9, 700.0, 3.0]], dtype=torch.float64)
    batched = reverb_return(bus, FS, *p.T)
    for b in range(3):
        torch.testing.assert_close(batched[b:b + 1], reverb_return(bus[b:b + 1], FS, *p[b:b + 1].T),
                                   atol=1e-10, rtol=0)


def test_every_parameter_and_send_gets_a_gradient():
    rng = np.random.default_rng(5)
    fs = 22050
    panned = torch.tensor(rng.standard_normal((2, 3, 2, 8000)), dtype=torch.float32)
    send_db = torch.tensor([[-6.0, -20.0, -3.0], [-10.0, -1.0, -40.0]], requires_grad=True)
    params = [torch.tensor(v, requires_grad=True) for v in
              ([7.31, 21.7], [0.3, 0.2], [0.25, 0.4], [0.15, 0.1], [150.0, 400.0], [-3.0, 2.0])]
    y = reverb_return(reverb_send(panned, send_db), fs, *params)
    w = torch.tensor(rng.standard_normal(y.shape), dtype=torch.float32)
    (y * w).sum().backward()
    for name, t in zip(("send_db", "predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s", "highpass_hz",
                        "return_db"), [send_db, *params]):
        assert t.grad is not None and torch.isfinite(t.grad).all() and (t.grad != 0).all(), name


def test_gradients_match_finite_differences():
    fs = 16000
    bus = torch.tensor(np.random.default_rng(6).standard_normal((1, 2, 2500)))
    # P = 52.8 samples and fs * max decay = 2459.2: no integer boundary within the steps
    base = [3.3, 0.12, 0.1537, 0.1, -1.0]

    def f(predelay, low, mid, high, ret, highpass=None):
        highpass = torch.tensor(150.0, dtype=torch.float64) if highpass is None else highpass
        return reverb_return(bus, fs, predelay.reshape(1), low.reshape(1), mid.reshape(1), high.reshape(1),
                             highpass.reshape(1), ret.reshape(1)).pow(2).mean()

    inputs = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in base)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-3)
    # the high-pass response is complex64 (mixdown.dsp.filters): a larger step for its difference
    hp = torch.tensor(150.0, dtype=torch.float64, requires_grad=True)
    f(*inputs, highpass=hp).backward()
    step = 0.05
    fd = (f(*inputs, highpass=hp.detach() + step) - f(*inputs, highpass=hp.detach() - step)) / (2 * step)
    assert abs(float(hp.grad) / float(fd.detach()) - 1) < 1e-2


# ----------------------------------------------------------------------------------- bounded memory
def test_block_convolution_memory_is_bounded():
    fs = 48000
    rev = ReverbReturn(fs, 100.0, 10.0, 10.0, 10.0, 20.0, 0.0)  # the longest reverb of the ranges
    before = rev.nbytes
    block = np.zeros((65536, 2), dtype=np.float32)
    block[0] = 1.0
    for _ in range(4):
        rev.process(block)
    assert rev.nbytes == before
    ir_bytes = 2 * rev.ir_frames * 8  # the IR itself, float64
    assert before < 6 * ir_bytes  # spectra of the IR and of as much input, a window: no signal-length buffers
    conv = PartitionedConvolver(np.ones((2, 100)), partition=32)
    assert conv._h.shape == (4, 2, 33) and conv._ring.shape == (4, 2, 33)


# ----------------------------------------------------------------------------------- parameter table
def test_reverb_parameter_ranges_follow_the_spec():
    ranges = {s.name: (s.lo, s.hi, s.scale) for s in S.REVERB_TRACK_SPECS + S.REVERB_MASTER_SPECS}
    assert ranges == {"reverb_send_db": (-60.0, 0.0, "lin"), "reverb.predelay_ms": (0.0, 100.0, "lin"),
                      "reverb.decay_low_s": (0.1, 10.0, "log"), "reverb.decay_mid_s": (0.1, 10.0, "log"),
                      "reverb.decay_high_s": (0.1, 10.0, "log"), "reverb.highpass_hz": (20.0, 1000.0, "log"),
                      "reverb.return_db": (-48.0, 12.0, "lin")}
    mid = S.denormalize(np.full(6, 0.5), S.REVERB_MASTER_SPECS, 44100)
    np.testing.assert_allclose(mid[1:4], 1.0)  # log scale: the middle of 0.1 .. 10 s is 1 s
    np.testing.assert_allclose(S.normalize(mid, S.REVERB_MASTER_SPECS, 44100), 0.5)
