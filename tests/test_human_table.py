"""``scripts/human_table.py``: the README's table from an evaluation's ``results.csv``, with the share
of the gap from equal loudness to the power oracle (and to the composers' settings) each model closes."""

import csv

import pytest

from scripts_helper import load_script


def _script():
    return load_script("human_table")


def test_gaps_are_over_the_songs_every_system_has(tmp_path):
    # (song, system): (MR-STFT, balance); excerpts a/00 and a/01 of song a are averaged first
    scores = {("a/00", "equal_loudness"): (2.0, 4.0), ("a/01", "equal_loudness"): (2.0, 2.0),
              ("a/00", "power_oracle"): (1.0, 0.0), ("a/01", "power_oracle"): (1.0, 1.0),
              ("a/00", "composer"): (1.5, 2.0), ("a/01", "composer"): (1.5, 1.0),
              ("a/00", "model:m"): (1.5, 1.0), ("a/01", "model:m"): (1.5, 2.0),
              ("b", "equal_loudness"): (3.0, 6.0), ("b", "power_oracle"): (1.0, 1.0), ("b", "model:m"): (3.0, 6.0)}
    with open(tmp_path / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["song", "group", "system", "mrstft", "spectral_balance_mae_db"])
        w.writeheader()
        for (song, system), (mr, bal) in scores.items():
            w.writerow({"song": song, "group": song.split("/")[0], "system": system, "mrstft": mr,
                        "spectral_balance_mae_db": bal})
    mod = _script()
    text = mod.main(str(tmp_path))
    assert "| composer (1 songs) |" in text and "| model:m |" in text and "over 2 songs" in text
    # to the oracle, both songs: EL (2.5, 4.5), oracle (1.0, 0.75), model (2.25, 3.75)
    n, share = mod.gap_closed(mod.csv_rows(str(tmp_path)), "model:m", "power_oracle")
    assert n == 2 and share["mrstft"] == pytest.approx(0.25 / 1.5)
    assert share["spectral_balance_mae_db"] == pytest.approx(0.75 / 3.75)
    # to the composer, song a only: EL (2.0, 3.0), composer (1.5, 1.5), model (1.5, 1.5)
    n, share = mod.gap_closed(mod.csv_rows(str(tmp_path)), "model:m", "composer")
    assert n == 1 and share == {"mrstft": pytest.approx(1.0), "spectral_balance_mae_db": pytest.approx(1.0)}
    assert "model:m closes 17 % (MR-STFT) and 20 % (octave balance) of the gap from equal_loudness to " \
           "power_oracle (2 songs)" in text
    assert "to composer (1 songs)" in text
    assert mod.gap_closed(mod.csv_rows(str(tmp_path)), "model:m", "waveform_oracle") is None
