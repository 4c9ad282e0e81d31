"""The studio's HTTP API through Starlette's test client, on sessions generated in ``tmp_path``:
every endpoint, malformed requests, values outside the spec, concurrent edits, locks through Mix
and Reset, the loop render against the exact renderer, and where files are (and are not) written.
The token / Host / Origin guard and path traversal: ``test_studio_guard.py``."""
# ruff: noqa: F811  (the studio and client fixtures are imported from studio_helpers)

import io
import threading

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("starlette.testclient")
from starlette.testclient import TestClient  # noqa: E402

from mixdown.api import render  # noqa: E402
from mixdown.models import Heuristic  # noqa: E402
from mixdown.params import spec as S  # noqa: E402
from mixdown.params.io import read_params  # noqa: E402
from mixdown.studio import backend as B  # noqa: E402
from mixdown.studio.app import build_app, error_app  # noqa: E402
from mixdown.studio.service import Paths, Studio  # noqa: E402
from studio_helpers import BASE, HOSTS, SR, TOKEN, P, client, make_session, rms_db, studio  # noqa: E402, F401


def edit(client, target, key, value, **extra):
    return client.post(P + "api/params", json={"changes": [{"target": target, "key": key, "value": value}], **extra})


def wav(response, f32: bool = False) -> np.ndarray:
    """The audio of an ``api/audio/...wav`` response (``f32``: of an ``...f32`` one, raw samples)."""
    assert response.status_code == 200, response.text
    if f32:
        assert int(response.headers["x-mixdown-sample-rate"]) == SR
        return np.frombuffer(response.content, dtype="<f4").reshape(int(response.headers["x-mixdown-frames"]), 2)
    x, sr = sf.read(io.BytesIO(response.content), dtype="float32", always_2d=True)
    assert sr == SR
    return x


