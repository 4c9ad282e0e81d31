"""Per-track input features: log-mel spectrograms of mid and side.

Shape: tracks ``(B, N, 2, T)`` -> ``(B, N, 2, n_mels, frames)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _hz_to_mel(f_hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 per 200 Hz), logarithmic above (librosa's)."""
    f_hz = np.asarray(f_hz, dtype=np.float64)
    mel = f_hz / (200.0 / 3)
    log_part = f_hz >= 1000.0
    mel[log_part] = 15.0 + np.log(f_hz[log_part] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    hz = (200.0 / 3) * mel
    log_part = mel >= 15.0
    hz[log_part] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel[log_part] - 15.0))
    return hz


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 30.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Slaney-style triangular mel filters, area-normalised, shape ``(n_fft // 2 + 1, n_mels)``:
    ``librosa.filters.mel``'s (htk=False, norm="slaney") computed the same way, without importing
    librosa (a second of start-up for ``mixdown mix``)."""
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_hz = _mel_to_hz(np.linspace(*_hz_to_mel(np.array([f_min, f_max or sample_rate / 2])), n_mels + 2))
    fdiff = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    fb = np.zeros((n_mels, len(fft_hz)), dtype=np.float32)
    for i in range(n_mels):
        fb[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    fb *= (2.0 / (mel_hz[2:n_mels + 2] - mel_hz[:n_mels]))[:, np.newaxis]
    return torch.from_numpy(fb.T.copy()).float()


class LogMel(nn.Module):
    """Log-mel (dB) of mid and side channels.

    Args:
        sample_rate: Hz. n_fft, hop: STFT sizes in samples. n_mels: mel bands.
    """

    def __init__(self, sample_rate: int = 44100, n_fft: int = 2048, hop: int = 1024, n_mels: int = 64):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fb", mel_filterbank(sample_rate, n_fft, n_mels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., 2, T)`` -> ``(..., 2, n_mels, frames)``, roughly unit scale."""
        lead = x.shape[:-2]
        mid = 0.5 * (x[..., 0, :] + x[..., 1, :])
        side = 0.5 * (x[..., 0, :] - x[..., 1, :])
        sig = torch.stack([mid, side], -2).reshape(-1, x.shape[-1])
        spec = torch.stft(sig, self.n_fft, self.hop, window=self.window, return_complex=True).abs().pow(2)
        mel = torch.einsum("bft,fm->bmt", spec, self.fb)
        db = (10.0 * torch.log10(mel + 1e-10)).clamp(min=-100.0)
        return ((db + 40.0) / 20.0).reshape(*lead, 2, *db.shape[-2:])
