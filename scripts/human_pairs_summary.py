"""Per-song figures of a built human-pairs corpus (lmms, lmms-reserved or midi): a Markdown table.

    python scripts/human_pairs_summary.py /work/corpora/lmms [--bands]

Columns: split, tracks, seconds, the mix shift applied (LMMS; MIDI: the measured GCC-PHAT lag,
not applied), how it was measured and the GCC-PHAT peak sharpness, the offset and waveform
correlation the build's check measured after it, the worst repeat-render difference, and
(``--bands``) the mean absolute octave-band difference between the raw sum and the mix after
matching their levels, in dB: how far the human mix is from a plain sum of the tracks.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.data.builders.rendered import band_db
from mixdown.data.manifest import SPLITS, read_manifest

log = logging.getLogger("human_pairs_summary")


def _path(rec, p: str) -> str:
    return p if p.startswith("/") else f"{rec.root}/{p}"


def band_error(rec) -> float:
    """Mean |octave-band dB| of raw sum vs mix, levels matched (power domain: phase is ignored)."""
    mix, sr = sf.read(_path(rec, rec.mix.path), always_2d=True)
    total = np.zeros_like(mix)
    for t in rec.tracks:
        x, _ = sf.read(_path(rec, t.path), always_2d=True)
        total[: len(x)] += x if x.shape[1] == mix.shape[1] else np.repeat(x, mix.shape[1], axis=1)
    diff = band_db(total, sr) - band_db(mix, sr)
    return float(np.mean(np.abs(diff - np.median(diff))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="a built corpus folder (holds <split>.jsonl)")
    ap.add_argument("--bands", action="store_true", help="also the raw-sum vs mix octave-band difference (reads audio)")
    args = ap.parse_args(argv)
    recs = [r for s in SPLITS if (args.out / f"{s}.jsonl").is_file() for r in read_manifest(args.out / f"{s}.jsonl")]
    if not recs:
        log.error("%s: no manifests", args.out)
        return 2
    head = "| song | split | tracks | s | shift | method | PHAT sharpness | check offset | check corr | repeat dB |"
    lines = [head + (" sum vs mix dB |" if args.bands else ""), "|" + "---|" * (head.count("|") - 1 + args.bands)]
    for r in recs:
        m = r.meta
        reps = [v for v in (m.get("repeat_error_db") or {}).values() if v is not None]
        cells = [r.song, r.split, str(len(r.tracks)), f"{r.mix.frames / r.mix.sample_rate:.0f}",
                 str(m.get("mix_shift_samples", m.get("phat_offset_samples"))), str(m.get("align_method", "-")),
                 str(m.get("phat_sharpness")),
                 str(r.checks.mix_offset_samples), str(r.checks.mix_correlation), f"{max(reps):.0f}" if reps else "-"]
        if args.bands:
            cells.append(f"{band_error(r):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    hours = sum(r.mix.frames / r.mix.sample_rate for r in recs) / 3600
    lines.append(f"\n{len(recs)} songs, {sum(len(r.tracks) for r in recs)} tracks, {hours:.2f} h of mix")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
