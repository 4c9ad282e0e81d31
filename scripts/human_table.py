"""The README's table on held-out human-mixed songs from an evaluation folder (``results.csv``).

    python scripts/human_table.py outputs/eval_human [--exclude freedoom1/ freedoom2/]

``--exclude``: leave out songs whose name starts with one of these prefixes (e.g. the table on the
songs the earlier models were measured on). A system measured on fewer songs than the table's (the
``composer`` baseline exists for MIDI pairs only) says on how many.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from mixdown.evaluate import summarize

ORDER = ["raw_sum", "equal_loudness", "heuristic", "prior", "role_levels", "power_oracle", "waveform_oracle",
         "composer", "model:synthetic-v1", "model:human-v1", "model:human-v2", "model:human-v3"]
COLUMNS = {"mrstft": "MR-STFT", "spectral_balance_mae_db": "octave balance (dB)",
           "|stereo_width_diff_db|": "|width diff| (dB)", "stereo_width_bias_db": "width est-ref (dB)",
           "mean_abs_pan": "mean abs pan"}


def main(folder: str, exclude: tuple[str, ...] = ()) -> str:
    rows = list(csv.DictReader(open(Path(folder) / "results.csv")))
    rows = [{k: v for k, v in r.items() if v != ""} for r in rows if not r["song"].startswith(tuple(exclude))]
    summary = summarize(rows)
    systems = [s for s in ORDER if s in summary] + [s for s in summary if s not in ORDER]
    songs = len({r.get("group", r["song"]) for r in rows})
    lines = ["| system | " + " | ".join(COLUMNS.values()) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for s in systems:
        cells = [f"{summary[s][k][0]:.3g} ± {summary[s][k][1]:.2g}" if k in summary[s] else "" for k in COLUMNS]
        have = len({r.get("group", r["song"]) for r in rows if r["system"] == s})
        name = s if have == songs else f"{s} ({have} songs)"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\nMean ± 95 % confidence half-width over {songs} songs "
                                "(excerpts of a song averaged first).\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    rest = args[args.index("--exclude") + 1:] if "--exclude" in args else []
    sys.stdout.write(main(args[0], tuple(rest)))
