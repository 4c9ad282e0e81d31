"""``mixdown studio`` as a command: it listens on 127.0.0.1 only, the URL it logs carries the token
the server demands, a session that cannot be read is served as an error page naming the file, and
bad options exit with code 2. uvicorn's serving loop is replaced by a probe, nothing else."""

import logging
import re

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette.testclient")
import uvicorn  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from mixdown.cli import main  # noqa: E402
from studio_helpers import make_session  # noqa: E402


@pytest.fixture
def served(monkeypatch):
    """Runs the command with uvicorn's loop replaced: returns what it would have served."""
    seen = {}

    def run(self, sockets=None):
        seen["app"], seen["sockets"] = self.config.app, sockets
        seen["address"] = sockets[0].getsockname()
        with TestClient(self.config.app, base_url=f"http://127.0.0.1:{seen['address'][1]}") as client:
            seen["probe"](client)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    return seen


def _url(caplog) -> str:
    m = re.search(r"http://127\.0\.0\.1:(\d+)(/s/[\w-]+/)", caplog.text)
    assert m, caplog.text
    return m.group(2)


def test_the_command_serves_the_session_on_the_loopback_with_a_token(tmp_path, served, caplog):
    params = make_session(tmp_path / "song")
    answers = {}

    def probe(client):
        prefix = _url(caplog)
        answers["state"] = client.get(prefix + "api/state")
        answers["no token"] = client.get("/api/state")
        answers["other token"] = client.get("/s/" + "x" * 32 + "/api/state")

    served["probe"] = probe
    with caplog.at_level(logging.INFO):
        assert main(["studio", str(tmp_path / "song"), "--params", str(params), "--no-browser"]) == 0
    assert served["address"][0] == "127.0.0.1" and served["address"][1] > 0
    assert answers["state"].status_code == 200 and answers["state"].json()["session"] == "song"
    assert answers["no token"].status_code == 403 and answers["other token"].status_code == 403
    assert len(_url(caplog)) > 30  # /s/<token>/ with a long random token


def test_an_unreadable_session_is_served_as_an_error_page(tmp_path, served, caplog):
    make_session(tmp_path / "song")
    (tmp_path / "song" / "tracks" / "track2.wav").write_bytes(b"not audio at all")
    pages = []
    served["probe"] = lambda client: pages.append(client.get(_url(caplog)))
    with caplog.at_level(logging.INFO):
        assert main(["studio", str(tmp_path / "song"), "--no-browser"]) == 0
    assert pages[0].status_code == 500 and "track2.wav" in pages[0].text and "cannot open" in pages[0].text
    assert "track2.wav" in caplog.text  # and the log says it too


def test_a_bad_port_exits_with_code_2(tmp_path, served, caplog):
    served["probe"] = lambda client: pytest.fail("nothing may be served")
    assert main(["studio", str(tmp_path), "--no-browser", "--port", "70000"]) == 2
    assert "--port 70000: must be 0 .. 65535" in caplog.text


def test_a_missing_session_folder_is_an_error_page(tmp_path, served, caplog):
    pages = []
    served["probe"] = lambda client: pages.append(client.get(_url(caplog)))
    with caplog.at_level(logging.INFO):
        assert main(["studio", str(tmp_path / "nowhere"), "--no-browser"]) == 0
    assert pages[0].status_code == 500 and "nowhere" in pages[0].text and "not found" in pages[0].text
