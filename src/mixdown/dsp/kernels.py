"""Compiled (numba) kernels for the console's recursions.

Two users:
- the training path calls :func:`compressor_gain_forward` / :func:`compressor_gain_backward`
  (side chain, static curve and branching one-pole ballistics, with an exact backward: a
  time-varying one-pole run in reverse, the method of torchcomp/torchlpc) and
  :func:`cascade_response_forward` / :func:`cascade_response_backward` (biquad responses);
- the full-length path calls :func:`strip_one`, a fused channel strip (gain, biquad cascade,
  compressor, fader, pan) over one block of one track, on a thread of its own, carrying filter
  and compressor state between blocks (:func:`strip_block`: many strips in parallel), and
  :func:`bus_sums`.

States and coefficients are float64; tiny states (below 1e-300) are flushed to zero so silence
never runs into denormal arithmetic (a change far below any audible or measurable level).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_FLUSH = 1e-300
_LN10_OVER_20 = math.log(10.0) / 20.0
_DB_PER_NEPER = 20.0 / math.log(10.0)
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm's): e * _LN2_HI is exact for |e| < 2**20
_LN2_LO = 1.90821492927058770002e-10
#: :func:`_levels_db`' table: 256 centres c_j = 1 + (j + 1/2) / 256 over [1, 2), their logarithms, reciprocals
_LN_C = 1.0 + (np.arange(256) + 0.5) / 256.0
_LN_LOG_C = np.array([math.log(c) for c in _LN_C])
_LN_INV_C = 1.0 / _LN_C


def soft_knee_gain_db(level_db, threshold_db, ratio, knee_db):
    """Target gain g_c = G(L) - L in dB (<= 0) of the spec's soft-knee static curve (scalars).

    Plain Python, compiled twice from this one definition: :func:`gain_computer` (CPU) and the
    device function of :mod:`mixdown.dsp.cuda_kernels`."""
    over = level_db - threshold_db
    if 2.0 * over < -knee_db:
        return 0.0
    if knee_db > 0.0 and 2.0 * abs(over) <= knee_db:
        t = over + 0.5 * knee_db
        return (1.0 / ratio - 1.0) * t * t / (2.0 * knee_db)
    return (1.0 / ratio - 1.0) * over


gain_computer = nb.njit(cache=True, inline="always")(soft_knee_gain_db)


@nb.njit(cache=True, inline="always")
def _ballistics(target, g, aa, ar):
    """One step of the spec's branching one-pole smoothing in dB; returns ``(g, attack)``.

    States below 1e-300 dB are flushed to zero (no denormal arithmetic in silence)."""
    attack = target < g
    a = aa if attack else ar
    g = a * g + (1.0 - a) * target
    if g > -_FLUSH:
        g = 0.0
    return g, attack


@nb.njit(cache=True, inline="always")
def _biquad_run(buf, n, nc, sos_k, zi_k):
    """One TDF-II section over ``buf[:n, :nc]`` in place, states kept in registers."""
    b0, b1, b2, a1, a2 = sos_k[0], sos_k[1], sos_k[2], sos_k[3], sos_k[4]
    z00, z01, z10, z11 = zi_k[0, 0], zi_k[0, 1], zi_k[1, 0], zi_k[1, 1]
    if nc == 2:
        for i in range(n):
            v0 = buf[i, 0]
            v1 = buf[i, 1]
            y0 = b0 * v0 + z00
            y1 = b0 * v1 + z10
            z00 = b1 * v0 - a1 * y0 + z01
            z10 = b1 * v1 - a1 * y1 + z11
            z01 = b2 * v0 - a2 * y0
            z11 = b2 * v1 - a2 * y1
            buf[i, 0] = y0
            buf[i, 1] = y1
    else:
        for i in range(n):
            v0 = buf[i, 0]
            y0 = b0 * v0 + z00
            z00 = b1 * v0 - a1 * y0 + z01
            z01 = b2 * v0 - a2 * y0
            buf[i, 0] = y0
    zi_k[0, 0], zi_k[0, 1], zi_k[1, 0], zi_k[1, 1] = z00, z01, z10, z11


#: sections :func:`strip_one` runs (high-pass + six EQ bands); unused ones are skipped exactly
MAX_SECTIONS = 7


@nb.njit(cache=True, parallel=True, nogil=True)
def strip_block(x, channels, sos, n_sections, zi, comp, g_state, pre_gain, post_gain, out):
    """Process one block of many channel strips in parallel (:func:`strip_one` per strip).

    Shape:
        x: ``(S, n, 2)`` float32 input block, interleaved (channel 1 unused for mono strips);
        channels: ``(S,)`` int64, 1 or 2; sos: ``(S, K, 5)`` float64 ``[b0, b1, b2, a1, a2]``
        (a0 = 1, ``K <= MAX_SECTIONS``); n_sections: ``(S,)`` int64 sections in use; zi:
        ``(S, K, 2, 2)`` float64 TDF-II states ``[section, channel, state]``, updated in place;
        comp: ``(S, 7)`` float64 ``[threshold_db, ratio, knee_db, makeup_db, a_att, a_rel,
        enabled]``; g_state: ``(S,)`` float64 smoothed gain in dB, updated in place;
        pre_gain: ``(S,)`` linear; post_gain: ``(S, 2)`` linear left/right gains;
        out: ``(S, n, 2)`` float32, written.
    """
    for s in nb.prange(x.shape[0]):
        g_state[s] = strip_one(x[s], channels[s], sos[s], n_sections[s], zi[s], comp[s], g_state[s],
                               pre_gain[s], post_gain[s, 0], post_gain[s, 1], out[s])


@nb.njit(cache=True, nogil=True)
def strip_one(x, nc, sos, n_sections, zi, comp, g, pre, gl, gr, out):
    """One channel strip over one block: ``x * pre -> biquad cascade -> compressor -> * (gl, gr)``;
    returns the compressor's gain state. A mono strip (``nc == 1``) feeds both sides from channel
    0; a stereo strip feeds left from channel 0 and right from channel 1 (the spec's balance-style
    pan). Releases the GIL: strips may run on threads of their own.

    The cascade runs sample by sample through every section with all states in registers (the
    sections' recursions overlap in the CPU), then the compressor runs over the block. Each
    section computes exactly what a section-by-section run computes, in the same order: the output
    is bit-identical to running the sections one after another over the block.

    Shape: ``x`` ``(n, 2)`` float32; ``sos`` ``(K, 5)``; ``zi`` ``(K, 2, 2)`` updated in place;
    ``comp`` ``(7,)`` as in :func:`strip_block`; ``out`` ``(n, 2)`` float32, written.
    """
    n = x.shape[0]
    if n_sections > MAX_SECTIONS:
        raise ValueError("more biquad sections than strip_one runs")
    c0, z0 = _section_of(sos, zi, n_sections, 0)
    c1, z1 = _section_of(sos, zi, n_sections, 1)
    c2, z2 = _section_of(sos, zi, n_sections, 2)
    c3, z3 = _section_of(sos, zi, n_sections, 3)
    c4, z4 = _section_of(sos, zi, n_sections, 4)
    c5, z5 = _section_of(sos, zi, n_sections, 5)
    c6, z6 = _section_of(sos, zi, n_sections, 6)
    stereo = nc == 2
    buf = np.empty((n, 2))
    for i in range(n):
        v0 = np.float64(x[i, 0]) * pre
        v1 = np.float64(x[i, 1]) * pre if stereo else 0.0
        v0, v1, z0 = _tdf2(v0, v1, c0, z0, n_sections > 0)
        v0, v1, z1 = _tdf2(v0, v1, c1, z1, n_sections > 1)
        v0, v1, z2 = _tdf2(v0, v1, c2, z2, n_sections > 2)
        v0, v1, z3 = _tdf2(v0, v1, c3, z3, n_sections > 3)
        v0, v1, z4 = _tdf2(v0, v1, c4, z4, n_sections > 4)
        v0, v1, z5 = _tdf2(v0, v1, c5, z5, n_sections > 5)
        v0, v1, z6 = _tdf2(v0, v1, c6, z6, n_sections > 6)
        buf[i, 0] = v0
        buf[i, 1] = v1
    for k, z in enumerate((z0, z1, z2, z3, z4, z5, z6)):
        if k < n_sections:
            for c in range(2):
                for j in range(2):
                    zi[k, c, j] = z[2 * c + j] if abs(z[2 * c + j]) >= _FLUSH else 0.0
    return _compress_and_pan(buf, n, nc, comp, g, gl, gr, out)


@nb.njit(cache=True, inline="always")
def _section_of(sos, zi, n_sections, k):
    """Section ``k``'s coefficients ``(b0, b1, b2, a1, a2)`` and states ``(z00, z01, z10, z11)``
    (an unused section: zeros, never run)."""
    if k < n_sections:
        return ((sos[k, 0], sos[k, 1], sos[k, 2], sos[k, 3], sos[k, 4]),
                (zi[k, 0, 0], zi[k, 0, 1], zi[k, 1, 0], zi[k, 1, 1]))
    return (0.0, 0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)


@nb.njit(cache=True, inline="always")
def _tdf2(v0, v1, c, z, used):
    """One TDF-II section on one stereo sample (as :func:`_biquad_run`); an unused section passes
    the sample unchanged. Returns ``(y0, y1, states)``."""
    if not used:
        return v0, v1, z
    y0 = c[0] * v0 + z[0]
    y1 = c[0] * v1 + z[2]
    return y0, y1, (c[1] * v0 - c[3] * y0 + z[1], c[2] * v0 - c[4] * y0,
                    c[1] * v1 - c[3] * y1 + z[3], c[2] * v1 - c[4] * y1)


@nb.njit(cache=True, nogil=True)
def sosfilt(sos, x):
    """``scipy.signal.sosfilt(sos, x, axis=-1)`` from rest, float64, the same TDF-II arithmetic
    (identical samples) without importing ``scipy.signal`` (0.4 s at start-up).

    Shape: ``sos`` ``(K, 6)`` ``[b0, b1, b2, 1, a1, a2]``; ``x`` ``(C, T)`` -> ``(C, T)`` float64.
    """
    out = np.empty(x.shape)
    for c in range(x.shape[0]):
        for i in range(x.shape[1]):
            out[c, i] = x[c, i]
        for k in range(sos.shape[0]):
            b0, b1, b2, a1, a2 = sos[k, 0], sos[k, 1], sos[k, 2], sos[k, 4], sos[k, 5]
            z0 = 0.0
            z1 = 0.0
            for i in range(x.shape[1]):
                v = out[c, i]
                y = b0 * v + z0
                z0 = b1 * v - a1 * y + z1
                z1 = b2 * v - a2 * y
                out[c, i] = y
    return out


@nb.njit(cache=True, nogil=True)
def bus_sums(strips, weights, bus, send):
    """The stereo bus and the reverb bus of one block: each a weighted sum of the strips' outputs,
    summed in float64 (the bus rounded to float32 once). No BLAS: no threads spinning.

    Shape: ``strips`` ``(S, n, 2)`` float32; ``weights`` ``(2, S)`` float64 (row 0 the bus, row 1
    the sends); ``bus`` ``(n, 2)`` float32 and ``send`` ``(n, 2)`` float64, written.
    """
    n = strips.shape[1]
    acc = np.zeros((n, 2))
    send[:, :] = 0.0
    for s in range(strips.shape[0]):
        w0 = weights[0, s]
        w1 = weights[1, s]
        for i in range(n):
            for c in range(2):
                v = np.float64(strips[s, i, c])
                acc[i, c] += w0 * v
                send[i, c] += w1 * v
    for i in range(n):
        for c in range(2):
            bus[i, c] = acc[i, c]


@nb.njit(cache=True, inline="always")
def _compress_and_pan(buf, n, nc, comp, g, gl, gr, out):
    """Compressor (linked side chain) and output gains over one block; returns the gain state."""
    thr, ratio, knee, makeup, aa, ar = comp[0], comp[1], comp[2], comp[3], comp[4], comp[5]
    enabled = comp[6] > 0.5
    quiet_lin = 10.0 ** ((thr - 0.5 * knee) / 20.0)  # side-chain level below which G(L) = L
    makeup_lin = 10.0 ** (makeup / 20.0)
    level = _levels_db(buf, n, nc) if enabled else np.empty(0)
    for i in range(n):
        y0 = buf[i, 0]
        y1 = buf[i, 1] if nc == 2 else y0
        gain = makeup_lin
        if enabled:
            side = max(abs(y0), abs(y1))
            gc = 0.0
            if side > quiet_lin:
                gc = gain_computer(level[i], thr, ratio, knee)
            g, _ = _ballistics(gc, g, aa, ar)
            if g != 0.0:
                gain = math.exp((g + makeup) * _LN10_OVER_20)
        out[i, 0] = y0 * gain * gl
        out[i, 1] = y1 * gain * gr
    return g


@nb.njit(cache=True)
def _levels_db(buf, n, nc):
    """The side chain's level ``20 log10(max(s, 1e-6))`` dB of every frame of ``buf[:n]``, ``s`` the
    largest ``|sample|`` of its ``nc`` channels: ``(n,)`` float64, within a few units in the last place
    of libm's log10 (at most 2e-13 dB; the strips' float32 samples come out the same, tested).

    libm's log10 costs about 13 ns a frame; this about 3, in loops over the block: each
    level is ``m 2**e`` (m in [1, 2), read from its bits), ``ln m = ln c_j + log1p(t)`` for the
    table's centre c_j next to m and ``t = (m - c_j) / c_j`` (``|t| < 2**-9``: six terms of the
    series; ``ln c_j`` correctly rounded), ``e ln 2`` in two parts."""
    level = np.empty(n)
    for i in range(n):
        y0 = buf[i, 0]
        y1 = buf[i, 1] if nc == 2 else y0
        level[i] = max(max(abs(y0), abs(y1)), 1e-6)
    bits = level.view(np.int64)
    mant = np.empty(n, dtype=np.int64)
    for i in range(n):
        mant[i] = (bits[i] & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    m = mant.view(np.float64)
    for i in range(n):
        b = bits[i]
        e = np.float64((b >> 52) - 1023)
        j = (b >> 44) & 0xFF
        t = (m[i] - _LN_C[j]) * _LN_INV_C[j]
        p = t * (1.0 + t * (-0.5 + t * (1.0 / 3.0 + t * (-0.25 + t * (0.2 + t * (-1.0 / 6.0))))))
        level[i] = _DB_PER_NEPER * (e * _LN2_HI + (_LN_LOG_C[j] + (p + e * _LN2_LO)))
    return level


@nb.njit(cache=True, inline="always")
def _section(c, s, cos1, sin1, cos2, sin2):
    """``c0 + c1 z^-1 + c2 z^-2`` at ``z = e^{jw}`` as (re, im)."""
    return (c[0] + c[1] * cos1 + c[2] * cos2), -(c[1] * sin1 + c[2] * sin2)


@nb.njit(cache=True, parallel=True, fastmath=True)
def cascade_response_forward(b, a, trig, h_re, h_im):
    """Frequency response of biquad cascades at the bins of ``trig``.

    Shape:
        b, a: ``(M, K, 3)`` float64; trig: ``(F, 4)`` float64 ``[cos w, sin w, cos 2w, sin 2w]``;
        h_re, h_im: ``(M, F)`` float64, written.
    """
    M, K = b.shape[0], b.shape[1]
    F = trig.shape[0]
    for m in nb.prange(M):
        for f in range(F):
            c1, s1, c2, s2 = trig[f, 0], trig[f, 1], trig[f, 2], trig[f, 3]
            hr, hi = 1.0, 0.0
            for k in range(K):
                nr, ni = _section(b[m, k], 0, c1, s1, c2, s2)
                dr, di = _section(a[m, k], 0, c1, s1, c2, s2)
                den = dr * dr + di * di
                qr = (nr * dr + ni * di) / den
                qi = (ni * dr - nr * di) / den
                hr, hi = hr * qr - hi * qi, hr * qi + hi * qr
            h_re[m, f] = hr
            h_im[m, f] = hi


@nb.njit(cache=True, parallel=True, fastmath=True)
def cascade_response_backward(b, a, trig, g_re, g_im, grad_b, grad_a):
    """Exact gradient of a real loss through :func:`cascade_response_forward`.

    With ``H = prod_k N_k / D_k``: ``dH/db_ki = z^-i H / N_k`` (section 0, whose zeros may lie on
    the unit circle: ``z^-i prod_{k>0}(N_k/D_k) / D_0``) and ``dH/da_ki = -z^-i H / D_k``; the
    gradient is ``Re(conj(dH/dp) g)`` (torch's convention for real parameters).

    Shape: ``g_re, g_im`` ``(M, F)``; ``grad_b, grad_a`` ``(M, K, 3)`` written.
    """
    M, K = b.shape[0], b.shape[1]
    F = trig.shape[0]
    for m in nb.prange(M):
        nr = np.empty(K)
        ni = np.empty(K)
        dr = np.empty(K)
        di = np.empty(K)
        acc_b = np.zeros((K, 3))
        acc_a = np.zeros((K, 3))
        for f in range(F):
            c1, s1, c2, s2 = trig[f, 0], trig[f, 1], trig[f, 2], trig[f, 3]
            rr, ri = 1.0, 0.0  # product of sections 1..K-1
            for k in range(K):
                nr[k], ni[k] = _section(b[m, k], 0, c1, s1, c2, s2)
                dr[k], di[k] = _section(a[m, k], 0, c1, s1, c2, s2)
                if k > 0:
                    den = dr[k] * dr[k] + di[k] * di[k]
                    qr = (nr[k] * dr[k] + ni[k] * di[k]) / den
                    qi = (ni[k] * dr[k] - nr[k] * di[k]) / den
                    rr, ri = rr * qr - ri * qi, rr * qi + ri * qr
            den0 = dr[0] * dr[0] + di[0] * di[0]
            # H = rest * N0 / D0
            tr = (nr[0] * dr[0] + ni[0] * di[0]) / den0
            ti = (ni[0] * dr[0] - nr[0] * di[0]) / den0
            hr, hi = rr * tr - ri * ti, rr * ti + ri * tr
            gr, gi = g_re[m, f], g_im[m, f]
            for k in range(K):
                denk = dr[k] * dr[k] + di[k] * di[k]
                if k == 0:  # rest / D0
                    qr = (rr * dr[0] + ri * di[0]) / denk
                    qi = (ri * dr[0] - rr * di[0]) / denk
                else:  # H / N_k
                    dn = nr[k] * nr[k] + ni[k] * ni[k]
                    qr = (hr * nr[k] + hi * ni[k]) / dn
                    qi = (hi * nr[k] - hr * ni[k]) / dn
                # -H / D_k
                pr = -(hr * dr[k] + hi * di[k]) / denk
                pi = -(hi * dr[k] - hr * di[k]) / denk
                # conj(Q) * g and conj(P) * g
                ur, ui = qr * gr + qi * gi, qr * gi - qi * gr
                vr, vi = pr * gr + pi * gi, pr * gi - pi * gr
                # Re(w * conj(z^-i)) with z^-i = cos(iw) - j sin(iw): Re(w (cos + j sin))
                acc_b[k, 0] += ur
                acc_b[k, 1] += ur * c1 - ui * s1
                acc_b[k, 2] += ur * c2 - ui * s2
                acc_a[k, 1] += vr * c1 - vi * s1
                acc_a[k, 2] += vr * c2 - vi * s2
        for k in range(K):
            for i in range(3):
                grad_b[m, k, i] = acc_b[k, i]
                grad_a[m, k, i] = acc_a[k, i]


@nb.njit(cache=True, parallel=True)
def compressor_gain_forward(x, params, g_out, attack):
    """Side chain (max over channels of |x|) -> level -> static curve -> ballistics, fused.

    Shape:
        x: ``(M, C, N)`` float audio;
        params: ``(M, 5)`` float64 ``[threshold_db, ratio, knee_db, a_att, a_rel]``;
        g_out: ``(M, N)`` written with the smoothed gain in dB; attack: ``(M, N)`` uint8 written.
    """
    M, C, N = x.shape
    for m in nb.prange(M):
        thr, ratio, knee, aa, ar = params[m, 0], params[m, 1], params[m, 2], params[m, 3], params[m, 4]
        g = 0.0
        for n in range(N):
            side = 0.0
            for c in range(C):
                side = max(side, abs(np.float64(x[m, c, n])))
            level = 20.0 * math.log10(max(side, 1e-6))
            g, att = _ballistics(gain_computer(level, thr, ratio, knee), g, aa, ar)
            attack[m, n] = att
            g_out[m, n] = g


@nb.njit(cache=True, parallel=True)
def compressor_gain_backward(grad_g, x, g, attack, params, grad_x, grad_params):
    """Exact backward of :func:`compressor_gain_forward`.

    With ``g[n] = a[n] g[n-1] + (1 - a[n]) gc[n]`` and ``lam[n] = dL/dg[n]`` (through the whole
    future), ``lam[n] = grad_g[n] + a[n+1] lam[n+1]`` runs in reverse; ``dL/dgc[n] = (1 - a[n])
    lam[n]`` and ``dL/da[n] = lam[n] (g[n-1] - gc[n])`` summed per branch; then the static
    curve's analytic derivatives per sample, and the side chain's gradient goes to the channel
    that held the maximum.

    Shape: ``grad_x`` ``(M, C, N)`` and ``grad_params`` ``(M, 5)`` written (w.r.t. threshold,
    ratio, knee, a_att, a_rel).
    """
    M, C, N = x.shape
    k_db = 20.0 / math.log(10.0)
    for m in nb.prange(M):
        thr, ratio, knee, aa, ar = params[m, 0], params[m, 1], params[m, 2], params[m, 3], params[m, 4]
        slope = 1.0 / ratio - 1.0
        carry = 0.0
        acc = np.zeros(5)
        for n in range(N - 1, -1, -1):
            s = 0.0
            arg = 0
            for c in range(C):
                v = abs(np.float64(x[m, c, n]))
                if v > s:
                    s = v
                    arg = c
            level = 20.0 * math.log10(max(s, 1e-6))
            gc = gain_computer(level, thr, ratio, knee)
            lam = np.float64(grad_g[m, n]) + carry
            prev = np.float64(g[m, n - 1]) if n > 0 else 0.0
            a = aa if attack[m, n] else ar
            if attack[m, n]:
                acc[3] += lam * (prev - gc)
            else:
                acc[4] += lam * (prev - gc)
            carry = a * lam
            d = (1.0 - a) * lam  # dL/dgc
            over = level - thr
            d_level = 0.0
            if 2.0 * over < -knee:
                pass
            elif knee > 0.0 and 2.0 * abs(over) <= knee:
                u = over + 0.5 * knee
                d_level = slope * u / knee
                acc[0] -= d * d_level
                acc[1] -= d * u * u / (2.0 * knee * ratio * ratio)
                acc[2] += d * slope * (u / (2.0 * knee) - u * u / (2.0 * knee * knee))
            else:
                d_level = slope
                acc[0] -= d * slope
                acc[1] -= d * over / (ratio * ratio)
            for c in range(C):
                grad_x[m, c, n] = 0.0
            if s > 1e-6:
                xv = np.float64(x[m, arg, n])
                grad_x[m, arg, n] = d * d_level * k_db / xv
        for i in range(5):
            grad_params[m, i] = acc[i]


@nb.njit(cache=True, nogil=True, fastmath={"reassoc"})
def block_stats(block, sums):
    """One pass over a block a track reader read: whether every sample is finite, the largest
    ``|sample|``, and per channel the sum and the sum of squares of the samples' differences from
    the block's first sample (in float64: zero for a constant signal, whatever its offset; summed
    in any order), added to ``sums``.

    Shape: ``block`` ``(n, channels)`` float32 (1 or 2 channels), n >= 1; ``sums`` ``(2, channels)``
    float64, updated. Returns ``(finite, peak)``.
    """
    n, nc = block.shape
    f0 = np.float64(block[0, 0])
    f1 = np.float64(block[0, nc - 1])
    peak = np.float32(0.0)
    s0 = 0.0
    q0 = 0.0
    s1 = 0.0
    q1 = 0.0
    for i in range(n):
        v0 = block[i, 0]
        v1 = block[i, nc - 1]
        peak = max(peak, max(abs(v0), abs(v1)))
        d0 = np.float64(v0) - f0
        d1 = np.float64(v1) - f1
        s0 += d0
        q0 += d0 * d0
        s1 += d1
        q1 += d1 * d1
    sums[0, 0] += s0
    sums[1, 0] += q0
    if nc == 2:
        sums[0, 1] += s1
        sums[1, 1] += q1
    # an infinite or NaN sample makes its channel's sum of squares infinite or NaN (differences of
    # finite float32 samples, squared and summed in float64, cannot overflow)
    return math.isfinite(q0) and math.isfinite(q1), peak


@nb.njit(cache=True, nogil=True)
def decode_pcm(raw, width, out, sums):
    """Little-endian signed PCM samples of ``width`` bytes (2 or 3) into ``out`` as float32 ``sample
    / 2**(8 * width - 1)``, exactly the samples libsndfile's float reading gives, with
    :func:`block_stats`' sums (PCM samples are always finite).

    Shape: ``raw`` ``(n * channels * width,)`` uint8 (interleaved frames); ``out`` ``(n, channels)``
    float32, written; ``sums`` ``(2, channels)`` float64, updated. Returns the peak ``|sample|``.
    """
    n, nc = out.shape
    scale = np.float32(1.0 / 32768.0) if width == 2 else np.float32(1.0 / 8388608.0)
    for i in range(n):
        for c in range(nc):
            k = (i * nc + c) * width
            if width == 2:
                v = np.int32(raw[k]) | (np.int32(raw[k + 1]) << 8)
                v = (v ^ 0x8000) - 0x8000
            else:
                v = np.int32(raw[k]) | (np.int32(raw[k + 1]) << 8) | (np.int32(raw[k + 2]) << 16)
                v = (v ^ 0x800000) - 0x800000
            out[i, c] = np.float32(v) * scale
    return block_stats(out, sums)[1]


@nb.njit(cache=True, nogil=True)
def sos2_power(sos, x):
    """``sum over channels of sosfilt(sos, x) ** 2`` for a two-section ``sos`` and one or two
    channels: :func:`sosfilt`'s arithmetic (the same samples), both channels and both sections in
    one pass over time (four recursions overlapping in the CPU), read from ``x`` in any layout and
    float type, and the squares added channel by channel as ``np.einsum("ct,ct->t", y, y)`` adds
    them.

    Shape: ``sos`` ``(2, 6)``; ``x`` ``(C, T)``, C in (1, 2) -> ``(T,)`` float64.
    """
    nc, n = x.shape
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    out = np.empty(n)
    u0 = u1 = w0 = w1 = 0.0  # channel 0: sections 0 and 1
    p0 = p1 = q0 = q1 = 0.0  # channel 1
    second = nc == 2
    for i in range(n):
        v = np.float64(x[0, i])
        y = b00 * v + u0
        u0 = b01 * v - a01 * y + u1
        u1 = b02 * v - a02 * y
        v = y
        y = b10 * v + w0
        w0 = b11 * v - a11 * y + w1
        w1 = b12 * v - a12 * y
        acc = y * y
        if second:
            v = np.float64(x[1, i])
            y = b00 * v + p0
            p0 = b01 * v - a01 * y + p1
            p1 = b02 * v - a02 * y
            v = y
            y = b10 * v + q0
            q0 = b11 * v - a11 * y + q1
            q1 = b12 * v - a12 * y
            acc += y * y
        out[i] = acc
    return out
