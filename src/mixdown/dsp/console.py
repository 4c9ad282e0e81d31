"""The differentiable mixing console (training path).

Input gain -> high-pass -> 6-band EQ -> compressor -> fader -> pan per track, the sum of tracks
on a stereo bus; each track's post-pan output also feeds the reverb bus at its send level, and
the reverb's return (convolution -> return high-pass -> return gain, :mod:`mixdown.dsp.reverb`)
joins the stereo bus; then master EQ -> master compressor -> output gain
(``docs/console.md``). High-pass and EQ of a strip are one FFT-domain filter with the exact
cascade response. When no track sends (every ``reverb_send_db <= -60``) the return is exactly
zero and is skipped. Settings are taken in the table's ranges at the console's rate
(:meth:`mixdown.params.spec.Table.clip`): at 8889 Hz and below, where the spec defines no reverb
(its 4 kHz band edge must lie below 0.45 x the rate), that range holds every send off.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from mixdown.dsp import functional as F
from mixdown.dsp.compressor import compressor_gain_db
from mixdown.dsp.filters import eq_coefficients, fft_filter, fft_size, highpass_coefficients
from mixdown.dsp.finish import apply_torch as apply_finish
from mixdown.dsp.reverb import reverb_return, reverb_send
from mixdown.params import spec as S

log = logging.getLogger(__name__)
_T = S.TRACK.columns
_M = S.MASTER.columns


def _eq_params(p: torch.Tensor, cols: dict[str, int]) -> tuple[torch.Tensor, ...]:
    """``(freq_hz, gain_db, q)``, each ``(..., 6)`` float64, from a physical parameter tensor."""
    return tuple(torch.stack([p[..., cols[f"eq.{i}.{k}"]] for i in range(S.N_EQ_BANDS)], -1).to(torch.float64)
                 for k in ("freq_hz", "gain_db", "q"))


def _compressed_gain_db(x: torch.Tensor, p: torch.Tensor, cols: dict[str, int], sample_rate: float) -> torch.Tensor:
    """Compressor gain incl. makeup in dB from a strip's filtered signal. Shape ``(..., T)``."""
    c = {k: p[..., cols[f"compressor.{k}"]] for k in S.COMPRESSOR_KEYS}
    g = compressor_gain_db(x, c["threshold_db"], c["ratio"], c["attack_ms"],
                           c["release_ms"], c["knee_db"], sample_rate)
    return g + c["makeup_db"][..., None]


def _amp(gain_db: torch.Tensor) -> torch.Tensor:
    return torch.exp(gain_db * (math.log(10.0) / 20.0))


def channel_strips(x: torch.Tensor, track_values: torch.Tensor, sample_rate: float,
                   mask: torch.Tensor | None = None, sends: bool = False):
    """Run every track through its strip, pan it and sum the bus (and, with ``sends``, the reverb bus).

    The input gain is folded into the filter response and fader, makeup and pan into one gain
    curve: the same maths as the spec's chain, with fewer passes over the audio.

    Shape: ``x`` ``(B, N, C, T)`` (C = 1 or 2; a mono track may also be given as two equal
    channels), ``track_values`` ``(B, N, N_TRACK_PARAMS)`` physical, ``mask`` ``(B, N)``
    -> bus ``(B, 2, T)``; with ``sends``: ``(bus, reverb_bus)``, the reverb bus ``(B, 2, T)`` the
    sum of the post-pan outputs at their ``reverb_send_db``, or None when no track sends.
    """
    p = track_values
    hb, ha = highpass_coefficients(p[..., _T["highpass_hz"]].to(torch.float64), sample_rate)
    hb = hb * _amp(p[..., _T["input_gain_db"]].to(torch.float64))[..., None]
    eb, ea = eq_coefficients(*_eq_params(p, _T), sample_rate, S.EQ_BAND_TYPES)
    b = torch.cat([hb[..., None, :], eb], -2)
    a = torch.cat([ha[..., None, :], ea], -2)
    y = fft_filter(x, b, a, fft_size(x.shape[-1]))
    gain = _amp(_compressed_gain_db(y, p, _T, sample_rate) + p[..., _T["fader_db"], None])
    left, right = F.pan_gains(p[..., _T["pan"]])
    sides = torch.stack([left, right], -1)
    if mask is not None:
        sides = sides * mask.to(sides.dtype)[..., None]
    panned = y * (gain.unsqueeze(-2) * sides.unsqueeze(-1))  # (B, N, 2, T)
    if not sends:
        return panned.sum(1)
    send_db = p[..., _T["reverb_send_db"]]
    live = send_db > S.SEND_OFF_DB
    if mask is not None:
        live = live & mask
    return panned.sum(1), (reverb_send(panned, send_db) if bool(live.any()) else None)


