"""Per-track input features: log-mel spectrograms of mid and side.

Shape: tracks ``(B, N, 2, T)`` -> ``(B, N, 2, n_mels, frames)``.
"""

from __future__ import annotations

import torch
from torch import nn


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 30.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Slaney-style triangular mel filters, shape ``(n_fft // 2 + 1, n_mels)``."""
    import librosa

    fb = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min,
                             fmax=f_max or sample_rate / 2)
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
