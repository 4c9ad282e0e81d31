"""MixologyDB's reader: hand-checked tracks, the EQ fit against an independent cookbook response,
the build report, and parts and sides from session names."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mixdown.data.mixology import DEFAULT_PATH, TEST_SONGS, read_mixologydb, relative_levels
from mixdown.data.roles import part_of, side_of


def _rbj_db(kind: str, f0: float, gain_db: float, q: float, f: np.ndarray, fs: float = 48000.0) -> np.ndarray:
    """The Audio EQ Cookbook's magnitude response (dB), written out here independently."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / fs
    alpha = math.sin(w0) / (2 * q)
    c = math.cos(w0)
    if kind == "peak":
        b = [1 + alpha * A, -2 * c, 1 - alpha * A]
        a = [1 + alpha / A, -2 * c, 1 - alpha / A]
    else:
        s = 1 if kind == "low_shelf" else -1
        r = 2 * math.sqrt(A) * alpha
        b = [
            A * ((A + 1) - s * (A - 1) * c + r),
            s * 2 * A * ((A - 1) - s * (A + 1) * c),
            A * ((A + 1) - s * (A - 1) * c - r),
        ]
        a = [(A + 1) + s * (A - 1) * c + r, -s * 2 * ((A - 1) + s * (A + 1) * c), (A + 1) + s * (A - 1) * c - r]
    z = np.exp(-1j * 2 * np.pi * f / fs)
    return 20 * np.log10(np.abs(b[0] + b[1] * z + b[2] * z * z) / np.abs(a[0] + a[1] * z + a[2] * z * z))


OCT = 31.25 * 2.0 ** np.arange(10)
KINDS = ("low_shelf", "peak", "peak", "peak", "peak", "high_shelf")


def _console_db(v: dict) -> np.ndarray:
    return sum(
        _rbj_db(k, v[f"eq.{i}.freq_hz"], v[f"eq.{i}.gain_db"], v[f"eq.{i}.q"], OCT)
        for i, k in enumerate(KINDS)
        if v[f"eq.{i}.gain_db"] != 0
    )


@pytest.fixture(scope="module")
def db():
    return read_mixologydb()


def _find(db, mix: str, name: str):
    (d,) = [d for d in db.decisions if d.mix == mix and d.name == name]
    return d


def test_hand_checked_bass(db):
    # Vermont, mix PXL-L2, "Bass D.I.": fader -6, centre, LS 92 Hz q 1 -0.5 dB, bells 396 Hz q 0.37
    # +7.5 dB and 1880 Hz q 3.1 -15 dB, compressor -17.5 dB 2.4:1 12/54 ms make-up 2.5 dB, a spring
    # reverb sent at +1.1 dB (clipped to the console's 0 dB), raw loudness -23.55 LUFS
    d = _find(db, "PXL-L2", "Bass D.I.")
    v = d.values
    assert (d.song, d.part, d.stereo, d.side) == ("Vermont", "bass", False, 0)
    assert d.raw_lufs == pytest.approx(-23.5526, abs=1e-3)
    assert (v["fader_db"], v["pan"], v["input_gain_db"], v["highpass_hz"]) == (-6.0, 0.0, 0.0, 20.0)
    assert (v["eq.0.freq_hz"], v["eq.0.gain_db"], v["eq.0.q"]) == (92.0, -0.5, 1.0)
    assert (v["eq.1.freq_hz"], v["eq.1.gain_db"], v["eq.1.q"]) == (396.0, 7.5, 0.37)
    assert (v["eq.2.freq_hz"], v["eq.2.gain_db"], v["eq.2.q"]) == (1880.0, -15.0, 3.1)
    assert v["eq.3.gain_db"] == v["eq.4.gain_db"] == v["eq.5.gain_db"] == 0.0
    assert (
        v["compressor.threshold_db"],
        v["compressor.ratio"],
        v["compressor.attack_ms"],
        v["compressor.release_ms"],
        v["compressor.makeup_db"],
    ) == (-17.5, 2.4, 12.0, 54.0, 2.5)
    assert v["reverb_send_db"] == 0.0
    assert d.level_db == pytest.approx(-29.5526, abs=1e-3)


def test_hand_checked_drums(db):
    d = _find(db, "PXL-L1", "Snare Bott")  # HP 114 Hz, plate sent at -2 dB, fader -9.5
    assert (d.part, d.values["highpass_hz"], d.values["reverb_send_db"], d.values["fader_db"]) == (
        "snare",
        114.0,
        -2.0,
        -9.5,
    )
    d = _find(db, "PXL-L1", "Rack_15")  # panned +41
    assert (d.part, d.values["pan"]) == ("tom", pytest.approx(0.41))
    d = _find(db, "PXL-L1", "Kick In")  # a gate only: no counterpart, the strip neutral
    assert (d.part, d.values["compressor.ratio"], d.values["reverb_send_db"]) == ("kick", 1.0, -60.0)
    d = _find(db, "DU-P2", "Room (Stereo)")  # a stereo track's two pans, -100 and +100: balance 0
    assert (d.stereo, d.values["pan"]) == (True, 0.0)


