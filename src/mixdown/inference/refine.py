"""Reference mode: refine console settings so a mix approaches a reference's balance, tone and dynamics.

Gradient descent through the differentiable console (:class:`mixdown.dsp.console.Console`) on a few
analysis windows of the session, towards features of the reference:

* octave-band balance: the level of 10 octave bands (31.5 Hz .. 16 kHz) relative to the mix's
  total level, in dB (what "tone" and "balance" mean to an engineer's analyser);
* overall level (dB), so faders and the master output land near the reference's loudness;
* stereo width: side/mid energy ratio in dB (floored at -25 dB: below that, "mono" is all it says);
* crest factor: smooth peak over RMS in dB (dynamics: what the compressors change);
* decay profile: how far each of the reverb's three bands falls within 50, 100, 200 and 400 ms, in dB
  (:func:`mixdown.measure.decay.decay_profile_db`): the tail, what the reverb sends and settings
  change (a dry mix falls silent when its notes stop, a reverberant one only at the reverb's rate).

When the reference has the session's length (a mix of the same stems, the usual case: a rough
mix, a previous version, a human mix) its features come from the **same** windows, so like is
compared with like, and a multi-resolution STFT distance between the windows joins the loss (the
mix then approaches the reference's sound, not only its statistics: on the 15 synthetic test
songs MR-STFT 0.36 with it against 0.73 without, see ``scripts/eval_reference.py``); otherwise the
features come from the whole reference. Only unlocked parameters move, and the
settings of the best step seen (lowest loss on the windows) are returned, so the refinement never
ends worse than where it started on what it measures.

Sends that start off (``reverb_send_db = -60``, e.g. from a model trained before the reverb) have
no gradient there, so unlocked ones start from :data:`SEND_START_DB` instead; the settings as
given stay a candidate (step -1), so this never makes the result worse either.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from mixdown.dsp.strip import OCTAVE_CENTRES_HZ
from mixdown.params import spec as S

log = logging.getLogger(__name__)

#: the reference counts as the session's song (time-aligned) when the lengths differ by at most this
ALIGNED_TOLERANCE_S = 0.5
WIDTH_FLOOR_DB = -25.0
#: loss weights: band balance (per band, dB^2), level, width, crest, decay profile (per band and lag,
#: dB^2); MR-STFT (time-aligned references only)
WEIGHTS = {"bands": 1.0, "level": 0.25, "width": 0.5, "crest": 0.5, "decay": 0.1, "mrstft": 4.0}
#: where unlocked sends that are off start (audible but subtle: the gradient can tell more from less)
SEND_START_DB = -30.0


def reference_features(x, sample_rate: int, n_fft: int = 4096) -> dict:
    """Differentiable mix features. Shape: ``x`` ``(B, 2, T)`` torch -> dict of
    ``bands_db`` ``(B, 10)`` (absolute band levels), ``level_db``, ``width_db``, ``crest_db`` ``(B,)``,
    ``decay_db`` ``(B, 3, 4)`` (:func:`mixdown.measure.decay.decay_profile_db`)."""
    import torch

    from mixdown.measure.decay import decay_profile_db

    mid, side = 0.5 * (x[:, 0] + x[:, 1]), 0.5 * (x[:, 0] - x[:, 1])
    win = torch.hann_window(n_fft, device=x.device)
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=win, return_complex=True).abs() ** 2
    power = spec.reshape(x.shape[0], 2, *spec.shape[-2:]).mean(3).sum(1)  # (B, F)
    freqs = torch.linspace(0, sample_rate / 2, power.shape[-1], device=x.device)
    bands = []
    for fc in OCTAVE_CENTRES_HZ:
        sel = (freqs >= fc / math.sqrt(2)) & (freqs < min(fc * math.sqrt(2), sample_rate / 2))
        bands.append(10 * torch.log10(power[:, sel].sum(-1) + 1e-12))
    width = 10 * torch.log10((side.pow(2).mean(-1) + 1e-12) / (mid.pow(2).mean(-1) + 1e-12))
    rms = x.pow(2).mean((-1, -2)).sqrt()
    peak = torch.logsumexp(x.abs().flatten(1) * 50, -1) / 50  # smooth max
    return {"bands_db": torch.stack(bands, -1), "level_db": 10 * torch.log10(power.sum(-1) + 1e-12),
            "width_db": width.clamp(min=WIDTH_FLOOR_DB),
            "crest_db": 20 * torch.log10(peak / (rms + 1e-9) + 1e-9),
            "decay_db": decay_profile_db(x, sample_rate)}


def feature_loss(f: dict, target: dict, live) -> tuple:
    """Weighted squared feature errors; ``live``: bands the reference has energy in ``(10,)`` bool.
    Returns ``(loss, band balance mean abs error in dB)``."""
    rel = f["bands_db"] - f["level_db"][:, None]
    rel_t = target["bands_db"] - target["level_db"][:, None]
    d = (rel - rel_t)[:, live]
    loss = (WEIGHTS["bands"] * d.pow(2).mean() + WEIGHTS["level"] * (f["level_db"] - target["level_db"]).pow(2).mean()
            + WEIGHTS["width"] * (f["width_db"] - target["width_db"]).pow(2).mean()
            + WEIGHTS["crest"] * (f["crest_db"] - target["crest_db"]).pow(2).mean()
            + WEIGHTS["decay"] * (f["decay_db"] - target["decay_db"]).pow(2).mean())
    return loss, d.abs().mean()


def is_aligned(reference_frames: int, session_frames: int, sample_rate: int) -> bool:
    """Whether a reference is a mix of this session's song (same length within the tolerance)."""
    return abs(reference_frames - session_frames) <= ALIGNED_TOLERANCE_S * sample_rate


