"""Training losses: multi-resolution STFT on the stereo mix, a loudness term and a parameter loss.

What is arbitrary is not punished: the prior picks the side of each spread track at random, so
with ``mirror=True`` the parameter loss compares |pan| and the audio loss takes, per song, the
better of the mix and its left/right mirror image. A song whose master settings are all unknown
(a human mix with fitted levels, :mod:`mixdown.data.targets`) has no known overall level: its
tracks' levels (input gain + fader) are compared relative to each other (:func:`balance_db`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mixdown.dsp.filters import fft_filter
from mixdown.measure.stft import mrstft_loss
from mixdown.params import spec as S

_PAN = S.index(S.TRACK_SPECS, "pan")
_LEVEL = [S.index(S.TRACK_SPECS, "input_gain_db"), S.index(S.TRACK_SPECS, "fader_db")]
#: master settings apart from the reverb's (unknown when no track sends: unheard, see the dataset)
_MASTER_NOT_REVERB = [S.MASTER.columns[n] for n in S.MASTER_NAMES if n not in S.REVERB_MASTER_NAMES]


def k_weighted_loudness(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Ungated BS.1770 loudness (LUFS) of ``(B, C, T)`` audio, differentiable. Shape ``(B,)``."""
    from mixdown.measure.loudness import k_weighting_sos

    sos = torch.as_tensor(k_weighting_sos(sample_rate), dtype=torch.float64, device=x.device)
    b, a = sos[:, :3], sos[:, 3:]
    y = fft_filter(x, b.expand(x.shape[0], 2, 3), a.expand(x.shape[0], 2, 3))
    return -0.691 + 10.0 * torch.log10(y.pow(2).mean(-1).sum(-1) + 1e-10)


class MixLoss(nn.Module):
    """Weighted sum of audio and parameter losses; returns ``(total, parts)``.

    Args:
        sample_rate: Hz.
        stft_weight: weight of the multi-resolution STFT distance (L/R and M/S).
        loudness_weight: weight of |loudness(est) - loudness(ref)| in LU.
        param_weight: weight of the L1 distance of normalised parameters, where known.
        fft_sizes: STFT resolutions.
        band_weight: weight of the octave-band balance distance (:func:`band_balance_db`, per dB):
            the evaluation's coarse tonal balance, which the fine STFT terms weigh little.
        mirror: indifferent to left/right: |pan| in the parameter loss, and the STFT distance of
            the better of the mix and its mirror image per song.
        match_loudness: the STFT distance compares the mix scaled to the reference's RMS (as the
            evaluation does), so only the loudness term judges level; the loudness term then counts
            only songs whose master settings are known, the reverb's aside (a human mix's level is
            the person's, not something the tracks tell; a synthetic song's reverb settings are
            unknown when nothing sends): those songs anchor the level of every mix the model makes.
    """

    def __init__(self, sample_rate: int = 44100, stft_weight: float = 1.0, loudness_weight: float = 0.1,
                 param_weight: float = 1.0, fft_sizes: tuple[int, ...] = (512, 2048, 8192), mirror: bool = False,
                 match_loudness: bool = False, balance_weight: float = 0.0, band_weight: float = 0.0):
        super().__init__()
        self.sample_rate = sample_rate
        self.stft_weight, self.loudness_weight, self.param_weight = stft_weight, loudness_weight, param_weight
        self.balance_weight, self.band_weight = balance_weight, band_weight
        self.fft_sizes = tuple(fft_sizes)
        self.mirror, self.match_loudness = mirror, match_loudness

    @property
    def needs_audio(self) -> bool:
        """Whether the loss compares mixes (else the trainer need not render them)."""
        return self.stft_weight > 0 or self.loudness_weight > 0 or self.band_weight > 0

    def forward(self, est: torch.Tensor | None, ref: torch.Tensor,
                pred: tuple[torch.Tensor, torch.Tensor] | None = None,
                target: tuple[torch.Tensor, torch.Tensor] | None = None, mask: torch.Tensor | None = None):
        """``est``: the rendered mix ``(B, 2, T)``, or None when only settings are compared
        (:attr:`needs_audio` False); ``ref`` ``(B, 2, T)``; ``pred``, ``target``: normalised
        ``(track (B, N, P), master (B, M))`` (target NaN where unknown); ``mask`` ``(B, N)``."""
        parts: dict[str, torch.Tensor] = {}
        total = ref.new_zeros(())
        if est is not None and self.needs_audio:
            e = est
            if self.match_loudness:
                rms = lambda x: x.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-10).sqrt()  # noqa: E731
                e = est * (rms(ref) / rms(est))
            per = mrstft_loss(e, ref, fft_sizes=self.fft_sizes, reduction="none", mirror=self.mirror)
            parts["stft"] = per.mean()
            loud = (k_weighted_loudness(est, self.sample_rate) - k_weighted_loudness(ref, self.sample_rate)).abs()
            if self.match_loudness and target is not None:
                known = torch.isfinite(target[1][..., _MASTER_NOT_REVERB]).all(-1)
                loud = loud[known] if bool(known.any()) else loud.sum() * 0.0
            parts["loudness"] = loud.mean()
            total = self.stft_weight * parts["stft"] + self.loudness_weight * parts["loudness"]
            if self.band_weight > 0:
                parts["band_db"] = band_balance_db(e, ref, self.sample_rate).mean()
                total = total + self.band_weight * parts["band_db"]
        if pred is not None and target is not None and self.param_weight > 0:
            parts["params"] = param_l1(pred, target, mask, mirror=self.mirror)
            total = total + self.param_weight * parts["params"]
        if pred is not None and target is not None and self.balance_weight > 0:
            parts["balance_db"] = balance_db(pred[0], target[0], relative_levels(target), mask)
            total = total + self.balance_weight * parts["balance_db"]
        return total, {k: float(v.detach()) for k, v in parts.items() if math.isfinite(float(v.detach()))}


