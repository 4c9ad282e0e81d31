"""Issue 13, items 5, 6 and 9 at the library level: outputs are published whole and together
(forked writers killed mid-write, interrupted and concurrent publishers), stale temporaries are
cleaned up, unwritable outputs give a message, and parameter files that are binary, hold unknown
keys or absurd values are refused or reported instead of raising or being silently ignored."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time

import pytest

from mixdown import fileio
from mixdown.fileio import OutputError, atomic_write, atomic_write_all, atomic_write_text
from mixdown.params.io import ParamsError, read_params, to_dict, write_params


# ----------------------------------------------------------------------------- atomic writes
def _fork(child) -> int:
    pid = os.fork()
    if pid == 0:  # child: run, never return into pytest
        try:
            child()
        finally:
            os._exit(0)
    return pid


def _killed_mid_write(targets: list, stop_in: int):
    """Fork a process that writes ``targets`` together and is SIGKILLed while writing file
    ``stop_in`` (its first half written). Returns once the child is dead."""
    r, w = os.pipe()

    def child():
        os.close(r)

        def writer(k):
            def write(tmp):
                with open(tmp, "wb") as fh:
                    fh.write(b"new half")
                    fh.flush()
                    if k == stop_in:
                        os.write(w, b"x")
                        time.sleep(60)
                    fh.write(b" and the rest")
            return write

        atomic_write_all([(t, writer(k)) for k, t in enumerate(targets)])

    pid = _fork(child)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(r)
    return pid


def _age(folder, seconds=3600):
    for p in folder.iterdir():
        if p.name.startswith("."):
            os.utime(p, (time.time() - seconds,) * 2)


def test_sigkill_mid_write_leaves_old_files_and_next_run_removes_the_temporaries(tmp_path, caplog):
    mix, params = tmp_path / "mix.wav", tmp_path / "mix.json"
    mix.write_bytes(b"old mix")
    params.write_bytes(b"old params")
    pid = _killed_mid_write([mix, params], stop_in=1)  # killed while writing the second of the pair
    assert mix.read_bytes() == b"old mix" and params.read_bytes() == b"old params"  # nothing published
    stale = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert len(stale) == 2 and all(re.fullmatch(rf"\.mix\.{pid}\.[0-9a-f]{{8}}\.tmp\.(wav|json)", n) for n in stale)
    _age(tmp_path)
    unrelated = tmp_path / ".mix.12345.notours.tmp.wav"  # not our pattern: never touched
    unrelated.write_bytes(b"keep")
    caplog.set_level(logging.INFO)
    atomic_write_all([(mix, lambda t: t.write_bytes(b"mix 2")), (params, lambda t: t.write_bytes(b"params 2"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".mix.12345.notours.tmp.wav", "mix.json", "mix.wav"])
    assert mix.read_bytes() == b"mix 2" and params.read_bytes() == b"params 2"
    assert any("interrupted run" in r.getMessage() and str(pid) in r.getMessage() for r in caplog.records)


def test_temporaries_of_live_or_recent_writers_are_kept(tmp_path):
    target = tmp_path / "mix.wav"
    live = tmp_path / f".mix.{os.getppid()}.0123abcd.tmp.wav"  # a live process (our parent)
    live.write_bytes(b"being written")
    # no such process here, but its lock is held: a live writer in another PID namespace (issue 25, item 17)
    dead_recent = tmp_path / ".mix.999999999.0123abcd.tmp.wav"
    dead_recent.write_bytes(b"x")
    import fcntl

    fd = os.open(dead_recent, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    atomic_write(target, lambda t: t.write_bytes(b"new"))
    assert live.exists() and dead_recent.exists()
    os.close(fd)  # the writer is gone: its temporary goes at once, however recent
    atomic_write(target, lambda t: t.write_bytes(b"newer"))
    assert live.exists() and not dead_recent.exists()


@pytest.mark.parametrize("other_thread", [False, True], ids=["single-threaded", "other-thread-alive"])
def test_interrupt_during_publishing_is_held_until_both_files_are_in_place(tmp_path, monkeypatch, other_thread):
    """With another thread alive (torch's, the studio's) the kernel may deliver Ctrl-C to that
    thread: holding it back must not rely on the main thread's signal mask."""
    stop = threading.Event()
    if other_thread:
        threading.Thread(target=stop.wait, daemon=True).start()
    mix, params = tmp_path / "mix.wav", tmp_path / "mix.json"
    mix.write_bytes(b"old mix")
    params.write_bytes(b"old params")
    real_replace = os.replace
    calls = []

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two renames

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_all([(mix, lambda t: t.write_bytes(b"new mix")),
                          (params, lambda t: t.write_bytes(b"new params"))])
    stop.set()
    assert len(calls) == 2  # the interrupt arrived only after the second rename
    assert mix.read_bytes() == b"new mix" and params.read_bytes() == b"new params"


