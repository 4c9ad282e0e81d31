"""The studio's strip meters (per track peak / RMS and gain reduction, the master's true peak), Mix
with locks (the balance kept, the true peak at or below -1 dBTP), edits that change nothing, and
the reference found in the session folder."""

# ruff: noqa: F811  (the studio and client fixtures are imported from studio_helpers)

import threading

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("starlette.testclient")
from starlette.testclient import TestClient  # noqa: E402

from mixdown.models import Heuristic  # noqa: E402
from mixdown.studio import levels as L  # noqa: E402
from mixdown.studio.app import build_app  # noqa: E402
from mixdown.studio.service import Paths, Studio  # noqa: E402
from studio_helpers import BASE, HOSTS, SR, TOKEN, P, client, make_session, studio  # noqa: E402, F401


def edit(client, target, key, value, **extra):
    return client.post(P + "api/params", json={"changes": [{"target": target, "key": key, "value": value}], **extra})


def strips(client, scope, version):
    for _ in range(600):
        r = client.get(P + f"api/strips/{scope}")
        if r.status_code == 200 and r.json()["version"] == version:
            return r.json()
        threading.Event().wait(0.05)
    raise AssertionError(f"no {scope} strip meters for version {version}")


def test_hop_divides_the_renderers_blocks_and_levels_are_per_hop():
    from mixdown.dsp.render import BLOCK_FRAMES

    for sr in (22050, 44100, 48000, 96000):
        hop = L.hop_frames(sr)
        assert BLOCK_FRAMES % hop == 0 and 0.03 < hop / sr < 0.07
    x = np.zeros((1000, 2), np.float32)
    x[150, 1] = 0.5
    peak, rms = L.peak_rms(x, 100)
    assert peak.shape == (10,) and peak[1] == 0.5 and peak[0] == 0 and rms[1] == pytest.approx(0.5 / np.sqrt(200))
    assert list(L.to_db(np.array([1.0, 0.0]))) == [0.0, L.FLOOR_DB]


def test_strip_meters_follow_the_faders_and_show_gain_reduction(client, studio):
    assert studio.engine.wait_idle(60)
    v = studio.state.version
    before = strips(client, "loop", v)
    assert set(before["tracks"]) == {"track0", "track1", "track2"} and before["hop_s"] == pytest.approx(1024 / SR)
    n = len(before["tracks"]["track0"]["peak"])
    assert n == int(np.ceil(studio.engine.region[1] / 1024))
    assert all(max(t["peak"]) > -60 and max(t["peak"]) >= max(t["rms"]) for t in before["tracks"].values())
    for name, t in before["tracks"].items():  # make_session's track compressors all work
        assert len(t["gr"]) == n and min(t["gr"]) < -0.5 and max(t["gr"]) <= 0.0, name
    m = before["master"]
    assert all(tp >= p - 0.05 for tp, p in zip(m["true_peak"], m["peak"]))
    assert m["gr"] == []  # make_session's master compressor is off (ratio 1)
    edit(client, "track1", "fader_db", 0.0)  # -6 -> 0 dB: its strip output rises by 6 dB, its compressor's does not
    assert studio.engine.wait_idle(60)
    after = strips(client, "loop", studio.state.version)
    p0, p1 = np.array(before["tracks"]["track1"]["peak"]), np.array(after["tracks"]["track1"]["peak"])
    loud = p0 > -60
    np.testing.assert_allclose(p1[loud] - p0[loud], 6.0, atol=0.11)
    assert after["tracks"]["track1"]["gr"] == before["tracks"]["track1"]["gr"]
    assert after["tracks"]["track0"] == before["tracks"]["track0"]
    full = strips(client, "full", studio.state.version)
    assert len(full["tracks"]["track1"]["peak"]) == n and full["tracks"]["track1"]["gr"]
    edit(client, "master", "compressor.ratio", 8.0)
    edit(client, "master", "compressor.threshold_db", -40.0)
    assert studio.engine.wait_idle(60)
    for scope in ("loop", "full"):
        gr = strips(client, scope, studio.state.version)["master"]["gr"]
        assert len(gr) == n and min(gr) < -3.0, scope


