"""The training dataset: random segments of manifest songs, ready for the console.

Reads manifests only (``<split>.jsonl`` written by :mod:`mixdown.data.build`). Each item is a
segment where most tracks are active, with a variable number of tracks padded to
``max_tracks`` and a mask, loudness-normalised inputs, the reference mix, and, where the song's
parameter file is known, normalised target parameters consistent with the transformed inputs.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from mixdown.data.manifest import read_records as read_manifest
from mixdown.data.manifest import resolve
from mixdown.data.roles import ROLES, role_indices
from mixdown.errors import UsageError
from mixdown.inference.contract import InputContract
from mixdown.params import spec as S
from mixdown.params.io import read_params

log = logging.getLogger(__name__)
_IN_GAIN = S.index(S.TRACK_SPECS, "input_gain_db")
_PAN = S.index(S.TRACK_SPECS, "pan")
_SEND = S.index(S.TRACK_SPECS, "reverb_send_db")
_EQ = [tuple(S.index(S.TRACK_SPECS, f"eq.{k}.{key}") for key in ("freq_hz", "gain_db", "q"))
       for k in range(S.N_EQ_BANDS)]


@dataclass
class Augment:
    """Augmentations that keep targets consistent (the inverse is folded into the parameters).

    Args:
        shuffle_tracks: permute track order (targets permuted alike).
        swap_channels_p: probability of a left/right swap of every track and the reference
            (pans negated; the master chain is symmetric). Not for songs whose tracks send to the
            reverb: its left and right impulse responses differ, so no setting swaps its return.
        gain_db: maximum random input-level change per track; the target input gain absorbs it
            (songs without known parameters: none, their tracks' relative levels are the
            person's starting point).
        tone_db: maximum random tone change per track: a cookbook band (the type, frequency and
            Q of one of the track's EQ bands that is at 0 dB) is applied to the input and the
            target band set to the opposite gain. Cookbook bands invert exactly
            (``H(-g) = 1 / H(g)``), so the strip still renders the reference. Only for songs
            whose parameters are known.
    """

    shuffle_tracks: bool = True
    swap_channels_p: float = 0.5
    gain_db: float = 6.0
    tone_db: float = 6.0


class MixDataset(Dataset):
    """Segments of multitrack songs with reference mixes.

    Args:
        manifests: one or more ``.jsonl`` files.
        segment_s: segment length in seconds.
        sample_rate: songs at other rates are skipped with a warning (resample when building).
        max_tracks: tracks above this are dropped at random per item (with a warning per song).
        items_per_epoch: length of the dataset (random segments); None: one per song.
        deterministic: fixed segments (validation): item i is song i % n_songs at its most
            active segment; no augmentation.
        target_rms_db: every input track segment is scaled to this RMS level (dBFS).
        augment: :class:`Augment` or None.
        seed: base seed; each item draws from ``(seed, epoch, index)`` (workers stay reproducible).
        cache_dir: read audio from this decoded-audio cache (``mixdown dataset cache``) instead
            of decoding files; checked against the manifests at construction.
        weights: sampling weight of each manifest (training items draw a manifest by weight,
            then a song of it); None: every song equally likely.
        normalize: ``"track"`` or ``"song"`` (see :class:`~mixdown.inference.contract.InputContract`).

    Item (dict):
        ``tracks`` ``(max_tracks, 2, T)`` float32 (mono tracks duplicated), ``mask``
        ``(max_tracks,)`` bool, ``mix`` ``(2, T)``, ``track_params`` ``(max_tracks, N_TRACK_PARAMS)`` and
        ``master_params`` ``(N_MASTER_PARAMS,)`` normalised (NaN where unknown: the settings a
        manifest's ``params_known`` leaves out, and the reverb's settings when no track sends:
        unheard, they cannot be learnt from the mix), ``has_params`` bool,
        ``roles`` ``(max_tracks,)`` int64 (each track name's role,
        :func:`mixdown.data.roles.role_indices`; padding ``other``), ``song`` str.
    """

    def __init__(self, manifests: Sequence[str | os.PathLike] | str | os.PathLike, segment_s: float = 6.0,
                 sample_rate: int = 44100, max_tracks: int = 16, items_per_epoch: int | None = None,
                 deterministic: bool = False, target_rms_db: float = -20.0, augment: Augment | None = None,
                 seed: int = 0, cache_dir: str | os.PathLike | None = None, weights: Sequence[float] | None = None,
                 normalize: str = "track"):
        #: names -> role codes (``roles``): the roles models' :func:`role_indices`; the trainer sets
        #: a model's own encoder (``encode_names``: the Engineer's parts and sides) when it has one
        self.encode_roles = role_indices
        if isinstance(manifests, (str, os.PathLike)):
            manifests = [manifests]
        if weights is not None and len(weights) != len(manifests):
            raise UsageError(f"{len(weights)} weights for {len(manifests)} manifests")
        self.songs: list[dict] = []
        self._groups: list[list[int]] = []
        for m in manifests:
            group = []
            for rec in read_manifest(m):
                rec["_dir"] = str(Path(m).parent)
                if self._usable(rec, sample_rate):
                    group.append(len(self.songs))
                    self.songs.append(rec)
            self._groups.append(group)
        w = np.array(weights if weights is not None else [len(g) for g in self._groups], dtype=np.float64)
        w[[not g for g in self._groups]] = 0.0
        self._weights = w / w.sum() if w.sum() > 0 else w
        if not self.songs:
            raise UsageError(f"no usable songs in {list(map(str, manifests))}; check the manifests' "
                             f"sample rates ({sample_rate} Hz expected) and that songs have a mix")
        self.segment = int(round(segment_s * sample_rate))
        self.sample_rate = sample_rate
        self.max_tracks = max_tracks
        self.items = items_per_epoch or len(self.songs)
        self.deterministic = deterministic
        self.target_rms_db = target_rms_db
        #: what the network hears (stored in the checkpoints of models trained on this dataset)
        self.contract = InputContract(sample_rate=sample_rate, window_s=segment_s, target_rms_db=target_rms_db,
                                      normalize=normalize)
        self.augment = None if deterministic else augment
        self.seed = seed
        self.epoch = 0
        self.cache = None
        if cache_dir is not None:
            from mixdown.data.cache import AudioCache

            self.cache = AudioCache(cache_dir, list(manifests))

    def set_epoch(self, epoch: int) -> None:
        """New random segments each epoch (validation items never change)."""
        self.epoch = epoch

    @staticmethod
    def _usable(rec: dict, sample_rate: int) -> bool:
        tracks = rec.get("tracks") or []
        if not rec.get("mix") or not tracks:
            log.warning("%s: no reference mix or no tracks; skipped", rec.get("song"))
            return False
        rates = {t.get("sample_rate") for t in tracks} | {rec["mix"].get("sample_rate")}
        if rates != {sample_rate}:
            log.warning("%s: sample rates %s differ from %d Hz; skipped", rec.get("song"), sorted(rates), sample_rate)
            return False
        return True

    def __len__(self) -> int:
        return self.items

    # ------------------------------------------------------------------ segment choice
    def _activity(self, rec: dict, n_frames: int) -> np.ndarray:
        """Number of active tracks per 0.5 s hop, shape ``(n_hops,)``."""
        hop = self.sample_rate // 2
        n_hops = max(1, n_frames // hop)
        act = np.zeros(n_hops)
        for t in rec["tracks"]:
            regions = t.get("active_regions")
            if regions is None:
                act += 1
                continue
            for start_s, end_s in regions:
                act[int(start_s * 2):int(math.ceil(end_s * 2))] += 1
        return act

    def _choose_start(self, rec: dict, rng: np.random.Generator) -> int:
        n_frames = int(rec["mix"]["frames"])
        if n_frames <= self.segment:
            return 0
        act = self._activity(rec, n_frames)
        hop = self.sample_rate // 2
        win = max(1, self.segment // hop)
        score = np.convolve(act, np.ones(win), "valid")[: max(1, (n_frames - self.segment) // hop + 1)]
        if self.deterministic:
            return int(np.argmax(score)) * hop
        good = np.flatnonzero(score >= 0.75 * score.max())
        return int(rng.choice(good)) * hop + int(rng.integers(0, hop))

    # ------------------------------------------------------------------ loading
    def _read(self, path: Path, start: int) -> np.ndarray:
        if self.cache is not None:
            x = self.cache.read(path, start, self.segment)
        else:
            with sf.SoundFile(str(path)) as f:
                f.seek(min(start, f.frames))
                x = f.read(self.segment, dtype="float32", always_2d=True)
        out = np.zeros((2, self.segment), dtype=np.float32)
        out[:, : x.shape[0]] = x.T if x.shape[1] == 2 else x[:, 0]
        return out

    def _params(self, rec: dict) -> tuple[np.ndarray, np.ndarray] | None:
        p = resolve(rec, rec.get("params"), Path(rec["_dir"]))
        if p is None:
            return None
        params = read_params(p)
        by_name = {t.name: t for t in params.tracks}
        tv = np.full((len(rec["tracks"]), S.N_TRACK_PARAMS), np.nan)
        for i, t in enumerate(rec["tracks"]):
            if t["name"] in by_name:
                tv[i] = [by_name[t["name"]].values[n] for n in S.TRACK_NAMES]
        mv = params.master_vector()
        if rec.get("params_known") is not None:  # partial targets (e.g. a human mix's fitted levels)
            known = [n in rec["params_known"] for n in S.TRACK_NAMES]
            tv[:, ~np.array(known)] = np.nan
            mv[[n not in rec["params_known"] for n in S.MASTER_NAMES]] = np.nan
            return tv, mv
        sends = np.array([t.values["reverb_send_db"] for t in params.tracks])
        if (sends <= S.SEND_OFF_DB).all():  # no track sends (e.g. a mixdown.params/1 file): the
            mv[[S.MASTER_NAMES.index(n) for n in S.REVERB_MASTER_NAMES]] = np.nan  # reverb is unheard
        return tv, mv

    def _tone(self, x: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> None:
        """Apply a random exact-inverse tone change to ``x`` ``(2, T)`` in place; fold it into ``values``."""
        from scipy.signal import lfilter

        from mixdown.dsp.coefficients import biquad_coefficients

        flat = [k for k in range(S.N_EQ_BANDS) if values[_EQ[k][1]] == 0.0]
        if not flat or not np.isfinite(values).all():
            return
        k = int(rng.choice(flat))
        d = float(rng.uniform(-self.augment.tone_db, self.augment.tone_db))
        f_i, g_i, q_i = _EQ[k]
        b, a = biquad_coefficients(S.EQ_BAND_TYPES[k], np.array(values[f_i]), np.array(d), np.array(values[q_i]),
                                   self.sample_rate)
        x[:] = lfilter(b, a, x.astype(np.float64), axis=-1)
        values[g_i] = -d

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, 0 if self.deterministic else self.epoch, index))
        if self.deterministic:
            rec = self.songs[index % len(self.songs)]
        else:
            group = self._groups[int(rng.choice(len(self._groups), p=self._weights))]
            rec = self.songs[group[int(rng.integers(len(group)))]]
        start = self._choose_start(rec, rng)
        root = Path(rec["_dir"])
        order = np.arange(len(rec["tracks"]))
        if len(order) > self.max_tracks:
            order = np.sort(rng.choice(order, self.max_tracks, replace=False))
        if self.augment is not None and self.augment.shuffle_tracks:
            order = rng.permutation(order)
        n = len(order)
        tracks = np.zeros((self.max_tracks, 2, self.segment), dtype=np.float32)
        for j, i in enumerate(order):
            t = rec["tracks"][i]
            tracks[j] = self._read(resolve(rec, t["path"], root), start)
        gains_db = self.contract.input_gains_db(tracks[:n]).astype(np.float64)
        known = self._params(rec)
        if self.augment is not None and self.augment.gain_db > 0 and known is not None:
            gains_db += rng.uniform(-self.augment.gain_db, self.augment.gain_db, n)
        tracks[:n] *= (10 ** (gains_db / 20)).astype(np.float32)[:, None, None]
        mix = self._read(resolve(rec, rec["mix"]["path"], root), start)
        swap = self.augment is not None and rng.random() < self.augment.swap_channels_p
        if swap and known is not None and (known[0][:, _SEND] > S.SEND_OFF_DB).any():
            swap = False  # the reverb's left and right impulse responses differ: no setting swaps its return
        if swap:
            tracks = tracks[:, ::-1].copy()
            mix = mix[::-1].copy()
        tp = np.full((self.max_tracks, S.N_TRACK_PARAMS), np.nan, dtype=np.float32)
        mp = np.full(S.N_MASTER_PARAMS, np.nan, dtype=np.float32)
        if known is not None:
            tv, mv = known
            tv = tv[order].copy()
            tv[:, _IN_GAIN] -= gains_db  # the input was raised by gains_db: the strip lowers it back
            if swap:
                tv[:, _PAN] = -tv[:, _PAN]
            if self.augment is not None and self.augment.tone_db > 0:
                for j in range(n):
                    self._tone(tracks[j], tv[j], rng)
            tp[:n] = np.clip(S.normalize(tv, S.TRACK_SPECS, self.sample_rate), 0.0, 1.0)
            mp[:] = np.clip(S.normalize(mv, S.MASTER_SPECS, self.sample_rate), 0.0, 1.0)
        mask = np.zeros(self.max_tracks, dtype=bool)
        mask[:n] = True
        roles = np.full(self.max_tracks, ROLES.index("other"), dtype=np.int64)
        roles[:n] = self.encode_roles([rec["tracks"][i]["name"] for i in order])
        return {"tracks": torch.from_numpy(tracks), "mask": torch.from_numpy(mask), "mix": torch.from_numpy(mix),
                "roles": torch.from_numpy(roles),
                "track_params": torch.from_numpy(tp), "master_params": torch.from_numpy(mp),
                "has_params": known is not None, "song": rec.get("song", "")}
