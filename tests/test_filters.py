"""Filters against independent references: scipy's Butterworth design and lfilter, and the
analytic properties of the cookbook responses (gain at centre, shelf plateaus, -3 dB corner)."""

import math

import numpy as np
import pytest
import scipy.signal as ss
import torch

from mixdown.dsp import filters as F
from mixdown.dsp import functional as fx
from mixdown.dsp.kernels import strip_block
from mixdown.dsp.render import _pack_sos

SR = 48000


def response_db(b, a, freq_hz, sr=SR):
    _, h = ss.freqz(np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64), worN=[freq_hz], fs=sr)
    return 20 * np.log10(abs(h[0]))


@pytest.mark.parametrize("fc", [30.0, 120.0, 1000.0, 8000.0])
def test_highpass_is_scipy_butterworth(fc):
    b, a = F.highpass_coefficients(np.array(fc), SR)
    bb, ab = ss.butter(2, fc, "highpass", fs=SR)
    np.testing.assert_allclose(b, bb, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a, ab, rtol=1e-9, atol=1e-12)
    assert response_db(b, a, fc) == pytest.approx(-10 * math.log10(2), abs=1e-6)


def test_highpass_off_at_or_below_20_hz():
    b, a = F.highpass_coefficients(np.array([20.0, 15.0]), SR)
    np.testing.assert_array_equal(b, [[1, 0, 0]] * 2)
    np.testing.assert_array_equal(a, [[1, 0, 0]] * 2)


@pytest.mark.parametrize("f0,g,q", [(100.0, 9.0, 0.5), (1000.0, -12.0, 2.0), (12000.0, 4.0, 6.0)])
def test_peak_gain_at_centre_and_unity_far_away(f0, g, q):
    b, a = F.biquad_coefficients("peak", np.array(f0), np.array(g), np.array(q), SR)
    assert response_db(b, a, f0) == pytest.approx(g, abs=1e-9)
    assert abs(response_db(b, a, 1.0)) < 0.05  # DC
    # cookbook: the mid-gain points of a peaking EQ are symmetric in log frequency
    assert response_db(b, a, f0 * 1.01) == pytest.approx(response_db(b, a, f0 / 1.01), abs=0.01)


@pytest.mark.parametrize("g", [-15.0, -6.0, 6.0, 15.0])
def test_shelf_plateaus(g):
    lb, la = F.biquad_coefficients("low_shelf", np.array(200.0), np.array(g), np.array(0.707), SR)
    assert response_db(lb, la, 1.0) == pytest.approx(g, abs=0.01)
    assert response_db(lb, la, 20000.0) == pytest.approx(0.0, abs=0.05)
    assert response_db(lb, la, 200.0) == pytest.approx(g / 2, abs=1e-9)  # cookbook: half gain at f0
    hb, ha = F.biquad_coefficients("high_shelf", np.array(4000.0), np.array(g), np.array(0.707), SR)
    assert response_db(hb, ha, SR / 2 - 1) == pytest.approx(g, abs=0.05)
    assert response_db(hb, ha, 10.0) == pytest.approx(0.0, abs=0.01)
    assert response_db(hb, ha, 4000.0) == pytest.approx(g / 2, abs=1e-9)


def test_torch_and_numpy_coefficients_agree():
    args = [np.array([60.0, 900.0]), np.array([-4.0, 7.0]), np.array([0.8, 3.0])]
    for kind in ("peak", "low_shelf", "high_shelf"):
        bn, an = F.biquad_coefficients(kind, *args, SR)
        bt, at = F.biquad_coefficients(kind, *(torch.tensor(v) for v in args), SR)
        np.testing.assert_allclose(bt.numpy(), bn, rtol=1e-12)
        np.testing.assert_allclose(at.numpy(), an, rtol=1e-12)


def _cascade():
    fr = np.array([100.0, 400.0, 1200.0, 3000.0, 7000.0, 9000.0])
    gd = np.array([3.0, -6.0, 4.0, -2.0, 8.0, -5.0])
    qs = np.array([0.7, 4.0, 1.0, 6.0, 0.5, 1.2])
    eb, ea = F.eq_coefficients(fr, gd, qs, SR, ("low_shelf", "peak", "peak", "peak", "peak", "high_shelf"))
    hb, ha = F.highpass_coefficients(np.array(40.0), SR)
    return np.concatenate([hb[None], eb]), np.concatenate([ha[None], ea])


