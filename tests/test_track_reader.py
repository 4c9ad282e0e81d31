"""The render's track reader (issue 27): PCM WAV decoded from its bytes gives libsndfile's samples
bit for bit, whatever the file's chunks; the one-pass block check and statistics keep their meaning."""

import struct

import numpy as np
import pytest
import soundfile as sf

from mixdown.dsp import kernels
from mixdown.session import SessionError, TrackReader, probe

SR = 44100


def _read_all(path, block=1000):
    """Every frame through TrackReader, ``(frames, channels)``, and the reader (closed; ``r.pcm``:
    whether it decoded the file's bytes itself)."""
    info = probe(path)
    with TrackReader(info, SR, False) as r:
        r.pcm = r._raw is not None
        out = np.zeros((info.frames + 3 * block, 2), np.float32)
        for start in range(0, out.shape[0], block):
            r.read_into(out[start:start + block])
    return out, r


def _with_chunks(path, before_data: bytes) -> None:
    """Rewrite a RIFF/WAVE file with extra chunks inserted before its data chunk."""
    raw = path.read_bytes()
    at = raw.index(b"data")
    body = raw[12:at] + before_data + raw[at:]
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("layout", ["plain", "extensible", "chunks"])
def test_pcm_wav_decoded_here_is_libsndfile_bit_for_bit(tmp_path, subtype, channels, layout):
    rng = np.random.default_rng(channels)
    x = np.clip(rng.standard_normal((12345, channels)) * 0.4, -1, 1)
    x[:4] = [[1.0] * channels, [-1.0] * channels, [0.0] * channels, [-1 / 3] * channels]
    path = tmp_path / "t.wav"
    sf.write(path, x, SR, subtype=subtype, format="WAVEX" if layout == "extensible" else "WAV")
    if layout == "chunks":  # an odd-sized chunk (padded) and a LIST chunk before the data
        _with_chunks(path, b"junk" + struct.pack("<I", 3) + b"abc\x00" + b"LIST" + struct.pack("<I", 4) + b"INFO")
    want = sf.read(path, dtype="float32", always_2d=True)[0]
    got, r = _read_all(path)
    assert r.pcm and r._raw is None  # decoded here, closed
    assert np.array_equal(got[:len(want), :channels], want) and not got[len(want):].any()
    if channels == 1:
        assert not got[:, 1].any()
    assert r.peak == float(np.abs(want).max())


def test_the_pcm_path_is_taken_and_others_use_libsndfile(tmp_path):
    x = np.random.default_rng(0).standard_normal((5000, 2)) * 0.1
    for subtype, here in (("PCM_24", True), ("PCM_16", True), ("FLOAT", False), ("PCM_32", False)):
        sf.write(tmp_path / f"{subtype}.wav", x, SR, subtype=subtype)
        r = TrackReader(probe(tmp_path / f"{subtype}.wav"), SR, False)
        assert (r._raw is not None) == here, subtype
        r.close()
    sf.write(tmp_path / "a.flac", x, SR, subtype="PCM_24")
    with TrackReader(probe(tmp_path / "a.flac"), SR, False) as r:
        assert r._raw is None


def test_a_file_cut_short_reads_what_libsndfile_reads(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, np.random.default_rng(1).standard_normal((20000, 2)) * 0.1, SR, subtype="PCM_24")
    path.write_bytes(path.read_bytes()[:-3001])  # the header still declares 20000 frames
    want = sf.read(path, dtype="float32", always_2d=True)[0]
    got, _ = _read_all(path)
    assert np.array_equal(got[:len(want)], want) and not got[len(want):].any()


def test_dc_and_silence_and_nan_are_still_told(tmp_path):
    n = 50000
    sf.write(tmp_path / "dc.wav", np.full((n, 2), 0.25), SR, subtype="PCM_24")
    sf.write(tmp_path / "dcf.wav", np.full((n, 1), 0.3), SR, subtype="FLOAT")
    sf.write(tmp_path / "music.wav", np.random.default_rng(2).standard_normal((n, 2)) * 0.1 + 0.25, SR,
             subtype="PCM_16")
    sf.write(tmp_path / "silent.wav", np.zeros((n, 2)), SR, subtype="PCM_16")
    assert _read_all(tmp_path / "dc.wav")[1].dc_only
    assert _read_all(tmp_path / "dcf.wav")[1].dc_only
    assert not _read_all(tmp_path / "music.wav")[1].dc_only
    r = _read_all(tmp_path / "silent.wav")[1]
    assert r.peak == 0.0 and not r.dc_only
    bad = np.random.default_rng(3).standard_normal((n, 2)).astype(np.float32) * 0.1
    bad[30000, 1] = np.inf
    sf.write(tmp_path / "inf.wav", bad, SR, subtype="FLOAT")
    with pytest.raises(SessionError, match="inf.wav: contains NaN or infinite samples"):
        _read_all(tmp_path / "inf.wav")


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("channels", [1, 2])
def test_block_stats_against_numpy(bad, channels):
    rng = np.random.default_rng(4)
    block = (rng.standard_normal((777, channels)) * 3e37).astype(np.float32)
    block[5, 0] = 3.4e38  # finite extremes: their differences must not overflow into "not finite"
    block[6, 0] = -3.4e38
    sums = np.zeros((2, channels))
    finite, peak = kernels.block_stats(block, sums)
    d = block.astype(np.float64) - block[0].astype(np.float64)
    assert finite and peak == np.abs(block).max()
    np.testing.assert_allclose(sums, [d.sum(0), (d * d).sum(0)], rtol=1e-12)
    for where in (0, 400, 776):
        b = block.copy()
        b[where, channels - 1] = bad
        assert not kernels.block_stats(b, np.zeros((2, channels)))[0]
