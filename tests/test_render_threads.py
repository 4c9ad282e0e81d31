"""The fast full-length render changes no sample: the per-sample biquad cascade against scipy's
section-by-section filter, the bus sums against numpy in float64, and the threaded block loop
against itself on one thread (bit-identical) and against a reference with the reverb bus
convolved in one FFT (no partitions)."""

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from mixdown.dsp import kernels
from mixdown.dsp import render as R
from mixdown.dsp.reverb_ir import reverb_impulse_response
from mixdown.dsp.reverb_stream import ReverbReturn
from mixdown.params import spec as S
from mixdown.params.io import MixParams
from mixdown.session import SessionError

SR = 44100


def _params(n_tracks: int, rng, sends: bool = True) -> MixParams:
    tv = S.denormalize(rng.uniform(0.1, 0.9, (n_tracks, S.N_TRACK_PARAMS)), S.TRACK_SPECS, SR)
    tv[:, S.index(S.TRACK_SPECS, "compressor.threshold_db")] = -30.0
    tv[:, S.index(S.TRACK_SPECS, "reverb_send_db")] = rng.uniform(-20, -6, n_tracks) if sends else -60.0
    mv = S.denormalize(rng.uniform(0.2, 0.8, S.N_MASTER_PARAMS), S.MASTER_SPECS, SR)
    mv[S.index(S.MASTER_SPECS, "output_gain_db")] = -12.0
    names = [f"t{i}" for i in range(n_tracks)]
    return MixParams.from_arrays(SR, names, [f"{n}.wav" for n in names], tv, mv)


@pytest.mark.parametrize("channels", [1, 2])
def test_strip_cascade_is_scipys_sections(channels):
    """Filters only (compressor off, unit gains): the strip's output equals scipy's ``sosfilt``
    (transposed direct form II, section after section, float64) to float32 rounding, over two
    blocks with the state carried, and with sections left out."""
    rng = np.random.default_rng(0)
    params = _params(1, rng)
    bank = R.track_bank(params, [channels])
    bank.comp[0, 6] = 0.0  # compressor off; makeup 0 dB
    bank.comp[0, 3] = 0.0
    bank.post_gain[:] = 1.0
    x = (rng.standard_normal((2 * 4096 + 77, 2)) * 0.2).astype(np.float32)
    for n_sections in (7, 3, 0):
        bank.n_sections[0] = n_sections
        bank.zi[:] = 0.0
        out = np.empty_like(x)
        for lo, hi in ((0, 4096), (4096, len(x))):  # two blocks, state carried
            bank.process_one(0, x[lo:hi], out[lo:hi])
        sos = np.c_[bank.sos[0, :n_sections, :3], np.ones(n_sections), bank.sos[0, :n_sections, 3:]]
        src = x.astype(np.float64) * bank.pre_gain[0]
        ref = scipy.signal.sosfilt(sos, src, axis=0) if n_sections else src
        ref = ref if channels == 2 else np.repeat(ref[:, :1], 2, axis=1)
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-7)


def test_strip_one_is_strip_block():
    """One strip on its own (what the threads run) computes exactly what the parallel bank does."""
    rng = np.random.default_rng(1)
    params = _params(3, rng)
    a, b = R.track_bank(params, [2, 1, 2]), R.track_bank(params, [2, 1, 2])
    x = (rng.standard_normal((3, 5000, 2)) * 0.3).astype(np.float32)
    out_a, out_b = np.empty_like(x), np.empty_like(x)
    a.process(x, out_a)
    for i in range(3):
        b.process_one(i, x[i], out_b[i])
    assert np.array_equal(out_a, out_b) and np.array_equal(a.zi, b.zi) and np.array_equal(a.g_state, b.g_state)


def test_bus_sums_are_float64_sums():
    rng = np.random.default_rng(2)
    strips = rng.standard_normal((5, 1000, 2)).astype(np.float32)
    weights = rng.uniform(0, 1, (2, 5))
    bus, send = np.empty((1000, 2), np.float32), np.empty((1000, 2))
    kernels.bus_sums(strips, weights, bus, send)
    ref = np.einsum("ws,snc->wnc", weights, strips.astype(np.float64))
    np.testing.assert_allclose(send, ref[1], rtol=1e-12, atol=1e-12)
    assert np.array_equal(bus, ref[0].astype(np.float32))


