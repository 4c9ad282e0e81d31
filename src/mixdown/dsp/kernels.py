"""Compiled (numba) kernels for the console's recursions.

Two users:
- the training path calls :func:`smooth_gain_forward` / :func:`smooth_gain_backward`, the
  compressor's branching one-pole ballistics with an exact backward (a time-varying one-pole run
  in reverse, the method of torchcomp/torchlpc);
- the full-length path calls :func:`strip_block`, a fused channel strip (gain, biquad cascade,
  compressor, fader, pan) that processes one block of many tracks in parallel and carries
  filter and compressor state between blocks.

States and coefficients are float64; tiny states (below 1e-300) are flushed to zero so silence
never runs into denormal arithmetic (a change far below any audible or measurable level).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_FLUSH = 1e-300
_LN10_OVER_20 = math.log(10.0) / 20.0


@nb.njit(cache=True, inline="always")
def _gain_computer(level_db, threshold_db, ratio, knee_db):
    """Target gain g_c = G(L) - L in dB (<= 0) of the spec's soft-knee static curve."""
    over = level_db - threshold_db
    if 2.0 * over < -knee_db:
        return 0.0
    if knee_db > 0.0 and 2.0 * abs(over) <= knee_db:
        t = over + 0.5 * knee_db
        return (1.0 / ratio - 1.0) * t * t / (2.0 * knee_db)
    return (1.0 / ratio - 1.0) * over


@nb.njit(cache=True, parallel=True)
def smooth_gain_forward(gc, a_att, a_rel, g_out, attack):
    """Branching one-pole smoothing of target gains (spec compressor ballistics).

    Shape:
        gc: ``(M, N)`` float32 target gain in dB; a_att, a_rel: ``(M,)`` float64 pole values;
        g_out: ``(M, N)`` float32 written with the smoothed gain in dB;
        attack: ``(M, N)`` uint8 written with 1 where the attack branch ran.
    """
    M, N = gc.shape
    for m in nb.prange(M):
        aa = a_att[m]
        ar = a_rel[m]
        g = 0.0
        for n in range(N):
            x = np.float64(gc[m, n])
            if x < g:
                g = aa * g + (1.0 - aa) * x
                attack[m, n] = 1
            else:
                g = ar * g + (1.0 - ar) * x
                attack[m, n] = 0
            if g > -_FLUSH:
                g = 0.0
            g_out[m, n] = g


@nb.njit(cache=True, parallel=True)
def smooth_gain_backward(grad_g, gc, g, attack, a_att, a_rel, grad_gc, grad_a_att, grad_a_rel):
    """Exact backward of :func:`smooth_gain_forward`.

    With ``g[n] = a[n] g[n-1] + (1 - a[n]) gc[n]`` and ``lam[n] = dL/dg[n]`` (through the whole
    future), ``lam[n] = grad_g[n] + a[n+1] lam[n+1]``; then ``dL/dgc[n] = (1 - a[n]) lam[n]`` and
    ``dL/da[n] = lam[n] (g[n-1] - gc[n])``, summed over the samples of each branch.

    Shape:
        grad_g, gc, g: ``(M, N)`` float32; attack: ``(M, N)`` uint8; a_att, a_rel: ``(M,)``;
        outputs grad_gc ``(M, N)`` float32, grad_a_att and grad_a_rel ``(M,)`` float64.
    """
    M, N = gc.shape
    for m in nb.prange(M):
        aa = a_att[m]
        ar = a_rel[m]
        carry = 0.0
        acc_a = 0.0
        acc_r = 0.0
        for n in range(N - 1, -1, -1):
            lam = np.float64(grad_g[m, n]) + carry
            prev = np.float64(g[m, n - 1]) if n > 0 else 0.0
            d = lam * (prev - np.float64(gc[m, n]))
            if attack[m, n]:
                grad_gc[m, n] = (1.0 - aa) * lam
                acc_a += d
                carry = aa * lam
            else:
                grad_gc[m, n] = (1.0 - ar) * lam
                acc_r += d
                carry = ar * lam
        grad_a_att[m] = acc_a
        grad_a_rel[m] = acc_r