def test_two_publishers_of_the_same_pair_never_interleave(tmp_path):
    """Run A publishes slowly (a pause between its two renames); run B publishes in that pause.
    B must wait for A's pair to be complete: the result is B's mix beside B's settings."""
    mix, params = tmp_path / "mix.wav", tmp_path / "mix.json"
    r, w = os.pipe()

    def run_a():
        os.close(r)
        real_replace = os.replace
        n = []

        def slow(src, dst):
            real_replace(src, dst)
            n.append(dst)
            if len(n) == 1:
                os.write(w, b"x")
                time.sleep(1.0)

        os.replace = slow
        atomic_write_all([(mix, lambda t: t.write_bytes(b"A")), (params, lambda t: t.write_bytes(b"A"))])

    pid = _fork(run_a)
    os.close(w)
    assert os.read(r, 1) == b"x"  # A has renamed its mix and not yet its settings
    atomic_write_all([(mix, lambda t: t.write_bytes(b"B")), (params, lambda t: t.write_bytes(b"B"))])
    os.waitpid(pid, 0)
    os.close(r)
    assert (mix.read_bytes(), params.read_bytes()) == (b"B", b"B")


def test_outputs_that_are_the_same_file_are_refused_before_writing(tmp_path):
    target = tmp_path / "x.json"
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(ValueError, match="same file"):
        atomic_write_all([(target, lambda t: t.write_bytes(b"1")),
                          (tmp_path / "link.json", lambda t: t.write_bytes(b"2"))])
    assert not target.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_folder_is_an_output_error_naming_the_file(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=r"ro/a\.json: cannot write \(Permission denied\)"):
            atomic_write_text(ro / "a.json", "{}")
    finally:
        ro.chmod(0o755)


def test_output_under_a_file_or_onto_a_folder_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="file/a.json: cannot write"):
        atomic_write_text(tmp_path / "file" / "a.json", "{}")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match="folder: cannot write .*give a file name"):
        atomic_write_text(tmp_path / "folder", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]


def test_stale_cleanup_only_touches_the_target_s_own_temporaries(tmp_path):
    other = tmp_path / ".other.999999999.0123abcd.tmp.wav"
    other.write_bytes(b"x")
    _age(tmp_path)
    fileio.remove_stale_temporaries(tmp_path / "mix.wav")
    assert other.exists()


# ----------------------------------------------------------------------------- parameter files
@pytest.fixture
def params_file(tmp_path, make_mix_params):
    path = tmp_path / "p.json"
    write_params(make_mix_params(["bass.wav", "keys.wav"]), path)
    return path


def _edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"RIFF\x24\x00\x00\x00WAVEfmt ",
                                  "{\"format\": \"caf\u00e9\"}".encode("latin-1")])
def test_binary_parameter_file_is_refused_with_a_message(tmp_path, data):
    path = tmp_path / "mix.wav.json"
    path.write_bytes(data)
    with pytest.raises(ParamsError, match=r"mix\.wav\.json: not a text \(UTF-8 JSON\) parameter file"):
        read_params(path)


def test_parameter_file_that_is_a_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    with pytest.raises(ParamsError, match="not a regular file"):
        read_params(fifo)


def test_unknown_keys_are_reported_with_the_close_match(params_file, caplog):
    def edit(doc):
        doc["tracks"][0]["mute"] = True
        doc["tracks"][1]["fader_dB"] = -3.0
        doc["master"]["compressor"]["treshold_db"] = -3.0
        doc["master"]["eq"][2]["gain"] = 1.0
        doc["sample_rte"] = 48000
        doc["notes"] = "a writer's own key"  # top-level extras stay silent

    _edit(params_file, edit)
    caplog.set_level(logging.WARNING)
    read_params(params_file)
    text = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "track 'bass': 'mute'" in text
    assert "track 'keys': 'fader_dB' (did you mean 'fader_db'?)" in text
    assert "'treshold_db' (did you mean 'threshold_db'?)" in text
    assert "master: eq[2]: 'gain' (did you mean 'gain_db'?)" in text
    assert "'sample_rte' (did you mean 'sample_rate'?)" in text
    assert "notes" not in text


def test_a_typo_that_replaces_a_key_names_the_typo(params_file):
    def edit(doc):
        doc["tracks"][1]["fader_dB"] = doc["tracks"][1].pop("fader_db")

    with pytest.raises(ParamsError, match=r"track 'keys': missing key 'fader_db' \(found 'fader_dB': a typo\?\)"):
        read_params(_edit(params_file, edit))


@pytest.mark.parametrize("key, value", [("gain_db", 1000.0), ("gain_db", -500.0), ("target_lufs", 30.0),
                                        ("ceiling_dbtp", 40.0)])
def test_normalize_values_outside_their_range_are_refused(params_file, key, value):
    def edit(doc):
        doc["master"]["normalize"] = {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 3.0, key: value}

    with pytest.raises(ParamsError, match=rf"master: normalize: {key}: .* is outside"):
        read_params(_edit(params_file, edit))


@pytest.mark.parametrize("rate", [0, 3000, 10 ** 9, 44100.0])
def test_sample_rates_outside_the_console_s_range_are_refused(params_file, rate):
    with pytest.raises(ParamsError, match="sample_rate"):
        read_params(_edit(params_file, lambda d: d.update(sample_rate=rate)))


def test_writer_output_reads_back_without_warnings(params_file, caplog, make_mix_params):
    caplog.set_level(logging.WARNING)
    p = make_mix_params(["a.wav"], model="x", notes={"k": 1})
    p.master.normalize = {"target_lufs": -14.0, "ceiling_dbtp": -1.0, "gain_db": 20.0}
    write_params(p, params_file)
    assert to_dict(read_params(params_file)) == to_dict(p)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
