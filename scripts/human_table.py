"""The README's table on held-out human-mixed songs from an evaluation folder (``results.csv``).

    python scripts/human_table.py outputs/eval_human [--exclude freedoom1/ freedoom2/]

``--exclude``: leave out songs whose name starts with one of these prefixes (e.g. the table on the
songs the earlier models were measured on). A system measured on fewer songs than the table's (the
``composer`` baseline exists for MIDI pairs only) says on how many. Below the table, for each model:
the share of the gap from equal loudness to the power oracle it closes (the issue's target: half),
and to the composers' own settings, on the songs that have them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mixdown.evaluate import by_group, read_results, summarize

ORDER = ["raw_sum", "equal_loudness", "heuristic", "prior", "role_levels", "power_oracle", "waveform_oracle",
         "composer", "model:synthetic-v1", "model:human-v1", "model:human-v2", "model:human-v3"]
COLUMNS = {"mrstft": "MR-STFT", "spectral_balance_mae_db": "octave balance (dB)",
           "|stereo_width_diff_db|": "|width diff| (dB)", "stereo_width_bias_db": "width est-ref (dB)",
           "mean_abs_pan": "mean abs pan"}


def csv_rows(folder: str, exclude: tuple[str, ...] = ()) -> list[dict]:
    """The rows of ``folder/results.csv`` (empty cells dropped), without songs starting with ``exclude``."""
    return [r for r in read_results(Path(folder) / "results.csv") if not r["song"].startswith(tuple(exclude))]


def main(folder: str, exclude: tuple[str, ...] = ()) -> str:
    rows = csv_rows(folder, exclude)
    summary = summarize(rows)
    systems = [s for s in ORDER if s in summary] + [s for s in summary if s not in ORDER]
    songs = len({r.get("group", r["song"]) for r in rows})
    lines = ["| system | " + " | ".join(COLUMNS.values()) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for s in systems:
        cells = [f"{summary[s][k][0]:.3g} ± {summary[s][k][1]:.2g}" if k in summary[s] else "" for k in COLUMNS]
        have = len({r.get("group", r["song"]) for r in rows if r["system"] == s})
        name = s if have == songs else f"{s} ({have} songs)"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + (f"\n\nMean ± 95 % confidence half-width over {songs} songs "
                                "(excerpts of a song averaged first).\n")
    gaps = [line for s in systems if s.startswith("model:")
            for line in (gap_line(rows, s, "power_oracle"), gap_line(rows, s, "composer")) if line]
    return text + ("\n" + "\n".join(gaps) + "\n" if gaps else "")


def gap_closed(rows: list[dict], system: str, target: str, start: str = "equal_loudness"):
    """``(songs, {metric: share})``: how much of the gap from ``start`` to ``target`` ``system``
    closes, ``(start - system) / (start - target)`` of the means over the songs all three have
    (excerpts averaged first); None when no song has all three."""
    per = {}
    for r in by_group(rows):
        per.setdefault(r["song"], {})[r["system"]] = r
    songs = [g for g, d in per.items() if {system, target, start} <= set(d)]
    if not songs:
        return None
    share = {}
    for k in ("mrstft", "spectral_balance_mae_db"):
        a, b, m = (float(np.mean([per[g][x][k] for g in songs])) for x in (start, target, system))
        share[k] = (a - m) / (a - b) if a != b else float("nan")
    return len(songs), share


def gap_line(rows, system, target) -> str | None:
    got = gap_closed(rows, system, target)
    if got is None:
        return None
    n, share = got
    return (f"- {system} closes {100 * share['mrstft']:.0f} % (MR-STFT) and "
            f"{100 * share['spectral_balance_mae_db']:.0f} % (octave balance) of the gap from "
            f"equal_loudness to {target} ({n} songs).")


if __name__ == "__main__":
    args = sys.argv[1:]
    rest = args[args.index("--exclude") + 1:] if "--exclude" in args else []
    sys.stdout.write(main(args[0], tuple(rest)))
