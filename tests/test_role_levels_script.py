"""``scripts/role_levels.py``: per-role (or per-program) level offsets of training songs, scored on
held-out ones, against the fitted levels or, for MIDI pairs, the composer's own channel volumes."""

import json
import math

import numpy as np
import pytest

from mixdown.models.baselines import neutral
from mixdown.params import spec as S
from mixdown.params.io import MixParams, write_params
from scripts_helper import load_script

_FADER = S.TRACK_NAMES.index("fader_db")


def _script():
    return load_script("role_levels")


def _track(name, channel, program, cc7, cc7_max=None):
    cc = {"start": cc7, "min": cc7, "max": cc7 if cc7_max is None else cc7_max}
    return {"path": f"{name}.flac", "name": name, "meta": {"channel": channel, "program": program, "cc7": cc}}


def _manifest(tmp_path, split, songs):
    """``songs``: ``[(tracks, fitted fader dB per track)]`` -> a manifest with a params file per song."""
    lines = []
    for i, (tracks, faders) in enumerate(songs):
        tv, mv = neutral(len(tracks), 44100)
        tv[:, _FADER] = faders
        p = tmp_path / f"{split}{i}.params.json"
        write_params(MixParams.from_arrays(44100, [t["name"] for t in tracks], [t["path"] for t in tracks], tv, mv), p)
        lines.append(json.dumps({"song": f"{split}/{i}", "source": "midi", "tracks": tracks, "params": str(p)}))
    path = tmp_path / f"{split}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_composer_and_program_offsets_against_general_midi_volumes(tmp_path, capsys):
    song = [_track("ch01-piano", 1, 0, 100), _track("ch02-bass", 2, 33, 50), _track("ch10-drums", 10, 0, 100)]
    moving = _track("ch03-strings", 3, 48, 40, cc7_max=100)  # its volume moves within the excerpt: left out
    train = _manifest(tmp_path, "train", [(song + [moving], [0.0, -6.0, 0.0, 0.0])] * 3)
    held = _manifest(tmp_path, "val", [(song, [0.0, -6.0, 0.0])])
    mod = _script()
    bass_db = 40 * math.log10(0.5)  # General MIDI: amplitude ~ (CC7 / 127)^2, so CC7 50 is -12.04 dB against 100
    rel = np.array([0.0, bass_db, 0.0]) - bass_db / 3
    res = mod.main(["--train", train, "--eval", held, "--levels", "composer", "--key", "program"])
    assert res["offsets_db"] == {"0": round(-bass_db / 3, 2), "33": round(rel[1], 2), "drums": round(-bass_db / 3, 2)}
    assert res["eval"][held]["raw_db"] == round(float(np.mean(np.abs(rel))), 2)
    assert res["eval"][held]["role_offsets_db"] == 0.0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == res
    # the fitted levels (default): the bass 6 dB down, by role
    res = mod.main(["--train", train, "--eval", held])
    assert res["levels"] == "fitted" and res["key"] == "role"
    assert res["offsets_db"]["bass"] == pytest.approx(-6 + 6 / 4, abs=0.01)  # four fitted tracks per training song
    assert res["eval"][held]["raw_db"] == round(float(np.mean(np.abs(np.array([0, -6, 0]) + 2))), 2)
    # only role offsets of fitted levels start a model
    with pytest.raises(SystemExit):
        mod.main(["--train", train, "--eval", held, "--key", "program", "--out", str(tmp_path / "o.json")])
