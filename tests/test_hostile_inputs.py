"""Issue 13's table: one case per class of hostile input through every command that reads it
(``mixdown studio`` through ``--check``: what the page reads when it opens, without serving).

Each case builds its inputs in ``tmp_path`` (a two-track session, its parameter file, a corpus),
runs the command, and checks three things: the exit code (0 done, 2 bad input; 1 would be a
bug), that the error or warning names the culprit (the file, key or argument), and that no file
changed except the command's requested outputs (every file under ``tmp_path`` hashed before and
after; on failure nothing at all may change).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
import torch

from mixdown.cli import main
from mixdown.params.io import write_params

SR = 22050
SRC = str(Path(__file__).parents[1] / "src")

#: each command's argv (``{s}`` session, ``{p}`` parameter file, ``{t}`` tmp_path) and its outputs
COMMANDS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "mix": (["mix", "{s}", "--out", "{t}/out/m.wav"], ("out/m.wav", "out/m.json")),
    "render": (["render", "{s}", "--params", "{p}", "--out", "{t}/out/m.wav"], ("out/m.wav",)),
    "export-dawproject": (["export", "{p}", "--session", "{s}", "--out", "{t}/out/x.dawproject", "--embed-audio"],
                          ("out/x.dawproject",)),
    "export-reaper": (["export", "{p}", "--session", "{s}", "--out", "{t}/out/x.RPP"], ("out/x.RPP",)),
    "dataset": (["dataset", "build", "--source", "folder", "--root", "{t}/corpus", "--out", "{t}/out/ds",
                 "--no-progress"], ("out/ds/",)),
    "evaluate": (["evaluate", "--data", "{t}/corpus/none.jsonl", "--out", "{t}/out/eval", "--baselines", "none"],
                 ("out/eval/",)),
    "studio": (["studio", "{s}", "--check"], ()),  # the page's reading of a session, without serving
    "studio-params": (["studio", "{s}", "--params", "{p}", "--check"], ()),
    "train": (["train", "experiment=heuristic", "trainer.max_steps=1", "data.train.manifests=[{t}/corpus/train.jsonl]",
               "data.val.manifests=[{t}/corpus/train.jsonl]"], ()),
}


def noise(frames, channels=1, amp=0.2, seed=0):
    return np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)


def edit_params(t: Path, fn) -> None:
    doc = json.loads((t / "p.json").read_text())
    fn(doc)
    (t / "p.json").write_text(json.dumps(doc))


def add_track(t: Path, file: str, name: str = "c") -> None:
    """Name ``file`` in the parameter file as a third track (a copy of the first's settings)."""
    edit_params(t, lambda d: d["tracks"].append({**d["tracks"][0], "name": name, "file": file}))


def put_in_session_and_corpus(t: Path, name: str, write: Callable[[Path], None]) -> None:
    """The same hostile file in the session (mix/render/export) and in the corpus (dataset build)."""
    write(t / "session" / name)
    write(t / "corpus" / "song" / name)


# ----------------------------------------------------------------------------- input classes
def outside_file(t):
    sf.write(t / "secret.wav", noise(SR, seed=7), SR)
    add_track(t, "../secret.wav")
    (t / "session" / "c.wav").symlink_to(t / "secret.wav")  # what mix finds: a link leading out


def fifo(t):
    os.mkfifo(t / "session" / "c.wav")
    os.mkfifo(t / "corpus" / "song" / "c.wav")
    add_track(t, "c.wav")


def symlink_loop(t):
    (t / "session" / "c.wav").symlink_to("c.wav")
    (t / "corpus" / "song" / "c.wav").symlink_to("c.wav")
    add_track(t, "c.wav")


def truncated_flac(t):
    def write(path):
        sf.write(path.with_suffix(".flac"), noise(SR * 2, seed=3), SR)
        data = path.with_suffix(".flac").read_bytes()
        path.with_suffix(".flac").write_bytes(data[: len(data) // 2])

    put_in_session_and_corpus(t, "c.flac", write)
    add_track(t, "c.flac")


def nan_samples(t):
    x = noise(SR, seed=4)
    x[100] = np.nan
    put_in_session_and_corpus(t, "c.wav", lambda p: sf.write(p, x, SR, subtype="FLOAT"))
    add_track(t, "c.wav")


def three_channels(t):
    put_in_session_and_corpus(t, "c.wav", lambda p: sf.write(p, noise(SR, 3), SR))
    add_track(t, "c.wav")


def text_named_wav(t):
    put_in_session_and_corpus(t, "c.wav", lambda p: p.write_text("not audio"))
    add_track(t, "c.wav")


def binary_params(t):
    (t / "p.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")


def typo_key(t):
    edit_params(t, lambda d: d["tracks"][0].update(fader_dB=-3.0))


def absurd_normalize(t):
    edit_params(t, lambda d: d["master"].update(normalize={"target_lufs": -14, "ceiling_dbtp": -1, "gain_db": 1000}))


def low_sample_rate(t):
    for name in ("a.wav", "b.wav"):
        sf.write(t / "session" / name, noise(3000, seed=5), 3000)
    edit_params(t, lambda d: d.update(sample_rate=3000))


def huge_sample_rate(t):
    edit_params(t, lambda d: d.update(sample_rate=10 ** 9))


def newline_name(t):
    edit_params(t, lambda d: d["tracks"][0].update(name="a\n<JS evil 0\n>"))


def output_is_input(t):
    pass  # the argv is changed: see OUTPUT_IS_INPUT


def unwritable_output(t):
    (t / "out").write_text("a file where the output folder should be")


def nan_checkpoint(t):
    from mixdown.inference.checkpoint import save_checkpoint
    from mixdown.models import DMC

    kwargs = {"sample_rate": SR, "dim": 8, "hidden": 8}
    model = DMC(**kwargs)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    save_checkpoint(t / "nan.pt", model, kwargs, sample_rate=SR)


def missing_manifest(t):
    pass  # corpus/none.jsonl, corpus/train.jsonl do not exist


OUTPUT_IS_INPUT = {"mix": ["--params", "{s}/b.wav"], "render": ["--out", "{s}/a.wav"],
                   "export-dawproject": ["--out", "{p}"], "export-reaper": ["--out", "{p}"]}


@dataclass
class Case:
    setup: Callable[[Path], None]
    codes: dict[str, int]  # command -> expected exit code
    culprit: str  # must appear in an error (code 2) or warning (code 0)
    extra: dict[str, list[str]] = field(default_factory=dict)  # command -> extra argv


CASES = {
    "file outside the session": Case(outside_file, {"mix": 2, "render": 2, "export-dawproject": 2,
                                                    "export-reaper": 2, "studio": 2, "studio-params": 2},
                                     "outside the session folder"),
    "pipe named as a track": Case(fifo, {"mix": 0, "render": 2, "export-reaper": 2, "dataset": 0, "studio": 0},
                                  "c.wav"),
    "symlink loop": Case(symlink_loop, {"mix": 0, "render": 2, "export-dawproject": 2, "dataset": 0, "studio": 0},
                         "c.wav"),
    "truncated FLAC": Case(truncated_flac, {"mix": 2, "render": 2, "dataset": 0, "studio": 2}, "c.flac"),
    "NaN samples": Case(nan_samples, {"mix": 2, "render": 2, "dataset": 0, "studio": 2}, "c.wav"),
    "3 channels": Case(three_channels, {"mix": 2, "render": 2, "export-reaper": 2, "dataset": 0, "studio": 2},
                       "3 channels"),
    "text file named .wav": Case(text_named_wav, {"mix": 2, "render": 2, "export-dawproject": 2, "dataset": 0,
                                                  "studio": 2}, "c.wav"),
    "binary parameter file": Case(binary_params, {"render": 2, "export-reaper": 2, "studio-params": 2}, "p.json"),
    "typo in a key": Case(typo_key, {"render": 0, "export-dawproject": 0, "studio-params": 0},
                          "'fader_dB' (did you mean 'fader_db'?)"),
    "normalize gain 1000 dB": Case(absurd_normalize, {"render": 2, "export-reaper": 2, "studio-params": 2},
                                   "normalize: gain_db"),
    "3 kHz session": Case(low_sample_rate, {"mix": 2, "render": 2, "studio": 2}, "3000"),
    "sample rate 10^9 with --resample": Case(huge_sample_rate, {"render": 2, "export-reaper": 2}, "sample_rate",
                                             extra={"render": ["--resample"]}),
    "newline in a track name": Case(newline_name, {"render": 0, "export-reaper": 0, "export-dawproject": 0},
                                    "control characters replaced" ),
    "output is an input": Case(output_is_input, {c: 2 for c in OUTPUT_IS_INPUT}, "is the input",
                               extra=OUTPUT_IS_INPUT),
    "unwritable output": Case(unwritable_output, {"mix": 2, "render": 2, "export-dawproject": 2,
                                                  "export-reaper": 2, "dataset": 2}, "out"),
    "checkpoint with NaN weights": Case(nan_checkpoint, {"mix": 2, "studio": 2}, "nan.pt: weights hold NaN",
                                        extra={c: ["--checkpoint", "{t}/nan.pt"] for c in ("mix", "studio")}),
    "missing manifest": Case(missing_manifest, {"evaluate": 2, "train": 2}, ".jsonl"),
}
# the newline case's culprit for render is the track name in the parameter file, which render
# does not write anywhere: it only has to succeed (nothing to warn about)
WARNS_ONLY_FOR = {"newline in a track name": {"export-reaper", "export-dawproject"}}

TABLE = [(k, c) for k, case in CASES.items() for c in case.codes]


def _hash_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink() or not p.is_file():
                out[str(p.relative_to(root))] = "special"
                continue
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def base(tmp_path, make_mix_params):
    s = tmp_path / "session"
    s.mkdir()
    song = tmp_path / "corpus" / "song"
    song.mkdir(parents=True)
    for i, name in enumerate(("a.wav", "b.wav")):
        x = noise(SR // 2, 1 + i, seed=i)
        sf.write(s / name, x, SR)
        sf.write(song / name, x, SR)
    write_params(make_mix_params(["a.wav", "b.wav"], sample_rate=SR), tmp_path / "p.json")
    return tmp_path


def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    """``train`` in its own process (hydra owns logging and argv); the others in this one."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from mixdown.cli import main; sys.exit(main())",
                           *argv], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": SRC})
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind, command", TABLE, ids=[f"{k}-{c}" for k, c in TABLE])
def test_hostile_input(base, caplog, kind, command):
    case = CASES[kind]
    case.setup(base)
    argv_t, outputs = COMMANDS[command]
    fmt = {"s": str(base / "session"), "p": str(base / "p.json"), "t": str(base)}
    argv = [a.format(**fmt) for a in argv_t + case.extra.get(command, [])]
    before = _hash_tree(base)
    caplog.set_level(logging.WARNING)
    if command == "train":
        code, text = _run(argv, base)
        assert "Traceback" not in text
    else:
        code = main(argv)
        text = " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert code == case.codes[command], text
    if code == 2 or command in WARNS_ONLY_FOR.get(kind, {command}):
        assert case.culprit in text, text
    after = _hash_tree(base)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    allowed = {k for k in changed if code == 0 and any(k == o or (o.endswith("/") and k.startswith(o))
                                                        for o in outputs)}
    assert changed == allowed, f"files changed besides the outputs: {sorted(changed - allowed)}"
    if code == 0:
        assert all(any(k == o or k.startswith(o) for k in after) for o in outputs), "an output is missing"
