"""The console's reverb on the training path (torch, batched, differentiable).

- :func:`reverb_send`: post-fader, post-pan sends of every track summed onto the reverb bus;
- :func:`impulse_response`: the spec's impulse response built from batched parameters, with
  gradients to the decay times (envelopes), the pre-delay (its fractional part, through the
  linear interpolation) and through the unit-energy normalisation;
- :func:`reverb_return`: bus -> convolution -> return high-pass -> return gain, in one FFT pass;
- :class:`Reverb`: a thin module holding the parameter-free noise bands as a buffer.

The physics (noise, bands, lengths, send law) lives in :mod:`mixdown.dsp.reverb_ir`; the
full-length numpy path is :mod:`mixdown.dsp.reverb_stream`.

Fixed length for a batch: every tail is cut at the mix's length, so the return's first ``T``
samples need only the first ``T`` samples of each impulse response. The IR is therefore built
over ``n_out = T`` samples (zero past an item's own end). Its normalisation, however, needs the
energy of the *whole* IR: that is computed over the longest body in the batch
(``max_b ceil(fs * max decay_b)``, at most 10 s with the default ranges), each item masked to its
own length, using ``sum_n q[n]^2 = ((1 - a)^2 + a^2) sum r^2 + 2 a (1 - a) sum r[m] r[m-1]`` (the
pre-delay's integer part does not change the energy). Results are exact, not approximations.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn

from mixdown.dsp.filters import cascade_response, fft_size, highpass_coefficients
from mixdown.dsp.reverb_ir import predelay_split, reverb_bands, reverb_send_gain

__all__ = ["reverb_send", "impulse_response", "reverb_return", "noise_bands", "Reverb"]

_LN10 = math.log(10.0)


@lru_cache(maxsize=4)
def _bands_tensor(sample_rate: float, n: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(reverb_bands(sample_rate, n).copy()).to(device=device, dtype=dtype)


def noise_bands(sample_rate: float, n: int, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The parameter-free band-filtered noise as a tensor, cached per sample rate, device and dtype.

    Shape: ``(3, 2, n)`` ``[band (low, mid, high), channel, m]``.
    """
    n_alloc = int(math.ceil(max(n, 10 * sample_rate) / sample_rate) * sample_rate)
    return _bands_tensor(float(sample_rate), n_alloc, str(torch.device(device or "cpu")), dtype)[..., :n]


