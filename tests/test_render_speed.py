"""Issue 27 (speed) for the render's compressor: the side chain's levels without libm's log10 are
the same levels to a few units in the last place, and the strips' samples the same."""

import math

import numpy as np
import pytest

from mixdown.dsp import kernels
from mixdown.dsp.strip import pole

SR = 44100


def test_levels_are_20_log10_to_a_few_ulp():
    rng = np.random.default_rng(0)
    powers = 2.0 ** np.arange(-21, 25)
    centres = 1 + np.arange(257) / 256  # the table's cell edges
    v = np.concatenate([np.exp(rng.uniform(math.log(1e-8), math.log(1e7), 500_000)), powers,
                        np.nextafter(powers, 0), np.nextafter(powers, np.inf), centres, np.nextafter(centres, 0),
                        [1e-6, np.nextafter(1e-6, 0), 0.0, 1e-300, 3e38]])
    want = 20 * np.log10(np.maximum(v, 1e-6))
    for channels, buf in ((2, np.stack([v * 0.5, -v], 1)), (1, np.stack([v, np.zeros_like(v)], 1))):
        got = kernels._levels_db(buf, len(v), channels)
        err = np.abs(got - want)
        assert np.max(err) < 2e-13 and np.all(err <= 4 * np.spacing(np.abs(want)) + 1e-15)


def _reference(buf, nc, comp, g, gl, gr):
    """The compressor and output gains of the spec as the kernel ran them before issue 27 (libm's log10)."""
    thr, ratio, knee, makeup, aa, ar = comp[:6]
    quiet = 10.0 ** ((thr - 0.5 * knee) / 20.0)
    out = np.empty((len(buf), 2), np.float32)
    for i, (y0, y1) in enumerate(buf):
        y1 = y1 if nc == 2 else y0
        side = max(abs(y0), abs(y1))
        gc = 0.0
        if side > quiet:
            gc = kernels.soft_knee_gain_db(20.0 * math.log10(max(side, 1e-6)), thr, ratio, knee)
        a = aa if gc < g else ar
        g = a * g + (1.0 - a) * gc
        if g > -1e-300:
            g = 0.0
        gain = math.exp((g + makeup) * math.log(10.0) / 20.0) if g != 0.0 else 10.0 ** (makeup / 20.0)
        out[i] = (y0 * gain * gl, y1 * gain * gr)
    return out, g


@pytest.mark.parametrize("nc", [1, 2])
@pytest.mark.parametrize("knee", [0.0, 6.0])
def test_compressed_samples_are_the_libm_log10_samples(nc, knee):
    rng = np.random.default_rng(nc)
    n = 30000
    envelope = np.exp(rng.uniform(-9, 1.5, n // 100)).repeat(100)[:, None]  # bursts, silences, overs
    buf = rng.standard_normal((n, 2)) * envelope
    comp = np.array([-24.0, 4.0, knee, 3.0, pole(np.array([5.0]), SR)[0], pole(np.array([80.0]), SR)[0], 1.0])
    out = np.empty((n, 2), np.float32)
    g = kernels._compress_and_pan(buf, n, nc, comp, 0.0, 0.8, 0.6, out)
    want, g_want = _reference(buf, nc, comp, 0.0, 0.8, 0.6)
    assert abs(g - g_want) < 1e-12
    ulps = np.abs(out.astype(np.float64) - want) / np.spacing(np.abs(want).astype(np.float32))
    assert np.max(ulps) <= 1 and np.mean(out == want) > 0.999  # float32 samples: the same, or one rounding off
