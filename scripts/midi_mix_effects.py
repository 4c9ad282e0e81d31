"""How much of a MIDI pair's reference mix is the composer's balance, and how much the renderer's effects.

A MIDI pair's mix (``mixdown dataset build --source midi``) is the song as composed, played with
fluidsynth's reverb and chorus on; its stems are dry. For each excerpt this renders the composer's
mix again *dry* (:func:`mixdown.data.builders.midi.composer_mix`: the composer's volumes and pans,
no reverb or chorus) and compares, loudness-matched (octave-band balance in dB and MR-STFT, as
``mixdown evaluate`` scores mixes):

- ``sum_vs_mix``: the plain sum of the stems against the pair's mix (the raw-sum baseline's score);
- ``dry_vs_mix``: the dry composer mix against the pair's mix: what the renderer's reverb and chorus
  (driven by the composer's CC91/CC93, General MIDI's default send of 40 and the soundfont's own
  per-preset sends) change;
- ``sum_vs_dry``: the plain sum against the dry composer mix: what the composer's CC7 volumes and
  CC10 pans change.

When ``dry_vs_mix`` is as large as ``sum_vs_mix``, the levels a console would need to match the
reference are set by the renderer's effects rather than by the composer's balance. Prints one line
per excerpt, the means per manifest and a JSON line.

    python scripts/midi_mix_effects.py MANIFEST.jsonl [MANIFEST.jsonl ...] [--every N]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.data.builders.midi import composer_mix
from mixdown.data.builders.rendered import fit_length
from mixdown.data.manifest import read_records, resolve
from mixdown.measure.metrics import mix_metrics

log = logging.getLogger("midi_mix_effects")
PAIRS = ("sum_vs_mix", "dry_vs_mix", "sum_vs_dry")


def _read(path: Path, frames: int) -> np.ndarray:
    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return fit_length(np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x, frames)


def excerpt_effects(rec: dict, manifest_dir: Path) -> dict[str, dict[str, float]]:
    """``{pair: {"balance_db", "mrstft"}}`` of one MIDI excerpt (:data:`PAIRS`, see the module doc)."""
    mix_path = resolve(rec, rec["mix"]["path"], manifest_dir)
    mix = _read(mix_path, int(rec["mix"]["frames"]))
    frames, sr = len(mix), int(rec["mix"]["sample_rate"])
    stems = sum(_read(resolve(rec, t["path"], manifest_dir), frames) for t in rec["tracks"])
    dry = composer_mix(rec, wet=False)[:frames]
    out = {}
    for name, (est, ref) in zip(PAIRS, ((stems, mix), (dry, mix), (stems, dry))):
        m = mix_metrics(est.T, ref.T, sr)
        out[name] = {"balance_db": m["spectral_balance_mae_db"], "mrstft": m["mrstft"]}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("manifests", nargs="+", help="manifests of MIDI pairs (source 'midi')")
    ap.add_argument("--every", type=int, default=1, help="take every N-th excerpt (default every one)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = {}
    for m in args.manifests:
        rows = []
        for rec in read_records(m)[:: max(1, args.every)]:
            if not rec.get("mix"):
                log.warning("%s: %s has no reference mix; left out", m, rec.get("song"))
                continue
            r = excerpt_effects(rec, Path(m).parent)
            rows.append(r)
            log.info("%s  %s", rec["song"], "  ".join(f"{k} {v['balance_db']:.2f} dB / {v['mrstft']:.3f}"
                                                       for k, v in r.items()))
        if not rows:
            raise SystemExit(f"{m}: no MIDI excerpt with a reference mix")
        means = {k: {q: round(float(np.mean([r[k][q] for r in rows])), 3) for q in ("balance_db", "mrstft")}
                 for k in PAIRS}
        log.info("%s: %d excerpts, mean (octave balance dB / MR-STFT): %s", m, len(rows),
                 "  ".join(f"{k} {v['balance_db']:.2f} / {v['mrstft']:.3f}" for k, v in means.items()))
        summary[str(m)] = dict(excerpts=len(rows), **means)
    print(json.dumps({"midi_mix_effects": summary}))
    return summary


if __name__ == "__main__":
    main()
