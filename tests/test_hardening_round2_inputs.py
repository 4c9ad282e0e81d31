"""Issue 25, the inputs' side: absurd values, deep JSON and NUL bytes in parameter files (item 7),
lone surrogates in track names (item 8), references too short to compare (item 9), checkpoints
with malformed parameter rows (item 11), a track whose samples overflow float32 (item 12), more
tracks than open files (item 13), duplicate JSON keys (item 14) and locks on track names with dots
(item 16). Inputs are generated in ``tmp_path``; each refused run exits with code 2, names the
file and the fix, and writes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.cli import main
from mixdown.params.io import ParamsError, read_params, write_params

SR = 22050
SRC = str(Path(__file__).parents[1] / "src")


def noise(frames, channels=1, amp=0.2, seed=0):
    return np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)


def errors(caplog) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def base(tmp_path, make_mix_params):
    """``tmp_path/S`` (stems bass.wav, keys.wav) and ``tmp_path/S/p.json`` naming them, sends on."""
    s = tmp_path / "S"
    s.mkdir()
    sf.write(s / "bass.wav", noise(SR, 1, seed=1), SR)
    sf.write(s / "keys.wav", noise(SR, 2, seed=2), SR)
    write_params(make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR,
                                 track_overrides={"bass": {"reverb_send_db": -12.0}}), s / "p.json")
    return s


def edit(path: Path, fn) -> Path:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return path


COMMANDS = {
    "render": ["render", "{s}", "--params", "{p}", "--out", "{t}/out/m.wav"],
    "export-reaper": ["export", "{p}", "--out", "{t}/out/x.RPP"],
    "export-dawproject": ["export", "{p}", "--out", "{t}/out/x.dawproject"],
    "studio": ["studio", "{s}", "--params", "{p}", "--check"],
}


def run(command: str, s: Path, p: Path) -> int:
    return main([a.format(s=s, p=p, t=s.parent) for a in COMMANDS[command]])


# ----------------------------------------------------------------------------- item 7: absurd values
BIG = int("9" * 400)
ABSURD = {
    "400-digit fader_db": (lambda d: d["tracks"][0].update(fader_db=BIG),
                           "track 'bass': fader_db: must be a finite number, got a whole number of 400 digits"),
    "400-digit normalize gain": (lambda d: d["master"].update(normalize={"target_lufs": -14, "ceiling_dbtp": -1,
                                                                         "gain_db": BIG}),
                                 "master: normalize: gain_db must be a finite number, got a whole number of 400"),
    "NUL byte in a file entry": (lambda d: d["tracks"][0].update(file="bass.wav\u0000x"),
                                 "track 'bass': file 'bass.wav\\x00x' holds a NUL character"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(ABSURD))
def test_absurd_values_are_refused_by_name(base, caplog, case, command):
    fn, fragment = ABSURD[case]
    p = edit(base / "p.json", fn)
    before = snapshot(base.parent)
    assert run(command, base, p) == 2, errors(caplog)
    assert f"{p}: " in errors(caplog) and fragment in errors(caplog)
    assert snapshot(base.parent) == before


@pytest.mark.parametrize("command", list(COMMANDS))
def test_json_nested_100k_deep_is_refused_by_name(base, caplog, command):
    p = base / "p.json"
    doc = p.read_text()
    p.write_text(doc[:-2] + ', "notes": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    before = snapshot(base.parent)
    assert run(command, base, p) == 2, errors(caplog)
    assert f"{p}: JSON nested 100001 levels deep (at most 64)" in errors(caplog)
    assert snapshot(base.parent) == before


def test_lone_surrogate_or_nul_in_a_file_entry_never_reaches_the_file_system(base):
    from mixdown.session import SessionError, track_path

    for file in ("bass\ud800.wav", "bass.wav\x00x"):
        with pytest.raises(SessionError, match="holds a character no file name can"):
            track_path(base, file, track="bass")


def test_json_depth_ignores_brackets_inside_strings():
    from mixdown.params.io import loads

    doc = loads(json.dumps({"name": "[[[[{{{{" * 100, "x": [[1]]}))
    assert doc["x"] == [[1]]


# ----------------------------------------------------------------------------- item 8: lone surrogates in names
@pytest.mark.parametrize("fmt", ["RPP", "dawproject"])
def test_a_track_name_with_a_lone_surrogate_exports(base, caplog, fmt):
    p = edit(base / "p.json", lambda d: d["tracks"][0].update(name="\ud800"))
    out = base.parent / "out" / f"x.{fmt}"
    caplog.set_level(logging.WARNING)
    assert main(["export", str(p), "--out", str(out)]) == 0, errors(caplog)
    assert "control characters replaced" in caplog.text
    if fmt == "RPP":
        text = out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
        assert "\ud800" not in text and "NAME ' '" in text.replace('"', "'")


# ----------------------------------------------------------------------------- item 9: tiny references
@pytest.mark.parametrize("frames", [1, 1000])
def test_mix_with_a_reference_too_short_to_compare_is_refused(base, caplog, frames):
    ref = base.parent / "ref.wav"
    sf.write(ref, noise(frames, 2, seed=5), SR)
    before = snapshot(base.parent)
    assert main(["mix", str(base), "--reference", str(ref), "--out", str(base.parent / "out" / "m.wav")]) == 2
    err = errors(caplog)
    assert f"reference mix: {ref}: {frames} frames" in err and "a reference needs at least 1 s" in err
    assert snapshot(base.parent) == before


def test_studio_check_refuses_a_reference_too_short_to_compare(base, caplog):
    ref = base.parent / "ref.wav"
    sf.write(ref, noise(1000, 2, seed=5), SR)
    assert main(["studio", str(base), "--params", str(base / "p.json"), "--reference", str(ref), "--check"]) == 2
    assert "1000 frames (0.045 s) is too short" in errors(caplog)


def test_a_one_second_reference_at_another_rate_is_accepted(base):
    from mixdown.session import load_reference

    sf.write(base.parent / "ref.wav", noise(8000, 2, seed=5), 8000)
    audio, rate = load_reference(base.parent / "ref.wav", SR)
    assert rate == 8000 and audio.shape == (SR, 2)


# ----------------------------------------------------------------------------- item 11: checkpoint rows
def _checkpoint(t: Path, edit_state) -> Path:
    from mixdown.inference.checkpoint import save_checkpoint
    from mixdown.models import DMC

    kwargs = {"sample_rate": SR, "dim": 8, "hidden": 8}
    save_checkpoint(t / "c.pt", DMC(**kwargs), kwargs, sample_rate=SR)
    state = torch.load(t / "c.pt", weights_only=True)
    edit_state(state)
    torch.save(state, t / "c.pt")
    return t / "c.pt"


@pytest.mark.parametrize("row_edit, fragment", [
    (lambda rows: rows.__setitem__(0, rows[0][:1]), "track_specs[0] is list ['input_gain_db']"),
    (lambda rows: rows.__setitem__(3, [rows[3][0], rows[3][1], "-24", rows[3][3], rows[3][4]]), "track_specs[3]"),
    (lambda rows: rows.__setitem__(1, rows[1][:3]), "track_specs[1]"),
], ids=["name only", "range as a string", "no high end"])
def test_checkpoint_with_malformed_parameter_rows_is_refused(base, caplog, row_edit, fragment):
    from mixdown.inference.checkpoint import CheckpointError, read_checkpoint

    ckpt = _checkpoint(base.parent, lambda s: row_edit(s["track_specs"]))
    with pytest.raises(CheckpointError, match="not a row \\[name, unit, low, high, scale\\]"):
        read_checkpoint(ckpt)
    before = snapshot(base.parent)
    assert main(["mix", str(base), "--checkpoint", str(ckpt), "--out", str(base.parent / "out" / "m.wav")]) == 2
    assert f"{ckpt}: {fragment}" in errors(caplog) and "the checkpoint is damaged" in errors(caplog)
    assert snapshot(base.parent) == before


# ----------------------------------------------------------------------------- item 12: float overflow
def test_a_track_whose_samples_overflow_float32_is_named(base, caplog):
    x = noise(SR, seed=6)
    x[100] = 3e38
    sf.write(base / "hot.wav", x, SR, subtype="FLOAT")
    p = edit(base / "p.json", lambda d: d["tracks"][0].update(name="hot", file="hot.wav", input_gain_db=24.0,
                                                              fader_db=12.0))
    before = snapshot(base.parent)
    assert run("render", base, p) == 2, errors(caplog)
    err = errors(caplog)
    assert "track 'hot' (hot.wav, peak +770 dBFS): the signal overflows 32-bit float" in err
    assert "lower its input_gain_db" in err
    assert snapshot(base.parent) == before


def test_a_master_bus_that_overflows_is_named(base):
    from mixdown.dsp.render import render
    from mixdown.session import SessionError

    x = np.full((SR, 1), 3e38, np.float32)
    for name in ("bass.wav", "keys.wav"):
        sf.write(base / name, x, SR, subtype="FLOAT")  # each strip is finite, their sum is not
    params = read_params(base / "p.json")
    for t in params.tracks:
        t.values["reverb_send_db"] = -60.0
    with pytest.raises(SessionError, match="the master bus .* overflows 32-bit float"), np.errstate(over="ignore"):
        render(base, params)


# ----------------------------------------------------------------------------- item 13: open files
@pytest.fixture
def many_tracks(tmp_path, make_mix_params):
    """A parameter file of 300 tracks (every one a file of its own opened once; all name the same
    short stem, which is quicker to write than 300 and opens as many files)."""
    from dataclasses import replace

    s = tmp_path / "many"
    s.mkdir()
    sf.write(s / "t.wav", noise(3000, amp=0.01), SR)
    params = make_mix_params(["t.wav"], sample_rate=SR)
    params.tracks = [replace(params.tracks[0], name=f"t{i:03d}", values={**params.tracks[0].values, "pan": i / 300})
                     for i in range(300)]
    write_params(params, s / "p.json")
    return s


def test_300_tracks_under_ulimit_256_are_read_in_turn(many_tracks, tmp_path):
    """``ulimit -n 256`` (hard): the tracks are opened in turn; the mix is the one rendered with
    every file open. The limit is set in the child process only."""
    from mixdown.dsp.render import render

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    out = tmp_path / "m.wav"
    proc = subprocess.run([sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())",
                           "render", str(many_tracks), "--params", str(many_tracks / "p.json"), "--out", str(out)],
                          preexec_fn=limit, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "300 tracks but at most 256 open files" in proc.stderr and "reading the tracks in turn" in proc.stderr
    expected = render(many_tracks, read_params(many_tracks / "p.json")).audio
    np.testing.assert_array_equal(sf.read(out, dtype="float32")[0], expected)


def test_a_short_soft_limit_on_open_files_is_raised(many_tracks, caplog):
    from mixdown.dsp.render import render

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip("the hard limit leaves no room to raise the soft one")
    caplog.set_level(logging.INFO)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        render(many_tracks, read_params(many_tracks / "p.json"))
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 300
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "raised the limit on open files from 256" in caplog.text


# ----------------------------------------------------------------------------- item 14: duplicate keys
@pytest.mark.parametrize("command", list(COMMANDS))
def test_duplicate_keys_are_refused_naming_the_key(base, caplog, command):
    p = base / "p.json"
    text = p.read_text()
    p.write_text(text.replace('"fader_db": 0.0', '"fader_db": 999.0, "fader_db": -3', 1))
    before = snapshot(base.parent)
    assert run(command, base, p) == 2, errors(caplog)
    assert f"{p}: track 'bass': key 'fader_db' appears twice (999.0 and -3)" in errors(caplog)
    assert "keep one" in errors(caplog)
    assert snapshot(base.parent) == before


def test_a_duplicate_top_level_key_is_refused(base):
    p = base / "p.json"
    p.write_text(p.read_text().replace('"sample_rate": 22050', '"sample_rate": 22050, "sample_rate": 44100', 1))
    with pytest.raises(ParamsError, match="key 'sample_rate' appears twice"):
        read_params(p)


# ----------------------------------------------------------------------------- item 16: names with dots
def test_locks_are_parsed_against_the_session_s_track_names():
    from mixdown.params import spec as S
    from mixdown.params.locks import apply_locks, parse_locks

    names = ["vox.lead", "master", "bass", "bass.compressor"]  # bass.compressor.ratio: only track bass's
    locks = parse_locks(["vox.lead.fader_db=-6", "master.fader_db=-5", "master.output_gain_db=-1",
                         "bass.eq.2.gain_db=3", "bass.compressor.ratio=2"], names, SR)
    assert locks == {("vox.lead", "fader_db"): -6.0, ("master", "fader_db"): -5.0,
                     ("master", "output_gain_db"): -1.0, ("bass", "eq.2.gain_db"): 3.0,
                     ("bass", "compressor.ratio"): 2.0}
    tv, mv = np.zeros((4, S.N_TRACK_PARAMS)), np.zeros(S.N_MASTER_PARAMS)
    apply_locks(tv, mv, names, locks)
    assert tv[0, S.TRACK_NAMES.index("fader_db")] == -6.0 and tv[1, S.TRACK_NAMES.index("fader_db")] == -5.0
    assert mv[S.MASTER_NAMES.index("output_gain_db")] == -1.0
    with pytest.raises(ValueError, match="ambiguous: it names track 'master'"):
        parse_locks(["master.eq.0.gain_db=1"], names, SR)  # both the track and the bus have an EQ
    with pytest.raises(ValueError, match="no track 'vox'"):
        parse_locks(["vox.fader_db=1"], names, SR)
    with pytest.raises(ValueError, match="no key 'fadr'"):
        parse_locks(["vox.lead.fadr=1"], names, SR)


def test_refinement_frees_a_track_named_master_and_holds_the_bus(tmp_path):
    from mixdown.inference.refine import free_masks
    from mixdown.params import spec as S

    t_free, m_free = free_masks(["master", "a"], {("master", "fader_db"): -3.0, ("master", "output_gain_db"): 0.0})
    assert not t_free[0, S.TRACK_NAMES.index("fader_db")] and t_free[1].all()
    assert not m_free[S.MASTER_NAMES.index("output_gain_db")] and int((~m_free).sum()) == 1


def test_mix_locks_tracks_whose_names_hold_dots_or_say_master(tmp_path, caplog):
    s = tmp_path / "S"
    s.mkdir()
    for i, name in enumerate(("vox.lead", "master", "bass")):
        sf.write(s / f"{name}.wav", noise(SR, seed=10 + i), SR)
    out = tmp_path / "m.wav"
    assert main(["mix", str(s), "--out", str(out), "--lock", "vox.lead.fader_db=-6",
                 "--lock", "master.fader_db=-7"]) == 0, errors(caplog)
    tracks = {t.name: t for t in read_params(out.with_suffix(".json")).tracks}
    assert tracks["vox.lead"].values["fader_db"] == -6.0 and tracks["master"].values["fader_db"] == -7.0
