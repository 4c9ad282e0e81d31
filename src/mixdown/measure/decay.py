"""How fast a mix's energy falls, band by band: the feature that lets reference mode hear a tail.

A dry mix falls silent as soon as its notes stop; a reverberant one falls at most at the
reverb's rate (60 dB per decay time) and only down to the tail's level. :func:`decay_profile_db`
measures that, differentiably, from a short-time spectrum: in each of the reverb's three bands
(``mixdown.dsp.reverb_ir.BAND_EDGES_HZ``: below 500 Hz, 500 Hz .. 4 kHz, above 4 kHz) the band's
level ``L[t]`` (dB, frames of ``hop_s``) is floored ``floor_db`` below its loudest frame, and for each
lag ``tau`` the mean fall ``mean_t max(0, L[t] - L[t + tau])`` is taken. Over a freely decaying
tail of decay time ``T`` the fall at lag ``tau`` is ``60 tau / T`` dB (the definition of the decay
time); in music, notes that stop show falls down to the tail's level (the send) and then at the
tail's rate (the decay), so both reverb settings move the feature, and it stays put where notes
sustain. Falls, not levels: a static gain or EQ leaves the feature unchanged.
"""

from __future__ import annotations

import math

import torch

#: band edges in Hz: the reverb's bands (low < 500 <= mid < 4000 <= high), from 60 Hz to 16 kHz
DECAY_BANDS_HZ: tuple[tuple[float, float], ...] = ((60.0, 500.0), (500.0, 4000.0), (4000.0, 16000.0))
#: lags of the falls, seconds
DECAY_LAGS_S: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
#: levels more than this below a band's loudest frame count as this far below (silence, noise)
FLOOR_DB = 60.0


def band_levels_db(x: torch.Tensor, sample_rate: float, hop_s: float = 0.01,
                   bands_hz=DECAY_BANDS_HZ) -> torch.Tensor:
    """Short-time level of each band of the mid signal ``(L + R) / 2``, dB.

    Shape: ``x`` ``(B, C, T)`` -> ``(B, n_bands, frames)``; frames of ``hop_s`` (Hann window of
    four hops).
    """
    hop = max(1, int(round(hop_s * sample_rate)))
    n_fft = 1 << max(4, math.ceil(math.log2(4 * hop)))
    mono = x.mean(1)
    win = torch.hann_window(4 * hop, dtype=x.dtype, device=x.device)
    spec = torch.stft(mono, n_fft, hop, win_length=4 * hop, window=win, center=True, pad_mode="constant",
                      return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (B, F, frames)
    freqs = torch.arange(power.shape[1], device=x.device, dtype=x.dtype) * (sample_rate / n_fft)
    levels = []
    for lo, hi in bands_hz:
        sel = (freqs >= lo) & (freqs < min(hi, sample_rate / 2))
        levels.append(10.0 * torch.log10(power[:, sel].sum(1) + 1e-12))
    return torch.stack(levels, 1)


def decay_profile_db(x: torch.Tensor, sample_rate: float, hop_s: float = 0.01, lags_s=DECAY_LAGS_S,
                     floor_db: float = FLOOR_DB, bands_hz=DECAY_BANDS_HZ) -> torch.Tensor:
    """Mean fall of each band's level after each lag, dB (see the module docstring).

    Shape: ``x`` ``(B, C, T)`` -> ``(B, n_bands, n_lags)``; differentiable (the floor is a detached
    per-band constant; frames within ``tau`` of the end are left out).
    """
    level = band_levels_db(x, sample_rate, hop_s, bands_hz)
    floor = level.detach().amax(-1, keepdim=True) - floor_db
    level = torch.maximum(level, floor)
    out = []
    for lag_s in lags_s:
        k = max(1, int(round(lag_s / hop_s)))
        if k >= level.shape[-1]:
            raise ValueError(f"the signal is too short for a {lag_s} s lag ({level.shape[-1]} frames of {hop_s} s)")
        out.append(torch.relu(level[..., :-k] - level[..., k:]).mean(-1))
    return torch.stack(out, -1)
