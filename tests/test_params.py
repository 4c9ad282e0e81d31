"""The ``mixdown.params/2`` reader (and the reading of ``mixdown.params/1`` files), checked rule by
rule against ``docs/console.md``; the ranges and normalisation are in
``test_params_ranges.py``, writing in ``test_params_write.py`` (both use the helpers here)."""

import copy
import json

import numpy as np
import pytest

from mixdown.params import spec as S
from mixdown.params.io import MixParams, ParamsError, read_params, write_params

# The example document of the console spec, completed with six master bands.
EXAMPLE = """
{
  "format": "mixdown.params/2",
  "sample_rate": 44100,
  "tracks": [
    {
      "name": "bass",
      "file": "bass.wav",
      "input_gain_db": 0.0,
      "highpass_hz": 20.0,
      "eq": [
        {"type": "low_shelf", "freq_hz": 100.0, "gain_db": 2.0, "q": 0.707},
        {"type": "peak", "freq_hz": 250.0, "gain_db": -3.0, "q": 1.0},
        {"type": "peak", "freq_hz": 800.0, "gain_db": 0.0, "q": 1.0},
        {"type": "peak", "freq_hz": 2500.0, "gain_db": 1.5, "q": 1.0},
        {"type": "peak", "freq_hz": 6000.0, "gain_db": 0.0, "q": 1.0},
        {"type": "high_shelf", "freq_hz": 8000.0, "gain_db": -2.0, "q": 0.707}
      ],
      "compressor": {"threshold_db": -18.0, "ratio": 4.0, "attack_ms": 10.0,
                     "release_ms": 120.0, "knee_db": 6.0, "makeup_db": 3.0},
      "fader_db": -3.0,
      "pan": 0.0,
      "reverb_send_db": -24.0
    }
  ],
  "master": {
    "eq": [
      {"type": "low_shelf", "freq_hz": 60.0, "gain_db": 1.0, "q": 0.8},
      {"type": "peak", "freq_hz": 200.0, "gain_db": -1.0, "q": 0.7},
      {"type": "peak", "freq_hz": 1000.0, "gain_db": 0.5, "q": 2.0},
      {"type": "peak", "freq_hz": 3000.0, "gain_db": 0.0, "q": 1.0},
      {"type": "peak", "freq_hz": 9000.0, "gain_db": -0.5, "q": 3.0},
      {"type": "high_shelf", "freq_hz": 12000.0, "gain_db": 1.5, "q": 0.707}
    ],
    "compressor": {"threshold_db": -10.0, "ratio": 2.0, "attack_ms": 30.0,
                   "release_ms": 200.0, "knee_db": 6.0, "makeup_db": 0.0},
    "reverb": {"predelay_ms": 20.0, "decay_low_s": 1.8, "decay_mid_s": 1.5, "decay_high_s": 0.7,
               "highpass_hz": 200.0, "return_db": 0.0},
    "output_gain_db": 0.0
  }
}
"""


def example() -> dict:
    return json.loads(EXAMPLE)


def example_v1() -> dict:
    """The same document in the format before the reverb: no send, no ``master.reverb``."""
    doc = example()
    doc["format"] = "mixdown.params/1"
    del doc["tracks"][0]["reverb_send_db"], doc["master"]["reverb"]
    return doc


def json_key(flat_name: str) -> str:
    """How an error message spells a flat name: ``eq.2.q`` -> ``eq[2].q``, the master's
    ``reverb.decay_mid_s`` -> ``master.reverb: decay_mid_s``."""
    parts = flat_name.split(".")
    if parts[0] == "reverb":
        return f"master.reverb: {parts[1]}"
    return f"eq[{parts[1]}].{parts[2]}" if parts[0] == "eq" else flat_name


def set_flat(obj: dict, flat_name: str, value) -> None:
    parts = flat_name.split(".")
    if parts[0] == "eq":
        obj["eq"][int(parts[1])][parts[2]] = value
    elif parts[0] in ("compressor", "reverb"):
        obj[parts[0]][parts[1]] = value
    else:
        obj[flat_name] = value


def read_doc(tmp_path, doc, text=None):
    path = tmp_path / "mix.params.json"
    path.write_text(json.dumps(doc) if text is None else text)
    return read_params(path)