def band_balance_db(est: torch.Tensor, ref: torch.Tensor, sample_rate: int, n_fft: int = 8192,
                    floor_db: float = -120.0) -> torch.Tensor:
    """Mean absolute difference (dB) of the octave-band energies of ``est`` and ``ref``: the
    evaluation's balance measure (:func:`mixdown.measure.metrics.spectral_balance_error_db`, same
    bands, channels summed), differentiable, without its level matching (match levels first).
    Energies come from a Hann STFT (``n_fft``, hop a quarter) averaged over frames; bands where
    both lie at ``floor_db`` are left out, bands without bins (above Nyquist) too.
    Shape: ``(B, C, T)`` each -> ``(B,)``."""
    from mixdown.measure.metrics import band_edges_hz

    n_fft = min(n_fft, est.shape[-1])
    window = torch.hann_window(n_fft, dtype=est.dtype, device=est.device)

    def energies(x):  # (B, C, T) -> (B, bands) power per band, channels summed
        spec = torch.stft(x.flatten(0, 1), n_fft, n_fft // 4, window=window, return_complex=True, center=False)
        power = spec.abs().pow(2).mean(-1).view(x.shape[0], x.shape[1], -1).sum(1)
        return power @ bands

    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate).to(est.device)
    _, lo, hi = band_edges_hz("octave")
    bands = torch.stack([((freqs >= a) & (freqs < b)).to(est.dtype) for a, b in zip(lo, hi)], 1)
    has_bins = bands.sum(0) > 0
    e = 10 * torch.log10(energies(est) + 1e-30).clamp_min(floor_db)
    r = 10 * torch.log10(energies(ref) + 1e-30).clamp_min(floor_db)
    live = ((e > floor_db) | (r > floor_db)) & has_bins
    return ((e - r).abs() * live).sum(-1) / live.sum(-1).clamp_min(1)


def relative_levels(target: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Songs whose track levels are known only relative to each other: every master setting
    unknown, some track level known. ``(B,)`` bool."""
    tt, mt = target
    return torch.isnan(mt).all(-1) & torch.isfinite(tt[..., _LEVEL]).all(-1).any(-1)


def level_db(track: torch.Tensor) -> torch.Tensor:
    """A track's static level, input gain + fader in dB, of normalised settings ``(..., P)`` -> ``(...)``."""
    specs = [S.TRACK_SPECS[i] for i in _LEVEL]
    return S.denormalize(track[..., _LEVEL], specs).sum(-1)


def balance_db(pred: torch.Tensor, target: torch.Tensor, songs: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
    """Mean |error| (dB) of each track's level relative to its song's other tracks.

    Per song, the level errors ``level_db(pred) - level_db(target)`` of its tracks with a known
    level lose their mean (a common offset is the mix's overall level: not judged), then the mean
    absolute value over tracks and over ``songs`` (``(B,)`` bool). Shapes: ``pred``, ``target``
    ``(B, N, P)`` normalised; ``mask`` ``(B, N)``. Zero (with a gradient) when no song counts.
    """
    d = level_db(pred) - level_db(torch.nan_to_num(target))
    w = torch.isfinite(target[..., _LEVEL]).all(-1) & songs[:, None]
    if mask is not None:
        w = w & mask
    w = w.to(d.dtype)
    count = w.sum(-1)
    centred = d - (d * w).sum(-1, keepdim=True) / count.clamp_min(1.0)[:, None]
    per_song = (centred.abs() * w).sum(-1) / count.clamp_min(1.0)
    used = count > 0
    return per_song[used].mean() if bool(used.any()) else d.sum() * 0.0


def param_l1(pred: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor],
             mask: torch.Tensor | None, mirror: bool = False) -> torch.Tensor:
    """Mean |pred - target| of normalised parameters over known targets (NaN = unknown).

    ``mirror``: pan is compared by its size, ``| |pan_pred| - |pan_target| |`` (in normalised units
    the pan range [-1, 1] is [0, 1], centre 0.5), so a mirror image costs nothing. Songs with
    :func:`relative_levels` leave their input gains and faders to :func:`balance_db`.
    """
    tp, mp = pred
    tt, mt = target
    if mirror:
        fold = lambda u: 0.5 + (u[..., _PAN] - 0.5).abs()  # noqa: E731  pan -> |pan|, still normalised
        tp = torch.cat([tp[..., :_PAN], fold(tp)[..., None], tp[..., _PAN + 1:]], -1)
        tt = torch.cat([tt[..., :_PAN], fold(tt)[..., None], tt[..., _PAN + 1:]], -1)
    known_t = torch.isfinite(tt)
    rel = relative_levels(target)
    if bool(rel.any()):
        level_cols = torch.zeros(tt.shape[-1], dtype=torch.bool, device=tt.device)
        level_cols[_LEVEL] = True
        known_t = known_t & ~(rel[:, None, None] & level_cols)
    if mask is not None:
        known_t = known_t & mask[..., None]
    known_m = torch.isfinite(mt)
    diffs = torch.cat([(tp - torch.nan_to_num(tt)).abs()[known_t], (mp - torch.nan_to_num(mt)).abs()[known_m]])
    return diffs.mean() if diffs.numel() else tp.sum() * 0.0