def test_every_endpoint_answers(client, studio, tmp_path):
    assert "mixdown studio" in client.get(P).text
    assert client.get(P + "static/js/main.js").status_code == 200
    state = client.get(P + "api/state").json()
    assert [t["name"] for t in state["track_info"]] == ["track0", "track1", "track2"]
    assert {s["name"] for s in state["track_specs"]} >= {"fader_db", "pan", "eq.0.freq_hz", "compressor.ratio"}
    assert edit(client, "track1", "pan", 0.5).json()["tracks"]["track1"]["pan"] == 0.5
    assert client.post(P + "api/locks", json={"target": "track1", "key": "pan", "locked": True}).json()["locks"] == \
        ["track1.pan"]
    assert client.post(P + "api/monitor", json={"mute": ["track2"], "solo": []}).json()["mute"] == ["track2"]
    assert client.post(P + "api/loop", json={"start_s": 1.0, "end_s": 3.0}).json()["loop_region"] == [1.0, 3.0]
    curves = client.post(P + "api/curves", json={"target": "master"}).json()
    assert len(curves["eq"]["freqs_hz"]) == len(curves["eq"]["total_db"]) and curves["compressor"]["in_db"]
    for action in ("mix", "reset", "undo", "redo"):
        assert client.post(P + f"api/{action}").status_code == 200, action
    assert studio.engine.wait_idle(60)
    status = client.get(P + "api/status").json()
    assert status["loop"]["version"] == status["version"] and status["full"]["version"] == status["version"]
    for scope, frames in (("loop", 2 * SR), ("full", 4 * SR)):
        for source in ("mix", "raw", "reference"):
            assert wav(client.get(P + f"api/audio/{scope}/{source}.wav")).shape == (frames, 2)
    assert len(client.get(P + "api/overview").json()["peaks"]) > 100
    assert client.post(P + "api/save").json()["saved"] == str(tmp_path / "song" / "params.json")
    for fmt, suffix in (("dawproject", ".dawproject"), ("reaper", ".RPP")):
        assert client.post(P + "api/export", json={"format": fmt}).json()["exported"].endswith("params" + suffix)
    assert client.get(P + "api/report").status_code == 404  # not written yet
    assert client.post(P + "api/report").json()["report"].endswith("params.html")
    page = client.get(P + "api/report")
    assert page.status_code == 200 and "mixdown report" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "not valid JSON"), (b"[1, 2]", 400, "JSON object"), (b"\xff\xfe", 400, "not valid JSON"),
    (b'{"changes": 3}', 422, "non-empty list"), (b'{"changes": []}', 422, "non-empty list"),
    (b'{"changes": [{"target": "track0", "key": "fader_db"}]}', 422, "target, key and value"),
    (b'{"changes": [{"target": "track0", "key": "fader_db", "value": "-3"}]}', 422, "must be a number"),
    (b'{"changes": [{"target": "track0", "key": "fader_db", "value": true}]}', 422, "must be a number"),
    (b'{"changes": [{"target": "track0", "key": "fader_db", "value": NaN}]}', 422, "finite"),
    (b'{"changes": [{"target": "track0", "key": "fader_db", "value": Infinity}]}', 422, "finite"),
    (b'{"changes": [{"target": 1, "key": "fader_db", "value": 0}]}', 422, "must be strings"),
    (b'{"changes": [{"target": "track0", "key": "fader_db", "value": 0}], "gesture": 5}', 400, "gesture"),
])
def test_malformed_edits_get_a_4xx_with_a_message(client, studio, body, status, words):
    r = client.post(P + "api/params", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and words in r.json()["error"], r.text
    assert "Traceback" not in r.text and studio.state.version == 0


@pytest.mark.parametrize("path, body, words", [
    ("api/locks", {"target": "track0", "key": "fader_db"}, "missing field 'locked'"),
    ("api/locks", {"target": "track0", "key": "fader_db", "locked": "yes"}, "true or false"),
    ("api/locks", {"target": "nobody", "key": "fader_db", "locked": True}, "no track 'nobody'"),
    ("api/monitor", {"solo": "track0"}, "list of track names"),
    ("api/monitor", {"solo": ["ghost"]}, "no track 'ghost'"),
    ("api/loop", {"start_s": 3.0, "end_s": 1.0}, "empty or outside"),
    ("api/loop", {"start_s": -1.0, "end_s": 1.0}, "empty or outside"),
    ("api/loop", {"start_s": "0", "end_s": 1.0}, "must be seconds"),
    ("api/curves", {"target": "track0", "values": {"eq.0.gain_db": 99}}, "outside"),
    ("api/export", {"format": "logic"}, "unknown export format"),
    ("api/export", {}, "missing field 'format'"),
])
def test_other_malformed_requests_get_a_4xx_with_a_message(client, path, body, words):
    r = client.post(P + path, json=body)
    assert 400 <= r.status_code < 500 and words in r.json()["error"], r.text


def test_values_outside_the_spec_change_nothing(client, studio):
    r = edit(client, "track0", "fader_db", 30.0)
    assert r.status_code == 422 and "track0.fader_db" in r.json()["error"] and "24" in r.json()["error"]
    r = edit(client, "master", "eq.3.freq_hz", 12000.0)  # below the spec's 18 kHz, above 0.45 x 22050 Hz
    assert r.status_code == 422 and "0.45 x sample_rate" in r.json()["error"]
    r = client.post(P + "api/params", json={"changes": [{"target": "track0", "key": "pan", "value": 0.2},
                                                        {"target": "track0", "key": "pan", "value": 1.5}]})
    assert r.status_code == 422 and studio.state.values_of("track0")["pan"] != 0.2  # all or nothing
    r = edit(client, "track0", "compressor.volume", 1.0)
    assert r.status_code == 422 and "compressor.ratio" in r.json()["error"]  # lists the valid keys
    assert studio.state.version == 0


def test_concurrent_edits_are_all_kept(client, studio):
    keys = [("track0", "fader_db"), ("track1", "fader_db"), ("track2", "pan"), ("master", "output_gain_db")]
    values = {k: [float(v) for v in np.linspace(-5.5, 0.5, 10)] if k[1] != "pan" else list(np.linspace(-1, 1, 10))
              for k in keys}
    errors = []

    def worker(k):
        for v in values[k]:
            r = edit(client, k[0], k[1], v)
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=worker, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and studio.state.version == 40
    for (target, key), vs in values.items():
        assert studio.state.values_of(target)[key] == pytest.approx(vs[-1])
    r = edit(client, "track0", "pan", 0.1, if_version=39)  # an editor that missed an edit
    assert r.status_code == 409 and "version 39" in r.json()["error"]
    assert edit(client, "track0", "pan", 0.1, if_version=40).status_code == 200


def test_a_gesture_is_one_undo_step(client, studio):
    start = studio.state.values_of("track0")["fader_db"]
    for v in (-5.0, -4.0, -3.0):
        edit(client, "track0", "fader_db", v, gesture="drag-1")
    edit(client, "track0", "pan", 0.3)
    client.post(P + "api/undo")
    assert studio.state.values_of("track0")["pan"] != 0.3
    assert client.post(P + "api/undo").json()["tracks"]["track0"]["fader_db"] == start
    r = client.post(P + "api/undo")
    assert r.status_code == 422 and "nothing to undo" in r.json()["error"]
    assert client.post(P + "api/redo").json()["tracks"]["track0"]["fader_db"] == -3.0


def test_locks_hold_through_mix_and_reset(client, studio):
    edit(client, "track0", "fader_db", -17.5)
    client.post(P + "api/locks", json={"target": "track0", "key": "fader_db", "locked": True})
    before = studio.state.values_of("track1")
    after = client.post(P + "api/mix").json()
    assert after["tracks"]["track0"]["fader_db"] == -17.5
    assert after["tracks"]["track1"] != before  # the model moved what was not locked
    assert after["baseline"]["tracks"]["track1"] == after["tracks"]["track1"]
    edit(client, "track0", "fader_db", -20.0)
    edit(client, "track1", "fader_db", -30.0)
    reset = client.post(P + "api/reset").json()
    assert reset["tracks"]["track0"]["fader_db"] == -20.0  # locked: kept as the user left it
    assert reset["tracks"]["track1"]["fader_db"] == after["tracks"]["track1"]["fader_db"]


def test_a_second_mix_while_one_runs_is_refused(client, studio):
    studio._job.acquire()
    studio.job = "Mix"
    try:
        r = client.post(P + "api/mix")
        assert r.status_code == 409 and "Mix is running" in r.json()["error"]
    finally:
        studio.job = None
        studio._job.release()


def test_loop_from_the_start_is_the_exact_render_and_later_loops_are_close(client, studio, tmp_path):
    import mixdown.studio.engine as E

    client.post(P + "api/loop", json={"start_s": 0.0, "end_s": 1.5})
    edit(client, "track0", "fader_db", -4.0)  # an edit: the loop is rendered from its cached strips
    assert studio.engine.wait_idle(60)
    full = render(tmp_path / "song", studio.state.copy_params())
    loop = wav(client.get(P + "api/audio/loop/mix.wav"))  # the cached sums add in another order: rounding only
    assert rms_db(loop - full[:int(1.5 * SR)]) - rms_db(full[:int(1.5 * SR)]) < -120.0
    np.testing.assert_array_equal(wav(client.get(P + "api/audio/loop/mix.f32"), f32=True), loop)
    np.testing.assert_array_equal(wav(client.get(P + "api/audio/full/mix.wav")), full)
    # a region further in: with the song rendered, its loop is cut from the song (exact) ...
    client.post(P + "api/loop", json={"start_s": 2.0, "end_s": 4.0})
    assert studio.engine.wait_idle(60)
    np.testing.assert_array_equal(wav(client.get(P + "api/audio/loop/mix.wav")), full[2 * SR:4 * SR])
    # ... and after an edit it is rendered from a pre-roll (states from silence there; documented)
    monkey = E.PREROLL_S
    E.PREROLL_S = 0.5
    try:
        client.post(P + "api/loop", json={"start_s": 2.5, "end_s": 4.0})
        edit(client, "track1", "eq.2.gain_db", 3.0)
        assert studio.engine.wait_idle(60)
        loop = wav(client.get(P + "api/audio/loop/mix.wav"))
    finally:
        E.PREROLL_S = monkey
    ref = render(tmp_path / "song", studio.state.copy_params())[int(2.5 * SR):4 * SR]
    assert not np.array_equal(loop, ref)  # the approximate path was taken
    assert rms_db(loop - ref) - rms_db(ref) < -30.0


def test_a_fader_move_changes_the_soloed_loop_by_its_db(client, studio):
    client.post(P + "api/monitor", json={"solo": ["track1"]})
    assert studio.engine.wait_idle(60)
    before = wav(client.get(P + "api/audio/loop/mix.wav"))
    edit(client, "track1", "fader_db", -6.0 + 4.5)
    assert studio.engine.wait_idle(60)
    after = wav(client.get(P + "api/audio/loop/mix.wav"))
    assert rms_db(after) - rms_db(before) == pytest.approx(4.5, abs=1e-3)  # the master is linear here
    raw = wav(client.get(P + "api/audio/loop/raw.wav"))
    assert np.abs(raw - np.asarray(sf.read(studio.paths.session / "tracks" / "track1.wav",
                                           dtype="float32")[0][:len(raw)])).max() == 0  # raw solo: the stem


def test_meters_follow_the_renders(client, studio):
    assert studio.engine.wait_idle(60)
    for _ in range(200):
        m = client.get(P + "api/status").json()["loop"]["meters"]
        if m:
            break
        threading.Event().wait(0.05)
    assert set(m) == {"mix", "raw", "reference"}
    assert m["mix"]["integrated_lufs"] < 0 and m["mix"]["true_peak_dbtp"] >= m["mix"]["sample_peak_dbfs"] - 1e-6
    assert len(m["mix"]["momentary_lufs"]) > 10


def test_save_writes_only_the_parameter_file_atomically(client, studio, tmp_path):
    edit(client, "track2", "eq.2.gain_db", 4.25)
    before = {p.name for p in (tmp_path / "song").rglob("*")}
    assert client.post(P + "api/save").status_code == 200
    written = {p.name for p in (tmp_path / "song").rglob("*")} - before
    assert written == set()  # params.json replaced in place, no temporary file left
    saved = read_params(tmp_path / "song" / "params.json")
    assert saved.tracks[2].values["eq.2.gain_db"] == 4.25
    assert saved.extra["notes"]["studio"]


def test_unwritable_target_is_a_clear_500_without_traceback(client, studio, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(studio.paths.params))

    monkeypatch.setattr("mixdown.studio.backend.write_params", refuse)
    r = TestClient(client.app, base_url=BASE, raise_server_exceptions=False).post(P + "api/save")
    assert r.status_code == 500 and "could not write" in r.json()["error"] and "Traceback" not in r.text


def test_an_unreadable_session_is_an_error_page_naming_the_file(tmp_path):
    make_session(tmp_path / "song")
    bad = tmp_path / "song" / "tracks" / "track1.wav"
    bad.write_bytes(b"RIFF....not audio")
    from mixdown.session import SessionError

    with pytest.raises(SessionError) as e:
        Studio(Paths.resolve(tmp_path / "song", None, None), model=Heuristic(sample_rate=SR))
    page = TestClient(error_app(str(e.value), TOKEN, HOSTS), base_url=BASE).get(P)
    assert page.status_code == 500 and "track1.wav" in page.text and "convert it to WAV or FLAC" in page.text
    assert TestClient(error_app("x", TOKEN, HOSTS), base_url=BASE).get("/s/nope/").status_code == 403


def test_a_track_linked_from_outside_the_session_is_refused(tmp_path):
    make_session(tmp_path / "song")
    outside = tmp_path / "elsewhere.wav"
    (tmp_path / "song" / "tracks" / "track1.wav").rename(outside)
    (tmp_path / "song" / "tracks" / "track1.wav").symlink_to(outside)
    from mixdown.session import SessionError

    with pytest.raises(SessionError, match="outside the session folder"):
        Studio(Paths.resolve(tmp_path / "song", tmp_path / "song" / "params.json", None),
               model=Heuristic(sample_rate=SR))


def test_a_parameter_file_of_another_session_is_refused(tmp_path):
    make_session(tmp_path / "a", n_tracks=2)
    params = make_session(tmp_path / "b", n_tracks=3)
    from mixdown.params.io import ParamsError

    with pytest.raises(ParamsError, match="not in the session: track2"):
        Studio(Paths.resolve(tmp_path / "a", params, None), model=Heuristic(sample_rate=SR))


def test_without_a_parameter_file_the_model_mixes_in_the_background(tmp_path):
    make_session(tmp_path / "song")
    (tmp_path / "song" / "params.json").unlink()
    model = Heuristic(sample_rate=SR)
    s = Studio(Paths.resolve(tmp_path / "song", None, None), model=model)
    assert s.state.values_of("track0")["fader_db"] == 0.0  # neutral until the model is done
    s.start()
    try:
        for _ in range(600):
            if s.state.version == 1 and s.job is None:
                break
            threading.Event().wait(0.05)
        assert s.engine.wait_idle(60) and s.state.version == 1 and not s.state.snapshot()["can_undo"]
    finally:
        s.engine.stop()
    tv, _, _ = B.predict(model, s.session, {}, None)
    assert s.state.values_of("track2")["fader_db"] == pytest.approx(tv[2, S.index(S.TRACK_SPECS, "fader_db")])
    assert s.save() == tmp_path / "song" / "mixdown_mix.json"
    assert [t.name for t in read_params(s.paths.params).tracks] == ["track0", "track1", "track2"]


def test_the_command_is_registered():
    from mixdown.cli import build_parser

    args = build_parser().parse_args(["studio", "sess", "--port", "0", "--no-browser", "--params", "p.json"])
    assert args.command == "studio" and args.no_browser and str(args.params) == "p.json"


def test_a_normalize_gain_is_kept_and_rendered(tmp_path):
    params_path = make_session(tmp_path / "song")
    params = read_params(params_path)
    params.master.normalize = {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 2.5}
    from mixdown.params.io import write_params

    write_params(params, params_path)
    s = Studio(Paths.resolve(tmp_path / "song", params_path, None), model=Heuristic(sample_rate=SR))
    s.engine.start()
    try:
        client = TestClient(build_app(s, TOKEN, HOSTS), base_url=BASE)
        assert client.get(P + "api/state").json()["normalize"]["gain_db"] == 2.5
        assert s.engine.wait_idle(60)
        full = render(tmp_path / "song", params)[:4 * SR]  # the loop's cached sums: float rounding only
        assert rms_db(wav(client.get(P + "api/audio/loop/mix.wav")) - full) - rms_db(full) < -120.0
        s.save()
        assert read_params(params_path).master.normalize == params.master.normalize
    finally:
        s.engine.stop()


def test_another_take_mixes_as_another_engineer_and_models_of_one_way_refuse(client, studio, tmp_path):
    """``POST /api/mix {"take": K}`` (the page's "Another take"): the shipped model's K-th draw, named
    in the notes; the same take again, the same settings; the heuristic mixes one way and refuses a
    take but 0, and malformed takes are refused, each with what to send."""
    for body, status, says in (({"take": 1}, 422, "one way only"), ({"take": -1}, 422, "0 (the first take) or more"),
                               ({"take": "2"}, 400, "whole number"), ({"take": 1.5}, 400, "whole number")):
        r = client.post(P + "api/mix", json=body)
        assert r.status_code == status and says in r.json()["error"], (body, r.json())
    assert client.post(P + "api/mix", json={"take": 0}).status_code == 200
    names = ["Kick In", "Snare Top", "OH L", "OH R", "Bass DI", "Gtr 1", "Gtr 2", "Lead Vox", "BV 1", "Keys"]
    song = tmp_path / "band"
    make_session(song, n_tracks=len(names), seconds=2.0)
    for i, n in enumerate(names):
        (song / "tracks" / f"track{i}.wav").rename(song / "tracks" / f"{n}.wav")
    s = Studio(Paths.resolve(song, None, None), model=B.load_model(None))
    with TestClient(build_app(s, TOKEN, HOSTS), base_url=BASE) as c:
        takes = {k: c.post(P + "api/mix", json={"take": k}).json() for k in (0, 3)}
        again = c.post(P + "api/mix", json={"take": 3}).json()
    assert takes[0]["notes"]["take"] == 0 and takes[3]["notes"]["take"] == 3
    assert takes[3]["tracks"] != takes[0]["tracks"]  # other switches, other EQs
    assert again["tracks"] == takes[3]["tracks"]