def rejected(tmp_path, doc, *fragments, text=None) -> str:
    """Assert the document is rejected and the message holds the file name and every fragment."""
    with pytest.raises(ParamsError) as e:
        read_doc(tmp_path, doc, text)
    msg = str(e.value)
    for frag in ("mix.params.json",) + fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


# ----------------------------------------------------------------------------- reading
def test_spec_example_parses_with_every_value(tmp_path):
    p = read_doc(tmp_path, example())
    assert p.sample_rate == 44100 and p.master.normalize is None and p.extra == {}
    (t,) = p.tracks
    assert (t.name, t.file) == ("bass", "bass.wav")
    assert set(t.values) == {s.name for s in S.TRACK_SPECS}
    assert t.values["eq.0.gain_db"] == 2.0 and t.values["eq.5.freq_hz"] == 8000.0
    assert t.values["compressor.release_ms"] == 120.0 and t.values["fader_db"] == -3.0
    assert p.master.values["eq.4.q"] == 3.0 and p.master.values["compressor.attack_ms"] == 30.0
    assert t.values["reverb_send_db"] == -24.0
    assert {k: p.master.values[f"reverb.{k}"] for k in example()["master"]["reverb"]} == \
        {"predelay_ms": 20.0, "decay_low_s": 1.8, "decay_mid_s": 1.5, "decay_high_s": 0.7, "highpass_hz": 200.0,
         "return_db": 0.0}
    assert p.track_matrix().shape == (1, S.N_TRACK_PARAMS)
    assert p.master_vector().shape == (S.N_MASTER_PARAMS,)
    assert p.normalize_gain_db == 0.0


