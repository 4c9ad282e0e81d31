"""Audio inspection: unreadable files, silence, clipping, NaNs, activity, block reading, offsets, roles."""

import numpy as np
import pytest
from data_corpora import SR, burst, mixdown, write

from mixdown.data.checks import AnalysisOptions, AudioError, active_regions, analyse_audio, estimate_offset, probe
from mixdown.data.roles import ROLES, normalise_role


def test_text_zero_byte_and_missing_files_raise_audio_errors_with_reasons(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(AudioError) as e:
        probe(text)
    assert "not readable as audio" in e.value.reason
    with pytest.raises(AudioError, match="empty file"):
        analyse_audio(empty)
    with pytest.raises(AudioError, match="cannot stat"):
        probe(tmp_path / "missing.wav")


def test_silence_clipping_peak_and_rms_are_measured(tmp_path):
    n = SR
    silent = write(tmp_path / "silent.wav", np.zeros((n, 2), np.float32))
    x = np.full((n, 1), 0.5, np.float32)
    x[:80] = 1.0  # 80 of 8000 samples at full scale (PCM_16 writes 1.0 as 32767/32768 >= 0.999)
    clipped = write(tmp_path / "clipped.wav", x)
    st = analyse_audio(silent)
    assert st.peak == 0 and st.clipped == 0 and st.channels == 2 and st.frames == n
    assert active_regions(st.frame_rms, st.hop / SR) == []
    st = analyse_audio(clipped)
    assert st.clipped == pytest.approx(80 / n)
    assert st.peak == pytest.approx(1.0, abs=1e-4)
    assert st.rms_db == pytest.approx(10 * np.log10((80 * 1.0 + (n - 80) * 0.25) / n), abs=0.01)


def test_nan_samples_are_counted_in_float_files(tmp_path):
    x = burst(1)
    x[100:110] = np.nan
    st = analyse_audio(write(tmp_path / "nan.wav", x, subtype="FLOAT"))
    assert st.nonfinite == 10 and np.isfinite(st.frame_rms).all()


def test_active_regions_follow_a_known_gate(tmp_path):
    x = np.zeros((3 * SR, 1), np.float32)
    x[int(0.5 * SR): int(1.0 * SR)] = 0.1      # 0.5-1.0 s
    x[int(1.2 * SR): int(1.5 * SR)] = 0.1      # gap 0.2 s < min_gap: bridged
    x[int(2.5 * SR): int(2.55 * SR)] = 0.1     # 50 ms blip < min_region: dropped
    st = analyse_audio(write(tmp_path / "g.wav", x))
    opts = AnalysisOptions(min_gap_s=0.5, min_region_s=0.1)
    assert active_regions(st.frame_rms, st.hop / SR, opts) == [[0.5, 1.5]]
    assert active_regions(st.frame_rms, st.hop / SR, AnalysisOptions(min_gap_s=0.1, min_region_s=0.01)) == \
        [[0.5, 1.0], [1.2, 1.5], [2.5, 2.55]]


def test_block_size_does_not_change_the_statistics(tmp_path):
    p = write(tmp_path / "a.wav", burst(3, seconds=2.3, channels=2), subtype="FLOAT")
    small = analyse_audio(p, AnalysisOptions(block_s=0.1))
    big = analyse_audio(p, AnalysisOptions(block_s=100))
    assert small.frames == big.frames == int(2.3 * SR)
    np.testing.assert_allclose(small.frame_rms, big.frame_rms, rtol=1e-9)
    assert small.peak == big.peak and small.clipped == big.clipped


@pytest.mark.parametrize("sr,offset", [(8000, 37), (16000, -53), (22050, 0), (44100, 211)])
def test_offset_of_the_mix_is_found_to_the_sample(tmp_path, sr, offset):
    a, b = burst(1, 1.5, sr), burst(2, 1.5, sr, channels=2)
    pa, pb = write(tmp_path / "a.wav", a, sr, "FLOAT"), write(tmp_path / "b.wav", b, sr, "FLOAT")
    pm = write(tmp_path / "m.wav", mixdown([a, b], offset), sr, "FLOAT")
    lag, corr = estimate_offset([pa, pb], pm, sr, 0, len(a))
    assert lag == offset and corr > 0.95


def test_offset_of_a_silent_excerpt_is_not_measured(tmp_path):
    z = np.zeros((SR, 1), np.float32)
    pa, pm = write(tmp_path / "a.wav", z), write(tmp_path / "m.wav", burst(1))
    assert estimate_offset([pa], pm, SR, 0, SR) is None


@pytest.mark.parametrize("label,role", [
    ("drum set", "drums"), ("bass drum", "drums"), ("01_KickIn", "drums"), ("OH_L", "drums"), ("HiHat", "drums"),
    ("electric bass", "bass"), ("SynthBass", "bass"), ("double bass", "bass"), ("bass clarinet", "winds"),
    ("07_ElecGtr2_DI", "guitar"), ("elecgtr", "guitar"), ("LeadVox_DT", "vocals"), ("BVs", "vocals"),
    ("male singer", "vocals"), ("tack piano", "keys"), ("Pno", "keys"), ("Synth Pad", "synth"),
    ("violin section", "strings"), ("horn section", "brass"), ("alto saxophone", "winds"), ("Tamb", "percussion"),
    ("fx/processed sound", "fx"), ("Lead", "lead"), ("Main System", "other"), ("", "other"),
])
def test_roles_are_normalised_to_the_vocabulary(label, role):
    assert normalise_role(label) == role and role in ROLES


def test_role_falls_back_to_later_labels():
    assert normalise_role("Unlabeled", None, "03_Snare_Top") == "drums"
