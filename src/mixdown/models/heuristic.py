"""A non-learned baseline with the same interface as the learned models.

Rules (common practice, see ``data/README.md`` for sources): bring every track to a common
RMS level and share the headroom equally (loudness balancing), high-pass tracks with little
low-frequency content at 80 Hz, centre low-frequency and wide-stereo tracks and spread the rest
alternately left/right by brightness, gentle 3:1 compression 6 dB above the track's level,
and 2:1 master glue.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mixdown.measure.levels import active_rms
from mixdown.models.base import MixModel
from mixdown.params import spec as S

_T = S.TRACK.columns
_M = S.MASTER.columns


class Heuristic(MixModel):
    """Args: sample_rate (Hz), target_rms_db (per-track level), headroom_db (below full scale)."""

    learned = False

    def __init__(self, sample_rate: int = 44100, target_rms_db: float = -20.0, headroom_db: float = 3.0):
        super().__init__(sample_rate)
        self.target_rms_db = target_rms_db
        self.headroom_db = headroom_db
        self.dummy = torch.nn.Parameter(torch.zeros(()), requires_grad=False)  # carries the device

    def _spectrum(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitude spectrum of the mono sum (first 65,536 frames) and its bin frequencies."""
        mag = np.abs(np.fft.rfft(x.mean(0)[: 1 << 16]))
        return mag, np.fft.rfftfreq(min(x.shape[-1], 1 << 16), 1 / self.sample_rate)

    def _track_values(self, x: np.ndarray, mag: np.ndarray, freqs: np.ndarray, n_active: int, rank: int,
                      n_spread: int) -> np.ndarray:
        v = np.array([S.neutral_track_values(self.sample_rate)[n] for n in S.TRACK_NAMES])
        rms_db = 20 * math.log10(active_rms(x)[0] + 1e-12)  # level where the track plays, not its silences
        power = mag ** 2
        low = power[freqs < 120].sum() / (power.sum() + 1e-12)
        side = float(np.mean((x[0] - x[1]) ** 2) / (np.mean((x[0] + x[1]) ** 2) + 1e-12))
        v[_T["input_gain_db"]] = self.target_rms_db - rms_db
        v[_T["fader_db"]] = -10 * math.log10(max(n_active, 1)) - self.headroom_db
        v[_T["highpass_hz"]] = 80.0 if low < 0.05 else 20.0
        v[_T["compressor.threshold_db"]] = self.target_rms_db + 6.0
        v[_T["compressor.ratio"]] = 3.0
        v[_T["compressor.attack_ms"]] = 10.0
        v[_T["compressor.release_ms"]] = 150.0
        v[_T["compressor.knee_db"]] = 6.0
        if low < 0.3 and side < 0.05 and n_spread > 1:
            side_sign = -1.0 if rank % 2 == 0 else 1.0
            v[_T["pan"]] = side_sign * (0.25 + 0.4 * rank / max(n_spread - 1, 1))
        return S.TRACK.clip(v, self.sample_rate)

    def _master_values(self) -> np.ndarray:
        v = np.array([S.neutral_master_values(self.sample_rate)[n] for n in S.MASTER_NAMES])
        v[_M["compressor.threshold_db"]] = -12.0
        v[_M["compressor.ratio"]] = 2.0
        v[_M["compressor.attack_ms"]] = 30.0
        v[_M["compressor.release_ms"]] = 200.0
        v[_M["compressor.knee_db"]] = 6.0
        return v

    @torch.no_grad()
    def forward(self, tracks: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor | None = None):
        x_all = tracks.detach().cpu().double().numpy()
        m_all = mask.cpu().numpy()
        B, N = m_all.shape
        tv = np.tile(np.array([S.neutral_track_values(self.sample_rate)[n] for n in S.TRACK_NAMES]), (B, N, 1))
        for b in range(B):
            idx = np.flatnonzero(m_all[b])
            spectra = {i: self._spectrum(x_all[b, i]) for i in idx}
            centroid = [float((m * f).sum() / (m.sum() + 1e-12)) for m, f in spectra.values()]
            order = {i: r for r, i in enumerate(idx[np.argsort(centroid)])}
            for i in idx:
                tv[b, i] = self._track_values(x_all[b, i], *spectra[i], len(idx), order[i], len(idx))
        mv = np.tile(self._master_values(), (B, 1))
        to = dict(dtype=tracks.dtype, device=tracks.device)
        return (torch.as_tensor(S.normalize(tv, S.TRACK_SPECS, self.sample_rate), **to).clamp(0, 1),
                torch.as_tensor(S.normalize(mv, S.MASTER_SPECS, self.sample_rate), **to).clamp(0, 1))
