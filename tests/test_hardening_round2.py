"""Issue 25, the outputs' side: files mixdown writes are recognised as its own (item 1), the REAPER
export's impulse response is an output like ``--out`` (items 2, 6), outputs are regular files or
absent (item 3), an output that cannot be written is refused before any work or named when the
disk fills up (items 4, 5), the report's page and figures are written atomically (item 15) and a
killed writer's temporary goes at once (item 17). Sessions are generated in ``tmp_path``.

Every refused run is checked to write nothing (every file under ``tmp_path`` compared before and
after) and to exit with code 2 naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import resource
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixdown.cli import main
from mixdown.params.io import read_params, write_params

SR = 22050


def noise(frames, channels=1, amp=0.2, seed=0):
    return np.random.default_rng(seed).uniform(-amp, amp, (frames, channels)).astype(np.float32)


def errors(caplog) -> str:
    return " | ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under ``folder``: file contents, or the kind of a special file."""
    out: dict[str, object] = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        key = str(p.relative_to(folder))
        if stat.S_ISREG(st.st_mode):
            out[key] = p.read_bytes()
        elif stat.S_ISDIR(st.st_mode):
            out[key] = "folder"
        else:
            out[key] = ("special", stat.S_IFMT(st.st_mode), st.st_rdev)
    return out


@pytest.fixture
def session(tmp_path):
    """``tmp_path/F`` with two stems (F = a session folder of two tracks, as the issue names it)."""
    s = tmp_path / "F"
    s.mkdir()
    sf.write(s / "bass.wav", noise(SR, 1, seed=1), SR)
    sf.write(s / "keys.wav", noise(SR, 2, seed=2), SR)
    return s


@pytest.fixture
def reverb_params(tmp_path, make_mix_params):
    """``tmp_path/R/p.json`` beside two stems: settings with both tracks sending to the reverb (so
    the REAPER export writes an impulse response)."""
    r = tmp_path / "R"
    r.mkdir()
    sf.write(r / "bass.wav", noise(SR, 1, seed=3), SR)
    sf.write(r / "keys.wav", noise(SR, 2, seed=4), SR)
    params = make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR,
                             track_overrides={"bass": {"reverb_send_db": -12.0}, "keys": {"reverb_send_db": -6.0}})
    write_params(params, r / "p.json")
    return r / "p.json"


# ----------------------------------------------------------------------------- item 1: mixdown's own files
def test_the_reaper_export_s_impulse_response_is_never_mixed_as_a_track(session, caplog):
    """mix F; export F/mixdown_mix.json --out F/mixdown_mix.RPP; mix F: the IR beside the project is
    mixdown's own output (tagged), so the second mix has the same two tracks, and the studio still
    opens the session."""
    from mixdown.outputs import is_mixdown_audio

    assert main(["mix", str(session)]) == 0
    first = read_params(session / "mixdown_mix.json")
    # the shipped model sends nothing at times: make sure this export has a reverb
    for t in first.tracks:
        t.values["reverb_send_db"] = -10.0
    write_params(first, session / "mixdown_mix.json")
    assert main(["export", str(session / "mixdown_mix.json"), "--out", str(session / "mixdown_mix.RPP")]) == 0
    ir = session / "mixdown_mix.reverb_ir.wav"
    assert ir.is_file() and is_mixdown_audio(ir)
    assert main(["mix", str(session)]) == 0
    assert [t.name for t in read_params(session / "mixdown_mix.json").tracks] == ["bass", "keys"]
    assert main(["studio", str(session), "--check"]) == 0, errors(caplog)


def test_the_studio_s_reaper_export_tags_its_impulse_response(reverb_params):
    from mixdown.outputs import is_mixdown_audio
    from mixdown.session import find_tracks
    from mixdown.studio import backend as B

    r = reverb_params.parent
    B.export_project(read_params(reverb_params), r, r / "mixdown_mix.RPP", "reaper")
    assert is_mixdown_audio(r / "mixdown_mix.reverb_ir.wav")
    assert [p.name for p in find_tracks(r)[1]] == ["bass.wav", "keys.wav"]


# ----------------------------------------------------------------------------- items 2, 6: the IR is an output
def test_export_never_writes_its_impulse_response_over_its_own_parameter_file(tmp_path, reverb_params, caplog):
    x = reverb_params.with_name("X.reverb_ir.wav")  # a parameter file named like the project's IR
    reverb_params.rename(x)
    before = snapshot(tmp_path)
    assert main(["export", str(x), "--out", str(x.with_name("X.RPP"))]) == 2
    err = errors(caplog)
    assert "impulse response" in err and f"{x} is the input the parameter file" in err
    assert "choose another output path" in err
    assert snapshot(tmp_path) == before