@nb.njit(cache=True, parallel=True, nogil=True)
def strip_block(x, channels, sos, n_sections, zi, comp, g_state, pre_gain, post_gain, out):
    """Process one block of many channel strips and write each strip's stereo output.

    Per strip: ``x * pre_gain -> biquad cascade -> compressor -> * post_gain[side]``. A mono
    strip (``channels == 1``) feeds both sides from channel 0; a stereo strip feeds left from
    channel 0 and right from channel 1 (the spec's balance-style pan).

    Shape:
        x: ``(S, n, 2)`` float32 input block, interleaved (channel 1 unused for mono strips);
        channels: ``(S,)`` int64, 1 or 2; sos: ``(S, K, 5)`` float64 ``[b0, b1, b2, a1, a2]``
        (a0 = 1); n_sections: ``(S,)`` int64 sections in use; zi: ``(S, K, 2, 2)`` float64
        TDF-II states ``[section, channel, state]``, updated in place;
        comp: ``(S, 7)`` float64 ``[threshold_db, ratio, knee_db, makeup_db, a_att, a_rel,
        enabled]``; g_state: ``(S,)`` float64 smoothed gain in dB, updated in place;
        pre_gain: ``(S,)`` linear; post_gain: ``(S, 2)`` linear left/right gains;
        out: ``(S, n, 2)`` float32, written.
    """
    S = x.shape[0]
    n = x.shape[1]
    for s in nb.prange(S):
        nc = channels[s]
        ks = n_sections[s]
        thr = comp[s, 0]
        ratio = comp[s, 1]
        knee = comp[s, 2]
        makeup = comp[s, 3]
        aa = comp[s, 4]
        ar = comp[s, 5]
        enabled = comp[s, 6] > 0.5
        # linear side-chain level below which the static curve gives no reduction
        quiet_lin = 10.0 ** ((thr - 0.5 * knee) / 20.0)
        makeup_lin = 10.0 ** (makeup / 20.0)
        gl = post_gain[s, 0]
        gr = post_gain[s, 1]
        g = g_state[s]
        pre = pre_gain[s]
        for i in range(n):
            y0 = np.float64(x[s, i, 0]) * pre
            y1 = np.float64(x[s, i, 1]) * pre if nc == 2 else 0.0
            for k in range(ks):
                b0 = sos[s, k, 0]
                b1 = sos[s, k, 1]
                b2 = sos[s, k, 2]
                a1 = sos[s, k, 3]
                a2 = sos[s, k, 4]
                v = y0
                y0 = b0 * v + zi[s, k, 0, 0]
                zi[s, k, 0, 0] = b1 * v - a1 * y0 + zi[s, k, 0, 1]
                zi[s, k, 0, 1] = b2 * v - a2 * y0
                if nc == 2:
                    v = y1
                    y1 = b0 * v + zi[s, k, 1, 0]
                    zi[s, k, 1, 0] = b1 * v - a1 * y1 + zi[s, k, 1, 1]
                    zi[s, k, 1, 1] = b2 * v - a2 * y1
            gain = makeup_lin
            if enabled:
                side = abs(y0)
                if nc == 2 and abs(y1) > side:
                    side = abs(y1)
                gc = 0.0
                if side > quiet_lin:
                    level = 20.0 * math.log10(max(side, 1e-6))
                    gc = _gain_computer(level, thr, ratio, knee)
                if gc < g:
                    g = aa * g + (1.0 - aa) * gc
                else:
                    g = ar * g + (1.0 - ar) * gc
                if g > -_FLUSH:
                    g = 0.0
                if g != 0.0:
                    gain = math.exp((g + makeup) * _LN10_OVER_20)
            if nc == 2:
                out[s, i, 0] = y0 * gain * gl
                out[s, i, 1] = y1 * gain * gr
            else:
                out[s, i, 0] = y0 * gain * gl
                out[s, i, 1] = y0 * gain * gr
        g_state[s] = g
        for k in range(ks):
            for c in range(2):
                for j in range(2):
                    if abs(zi[s, k, c, j]) < _FLUSH:
                        zi[s, k, c, j] = 0.0
