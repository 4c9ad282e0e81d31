"""One render loop: the studio's full render is ``mixdown render``'s generator
(:func:`mixdown.dsp.render.render_steps`), stepped block by block, with its warnings."""

import logging

import numpy as np
import soundfile as sf

from mixdown.cli import main
from mixdown.dsp.render import BLOCK_FRAMES, render_steps
from mixdown.params.io import read_params
from mixdown.studio import backend as B
from studio_helpers import SR, make_session


def test_studio_full_render_is_mixdown_render(tmp_path, caplog):
    params_path = make_session(tmp_path / "s", n_tracks=3, seconds=4.0)  # two blocks
    sf.write(tmp_path / "s" / "tracks" / "track0.wav", np.zeros((int(4.0 * SR), 1), np.float32), SR,
             subtype="FLOAT")  # a silent track: render warns
    params = read_params(params_path)
    caplog.set_level(logging.WARNING)
    assert main(["render", str(tmp_path / "s"), "--params", str(params_path), "--out", str(tmp_path / "cli.wav")]) == 0
    cli_warnings = [r.getMessage() for r in caplog.records if "silent" in r.getMessage()]
    assert len(cli_warnings) == 1 and "track0" in cli_warnings[0]
    caplog.clear()

    blocks = []
    steps = B.render_full_steps(tmp_path / "s", params, lambda strips, bus: blocks.append(strips.shape))
    assert steps.gi_code is render_steps.__code__  # the one loop, not a copy
    fractions = []
    while True:
        try:
            fractions.append(next(steps))
        except StopIteration as done:
            result = done.value
            break
    n = int(4.0 * SR)
    assert fractions == [BLOCK_FRAMES / n, 1.0] and [b[1] for b in blocks] == [BLOCK_FRAMES, n - BLOCK_FRAMES]
    cli, sr = sf.read(tmp_path / "cli.wav", dtype="float32")
    assert sr == SR and np.array_equal(result.audio, cli)  # bit-identical to mixdown render's file
    assert result.warnings == cli_warnings
    assert [r.getMessage() for r in caplog.records if "silent" in r.getMessage()] == cli_warnings


def test_a_render_can_be_dropped(tmp_path):
    params = read_params(make_session(tmp_path / "s", n_tracks=2, seconds=4.0))
    steps = B.render_full_steps(tmp_path / "s", params)
    assert next(steps) < 1.0
    steps.close()  # the studio drops a render when the settings change
    assert steps.gi_frame is None