def reverb_bus_return(reverb_bus: torch.Tensor, master_values: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """The reverb's return from the reverb bus with the master's ``reverb.*`` settings.

    Shape: ``reverb_bus`` ``(B, 2, T)``, ``master_values`` ``(B, N_MASTER_PARAMS)`` physical
    -> ``(B, 2, T)``, to be added to the stereo bus.
    """
    r = {k: master_values[..., _M[f"reverb.{k}"]] for k in
         ("predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s", "highpass_hz", "return_db")}
    return reverb_return(reverb_bus, sample_rate, r["predelay_ms"], r["decay_low_s"], r["decay_mid_s"],
                         r["decay_high_s"], r["highpass_hz"], r["return_db"])


def master_bus(bus: torch.Tensor, master_values: torch.Tensor, sample_rate: float,
               normalize_gain_db: torch.Tensor | None = None) -> torch.Tensor:
    """Master EQ, compressor, output gain and the optional loudness-normalisation gain.

    Shape: ``bus`` ``(B, 2, T)``, ``master_values`` ``(B, N_MASTER_PARAMS)`` physical,
    ``normalize_gain_db`` ``(B,)`` or None -> ``(B, 2, T)``.
    """
    b, a = eq_coefficients(*_eq_params(master_values, _M), sample_rate, S.EQ_BAND_TYPES)
    y = fft_filter(bus, b, a, fft_size(bus.shape[-1]))
    gain_db = _compressed_gain_db(y, master_values, _M, sample_rate) + master_values[..., _M["output_gain_db"], None]
    if normalize_gain_db is not None:
        gain_db = gain_db + normalize_gain_db[..., None]
    return y * _amp(gain_db).unsqueeze(-2)


class Console(nn.Module):
    """Batch of sessions + normalised parameters -> stereo mixes.

    Args:
        sample_rate: Hz, shared by every track.
        track_specs, master_specs: parameter tables (default: the spec's default ranges).
    """

    def __init__(self, sample_rate: float, track_specs=S.TRACK_SPECS, master_specs=S.MASTER_SPECS):
        super().__init__()
        self.sample_rate = float(sample_rate)
        self.track_specs = S.Table(track_specs)
        self.master_specs = S.Table(master_specs)

    def denormalize(self, track_params: torch.Tensor, master_params: torch.Tensor):
        """Physical values from normalised ones (shapes kept)."""
        return (S.denormalize(track_params, self.track_specs, self.sample_rate),
                S.denormalize(master_params, self.master_specs, self.sample_rate))

    def forward(self, x: torch.Tensor, track_params: torch.Tensor, master_params: torch.Tensor,
                mask: torch.Tensor | None = None, normalized: bool = True,
                normalize_gain_db: torch.Tensor | None = None,
                finish: dict[str, dict[str, float]] | None = None) -> torch.Tensor:
        """Mix.

        Args:
            x: ``(B, N, C, T)`` tracks, C = 1 or 2.
            track_params: ``(B, N, N_TRACK_PARAMS)`` in [0, 1] (or physical if not ``normalized``).
            master_params: ``(B, N_MASTER_PARAMS)`` likewise.
            mask: ``(B, N)`` bool, False for padding tracks (default: all True).
            normalized: whether parameters are normalised.
            normalize_gain_db: ``(B,)`` optional ``master.normalize.gain_db``.
            finish: the master's finishing stages that are on, as in ``MasterParams.finish``
                (``{"limiter": {...}}``, :mod:`mixdown.dsp.finish`), run last.

        Returns:
            ``(B, 2, T)`` stereo mix.
        """
        if x.dim() != 4 or x.shape[2] not in (1, 2):
            raise ValueError(f"x must be (batch, tracks, channels=1|2, time), got {tuple(x.shape)}")
        if normalized:
            track_params, master_params = self.denormalize(track_params, master_params)
        else:  # physical values: in the table's ranges at this rate (sends off up to 8889 Hz)
            track_params = self.track_specs.clip(track_params, self.sample_rate)
            master_params = self.master_specs.clip(master_params, self.sample_rate)
        bus, reverb_bus = channel_strips(x, track_params, self.sample_rate, mask, sends=True)
        if reverb_bus is not None:
            bus = bus + reverb_bus_return(reverb_bus, master_params, self.sample_rate)
        return apply_finish(master_bus(bus, master_params, self.sample_rate, normalize_gain_db), self.sample_rate,
                            finish)