def _session(tmp_path, rng, n_tracks: int, seconds: float, sends: bool = True) -> MixParams:
    params = _params(n_tracks, rng, sends)
    n = int(seconds * SR)
    for i, t in enumerate(params.tracks):
        sf.write(tmp_path / t.file, (rng.standard_normal((n - 999 * i, 1 + i % 2)) * 0.1).astype(np.float32), SR,
                 subtype="FLOAT")
    return params


@pytest.mark.parametrize("sends", [True, False])
def test_threads_change_no_sample(tmp_path, monkeypatch, sends):
    """The threaded block loop gives the same mix, bit for bit, on one thread and on four."""
    params = _session(tmp_path, np.random.default_rng(3), 5, 3.5, sends)
    mixes = []
    for threads in (1, 4):
        monkeypatch.setattr(R, "render_threads", lambda threads=threads: threads)
        mixes.append(R.render(tmp_path, params, block_frames=1 << 14).audio)
    assert np.array_equal(mixes[0], mixes[1])


def test_render_against_direct_convolution(tmp_path):
    """The mix with every track sending equals a reference built from independent parts: the
    strips (checked above), the buses summed in float64, the reverb bus convolved directly with the
    whole impulse response in one FFT (no partitions), the return high-pass (scipy), the
    master strip. Agreement better than -120 dB."""
    rng = np.random.default_rng(4)
    params = _session(tmp_path, rng, 4, 1.5)
    mix = R.render(tmp_path, params, block_frames=1 << 13).audio
    n = len(mix)
    x = np.zeros((4, n, 2), np.float32)
    for i, t in enumerate(params.tracks):
        y = sf.read(tmp_path / t.file, dtype="float32", always_2d=True)[0]
        x[i, :len(y), :y.shape[1]] = y
    bank = R.track_bank(params, [1 + i % 2 for i in range(4)])
    strips = np.empty_like(x)
    bank.process(x, strips)
    buses = R.Buses(params)
    bus = np.einsum("s,snc->nc", buses.weights[0], strips.astype(np.float64))
    send = np.einsum("s,snc->nc", buses.weights[1], strips.astype(np.float64))
    rev: ReverbReturn = buses.reverb
    h = reverb_impulse_response(SR, *(params.master.values[f"reverb.{k}"] for k in
                                      ("predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s")))
    wet = np.stack([scipy.signal.fftconvolve(send[:, c], h[c])[:n] for c in range(2)], 1)
    if rev._sos is not None:
        b, a1 = rev._sos[:3], rev._sos[3:]
        wet = scipy.signal.lfilter(b, np.r_[1.0, a1], wet, axis=0)
    master_in = (bus + wet * rev._gain).astype(np.float32)
    ref = np.empty((n, 2), np.float32)
    buses.master.process(master_in[None], ref[None])
    err_db = 10 * np.log10(np.sum((mix - ref) ** 2.0) / np.sum(ref.astype(np.float64) ** 2))
    assert err_db < -120, err_db


def test_dropping_a_threaded_render_closes_its_files(tmp_path):
    params = _session(tmp_path, np.random.default_rng(5), 3, 2.0)
    steps = R.render_steps(tmp_path, params, block_frames=1 << 13)
    next(steps)
    steps.close()  # a track task of the next block may be running: it is waited for, then the files close
    assert steps.gi_frame is None


def test_sosfilt_is_scipys():
    """The compiled ``sosfilt`` the loudness meter and the reverb's bands use gives scipy's samples."""
    from mixdown.dsp.reverb_ir import band_sections
    from mixdown.measure.loudness import k_weighting_sos

    x = np.random.default_rng(6).standard_normal((2, 20000))
    for sos in (k_weighting_sos(44100.0), *band_sections(48000.0)):
        sos = np.ascontiguousarray(sos, dtype=np.float64)
        assert np.array_equal(kernels.sosfilt(sos, x), scipy.signal.sosfilt(sos, x, axis=-1))


@pytest.mark.parametrize("threads", [1, 3])
def test_a_bad_block_is_reported_on_one_thread_as_on_many(tmp_path, monkeypatch, threads):
    """On one core the tasks run on the calling thread (no pool): a reading error still surfaces
    naming the file, and the files are closed."""
    params = _session(tmp_path, np.random.default_rng(5), 3, 2.0)
    bad = tmp_path / params.tracks[1].file
    x, sr = sf.read(bad, dtype="float32", always_2d=True)
    x[40000] = np.nan  # in the second block
    sf.write(bad, x, sr, subtype="FLOAT")
    monkeypatch.setattr(R, "render_threads", lambda: threads)
    with pytest.raises(SessionError, match=f"{bad.name}.*NaN"):
        R.render(tmp_path, params, block_frames=1 << 15)
