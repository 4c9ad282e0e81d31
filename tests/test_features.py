"""The model's mel filterbank is librosa's (the shipped models were trained with librosa's), bit for
bit, without importing librosa."""

import numpy as np
import pytest

from mixdown.models.features import mel_filterbank


@pytest.mark.parametrize("sr, n_fft, n_mels, f_min, f_max", [(44100, 2048, 64, 30.0, None),
                                                            (16000, 1024, 40, 30.0, None),
                                                            (48000, 4096, 128, 0.0, 20000.0)])
def test_mel_filterbank_is_librosas(sr, n_fft, n_mels, f_min, f_max):
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max or sr / 2).T
    assert np.array_equal(mel_filterbank(sr, n_fft, n_mels, f_min, f_max).numpy(), ref.astype(np.float32))