def test_muted_tracks_show_no_level(client, studio):
    client.post(P + "api/monitor", json={"mute": ["track2"]})
    assert studio.engine.wait_idle(60)
    s = strips(client, "loop", studio.state.version)
    assert max(s["tracks"]["track2"]["peak"]) == L.FLOOR_DB and not s["tracks"]["track2"]["gr"]
    assert max(s["tracks"]["track0"]["peak"]) > -60


def test_an_edit_that_changes_nothing_is_no_undo_step(client, studio):
    v = studio.state.version
    now = studio.state.values_of("track0")["fader_db"]
    r = edit(client, "track0", "fader_db", now).json()
    assert r["version"] == v and not r["can_undo"]
    assert edit(client, "track0", "fader_db", now + 0.5).json()["can_undo"]


def test_mix_keeps_the_balance_around_a_lock_and_the_true_peak(tmp_path):
    """Lock a fader at the value the model gave it and Mix again: no other fader moves; lock it
    18 dB louder: the others stay, and the output gain keeps the mix at or below -1 dBTP."""
    from mixdown.dsp.render import render
    from mixdown.measure import loudness

    params = make_session(tmp_path / "song")
    studio = Studio(Paths.resolve(tmp_path / "song", params, None), model=Heuristic(sample_rate=SR))
    client = TestClient(build_app(studio, TOKEN, HOSTS), base_url=BASE)  # noqa: F811 (no engine: Mix only)
    first = client.post(P + "api/mix").json()
    faders = {n: t["fader_db"] for n, t in first["tracks"].items()}
    client.post(P + "api/locks", json={"target": "track1", "key": "fader_db", "locked": True})
    again = client.post(P + "api/mix").json()
    assert {n: t["fader_db"] for n, t in again["tracks"].items()} == faders
    edit(client, "track1", "fader_db", faders["track1"] + 18.0)
    loud = client.post(P + "api/mix").json()
    assert {n: t["fader_db"] for n, t in loud["tracks"].items()} == {**faders, "track1": faders["track1"] + 18.0}
    audio = render(studio.paths.session, studio.state.copy_params()).audio
    assert loudness.true_peak_dbtp(audio.T, SR) <= -1.0 + 1e-3
    assert loud["master"]["output_gain_db"] < again["master"]["output_gain_db"]
    # the output gain locked too: it stays, and so does the peak above the ceiling
    client.post(P + "api/locks", json={"target": "master", "key": "output_gain_db", "locked": True})
    edit(client, "master", "output_gain_db", 6.0)
    assert client.post(P + "api/mix").json()["master"]["output_gain_db"] == 6.0


def test_a_reference_mix_in_the_session_is_offered_not_refined_towards(tmp_path):
    params = make_session(tmp_path / "song")
    paths = Paths.resolve(tmp_path / "song", params, None)
    assert paths.reference == (tmp_path / "song" / "reference_mix.wav").resolve() and not paths.refine
    s = Studio(paths, model=Heuristic(sample_rate=SR))
    assert s.reference is not None and s.refine_reference is None
    desc = TestClient(build_app(s, TOKEN, HOSTS), base_url=BASE).get(P + "api/state").json()
    assert desc["reference"] == "reference_mix.wav" and desc["reference_found"]
    given = Paths.resolve(tmp_path / "song", params, tmp_path / "song" / "reference_mix.wav")
    assert given.refine
    (tmp_path / "song" / "reference_mix.wav").unlink()
    assert Paths.resolve(tmp_path / "song", params, None).reference is None
    (tmp_path / "song" / "reference_mix.wav").write_bytes(b"not audio")  # unreadable: left out, with a warning
    s = Studio(Paths.resolve(tmp_path / "song", params, None), model=Heuristic(sample_rate=SR))
    assert s.reference is None and s.paths.reference is None
