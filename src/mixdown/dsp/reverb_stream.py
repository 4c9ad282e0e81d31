"""The reverb on the full-length render path: exact streaming convolution in bounded memory (numpy).

- :class:`PartitionedConvolver`: uniformly partitioned overlap-save convolution with a
  frequency-domain delay line (float64). Fed any number of frames at a time, it returns the
  same number of output frames at once (no latency); memory is the IR's spectra plus as many
  input spectra, ``2 * K * C * (P + 1)`` complex values for ``K = ceil(L / P)`` partitions,
  independent of the signal's length.
- :class:`ReverbReturn`: the spec's return (convolution -> return high-pass -> return gain) as a
  streaming object the block renderer feeds block by block, state carried across blocks.
- :func:`reverb_return_full`: the whole-signal convenience on top of it.

No torch import (the renderer starts without torch).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import scipy.fft as sfft

from mixdown.dsp import kernels
from mixdown.dsp.coefficients import HIGHPASS_OFF_HZ, highpass_coefficients
from mixdown.dsp.reverb_ir import reverb_impulse_response

#: Default partition: 16384 frames divides the renderer's 65,536-frame blocks (every block but
#: the last is processed without partial-partition work) and keeps the delay line short.
DEFAULT_PARTITION = 1 << 14
_FLUSH = 1e-300


class PartitionedConvolver:
    """Streaming linear convolution of C channels with fixed impulse responses (from silence).

    Uniformly partitioned overlap-save (UPOLS): the IR is cut into ``K`` partitions of ``P``
    samples, each transformed at ``2P``; each input partition is transformed once and kept in a
    ring of ``K`` spectra; output partition ``i`` is ``irfft(sum_k X_{i-k} H_k)[P:]``. A call
    that ends inside a partition computes the outputs it can with the rest of that partition
    still zero (exact: the convolution is causal) and finishes the partition on a later call.

    Args:
        h: ``(C, L)`` impulse responses, one per channel (float64).
        partition: ``P`` in samples.
    """

    def __init__(self, h: np.ndarray, partition: int = DEFAULT_PARTITION):
        h = np.asarray(h, dtype=np.float64)
        if h.ndim != 2 or h.shape[1] == 0:
            raise ValueError(f"h must be (channels, taps), got {h.shape}")
        if partition < 1:
            raise ValueError(f"partition must be >= 1, got {partition}")
        c, length = h.shape
        p = int(partition)
        k = max(1, math.ceil(length / p))
        parts = np.zeros((c, k * p))
        parts[:, :length] = h
        self.partition = p
        self.channels = c
        self._h = sfft.rfft(parts.reshape(c, k, p).transpose(1, 0, 2), n=2 * p, axis=-1)  # (K, C, P+1)
        self._ring = np.zeros_like(self._h)  # input spectra, newest at self._head
        self._head = 0
        self._window = np.zeros((c, 2 * p))  # [previous partition | current partition]
        self._fill = 0
        self._rest: np.ndarray | None = None  # sum_{k>=1} X_{i-k} H_k for the current partition
        self._acc = np.zeros(self._h.shape[1:], dtype=np.complex128)  # storage of _rest
        self._tmp = np.zeros_like(self._acc)

    @property
    def nbytes(self) -> int:
        """Bytes of state held (spectra, ring and window): independent of the signal's length."""
        return self._h.nbytes + self._ring.nbytes + self._window.nbytes + self._acc.nbytes + self._tmp.nbytes

    def _older_sum(self) -> np.ndarray:
        """``sum_{k=1}^{K-1} X_{i-k} H_k`` for the partition now being filled (ring slot head+1)."""
        k_parts = self._h.shape[0]
        acc, tmp = self._acc, self._tmp
        acc[...] = 0.0
        for k in range(1, k_parts):
            np.multiply(self._ring[(self._head + 1 - k) % k_parts], self._h[k], out=tmp)
            acc += tmp
        return acc

    def process(self, x: np.ndarray) -> np.ndarray:
        """Convolve the next frames of the input.

        Shape: ``x`` ``(C, n)`` -> ``(C, n)`` float64, the output at the same frames.
        """
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"x must be ({self.channels}, frames), got {x.shape}")
        p, n = self.partition, x.shape[1]
        out = np.empty((self.channels, n))
        done = 0
        while done < n:
            take = min(p - self._fill, n - done)
            lo = self._fill
            self._window[:, p + lo:p + lo + take] = x[:, done:done + take]
            self._fill += take
            if self._rest is None:
                self._rest = self._older_sum()
            spec = sfft.rfft(self._window, axis=-1)
            y = sfft.irfft(spec * self._h[0] + self._rest, n=2 * p, axis=-1)
            out[:, done:done + take] = y[:, p + lo:p + lo + take]
            done += take
            if self._fill == p:  # partition complete: it joins the delay line
                self._head = (self._head + 1) % self._h.shape[0]
                self._ring[self._head] = spec
                self._window[:, :p] = self._window[:, p:]
                self._window[:, p:] = 0.0
                self._fill = 0
                self._rest = None
        return out