def refine_to_reference(session, track_values: np.ndarray, master_values: np.ndarray,
                        reference: np.ndarray, locks: dict[tuple[str, str], float], steps: int = 40,
                        window_s: float = 4.0, n_windows: int = 3, lr: float = 0.05,
                        progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Refine physical settings towards ``reference`` ``(channels, frames)`` at the session's rate.

    ``session``: a :class:`mixdown.session.Session`; ``track_values`` ``(N, N_TRACK_PARAMS)``,
    ``master_values`` ``(N_MASTER_PARAMS,)`` physical. Returns the refined values and a report
    (losses, band balance errors on the windows before and after, whether the reference was
    time-aligned, the best step: -1 when the settings as given were best).
    """
    import torch

    from mixdown.dsp.console import Console
    from mixdown.measure.stft import mrstft_loss
    from mixdown.session import MIN_WINDOW, raw_windows, windows

    sr = session.sample_rate
    n_frames = session.frames
    window = max(min(int(window_s * sr), n_frames), MIN_WINDOW)
    starts = windows(n_frames, window, n_windows)
    x = torch.from_numpy(raw_windows(session, starts, window))
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    ref, aligned, target, live = _target(reference, starts, window, n_frames, sr)
    eps = 1e-4
    tv0 = torch.from_numpy(S.normalize(track_values, S.TRACK_SPECS, sr)).float().clamp(eps, 1 - eps)
    mv0 = torch.from_numpy(S.normalize(master_values, S.MASTER_SPECS, sr)).float().clamp(eps, 1 - eps)
    m_logit = torch.logit(mv0).requires_grad_(True)
    t_free, m_free = free_masks(session.names, locks)
    send = S.TRACK_NAMES.index("reverb_send_db")
    off = t_free[:, send] & (torch.from_numpy(track_values[:, send]) <= S.SEND_OFF_DB)
    tv0[off, send] = float(S.normalize(np.array([SEND_START_DB]), S.TRACK_SPECS[send:send + 1], sr)[0])
    t_logit = torch.logit(tv0).requires_grad_(True)
    console = Console(sr)
    opt = torch.optim.Adam([t_logit, m_logit], lr=lr)

    def current():
        return torch.where(t_free, torch.sigmoid(t_logit), tv0), torch.where(m_free, torch.sigmoid(m_logit), mv0)

    def loss_fn(tp=None, mp=None):
        if tp is None:
            tp, mp = current()
        mix = torch.cat(list(console(x, tp.expand(len(starts), -1, -1), mp.expand(len(starts), -1), mask)), -1)[None]
        loss, band_err = feature_loss(reference_features(mix, sr), target, live)
        if aligned and WEIGHTS["mrstft"] > 0:  # ref: the reference's windows, joined as the mix's
            loss = loss + WEIGHTS["mrstft"] * mrstft_loss(mix, ref)
        return loss, band_err

    given = None
    if bool(off.any()):  # the settings as given (sends off: unclamped, exactly) stay a candidate
        given = (torch.from_numpy(S.normalize(track_values, S.TRACK_SPECS, sr)).float(),
                 torch.from_numpy(S.normalize(master_values, S.MASTER_SPECS, sr)).float())
    best, history = _descend(loss_fn, current, opt, steps, progress, given)
    _, tp, mp, best_step = best
    first = history[min(history)]
    report = {"loss_before": first[0], "loss_after": best[0], "best_step": best_step, "aligned": aligned,
              "band_error_db_before": first[1], "band_error_db_after": history[best_step][1]}
    return (S.denormalize(tp.double().numpy(), S.TRACK_SPECS, sr),
            S.denormalize(mp.double().numpy(), S.MASTER_SPECS, sr), report)


def _target(reference: np.ndarray, starts: list[int], window: int, n_frames: int, sr: int):
    """The reference as the loss compares it: ``(ref (1, 2, T), aligned, features, live bands)``;
    a time-aligned reference is cut into the session's windows, joined as the mix's are."""
    import torch

    from mixdown.session import segment

    ref = reference if reference.shape[0] == 2 else np.repeat(reference, 2, 0)
    aligned = is_aligned(ref.shape[1], n_frames, sr)
    if aligned:
        ref = np.concatenate([segment(ref, s, window) for s in starts], -1)
    ref = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))[None]
    with torch.no_grad():
        target = reference_features(ref, sr)
        live = (target["bands_db"][0] - target["level_db"][0] > -60.0) & torch.tensor(
            [fc * math.sqrt(2) < sr / 2 for fc in OCTAVE_CENTRES_HZ])
    return ref, aligned, target, live


def _descend(loss_fn, current, opt, steps: int, progress: bool, given=None):
    """``steps`` Adam steps; returns the best step seen ``(loss, tp, mp, step)`` and the history
    ``{step: (loss, band error)}`` (the last evaluation is not followed by a step). ``given``: other
    normalised settings ``(tp, mp)`` that stay a candidate, as step -1."""
    import torch

    history: dict[int, tuple[float, float]] = {}
    best = (math.inf, None, None, -1)
    if given is not None:
        with torch.no_grad():
            history[-1] = tuple(v.item() for v in loss_fn(*given))
        best = (history[-1][0], *given, -1)
    steps_iter = range(steps + 1)
    if progress:
        from tqdm import tqdm

        steps_iter = tqdm(steps_iter, desc="refine", unit="step", leave=False)
    for step in steps_iter:
        opt.zero_grad()
        loss, band_err = loss_fn()
        history[step] = (loss.item(), band_err.item())
        if history[step][0] < best[0]:
            tp, mp = current()
            best = (history[step][0], tp.detach().clone(), mp.detach().clone(), step)
        if step == steps:
            break
        loss.backward()
        opt.step()
    return best, history


def free_masks(names: list[str], locks: dict[tuple[str, str], float]):
    """Boolean masks of the parameters refinement may move: ``(N, N_TRACK_PARAMS)`` and ``(N_MASTER_PARAMS,)``."""
    import torch

    t_free = torch.ones(len(names), S.N_TRACK_PARAMS, dtype=torch.bool)
    m_free = torch.ones(S.N_MASTER_PARAMS, dtype=torch.bool)
    from mixdown.params.locks import is_master_lock

    for (track, key) in locks:
        if is_master_lock(track, key):
            m_free[S.MASTER_NAMES.index(key)] = False
        else:
            t_free[names.index(track), S.TRACK_NAMES.index(key)] = False
    return t_free, m_free