def test_export_onto_a_folder_leaves_no_impulse_response(tmp_path, reverb_params, caplog):
    out = tmp_path / "O" / "x.RPP"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    assert main(["export", str(reverb_params), "--format", "reaper", "--out", str(out)]) == 2
    assert f"{out}: cannot write" in errors(caplog) and "give a file name" in errors(caplog)
    assert snapshot(tmp_path) == before  # no x.reverb_ir.wav beside the folder


def test_export_reaper_library_publishes_the_project_and_its_ir_together(tmp_path, reverb_params):
    from mixdown.export import export_reaper
    from mixdown.fileio import OutputError

    params = read_params(reverb_params)
    (tmp_path / "O" / "x.RPP").mkdir(parents=True)
    with pytest.raises(OutputError, match="x.RPP: cannot write"):
        export_reaper(params, reverb_params.parent, tmp_path / "O" / "x.RPP")
    assert sorted(p.name for p in (tmp_path / "O").iterdir()) == ["x.RPP"]


# ----------------------------------------------------------------------------- item 3: device files
def _char_device(path: Path) -> bool:
    """Make ``path`` a character device like /dev/null (1, 3); False where that is not permitted."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        return False
    return True


@pytest.mark.parametrize("command", ["mix --params", "mix --out", "render --out"])
def test_an_output_that_is_a_device_is_refused_and_left_as_it_is(tmp_path, session, make_mix_params, caplog,
                                                                 command):
    out = tmp_path / "O"
    out.mkdir()
    dev = out / ("cdev" if command == "mix --params" else "cdev.wav")  # as root, /dev/null would be replaced
    if not _char_device(dev):
        pytest.skip("mknod not permitted here (needs root)")
    write_params(make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR), tmp_path / "p.json")
    argv = {"mix --params": ["mix", str(session), "--out", str(out / "m.wav"), "--params", str(dev)],
            "mix --out": ["mix", str(session), "--out", str(dev), "--params", str(out / "m.json")],
            "render --out": ["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(dev)]}
    before = snapshot(tmp_path)
    assert main(argv[command]) == 2
    assert f"{dev}: not a regular file" in errors(caplog) and "give the path of a file" in errors(caplog)
    assert snapshot(tmp_path) == before and stat.S_ISCHR(os.lstat(dev).st_mode)


def test_an_output_that_is_a_pipe_is_refused_and_left_as_it_is(tmp_path, session, make_mix_params, caplog):
    os.mkfifo(tmp_path / "fifo.wav")
    write_params(make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR), tmp_path / "p.json")
    before = snapshot(tmp_path)
    argv = ["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "fifo.wav")]
    assert main(argv) == 2
    assert "fifo.wav: not a regular file" in errors(caplog)
    assert snapshot(tmp_path) == before


def test_the_library_never_replaces_a_device_or_pipe(tmp_path):
    from mixdown.fileio import OutputError, atomic_write_all

    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write_all([(tmp_path / "a.json", lambda t: t.write_text("{}")),
                          (tmp_path / "fifo.json", lambda t: t.write_text("{}"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.json"]
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo.json").st_mode)


def test_mix_params_must_be_named_json(tmp_path, session, caplog):
    before = snapshot(tmp_path)
    assert main(["mix", str(session), "--out", str(tmp_path / "m.wav"), "--params", str(tmp_path / "m.txt")]) == 2
    assert "--params" in errors(caplog) and "m.txt" in errors(caplog) and "name it .json" in errors(caplog)
    assert snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- items 4, 5: unwritable places
@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("flag", ["--out", "--report"])
def test_mix_into_proc_is_refused_before_any_work(tmp_path, session, caplog, flag):
    argv = ["mix", str(session), "--out", str(tmp_path / "m.wav"), "--params", str(tmp_path / "m.json")]
    argv += [flag, "/proc/mixdown-test.wav" if flag == "--out" else "/proc/mixdown-test.html"]
    before = snapshot(tmp_path)
    t0 = time.monotonic()
    assert main(argv) == 2
    assert f"{flag} /proc/mixdown-test" in errors(caplog) and "cannot write" in errors(caplog)
    assert snapshot(tmp_path) == before and time.monotonic() - t0 < 30


def test_mix_report_onto_a_folder_is_refused_before_any_work(tmp_path, session, caplog):
    (tmp_path / "rep").mkdir()
    before = snapshot(tmp_path)
    assert main(["mix", str(session), "--out", str(tmp_path / "m.wav"), "--report", str(tmp_path / "rep")]) == 2
    assert f"--report {tmp_path / 'rep'}: cannot write (Is a directory)" in errors(caplog)
    assert snapshot(tmp_path) == before  # no mix, no settings, no rep_figures/


def test_mix_report_whose_figures_folder_is_a_file_is_refused_before_any_work(tmp_path, session, caplog):
    (tmp_path / "r_figures").write_text("a file where the report's figures go")
    before = snapshot(tmp_path)
    assert main(["mix", str(session), "--out", str(tmp_path / "m.wav"), "--report", str(tmp_path / "r.html")]) == 2
    assert "r_figures: exists and is not a folder" in errors(caplog)
    assert snapshot(tmp_path) == before


@contextlib.contextmanager
def file_size_limit(nbytes: int):
    """A disk that fills up: writes past ``nbytes`` fail with EFBIG in this process (Python ignores
    SIGXFSZ), restored afterwards. Other processes are not affected."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_mix_onto_a_full_disk_is_a_message_and_leaves_nothing(tmp_path, session, caplog):
    """The mix (176 kB) does not fit, the settings (a few kB) would: exit 2 naming the mix and the
    fix, and neither file nor a temporary is left."""
    out = tmp_path / "O"
    out.mkdir()
    with file_size_limit(64_000):
        code = main(["mix", str(session), "--out", str(out / "m.wav")])
    assert code == 2, errors(caplog)
    assert f"{out / 'm.wav'}: cannot write" in errors(caplog) and "free space" in errors(caplog)
    assert list(out.iterdir()) == []


