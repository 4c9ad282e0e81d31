"""Settings targets for human-mixed pairs: each track's level and pan in the person's mix.

A human mix comes without its console settings, so a model could only learn from it through
audio losses (slow: every step renders and compares mixes). But the part of a mix that the
evaluation shows matters most, each track's level and pan, can be measured: the power-domain
oracle (:func:`mixdown.models.baselines.power_oracle`) fits them to the mix's band powers, and
lands within a fraction of a dB of the mix's octave-band balance even when the mix went through
EQ, reverb or delay. :func:`fit_targets` writes them as partial parameter targets:

* a ``mixdown.params/2`` file per song (``<out>/<song>.params.json``: fader and pan fitted, every
  other setting neutral; ``mixdown render`` of it plays the fitted levels), and
* a manifest (``<out>/<split>.jsonl``) whose records point at it with ``params_known =
  ["input_gain_db", "fader_db", "pan"]``: the dataset treats every other setting as unknown, and
  since a person's overall mix level is not something the tracks tell (the master settings stay
  unknown), the losses compare each track's level (input gain + fader) relative to the other
  tracks' (:func:`mixdown.training.losses.balance_db`), never the two settings on their own.

Tracks the fit leaves (nearly) out are floored at :data:`FLOOR_DB` below the song's loudest
fitted track: below that a level is inaudible in the mix and its exact value carries no signal.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mixdown.data.manifest import read_records, resolve, write_manifest
from mixdown.errors import UsageError
from mixdown.params import spec as S

log = logging.getLogger(__name__)

#: what the targets of a fitted human mix know: the level (input gain 0 dB, so the fader is the
#: whole level: only their sum counts, relative to the other tracks') and the pan
KNOWN = ("input_gain_db", "fader_db", "pan")
#: fitted levels are floored this far below the song's loudest track (dB)
FLOOR_DB = 40.0
_FADER = S.index(S.TRACK_SPECS, "fader_db")


def song_file(song: str) -> str:
    """A song id (``"openmsx/x/03"``) -> a file name (``"openmsx__x__03.params.json"``)."""
    return song.replace("/", "__") + ".params.json"


def fit_song(rec: dict, manifest_dir: Path, max_seconds: float = 180.0):
    """The fitted settings of one manifest record: a :class:`mixdown.params.io.MixParams`."""
    from mixdown.models.baselines import power_oracle
    from mixdown.params.io import MixParams
    from mixdown.session import load_reference, read_tracks

    paths = [resolve(rec, t["path"], manifest_dir) for t in rec["tracks"]]
    mix_path = resolve(rec, rec["mix"]["path"], manifest_dir)
    session = read_tracks(paths, paths[0].parent)
    sr = session.sample_rate
    ref, _ = load_reference(mix_path, sr)  # (frames, 2); another rate is resampled with a warning
    if not np.any(ref[: int(max_seconds * sr)]):
        raise UsageError(f"{mix_path}: the mix is silent (in its first {max_seconds:g} s): no levels to fit")
    tv, mv = power_oracle(session, ref.T, max_frames=int(max_seconds * sr))
    tv[:, _FADER] = np.maximum(tv[:, _FADER], tv[:, _FADER].max() - FLOOR_DB)
    files = [os.path.relpath(p, paths[0].parent) for p in paths]
    names = [t["name"] for t in rec["tracks"]]
    return MixParams.from_arrays(sr, names, files, tv, mv,
                                 notes={"fitted": "power-domain oracle: fader and pan fitted to the "
                                                  f"human mix {mix_path.name}; other settings neutral"})


def fit_targets(manifests: Sequence[str | os.PathLike], out: str | os.PathLike, progress: bool = True,
                resume: bool = True) -> list[Path]:
    """Fit every song of ``manifests`` and write the target manifests into ``out``.

    Each input ``<split>.jsonl`` gives ``<out>/<split>.jsonl`` (same records, with ``params`` and
    ``params_known`` set) and a parameter file per song. ``resume``: songs whose parameter file
    exists are not fitted again. Songs that already have settings keep them. A song that cannot be
    read raises :class:`UsageError` naming the manifest, the song and the file; the target manifest is
    written only once every song of it is fitted. Returns the written manifests.
    """
    from mixdown.params.io import write_params

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for m in manifests:
        m = Path(m)
        records = read_records(m)
        dest = out / m.name
        if dest.resolve() == m.resolve():
            raise UsageError(f"{m}: the targets would overwrite their own manifest; choose another --out")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(records), desc=f"fit {m.name}", unit="song")
        for rec in records:
            if not rec.get("mix"):
                log.warning("%s: no reference mix; left without targets", rec.get("song"))
            elif not rec.get("params"):
                path = (out / song_file(rec["song"])).resolve()
                if not (resume and path.is_file()):
                    try:
                        fitted = fit_song(rec, m.parent)
                    except (UsageError, OSError) as e:
                        raise UsageError(f"{m}: song {rec.get('song')!r}: {e}; rebuild the pair or drop it "
                                         "from the manifest") from e
                    write_params(fitted, path)
                rec["params"] = str(path)
                rec["params_known"] = list(KNOWN)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.close()
        write_manifest(dest, records)
        written.append(dest)
        log.info("%s: %d songs -> %s", m, len(records), dest)
    return written
