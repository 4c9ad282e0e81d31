"""The studio's loop cache (per track: the pre-fader strip output and its reverb return, the master
strip's input) against fresh renders after every kind of edit, undo and redo, a lock and Mix, mute
and solo, a change of the reverb and of the region; its meters against the strips' own output; and
the page's delivery: the status that waits for news, the raw float32 audio."""
# ruff: noqa: F811  (the studio and client fixtures are imported from studio_helpers)

import time

import numpy as np
import pytest

pytest.importorskip("starlette")

from mixdown.api import render  # noqa: E402
from mixdown.params.io import read_params  # noqa: E402
from mixdown.studio import backend as B  # noqa: E402
from mixdown.studio import levels as L  # noqa: E402
from mixdown.studio.engine import RegionCache, audible  # noqa: E402
from mixdown.studio.state import MixState  # noqa: E402
from studio_helpers import SR, P, client, make_session, rms_db, studio  # noqa: E402, F401

EDITS = [("track0", "fader_db", -9.0), ("track1", "pan", 0.4), ("track2", "reverb_send_db", -6.0),
         ("track0", "eq.2.gain_db", 4.0), ("track1", "compressor.threshold_db", -30.0),
         ("track2", "input_gain_db", 3.0), ("track1", "highpass_hz", 180.0), ("master", "eq.1.gain_db", 3.0),
         ("master", "compressor.ratio", 3.0), ("master", "reverb.decay_mid_s", 1.2),
         ("master", "reverb.return_db", -3.0), ("track0", "reverb_send_db", -60.0), ("track0", "fader_db", -2.0)]


def error_db(x: np.ndarray, ref: np.ndarray) -> float:
    with np.errstate(divide="ignore"):  # -inf: the same samples
        return rms_db(x - ref) - rms_db(ref)


@pytest.fixture
def song(tmp_path):
    params = read_params(make_session(tmp_path / "song", n_tracks=4, seconds=3.0, seed=7, linear_master=False))
    for t in params.tracks:  # every track sends into the reverb
        t.values["reverb_send_db"] = -12.0
    return B.open_session(tmp_path / "song"), params


def test_every_edit_undo_and_redo_gives_a_fresh_renders_samples(song, tmp_path):
    session, params = song
    state = MixState(params)
    cache, n = RegionCache(session, 0, 2 * SR), 2 * SR
    on = audible(state.names, set(), set())

    def check(what):
        p = state.copy_params()
        got = cache.mix(p, on)
        fresh = RegionCache(session, 0, n).mix(p, on)
        full = render(tmp_path / "song", p)[:n]  # the region starts at the song's start: the exact render
        assert error_db(got, fresh) < -120.0, what
        assert error_db(got, full) < -120.0, what

    check("first")
    for k, (target, key, value) in enumerate(EDITS):
        state.apply(state.parse([{"target": target, "key": key, "value": value}]))
        check(f"{target}.{key}")
        if k % 3 == 0:  # sometimes the idle work made the reverb returns meanwhile, sometimes not
            while cache.fill(state.copy_params()):
                pass
    for _ in range(4):
        state.undo()
        check("undo")
    state.redo()
    check("redo")
    state.set_lock("track1", "fader_db", True)
    tv, mv = state.params.track_matrix() * 0.98, state.params.master_vector()
    state.take_model(tv, mv, state.lock_values())  # Mix: every track changes but the lock holds
    check("mix with a lock")
    state.reset()
    check("reset")


def test_mute_solo_and_a_region_later_in_the_song(song):
    session, params = song
    start, end = SR // 2, 2 * SR
    cache = RegionCache(session, start, end)
    for mute, solo in [(set(), set()), ({"track1"}, set()), (set(), {"track2"}), (set(), {"track0", "track3"}),
                       (set(), set())]:
        on = audible([t.name for t in params.tracks], mute, solo)
        params.tracks[0].values["fader_db"] -= 1.0
        fresh = RegionCache(session, start, end).mix(params, on)
        assert error_db(cache.mix(params, on), fresh) < -120.0, (mute, solo)
        cache.fill(params)