def reverb_send(panned: torch.Tensor, send_db: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Post-fader, post-pan sends summed onto the stereo reverb bus.

    Args:
        panned: ``(B, N, 2, T)`` each track's stereo output after fader and pan.
        send_db: ``(B, N)`` ``reverb_send_db``; ``<= -60`` is no send (gain 0).
        mask: ``(B, N)`` bool, False for padding tracks (default: all True).

    Returns:
        ``(B, 2, T)`` reverb bus.
    """
    w = reverb_send_gain(send_db).to(panned.dtype)
    if mask is not None:
        w = w * mask.to(w.dtype)
    return torch.einsum("bn,bnct->bct", w, panned)


def _body(sample_rate: float, decays_s: torch.Tensor, bands: torch.Tensor | None):
    """Enveloped sum of the bands ``r`` (masked to each item's length) and the body length.

    Shape: ``decays_s`` ``(B, 3)`` -> ``r`` ``(B, 2, M_max)``.
    """
    with torch.no_grad():  # M_b = ceil(fs * max T_b), computed in float64 like the numpy path
        m_len = torch.ceil(sample_rate * decays_s.detach().to(torch.float64).amax(-1)).long()
    m_max = int(m_len.max())
    if bands is None or bands.shape[-1] < m_max:
        bands = noise_bands(sample_rate, m_max, decays_s.device, decays_s.dtype)
    bands = bands[..., :m_max].to(decays_s.dtype)
    m = torch.arange(m_max, device=decays_s.device, dtype=decays_s.dtype)
    rate = (-3.0 * _LN10 / sample_rate) / decays_s  # (B, 3) nepers per sample
    env = torch.exp(rate[..., None] * m)  # (B, 3, M)
    r = torch.einsum("bkm,kcm->bcm", env, bands)
    if bool((m_len < m_max).any()):  # zero past each item's own body
        r = r * (m < m_len[:, None, None]).to(r.dtype)
    return r, m_max


def impulse_response(sample_rate: float, predelay_ms: torch.Tensor, decay_low_s: torch.Tensor,
                     decay_mid_s: torch.Tensor, decay_high_s: torch.Tensor, n_out: int,
                     bands: torch.Tensor | None = None) -> torch.Tensor:
    """First ``n_out`` samples of the spec's unit-energy stereo impulse response, batched.

    Args:
        sample_rate: Hz.
        predelay_ms, decay_low_s, decay_mid_s, decay_high_s: ``(B,)`` physical values; the
            dtype of ``decay_*`` sets the computation's dtype.
        n_out: samples returned (the IR is zero past its own length ``M + P0 + 1``).
        bands: optional ``(3, 2, >= M_max)`` output of :func:`noise_bands` (else the cache).

    Returns:
        ``(B, 2, n_out)``, each channel normalised by the energy of its whole IR.
    """
    decays = torch.stack([decay_low_s, decay_mid_s, decay_high_s], -1)
    r, m_max = _body(sample_rate, decays, bands)
    e0 = (r * r).sum(-1)  # (B, 2)
    r1 = (r[..., 1:] * r[..., :-1]).sum(-1)
    p0, a = predelay_split(sample_rate, predelay_ms.to(decays.dtype))
    a = a[:, None]
    energy = ((1.0 - a) ** 2 + a ** 2) * e0 + 2.0 * a * (1.0 - a) * r1
    # r_pad[j] = r[j - 1]; index 0 (r[-1] = 0) stands for every index outside the body
    r_pad = nn.functional.pad(r, (1, max(0, n_out - m_max)))
    d = torch.arange(n_out, device=r.device) - p0.long()[:, None]  # (B, n_out): n - P0
    idx0 = (d + 1).clamp(min=0)  # r[n - P0]
    idx1 = d.clamp(min=0)  # r[n - P0 - 1]
    g0 = torch.gather(r_pad, -1, idx0[:, None, :].expand(-1, 2, -1))
    g1 = torch.gather(r_pad, -1, idx1[:, None, :].expand(-1, 2, -1))
    q = (1.0 - a[..., None]) * g0 + a[..., None] * g1
    return q * torch.rsqrt(energy)[..., None]


class _CausalConv(torch.autograd.Function):
    """``y = irfft(rfft(x) rfft(h) k)[:T]``: linear convolution of ``x`` with ``h`` through a
    frequency response ``k``, with a backward of real FFTs only (cross-correlations), which saves
    the full complex transforms autograd would run for ``rfft``'s backward.

    With ``G = rfft(grad_y)`` (zero-padded to ``n_fft``): ``grad_x = irfft(G conj(H k))[:T]``,
    ``grad_h = irfft(G conj(X k))[:T]`` and, in torch's convention for complex inputs,
    ``grad_k = sum_channels conj(X H) G w / n_fft`` with ``w = 2`` on the inner bins and 1 at DC and
    Nyquist (``irfft`` counts inner bins twice).
    """

    @staticmethod
    def forward(ctx, x, h, k, n_fft: int):
        spec_x = torch.fft.rfft(x, n=n_fft)
        spec_h = torch.fft.rfft(h, n=n_fft)
        spec_hk = spec_h * k[:, None]
        ctx.save_for_backward(spec_x, spec_h, spec_hk, k)
        ctx.n_fft, ctx.T = n_fft, x.shape[-1]
        return torch.fft.irfft(spec_x * spec_hk, n=n_fft)[..., :x.shape[-1]]

    @staticmethod
    def backward(ctx, grad_y):
        spec_x, spec_h, spec_hk, k = ctx.saved_tensors
        n, T = ctx.n_fft, ctx.T
        g = torch.fft.rfft(grad_y, n=n)
        grad_x = grad_h = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.fft.irfft(g * spec_hk.conj(), n=n)[..., :T]
        if ctx.needs_input_grad[1]:
            grad_h = torch.fft.irfft(g * (spec_x * k[:, None]).conj(), n=n)[..., :T]
        if ctx.needs_input_grad[2]:
            w = torch.full((g.shape[-1],), 2.0 / n, dtype=g.real.dtype, device=g.device)
            w[0] = 1.0 / n
            if n % 2 == 0:
                w[-1] = 1.0 / n
            grad_k = ((spec_x * spec_h).conj() * g).sum(-2) * w
        return grad_x, grad_h, grad_k, None


def reverb_return(bus: torch.Tensor, sample_rate: float, predelay_ms: torch.Tensor, decay_low_s: torch.Tensor,
                  decay_mid_s: torch.Tensor, decay_high_s: torch.Tensor, highpass_hz: torch.Tensor,
                  return_db: torch.Tensor, bands: torch.Tensor | None = None) -> torch.Tensor:
    """The reverb return: bus convolved with the IR, return high-pass, return gain, cut at ``T``.

    One FFT pass: ``irfft(rfft(bus) rfft(h) H_hp)`` with ``n_fft >= 2T - 1 + 65536`` (linear
    convolution; the high-pass's IIR tail decays within the padding, as in
    :func:`mixdown.dsp.filters.fft_filter`).

    Args:
        bus: ``(B, 2, T)`` reverb bus (output of :func:`reverb_send`).
        sample_rate: Hz.
        predelay_ms, decay_low_s, decay_mid_s, decay_high_s, highpass_hz, return_db: ``(B,)``
            physical values (``highpass_hz <= 20`` is off).
        bands: optional cached noise bands (see :func:`impulse_response`).

    Returns:
        ``(B, 2, T)`` return, to be added to the mix bus before the master section.
    """
    T = bus.shape[-1]
    dtype = bus.dtype
    h = impulse_response(sample_rate, predelay_ms.to(dtype), decay_low_s.to(dtype), decay_mid_s.to(dtype),
                         decay_high_s.to(dtype), T, bands)
    n_fft = fft_size(2 * T - 1)
    b, a = highpass_coefficients(highpass_hz.to(torch.float64), sample_rate)
    h_hp = cascade_response(b[:, None, :], a[:, None, :], n_fft)  # (B, F)
    cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    k = h_hp.to(cdtype) * torch.pow(10.0, return_db.to(dtype) / 20.0)[:, None]
    return _CausalConv.apply(bus, h, k, n_fft)


class Reverb(nn.Module):
    """Thin module over :func:`reverb_return` holding the noise bands as a (non-persistent) buffer.

    Args:
        sample_rate: Hz.
        max_decay_s: longest decay the buffer covers without recomputation (default: the
            range's 10 s); longer decays still work (the cache extends).
    """

    def __init__(self, sample_rate: float, max_decay_s: float = 10.0):
        super().__init__()
        self.sample_rate = float(sample_rate)
        n = int(math.ceil(self.sample_rate * max_decay_s))
        self.register_buffer("bands", torch.from_numpy(reverb_bands(self.sample_rate, n).copy()).float(),
                             persistent=False)

    def forward(self, bus: torch.Tensor, predelay_ms: torch.Tensor, decay_low_s: torch.Tensor,
                decay_mid_s: torch.Tensor, decay_high_s: torch.Tensor, highpass_hz: torch.Tensor,
                return_db: torch.Tensor) -> torch.Tensor:
        """Shape: ``bus`` ``(B, 2, T)``, parameters ``(B,)`` -> ``(B, 2, T)``."""
        return reverb_return(bus, self.sample_rate, predelay_ms, decay_low_s, decay_mid_s, decay_high_s,
                             highpass_hz, return_db, self.bands)