def test_round_trip_preserves_every_value(tmp_path, make_mix_params):
    rng = np.random.default_rng(7)
    sr = 48000
    tv = S.denormalize(rng.uniform(0, 1, (3, S.N_TRACK_PARAMS)), S.TRACK_SPECS, sr)
    mv = S.denormalize(rng.uniform(0, 1, S.N_MASTER_PARAMS), S.MASTER_SPECS, sr)
    p = MixParams.from_arrays(sr, ["kick", "snare", "vox"], ["a/kick.wav", "snare.flac", "vox.wav"],
                              tv, mv, model="mixdown-small@abc123", notes={"take": 3})
    p.master.normalize = {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 2.345678901234}
    path = tmp_path / "sub" / "p.json"
    write_params(p, path)
    q = read_params(path)
    assert q.sample_rate == sr
    assert [(t.name, t.file) for t in q.tracks] == [("kick", "a/kick.wav"), ("snare", "snare.flac"),
                                                    ("vox", "vox.wav")]
    np.testing.assert_array_equal(q.track_matrix(), tv)  # bit-exact: JSON keeps repr(float)
    np.testing.assert_array_equal(q.master_vector(), mv)
    assert q.master.normalize == p.master.normalize
    assert q.normalize_gain_db == 2.345678901234
    assert q.extra == {"model": "mixdown-small@abc123", "notes": {"take": 3}}
    # writing what was read gives the same file
    write_params(q, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_unknown_keys_ignored_by_reader_and_kept_by_writer(tmp_path):
    doc = example()
    doc["model"] = {"name": "mixdown-small", "sha256": "ab12"}
    doc["notes"] = "rough mix"
    doc["tracks"][0]["colour"] = "red"
    doc["tracks"][0]["eq"][1]["enabled"] = True
    doc["tracks"][0]["compressor"]["sidechain"] = "kick"
    doc["master"]["meter"] = "k-14"
    p = read_doc(tmp_path, doc)
    assert p.tracks[0].values == read_doc(tmp_path, example()).tracks[0].values
    assert p.extra == {"model": {"name": "mixdown-small", "sha256": "ab12"}, "notes": "rough mix"}
    write_params(p, tmp_path / "out.json")
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["format"] == "mixdown.params/2"
    assert written["model"] == doc["model"] and written["notes"] == "rough mix"


def test_master_normalize_is_read_and_validated(tmp_path):
    doc = example()
    doc["master"]["normalize"] = {"target_lufs": -14, "ceiling_dbtp": -1.0, "gain_db": 3.5}
    p = read_doc(tmp_path, doc)
    assert p.master.normalize == {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 3.5}
    assert p.normalize_gain_db == 3.5
    for key in ("target_lufs", "ceiling_dbtp", "gain_db"):
        bad = copy.deepcopy(doc)
        del bad["master"]["normalize"][key]
        rejected(tmp_path, bad, "master", "normalize", key)
        bad["master"]["normalize"][key] = "loud"
        rejected(tmp_path, bad, "master", "normalize", key)
        bad["master"]["normalize"][key] = 1234.5678  # replaced in the text by a JSON literal
        text = json.dumps(bad).replace("1234.5678", "Infinity")
        rejected(tmp_path, None, "master", "normalize", key, "finite", text=text)
    bad = copy.deepcopy(doc)
    bad["master"]["normalize"] = [-14.0, -1.0, 3.5]
    rejected(tmp_path, bad, "master", "normalize")


@pytest.mark.parametrize("fmt", ["mixdown.params/4", "mixdown.params", "", None])
def test_unknown_format_rejected(tmp_path, fmt):
    doc = example()
    doc["format"] = fmt
    rejected(tmp_path, doc, "format", "mixdown.params/2", "mixdown.params/1")


def test_missing_format_rejected(tmp_path):
    doc = example()
    del doc["format"]
    rejected(tmp_path, doc, "format")


@pytest.mark.parametrize("value", ["absent", 0, -44100, 44100.0, "44100", True, None])
def test_bad_sample_rate_rejected(tmp_path, value):
    doc = example()
    if value == "absent":
        del doc["sample_rate"]
    else:
        doc["sample_rate"] = value
    rejected(tmp_path, doc, "sample_rate")


TRACK_KEYS = ["name", "file", "input_gain_db", "highpass_hz", "eq", "compressor", "fader_db", "pan",
              "reverb_send_db"]


@pytest.mark.parametrize("key", TRACK_KEYS)
def test_missing_track_key_rejected(tmp_path, key):
    doc = example()
    del doc["tracks"][0][key]
    where = "tracks[0]" if key == "name" else "bass"
    rejected(tmp_path, doc, where, repr(key))


@pytest.mark.parametrize("band", range(6))
@pytest.mark.parametrize("key", ["freq_hz", "gain_db", "q", "type"])
def test_missing_eq_band_key_rejected(tmp_path, band, key):
    for section in ("track", "master"):
        doc = example()
        obj = doc["tracks"][0] if section == "track" else doc["master"]
        del obj["eq"][band][key]
        rejected(tmp_path, doc, "bass" if section == "track" else "master", f"eq[{band}]",
                 key if key != "type" else "type")


@pytest.mark.parametrize("key", S.COMPRESSOR_KEYS)
def test_missing_compressor_key_rejected(tmp_path, key):
    for section in ("track", "master"):
        doc = example()
        obj = doc["tracks"][0] if section == "track" else doc["master"]
        del obj["compressor"][key]
        rejected(tmp_path, doc, "bass" if section == "track" else "master", "compressor", repr(key))


@pytest.mark.parametrize("key", ["eq", "compressor", "reverb", "output_gain_db"])
def test_missing_master_key_rejected(tmp_path, key):
    doc = example()
    del doc["master"][key]
    rejected(tmp_path, doc, "master", repr(key))


REVERB_KEYS = ["predelay_ms", "decay_low_s", "decay_mid_s", "decay_high_s", "highpass_hz", "return_db"]


@pytest.mark.parametrize("key", REVERB_KEYS)
def test_missing_reverb_key_rejected_naming_master_reverb(tmp_path, key):
    doc = example()
    del doc["master"]["reverb"][key]
    rejected(tmp_path, doc, "master.reverb", repr(key))


@pytest.mark.parametrize("value", ["1.5", True, None, [1.5], {"s": 1.5}])
@pytest.mark.parametrize("key", REVERB_KEYS)
def test_reverb_values_of_other_types_rejected(tmp_path, key, value):
    doc = example()
    doc["master"]["reverb"][key] = value
    rejected(tmp_path, doc, "master.reverb", key, "number")


@pytest.mark.parametrize("value", ["-24", False, None])
def test_send_of_another_type_rejected_naming_the_track(tmp_path, value):
    doc = example()
    doc["tracks"][0]["reverb_send_db"] = value
    rejected(tmp_path, doc, "'bass'", "reverb_send_db", "number")


def test_reverb_must_be_an_object(tmp_path):
    doc = example()
    doc["master"]["reverb"] = [20.0, 1.8, 1.5, 0.7, 200.0, 0.0]
    rejected(tmp_path, doc, "master", "'reverb'")


def test_version_1_file_reads_with_sends_off_and_writes_as_version_2(tmp_path):
    """A file from before the reverb: every send off (-60 dB, the spec's 'no send'), the reverb at
    the spec's example settings (silent), every other value as written; re-written as /2."""
    v1 = read_doc(tmp_path, example_v1())
    v2 = read_doc(tmp_path, example())
    assert v1.tracks[0].values == {**v2.tracks[0].values, "reverb_send_db": -60.0}
    assert v1.master.values == v2.master.values  # the example's reverb is the spec's example
    assert list(v1.tracks[0].values) == list(S.TRACK_NAMES) and list(v1.master.values) == list(S.MASTER_NAMES)
    write_params(v1, tmp_path / "v2.json")
    doc = json.loads((tmp_path / "v2.json").read_text())
    assert doc["format"] == "mixdown.params/2" and doc["tracks"][0]["reverb_send_db"] == -60.0
    assert doc["master"]["reverb"] == example()["master"]["reverb"]
    # keys a /1 file never had are ignored there (a writer may add keys), and its checks still name the key
    doc1 = example_v1()
    doc1["tracks"][0]["reverb_send_db"] = -6.0
    assert read_doc(tmp_path, doc1).tracks[0].values["reverb_send_db"] == -60.0
    doc1["tracks"][0]["pan"] = 2.0
    rejected(tmp_path, doc1, "'bass'", "pan", "outside")
    bad = example_v1()
    del bad["tracks"][0]["fader_db"]
    rejected(tmp_path, bad, "'bass'", "'fader_db'")


def test_sends_need_a_rate_the_reverb_is_defined_at(tmp_path):
    """The reverb's 4 kHz band edge must lie below 0.45 x sample_rate: at 8 kHz a send is an error
    naming the track and the key; sends off are fine."""
    doc = example()
    doc["sample_rate"] = 8000
    for band in (4, 5):  # the example's 6 and 8 kHz bands are out of reach at 8 kHz anyway
        doc["tracks"][0]["eq"][band]["freq_hz"] = 3000.0
        doc["master"]["eq"][band]["freq_hz"] = 3000.0
    doc["master"]["eq"][5]["freq_hz"] = 1500.0
    doc["master"]["eq"][4]["freq_hz"] = 3000.0
    doc["tracks"][0]["eq"][5]["freq_hz"] = 1500.0
    rejected(tmp_path, doc, "'bass'", "reverb_send_db", "8889")
    doc["tracks"][0]["reverb_send_db"] = -60.0
    assert read_doc(tmp_path, doc).tracks[0].values["reverb_send_db"] == -60.0


def test_file_key_order_follows_the_spec(tmp_path):
    write_params(read_doc(tmp_path, example()), tmp_path / "out.json")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert list(doc["tracks"][0]) == ["name", "file", "input_gain_db", "highpass_hz", "eq", "compressor",
                                      "fader_db", "pan", "reverb_send_db"]
    assert list(doc["master"]) == ["eq", "compressor", "reverb", "output_gain_db"]
    assert list(doc["master"]["reverb"]) == REVERB_KEYS


@pytest.mark.parametrize("key", ["tracks", "master"])
def test_missing_top_level_key_rejected(tmp_path, key):
    doc = example()
    del doc[key]
    rejected(tmp_path, doc, repr(key))


def test_empty_track_list_rejected(tmp_path):
    doc = example()
    doc["tracks"] = []
    rejected(tmp_path, doc, "tracks")


@pytest.mark.parametrize("section", ["track", "master"])
def test_wrong_band_type_or_order_rejected(tmp_path, section):
    doc = example()
    obj = doc["tracks"][0] if section == "track" else doc["master"]
    where = "bass" if section == "track" else "master"
    swapped = copy.deepcopy(doc)
    o = swapped["tracks"][0] if section == "track" else swapped["master"]
    o["eq"][0], o["eq"][5] = o["eq"][5], o["eq"][0]
    rejected(tmp_path, swapped, where, "eq[0]", "low_shelf", "high_shelf")
    obj["eq"][2]["type"] = "notch"
    rejected(tmp_path, doc, where, "eq[2]", "'peak'", "notch")


@pytest.mark.parametrize("n_bands", [0, 5, 7])
@pytest.mark.parametrize("section", ["track", "master"])
def test_wrong_number_of_bands_rejected(tmp_path, n_bands, section):
    doc = example()
    obj = doc["tracks"][0] if section == "track" else doc["master"]
    obj["eq"] = (obj["eq"] + [dict(obj["eq"][4])])[:n_bands] if n_bands != 7 else \
        obj["eq"][:5] + [dict(obj["eq"][4])] + obj["eq"][5:]
    assert len(obj["eq"]) == n_bands
    rejected(tmp_path, doc, "bass" if section == "track" else "master", "eq", "6 bands", str(n_bands))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("section,flat", [("track", "pan"), ("track", "eq.3.gain_db"),
                                          ("track", "compressor.ratio"), ("master", "output_gain_db"),
                                          ("master", "eq.0.freq_hz"), ("track", "reverb_send_db"),
                                          ("master", "reverb.decay_mid_s")])
def test_non_finite_json_literals_rejected_naming_track_and_key(tmp_path, literal, section, flat):
    doc = example()
    obj = doc["tracks"][0] if section == "track" else doc["master"]
    set_flat(obj, flat, 1234.5678)  # a marker, replaced in the text by the literal
    text = json.dumps(doc).replace("1234.5678", literal)
    assert literal in text
    msg = rejected(tmp_path, None, "bass" if section == "track" else "master", json_key(flat), text=text)
    assert "finite" in msg


def test_non_numbers_rejected(tmp_path):
    for value in ("0.5", True, None, [0.5]):
        doc = example()
        doc["tracks"][0]["pan"] = value
        rejected(tmp_path, doc, "bass", "pan", "number")


def test_frequency_must_lie_below_0p45_sample_rate(tmp_path):
    doc = example()
    doc["sample_rate"] = 32000
    doc["tracks"][0]["eq"][5]["freq_hz"] = 16000.0  # in the shelf's range, above 14400 Hz
    msg = rejected(tmp_path, doc, "bass", "eq[5].freq_hz", "0.45")
    assert "16000" in msg
    doc["tracks"][0]["eq"][5]["freq_hz"] = 14400.0  # exactly 0.45 x sample_rate: not below
    rejected(tmp_path, doc, "bass", "eq[5].freq_hz")
    doc["tracks"][0]["eq"][5]["freq_hz"] = 14399.0
    assert read_doc(tmp_path, doc).tracks[0].values["eq.5.freq_hz"] == 14399.0
    doc["master"]["eq"][3]["freq_hz"] = 15000.0
    rejected(tmp_path, doc, "master", "eq[3].freq_hz", "0.45")
    # at 8 kHz the example's 6 kHz peak is the first band out of reach
    doc = example()
    doc["sample_rate"] = 8000
    rejected(tmp_path, doc, "bass", "eq[4].freq_hz", "3600")


def test_duplicate_track_names_rejected(tmp_path):
    doc = example()
    second = copy.deepcopy(doc["tracks"][0])
    second["file"] = "bass_di.wav"
    doc["tracks"].append(second)
    rejected(tmp_path, doc, "duplicate", "bass")
    second["name"] = "bass di"
    assert [t.name for t in read_doc(tmp_path, doc).tracks] == ["bass", "bass di"]


def test_error_names_the_right_track_among_several(tmp_path):
    doc = example()
    for name in ("kick", "snare"):
        t = copy.deepcopy(doc["tracks"][0])
        t["name"], t["file"] = name, f"{name}.wav"
        doc["tracks"].append(t)
    doc["tracks"][2]["compressor"]["attack_ms"] = 0.01
    msg = rejected(tmp_path, doc, "'snare'", "compressor.attack_ms")
    assert "'bass'" not in msg and "'kick'" not in msg


def test_invalid_json_and_unreadable_file_rejected(tmp_path):
    rejected(tmp_path, None, "JSON", text=EXAMPLE[:200])
    rejected(tmp_path, None, "object", text="[1, 2]")
    with pytest.raises(ParamsError, match="nothing.json"):
        read_params(tmp_path / "nothing.json")