class ReverbReturn:
    """The spec's reverb return as a streaming object: convolution, return high-pass, return gain.

    Feed the reverb bus block by block with :meth:`process`; each call returns the return at
    the same frames (no latency), float64, state carried across calls. The high-pass is the
    renderer's time-domain TDF-II section (:mod:`mixdown.dsp.kernels`), coefficients from
    :mod:`mixdown.dsp.coefficients`.

    Args:
        sample_rate: Hz.
        predelay_ms, decay_low_s, decay_mid_s, decay_high_s, highpass_hz, return_db: the
            ``master.reverb`` settings (``highpass_hz <= 20`` is off).
        partition: convolution partition in samples (see :class:`PartitionedConvolver`).
    """

    def __init__(self, sample_rate: float, predelay_ms: float, decay_low_s: float, decay_mid_s: float,
                 decay_high_s: float, highpass_hz: float, return_db: float, partition: int = DEFAULT_PARTITION):
        self.sample_rate = sample_rate
        h = reverb_impulse_response(sample_rate, predelay_ms, decay_low_s, decay_mid_s, decay_high_s)
        self.ir_frames = h.shape[1]
        self._conv = PartitionedConvolver(h, partition)
        self._sos = None
        if highpass_hz > HIGHPASS_OFF_HZ:
            b, a = highpass_coefficients(np.float64(highpass_hz), sample_rate)
            self._sos = np.ascontiguousarray(np.r_[b, a[1:]])
        self._zi = np.zeros((2, 2))  # TDF-II states [channel, state]
        self._gain = 10.0 ** (return_db / 20.0)

    @classmethod
    def from_settings(cls, sample_rate: float, reverb: Mapping[str, float], **kwargs) -> "ReverbReturn":
        """From a ``master.reverb`` mapping (keys ``predelay_ms`` .. ``return_db`` as in the file)."""
        keys = ("predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s", "highpass_hz", "return_db")
        return cls(sample_rate, *(float(reverb[k]) for k in keys), **kwargs)

    @property
    def nbytes(self) -> int:
        """Bytes of state held: independent of how much signal has gone through."""
        return self._conv.nbytes + self._zi.nbytes

    def process(self, bus: np.ndarray) -> np.ndarray:
        """Return of the next block of the reverb bus.

        Shape: ``bus`` ``(n, 2)`` frames-major (the renderer's layout; any float dtype)
        -> ``(n, 2)`` float64.
        """
        if bus.ndim != 2 or bus.shape[1] != 2:
            raise ValueError(f"bus must be (frames, 2), got {bus.shape}")
        y = np.ascontiguousarray(self._conv.process(bus.T).T)
        if self._sos is not None and len(y):
            kernels._biquad_run(y, y.shape[0], 2, self._sos, self._zi)
            self._zi[np.abs(self._zi) < _FLUSH] = 0.0
        y *= self._gain
        return y


def reverb_return_full(bus: np.ndarray, sample_rate: float, predelay_ms: float, decay_low_s: float,
                       decay_mid_s: float, decay_high_s: float, highpass_hz: float, return_db: float,
                       block_frames: int = 1 << 16, partition: int = DEFAULT_PARTITION) -> np.ndarray:
    """The whole-signal return, cut at the bus's length (streamed in blocks: bounded memory).

    Shape: ``bus`` ``(frames, 2)`` -> ``(frames, 2)`` float64.
    """
    rev = ReverbReturn(sample_rate, predelay_ms, decay_low_s, decay_mid_s, decay_high_s, highpass_hz,
                       return_db, partition)
    out = np.empty((bus.shape[0], 2))
    for start in range(0, bus.shape[0], block_frames):
        out[start:start + block_frames] = rev.process(bus[start:start + block_frames])
    return out
