"""Pure, batched, differentiable console effects (torch).

Every function takes audio shaped ``(..., C, T)`` and parameters shaped ``(...)`` (or
``(..., K)`` for multi-band EQ), with units in the argument names, and follows
``docs/console.md`` exactly. Filters run in the frequency domain with the exact biquad
response (see :mod:`mixdown.dsp.filters`); the full-length renderer uses time-domain IIR.
"""

from __future__ import annotations

from typing import Sequence

import torch

from mixdown.dsp.compressor import compressor
from mixdown.dsp.filters import biquad_coefficients, eq_coefficients, fft_filter, highpass_coefficients
from mixdown.dsp.strip import pan_gains  # the pan law, written once
from mixdown.params.spec import EQ_BAND_TYPES

__all__ = ["db_to_amp", "gain", "highpass", "biquad", "parametric_eq", "compressor", "pan", "pan_gains"]


def db_to_amp(gain_db: torch.Tensor) -> torch.Tensor:
    """``10 ** (gain_db / 20)``."""
    return torch.pow(10.0, gain_db / 20.0)


def gain(x: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Static gain. Shape: ``x`` ``(..., C, T)``, ``gain_db`` ``(...)`` -> ``(..., C, T)``."""
    return x * db_to_amp(gain_db)[..., None, None]


def highpass(x: torch.Tensor, highpass_hz: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Second-order Butterworth high-pass (off at <= 20 Hz).

    Shape: ``x`` ``(..., C, T)``, ``highpass_hz`` ``(...)`` -> ``(..., C, T)``.
    """
    b, a = highpass_coefficients(highpass_hz.to(torch.float64), sample_rate)
    return fft_filter(x, b[..., None, :], a[..., None, :])


def biquad(x: torch.Tensor, kind: str, freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor,
           sample_rate: float) -> torch.Tensor:
    """One RBJ band (``"peak"``, ``"low_shelf"``, ``"high_shelf"``).

    Shape: ``x`` ``(..., C, T)``, parameters ``(...)`` -> ``(..., C, T)``.
    """
    b, a = biquad_coefficients(kind, freq_hz.to(torch.float64), gain_db.to(torch.float64),
                               q.to(torch.float64), sample_rate)
    return fft_filter(x, b[..., None, :], a[..., None, :])


def parametric_eq(x: torch.Tensor, freq_hz: torch.Tensor, gain_db: torch.Tensor, q: torch.Tensor,
                  sample_rate: float, band_types: Sequence[str] = EQ_BAND_TYPES) -> torch.Tensor:
    """Bands in series (default: the console's 6-band EQ).

    Shape: ``x`` ``(..., C, T)``, parameters ``(..., K)`` -> ``(..., C, T)``.
    """
    b, a = eq_coefficients(freq_hz.to(torch.float64), gain_db.to(torch.float64), q.to(torch.float64),
                           sample_rate, band_types)
    return fft_filter(x, b, a)


def pan(x: torch.Tensor, pan: torch.Tensor) -> torch.Tensor:
    """Pan a mono track or balance a stereo one onto a stereo bus.

    Shape: ``x`` ``(..., C, T)`` with C = 1 or 2, ``pan`` ``(...)`` -> ``(..., 2, T)``.
    """
    if x.shape[-2] not in (1, 2):
        raise ValueError(f"pan expects 1 or 2 channels, got {x.shape[-2]}")
    left, right = pan_gains(pan)
    return x * torch.stack([left, right], -1)[..., None]  # mono broadcasts to both sides