def test_eq_fit_against_independent_response(db):
    """Where the six bands had to be fitted (more than four bells, values out of range), the fit's
    reported error is the octave-band distance to the engineer's own bands, computed here."""
    raw = json.loads(DEFAULT_PATH.read_text())["mixes"]
    eqs = {(m["mix-name"], t["track-name"]): t["parameters"].get("eq") or [] for m in raw for t in m["tracks"]}
    fitted = [d for d in db.decisions if d.eq_fit_db > 0.25]
    assert len(fitted) >= 10
    for d in fitted[:15]:
        target = np.zeros_like(OCT)
        for band in eqs[(d.mix, d.name)]:
            kind = {"LS": "low_shelf", "HS": "high_shelf", "NOTCH": "peak"}.get(band["type"])
            v = band["value"]
            if (
                kind
                and v.get("gain") is not None
                and 20 <= v["freq"] <= 20000
                and abs(v["gain"]) <= 30
                and (v.get("q") is None or 0.05 <= v["q"] <= 40)
            ):
                q = v["q"] if v.get("q") else 0.707
                target += _rbj_db(kind, v["freq"], v["gain"], min(max(q, 0.1), 20.0), OCT)
        err = float(np.mean(np.abs(_console_db(d.values) - target)))
        assert err == pytest.approx(d.eq_fit_db, abs=0.35), d.name
        assert err < 3.0
        assert err < float(np.mean(np.abs(target)))  # the fit explains most of the engineer's curve


def test_direct_eq_reproduces_engineer(db):
    d = _find(db, "PXL-L2", "Kick IN")  # LS +12, three bells, HS +8.5: all within the ranges
    expect = (
        _rbj_db("low_shelf", 106, 12, 1, OCT)
        + _rbj_db("peak", 134, -12, 0.6, OCT)
        + _rbj_db("peak", 446, -6.5, 1.1, OCT)
        + _rbj_db("peak", 2360, -11, 2.1, OCT)
        + _rbj_db("high_shelf", 5800, 8.5, 1, OCT)
    )
    assert np.max(np.abs(_console_db(d.values) - expect)) < 1e-9
    assert d.values["highpass_hz"] == 49.6


def test_report_counts_everything(db):
    r = db.report.as_dict()
    assert (r["mixes"], r["tracks"]) == (90, 2411)
    assert r["decisions"] == len(db.decisions)
    # every track is a decision or counted: buses/aux, skipped audio tracks and second placements
    left = sum(v for k, v in r["no_counterpart"].items() if "track" in k) + sum(
        v for k, v in r["skipped"].items() if "track" in k and "compressor" not in k
    )
    assert r["decisions"] + left == r["tracks"]
    for effect in ("gate", "delay", "limiter", "low-pass filter"):
        assert r["no_counterpart"][effect] > 0
    assert "| no counterpart | gate |" in db.report.markdown()
    assert len(db.songs()) == 13 and set(TEST_SONGS) <= set(db.songs())
    assert sum(len({d.mix for d in db.decisions if d.song == s}) for s in TEST_SONGS) == 30


def test_relative_levels_power_sum(db):
    ds = [d for d in db.decisions if d.mix == "PXL-L1" and d.song == "Vermont"]
    rel = relative_levels(ds)
    assert 10 * np.log10(np.sum(10 ** (rel / 10))) == pytest.approx(0.0, abs=1e-9)
    i, j = 0, 1
    assert rel[i] - rel[j] == pytest.approx(ds[i].level_db - ds[j].level_db)


def test_bad_file_named(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="x.json.*not MixologyDB"):
        read_mixologydb(bad)
    with pytest.raises(ValueError, match="missing.json"):
        read_mixologydb(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "name,part",
    [
        ("Kin.09", "kick"),
        ("KOut CONS", "kick"),
        ("SnT2", "snare"),
        ("Snare Bott", "snare"),
        ("Flr Tom", "tom"),
        ("Tom 2", "tom"),
        ("HH CONS", "hihat"),
        ("OH L", "overheads"),
        ("StOH (Stereo)", "overheads"),
        ("Room1 R", "room"),
        ("DrRm_16", "room"),
        ("Bass DI", "bass"),
        ("BassAmp.01_01", "bass"),
        ("LdVox.cmp_01", "lead_vocal"),
        ("LeadVoc", "lead_vocal"),
        ("BG vox 2", "backing_vocal"),
        ("BkV3D", "backing_vocal"),
        ("Act Guit (Stereo)", "acoustic_guitar"),
        ("EGtr1a", "electric_guitar"),
        ("Gtr3 Rm.01_01", "electric_guitar"),
        ("Hammond", "keys"),
        ("wrlz hi_10", "keys"),
        ("Tambourine", "percussion"),
        ("SHAKER ELAM.01_04", "percussion"),
        ("xyz", "other"),
    ],
)
def test_part_of_session_names(name, part):
    assert part_of(name) == part


@pytest.mark.parametrize(
    "name,side",
    [
        ("OH L", -1),
        ("OH R", 1),
        ("OrgODL", -1),
        ("OrgODR CONS", 1),
        ("OHL_02", -1),
        ("OHR COMP_01", 1),
        ("Keys CONS.L", -1),
        ("Room2 R", 1),
        ("John Hi L", -1),
        ("Paul GTR R84", 0),
        ("R Gtr 1", 0),
        ("Kick", 0),
        ("rVh_07", 0),
    ],
)
def test_side_of_session_names(name, side):
    assert side_of(name) == side


def test_names_agree_with_engineers_labels(db):
    """The name rules read the engineers' own instrument labels back for most tracks (parts from
    names are what a model hears at mixing time)."""
    agree = np.mean(
        [part_of(d.name) == d.part or {part_of(d.name), d.part} == {"room", "overheads"} for d in db.decisions]
    )
    assert agree > 0.9
