"""One error family: every error mixdown raises on purpose is a ``MixdownError``; bad input is a
``UsageError`` (exit 2), caught once by the command line; anything else, a numpy ``ValueError``
inside a command included, is a bug (exit 1)."""

import numpy as np
import pytest

from mixdown.cli import main
from mixdown.errors import MixdownError, UsageError


def _numpy_value_error(*args, **kwargs):
    return np.zeros(2).reshape(3)  # ValueError: cannot reshape array of size 2 into shape (3,)


def test_the_family():
    from mixdown.data.build import BuildError
    from mixdown.data.builders.lmms_project import ProjectError
    from mixdown.data.builders.lmms_render import RenderError
    from mixdown.data.builders.midi_song import MidiError
    from mixdown.data.builders.wad import WadError
    from mixdown.data.cache import CacheError
    from mixdown.data.checks import AudioError
    from mixdown.fileio import OutputError
    from mixdown.inference.checkpoint import CheckpointError
    from mixdown.outputs import OutputPathError
    from mixdown.params.io import ParamsError
    from mixdown.session import SessionError
    from mixdown.studio.service import Busy
    from mixdown.studio.state import EditError
    from mixdown.training.main import ConfigError

    bad_input = (BuildError, ProjectError, MidiError, WadError, CacheError, OutputError, CheckpointError,
                 OutputPathError, ParamsError, SessionError, EditError, ConfigError)
    assert all(issubclass(e, UsageError) for e in bad_input)
    assert all(issubclass(e, MixdownError) and not issubclass(e, UsageError) for e in (RenderError, AudioError, Busy))
    assert issubclass(OutputError, OSError)  # still an OS error for code that catches those


@pytest.fixture
def session(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (tmp_path / "p.json").write_text("{}")
    return folder


def test_numpy_value_error_in_render_is_a_bug(session, monkeypatch, caplog):
    import mixdown.params.io as io

    monkeypatch.setattr(io, "read_params", _numpy_value_error)
    assert main(["render", str(session), "--params", str(session.parent / "p.json"),
                 "--out", str(session.parent / "o.wav")]) == 1
    assert "internal error" in caplog.text and "Traceback" in caplog.text


def test_numpy_value_error_in_mix_is_a_bug(session, monkeypatch, caplog):
    import mixdown.inference.pipeline as pipeline
    import mixdown.inference.predict as predict

    monkeypatch.setattr(predict, "load_default_model", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "mix_session", _numpy_value_error)
    assert main(["mix", str(session)]) == 1
    assert "internal error" in caplog.text


def test_mixdowns_own_errors_are_bad_input(session, monkeypatch, caplog):
    import mixdown.inference.pipeline as pipeline
    import mixdown.inference.predict as predict
    from mixdown.params.io import ParamsError

    def refuse(*args, **kwargs):
        raise ParamsError("x.json: track 'bass': key 'pan' missing")

    monkeypatch.setattr(predict, "load_default_model", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "mix_session", refuse)
    assert main(["mix", str(session)]) == 2
    assert "key 'pan' missing" in caplog.text and "Traceback" not in caplog.text
    monkeypatch.setattr(pipeline, "mix_session", _numpy_value_error)  # in a batch: that session is a bug
    assert main(["mix", "--batch", str(session.parent)]) == 1