def test_the_meters_are_the_strips_own_levels(song):
    session, params = song
    cache = RegionCache(session, SR // 4, 2 * SR)
    params.tracks[1].values["pan"] = -0.7
    params.tracks[2].values["fader_db"] = 4.0
    cache.mix(params, [True] * 4)
    strips = np.empty_like(cache.x)
    B.track_strips(params, cache.channels).process(cache.x, strips)  # the strips as the renderer runs them
    peak, rms = L.peak_rms(strips[:, cache.preroll:], cache.hop)
    np.testing.assert_allclose(cache.peak, peak, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(cache.rms, rms, rtol=1e-4, atol=1e-12)  # a meter: 0.1 dB is 1e-2


def test_the_status_answers_when_a_new_loop_is_in(client, studio):
    assert studio.engine.wait_idle(60)
    st = client.get(P + "api/status").json()
    for _ in range(50):  # the meters come after the renders: wait for a quiet moment
        t0 = time.monotonic()
        quiet = client.get(P + "api/status", params={"wait_s": 0.3, "tag": st["tag"]}).json()
        if quiet["tag"] == st["tag"]:
            break
        st = quiet
    assert time.monotonic() - t0 >= 0.3 and quiet["tag"] == st["tag"]  # nothing new: answered at the deadline
    client.post(P + "api/params", json={"changes": [{"target": "track0", "key": "fader_db", "value": -1.0}]})
    t0 = time.monotonic()
    while True:  # each answer carries news (the settings, the new loop, its meters) until the loop is in
        st = client.get(P + "api/status", params={"wait_s": 5, "tag": st["tag"]}).json()
        if st["loop"]["version"] == st["version"]:
            break
    assert time.monotonic() - t0 < 5.0
    assert client.get(P + "api/status", params={"wait_s": "soon"}).status_code == 400


def test_the_raw_audio_is_the_wavs_samples(client, studio):
    assert studio.engine.wait_idle(60)
    import io

    import soundfile as sf

    for scope, source in [("loop", "mix"), ("loop", "raw"), ("full", "mix"), ("loop", "reference")]:
        r = client.get(P + f"api/audio/{scope}/{source}.f32")
        assert r.status_code == 200 and r.headers["x-mixdown-sample-rate"] == str(SR)
        raw = np.frombuffer(r.content, dtype="<f4").reshape(int(r.headers["x-mixdown-frames"]), 2)
        wav = sf.read(io.BytesIO(client.get(P + f"api/audio/{scope}/{source}.wav").content), dtype="float32")[0]
        np.testing.assert_array_equal(raw, wav)
    assert client.get(P + "api/audio/loop/mix.mp3").status_code == 404


def test_many_edits_added_to_the_kept_bus_stay_exact(song, monkeypatch):
    session, params = song
    monkeypatch.setattr(RegionCache, "MAX_INCREMENTS", 10_000)  # never summed afresh: rounding must not pile up
    cache = RegionCache(session, SR // 4, 2 * SR)
    on = [True] * 4
    cache.mix(params, on)
    while cache.fill(params):
        pass
    rng = np.random.default_rng(3)
    for k in range(300):
        t = params.tracks[rng.integers(4)].values
        key = ["fader_db", "pan", "reverb_send_db"][k % 3]
        t[key] = {"fader_db": rng.uniform(-30, 6), "pan": rng.uniform(-1, 1),
                  "reverb_send_db": rng.uniform(-40, 0)}[key]
        on[rng.integers(4)] = bool(rng.integers(5))  # now and then a track muted or back
        if k % 7 == 0:  # and a strip re-run: its old output taken off the kept bus, the new one added
            t["eq.2.gain_db"] = rng.uniform(-6, 6)
        cache.mix(params, on)
    assert cache._increments > 250  # the edits were added, not summed afresh
    assert error_db(cache.mix(params, on), RegionCache(session, SR // 4, 2 * SR).mix(params, on)) < -120.0
