"""The master limiter (``docs/console.md``, "Master limiter"): the exact kernel against the spec
text, the torch function against the exact one, the ceiling held, the format bump (``/3``; ``/1``
and ``/2`` read with the limiter off), both render paths, the exports, and ``mixdown mix
--target-lufs -14`` reaching its target at or below -1 dBTP."""

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.dsp import limiter as L
from mixdown.measure import loudness
from mixdown.params.io import ParamsError, from_dict, read_params, to_dict, write_params

SR = 22050
ROOT = Path(__file__).resolve().parents[1]


def hot(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """``(frames, 2)`` float32 noise bursts peaking well above 0 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    env = np.sin(np.linspace(0, 12 * np.pi, n)) ** 8
    return (rng.normal(0, 0.5, (n, 2)) * (0.2 + 2 * env[:, None])).astype(np.float32)


def spec_gain(y: np.ndarray, settings: dict) -> np.ndarray:
    """The limiter's gain written plainly from the spec text (Python loops over samples)."""
    from mixdown.measure.loudness import _tp_kernels

    h = _tp_kernels(4)[0]
    n = y.shape[1]
    s = np.abs(y).max(0).astype(np.float64)
    pad = np.concatenate([np.zeros((2, 23)), y, np.zeros((2, 24))], axis=1)
    for row in h:
        v = np.array([[np.dot(pad[c, m:m + 48], row) for m in range(n)] for c in range(2)])
        s = np.maximum(s, np.abs(v).max(0))
    c = 10 ** (settings["ceiling_dbtp"] / 20)
    r = np.where(s > c, c / s, 1.0)
    lk = max(1, round(settings["lookahead_ms"] * SR / 1000))
    span = lk + 24
    r_at = lambda j: r[j] if 0 <= j < n else 1.0  # noqa: E731
    a = {m: min(r_at(j) for j in range(m - span, m + span + 1)) for m in range(-lk, n + lk)}
    b = np.array([np.mean([a[m + k] for k in range(-lk, lk + 1)]) for m in range(n)])
    pole = math.exp(-1 / (0.001 * settings["release_ms"] * SR))
    e, out = 1.0, np.empty(n)
    for m in range(n):
        e = min(b[m], pole * e + (1 - pole) * b[m])
        out[m] = e
    return out


def test_exact_kernel_is_the_spec():
    y = hot(0.1).T
    settings = {"ceiling_dbtp": -3.0, "lookahead_ms": 1.0, "release_ms": 20.0}
    np.testing.assert_allclose(L.gain(y, SR, settings), spec_gain(y, settings), rtol=0, atol=1e-9)


def test_the_ceiling_holds_and_quiet_signals_pass_untouched():
    x = hot()
    for ceiling in (-1.0, -6.0):
        y = L.apply_exact(x, SR, {**L.DEFAULTS, "ceiling_dbtp": ceiling})
        assert 20 * np.log10(np.abs(y).max()) <= ceiling + 1e-6
        assert loudness.true_peak_dbtp(y.T, SR) <= ceiling + 0.05
    quiet = 0.05 * x
    assert np.array_equal(L.apply_exact(quiet, SR, L.DEFAULTS), quiet)


def test_a_limiter_commutes_with_gain():
    """What the DAW mappings rely on: limiting g*x at C is g times limiting x at C - g dB."""
    x, g_db = hot(), -7.5
    settings = dict(L.DEFAULTS)
    a = L.apply_exact(x * np.float32(10 ** (g_db / 20)), SR, settings)
    b = L.apply_exact(x, SR, {**settings, "ceiling_dbtp": settings["ceiling_dbtp"] - g_db}) * 10 ** (g_db / 20)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_torch_agrees_with_the_exact_path_and_passes_gradients():
    x = hot(1.0)
    exact = L.apply_exact(x, SR, L.DEFAULTS)
    xt = torch.tensor(x.T[None].copy(), requires_grad=True)
    yt = L.apply_torch(xt, SR, L.DEFAULTS)
    err = yt.detach()[0].numpy().T - exact
    assert 10 * np.log10((err.astype(np.float64) ** 2).sum() / (exact.astype(np.float64) ** 2).sum() + 1e-300) < -60
    yt.pow(2).sum().backward()
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


def _doc(fmt: str, **master_extra) -> dict:
    from mixdown.params import spec as S
    from mixdown.params.io import MixParams

    names = ["a"]
    tv = np.array([[S.neutral_track_values(SR)[k] for k in S.TRACK_NAMES]])
    mv = np.array([S.neutral_master_values(SR)[k] for k in S.MASTER_NAMES])
    doc = to_dict(MixParams.from_arrays(SR, names, ["a.wav"], tv, mv))
    doc["format"] = fmt
    doc["master"].update(master_extra)
    return doc


def test_format_3_holds_the_limiter_and_older_formats_read_it_off(caplog):
    lim = {"ceiling_dbtp": -1.0, "lookahead_ms": 2.0, "release_ms": 80.0}
    p = from_dict(_doc("mixdown.params/3", limiter=lim))
    assert p.master.finish == {"limiter": lim}
    assert to_dict(p)["format"] == "mixdown.params/3" and to_dict(p)["master"]["limiter"] == lim
    assert from_dict(_doc("mixdown.params/3")).master.finish == {}
    off = from_dict(_doc("mixdown.params/2", limiter=lim))  # /2 has no limiter: an unknown key, ignored
    assert off.master.finish == {} and "limiter" in caplog.text
    assert to_dict(off)["format"] == "mixdown.params/2"  # nothing /2 cannot hold: written as /2
    with pytest.raises(ParamsError, match=r"master: limiter: ceiling_dbtp: 3.0 .*outside"):
        from_dict(_doc("mixdown.params/3", limiter={**lim, "ceiling_dbtp": 3.0}))
    with pytest.raises(ParamsError, match="master: limiter: missing key 'release_ms'"):
        from_dict(_doc("mixdown.params/3", limiter={"ceiling_dbtp": -1.0, "lookahead_ms": 2.0}))


def test_both_render_paths_run_it_last(tmp_path):
    from mixdown.dsp.console import Console
    from mixdown.dsp.render import render

    x = hot(1.0)[:, :1] * 0.5
    sf.write(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    doc = _doc("mixdown.params/3", limiter={"ceiling_dbtp": -6.0, "lookahead_ms": 2.0, "release_ms": 50.0})
    doc["master"]["output_gain_db"] = 4.0
    (tmp_path / "p.json").write_text(json.dumps(doc))
    params = read_params(tmp_path / "p.json")
    limited = render(tmp_path, params).audio
    params.master.finish = {}
    plain = render(tmp_path, params).audio
    np.testing.assert_array_equal(limited, L.apply_exact(plain, SR, doc["master"]["limiter"]))
    assert 20 * np.log10(np.abs(limited).max()) <= -6.0 + 1e-6 < 20 * np.log10(np.abs(plain).max())
    tv = torch.tensor(params.track_matrix(), dtype=torch.float32)[None]
    mv = torch.tensor(params.master_vector(), dtype=torch.float32)[None]
    mix = Console(SR)(torch.from_numpy(x.T.copy())[None, None], tv, mv, normalized=False,
                      finish={"limiter": doc["master"]["limiter"]})[0].numpy().T
    err = mix - limited
    assert 10 * np.log10((err.astype(np.float64) ** 2).sum() / (limited.astype(np.float64) ** 2).sum()) < -60


def test_exports_map_the_limiter(tmp_path):
    from mixdown.export import export_dawproject, export_reaper

    sf.write(tmp_path / "a.wav", hot(0.5)[:, :1] * 0.1, SR)
    lim = {"ceiling_dbtp": -1.0, "lookahead_ms": 2.0, "release_ms": 80.0}
    doc = _doc("mixdown.params/3", limiter=lim)
    doc["master"]["output_gain_db"] = -2.0
    params = from_dict(doc)
    write_params(params, tmp_path / "p.json")
    rpp = export_reaper(params, tmp_path, tmp_path / "mix.RPP").read_text()
    master_fx = rpp[rpp.index("<MASTERFXLIST"):rpp.index("<TRACK")]
    assert '<JS "LOSER/masterLimiter" ""' in master_fx and "1.000000 1.000000 80.000000" in master_fx  # -1 - -2
    path = export_dawproject(params, tmp_path, tmp_path / "mix.dawproject")
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("project.xml")
    lxml = pytest.importorskip("lxml.etree")
    schema = lxml.XMLSchema(lxml.parse(str(ROOT / "tests" / "schemas" / "Project.xsd")))
    doc_xml = lxml.fromstring(xml)
    assert schema.validate(doc_xml), schema.error_log
    dev = doc_xml.find(".//Limiter")
    assert float(dev.find("Threshold").get("value")) == pytest.approx(1.0)
    assert float(dev.find("Release").get("value")) == pytest.approx(0.08)


def test_mix_reaches_minus_14_lufs_on_the_example(tmp_path):
    from mixdown.cli import main

    out = tmp_path / "mix.wav"
    assert main(["mix", str(ROOT / "data" / "examples" / "rock-8beat"), "--out", str(out),
                 "--params", str(tmp_path / "mix.json"), "--target-lufs", "-14"]) == 0
    audio, sr = sf.read(out, dtype="float32")
    assert abs(loudness.integrated_loudness(audio.T, sr) + 14.0) <= 0.5
    assert loudness.true_peak_dbtp(audio.T, sr) <= -1.0
    params = read_params(tmp_path / "mix.json")
    assert "limiter" in params.master.finish  # the example needs it: without, it stops at -14.7 LUFS


def test_the_studios_loop_preview_runs_it_too(tmp_path):
    from mixdown.studio import backend as B
    from mixdown.studio.engine import RegionCache
    from studio_helpers import SR as STUDIO_SR
    from studio_helpers import make_session

    params = read_params(make_session(tmp_path / "s", n_tracks=2, seconds=2.0))
    params.master.values["output_gain_db"] = 18.0
    session = B.open_session(tmp_path / "s")
    cache = RegionCache(session, STUDIO_SR // 2, STUDIO_SR)
    loud = cache.mix(params, [True, True])
    params.master.finish = {"limiter": {"ceiling_dbtp": -12.0, "lookahead_ms": 2.0, "release_ms": 50.0}}
    limited = cache.mix(params, [True, True])
    assert 20 * np.log10(np.abs(loud).max()) > -12.0 >= 20 * np.log10(np.abs(limited).max()) - 1e-6