def _lfilter_cascade(b, a, x):
    y = x.astype(np.float64)
    for bk, ak in zip(b, a):
        y = ss.lfilter(bk, ak, y, axis=-1)
    return y


def test_fft_filter_matches_lfilter():
    b, a = _cascade()
    x = np.random.default_rng(0).standard_normal((2, 30000))
    y = F.fft_filter(torch.tensor(x, dtype=torch.float32), torch.tensor(b), torch.tensor(a)).numpy()
    ref = _lfilter_cascade(b, a, x)
    err_db = 10 * np.log10(np.sum((y - ref) ** 2) / np.sum(ref ** 2))
    assert err_db < -100


def test_time_domain_kernel_matches_lfilter_across_blocks():
    b, a = _cascade()
    x = np.random.default_rng(1).standard_normal((2, 20000)).astype(np.float32)
    sos, n_sec = _pack_sos(b[None], a[None])
    assert n_sec[0] == 7
    zi = np.zeros((1, 7, 2, 2))
    comp = np.array([[0.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.0]])  # compressor disabled
    out = np.empty((1, 20000, 2), dtype=np.float32)
    xs = np.ascontiguousarray(x.T[None])
    for s in range(0, 20000, 3000):  # odd block size: state must carry across blocks
        strip_block(xs[:, s:s + 3000], np.array([2]), sos, n_sec, zi, comp, np.zeros(1), np.ones(1),
                    np.ones((1, 2)), out[:, s:s + 3000])
    ref = _lfilter_cascade(b, a, x)
    err_db = 10 * np.log10(np.sum((out[0].T - ref) ** 2) / np.sum(ref ** 2))
    assert err_db < -120


def test_functional_band_keeps_and_kills_tones():
    t = torch.arange(SR) / SR
    tone = lambda f: torch.sin(2 * math.pi * f * t)[None, None]  # noqa: E731
    hp = fx.highpass(torch.cat([tone(20.0 * 1.0001), tone(5000.0)], 1)[0][None], torch.tensor(500.0), SR)
    rms = hp[0, :, SR // 2:].pow(2).mean(-1).sqrt() * math.sqrt(2)
    assert rms[0] < 10 ** (-40 / 20) * 1.1  # 2 octaves + below a 500 Hz 12 dB/oct HPF: < -40 dB
    assert rms[1] == pytest.approx(1.0, abs=1e-3)
    pk = fx.biquad(tone(1000.0), "peak", torch.tensor(1000.0), torch.tensor(-12.0), torch.tensor(2.0), SR)
    rms_pk = pk[0, 0, SR // 2:].pow(2).mean().sqrt() * math.sqrt(2)
    assert 20 * math.log10(rms_pk) == pytest.approx(-12.0, abs=0.01)


def test_cascade_response_and_gradient_match_autograd_reference():
    """The compiled response and its analytic backward against plain complex torch ops."""
    b, a = _cascade()
    b = torch.tensor(np.stack([b, b * 0.9]), requires_grad=True)
    a = torch.tensor(np.stack([a, a]), requires_grad=True)
    n_fft = 256
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * 2 * math.pi / n_fft
    zinv = torch.exp(-1j * w[:, None] * torch.arange(3))
    ref = ((b.to(torch.complex128) @ zinv.T) / (a.to(torch.complex128) @ zinv.T)).prod(1)
    ours = F.cascade_response(b, a, n_fft)
    torch.testing.assert_close(ours, ref.to(torch.complex64), rtol=1e-5, atol=1e-6)
    weight = torch.randn(2, n_fft // 2 + 1, dtype=torch.complex128)
    g_ours = torch.autograd.grad((ours.to(torch.complex128) * weight).real.sum(), [b, a])
    g_ref = torch.autograd.grad((ref * weight).real.sum(), [b, a])
    torch.testing.assert_close(g_ours[0], g_ref[0], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(g_ours[1][..., 1:], g_ref[1][..., 1:], rtol=1e-4, atol=1e-3)