def test_render_onto_a_full_disk_is_a_message_and_leaves_nothing(tmp_path, session, make_mix_params, caplog):
    write_params(make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR), tmp_path / "p.json")
    out = tmp_path / "O"
    out.mkdir()
    with file_size_limit(64_000):
        code = main(["render", str(session), "--params", str(tmp_path / "p.json"), "--out", str(out / "m.wav")])
    assert code == 2 and "m.wav: cannot write" in errors(caplog)
    assert list(out.iterdir()) == []


def test_a_failed_write_removes_the_folders_it_created(tmp_path):
    from mixdown.fileio import OutputError, atomic_write_all

    def full(tmp):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OutputError, match="No space left on device"):
        atomic_write_all([(tmp_path / "a" / "b" / "x.png", lambda t: t.write_bytes(b"png")),
                          (tmp_path / "c" / "x.html", full)])
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- item 15: the report, atomically
def test_the_report_s_page_and_figures_are_published_together(tmp_path, session, make_mix_params, monkeypatch):
    """The studio's Report (:func:`mixdown.studio.backend.write_report`, the library's report): the
    disk fills up while the third figure is written: no page, no figure and no temporary is left
    (plain writes left the first two figures and the folder)."""
    from mixdown.studio import backend as B

    params = make_mix_params(["bass.wav", "keys.wav"], sample_rate=SR)
    real = Path.write_bytes
    calls = []

    def filling_up(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", filling_up)
    out = tmp_path / "O" / "mixdown_mix.html"
    out.parent.mkdir()
    with pytest.raises(OSError, match="No space left"):
        B.write_report(out, session, params, None)
    assert list(out.parent.iterdir()) == []
    monkeypatch.setattr(Path, "write_bytes", real)
    B.write_report(out, session, params, None)
    figures = sorted(p.name for p in (out.parent / "mixdown_mix_figures").iterdir())
    assert len(figures) == 6 and all(re.fullmatch(r"\d\d_\w+\.png", n) for n in figures)  # no temporaries


# ----------------------------------------------------------------------------- item 17: stale temporaries
def test_a_sigkilled_writer_s_temporary_goes_with_the_immediate_rerun(tmp_path, caplog):
    from mixdown.fileio import atomic_write

    target = tmp_path / "mix.wav"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: stuck half-way, then killed
        try:
            os.close(r)

            def write(tmp):
                tmp.write_bytes(b"half")
                os.write(w, b"x")
                time.sleep(60)

            atomic_write(target, write)
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(r)
    assert [p.name.startswith(f".mix.{pid}.") for p in tmp_path.iterdir()] == [True]
    caplog.set_level(logging.INFO)
    atomic_write(target, lambda t: t.write_bytes(b"whole"))  # at once: no grace period
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"] and target.read_bytes() == b"whole"
    assert f"process {pid}" in caplog.text


def test_a_temporary_locked_by_a_live_writer_elsewhere_is_kept(tmp_path):
    """A writer in another PID namespace: its pid means nothing here, but it holds its temporary's
    lock, so the temporary stays however old it is."""
    import fcntl

    from mixdown.fileio import atomic_write

    other = tmp_path / ".mix.999999999.0123abcd.tmp.wav"
    other.write_bytes(b"being written")
    os.utime(other, (time.time() - 3600,) * 2)
    fd = os.open(other, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        atomic_write(tmp_path / "mix.wav", lambda t: t.write_bytes(b"new"))
        assert other.exists()
    finally:
        os.close(fd)
    atomic_write(tmp_path / "mix.wav", lambda t: t.write_bytes(b"newer"))
    assert not other.exists()
