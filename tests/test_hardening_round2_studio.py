"""Issue 25, item 10: the studio's API answers absurd requests (JSON nested 100k deep, a 400-digit
value in an edit or a curve, a loop ending at 1e308 s) with a 4xx naming the problem, never a 500,
and goes on serving. (Its REAPER export's impulse response and its report: ``test_hardening_round2.py``.)"""
# ruff: noqa: F811  (the studio and client fixtures are imported from studio_helpers)

import pytest

pytest.importorskip("starlette")
pytest.importorskip("starlette.testclient")

from studio_helpers import P, client, studio  # noqa: E402, F401

BIG = "9" * 400


def post(client, path: str, body: str):
    return client.post(P + path, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("path, body, status, fragment", [
    ("api/params", "[" * 100_000, 400, "nests JSON arrays or objects too deeply"),
    ("api/params", '{"changes": ' + "[" * 50_000 + "]" * 50_000 + "}", 400, "too deeply"),
    ("api/params", '{"changes": [{"target": "track0", "key": "fader_db", "value": %s}]}' % BIG, 422,
     "track0.fader_db: must be a finite number, got a whole number of 400 digits"),
    ("api/curves", '{"target": "master", "values": {"eq.2.gain_db": %s}}' % BIG, 422,
     "master.eq.2.gain_db: must be a finite number, got a whole number of 400 digits"),
    ("api/loop", '{"start_s": 1e308, "end_s": 1e308}', 422, "empty or outside the song"),
    ("api/loop", '{"start_s": -1e308, "end_s": 1.0}', 422, "empty or outside the song"),
], ids=["params nested 100k deep", "changes nested 50k deep", "400-digit edit", "400-digit curve value",
        "loop at 1e308 s", "loop from -1e308 s"])
def test_absurd_requests_get_a_4xx_naming_the_problem(client, path, body, status, fragment):
    r = post(client, path, body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["error"]
    assert client.get(P + "api/state").status_code == 200  # the server goes on


def test_a_loop_ending_at_1e308_s_ends_at_the_song_s_end(client, studio):
    r = post(client, "api/loop", '{"start_s": 1.0, "end_s": 1e308}')
    assert r.status_code == 200, r.text
    assert r.json()["loop_region"] == [1.0, studio.session.frames / studio.session.sample_rate]
