"""Running LMMS 1.2 headless: repeatable renders, crash and lost-audio detection, retries, plugin checks.

``lmms render`` runs with ``QT_QPA_PLATFORM=offscreen``, 1x oversampling (2x leaves ~20 garbage
samples at the start), 44.1 kHz, 32-bit float WAV. Random numbers (LMMS, ZynAddSubFX, some LADSPA
plugins use ``rand()``, seeded from the clock) are pinned, and so is the order in which tracks
draw them: a tiny preload library (compiled once with the system C compiler into
``<cache>/lmms_seed-<hash>.so``) makes ``srand()`` use a fixed seed, ``time()`` a fixed clock and
``sysconf``/``get_nprocs`` report one CPU (so LMMS starts no mixer worker thread, whose race with
the renderer thread otherwise reorders the ``rand()`` calls of ZynAddSubFX instances); LMMS also
runs on one CPU (``taskset``) with Qt's hash seed fixed and address-space randomisation off
(``setarch -R``: with several ZynAddSubFX instances the order they draw random numbers in
otherwise follows their heap addresses). Renders are then bit-identical; the builder renders
twice and records any difference.

A render that exits non-zero, writes no audio, or logs ``NOTES TOO MANY`` (ZynAddSubFX dropping
notes) is retried; after ``retries`` failures :class:`RenderError` names the project and the reason.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import soundfile as sf

from mixdown.data.builders.lmms_project import write_project
from mixdown.errors import MixdownError

log = logging.getLogger(__name__)
SAMPLE_RATE = 44100
#: where Debian's LMMS keeps its plugins, LADSPA plugins and factory samples
PLUGIN_DIRS = (Path("/usr/lib/x86_64-linux-gnu/lmms"), Path("/usr/lib/lmms"), Path("/usr/local/lib/lmms"))
LADSPA_DIRS = tuple(d / "ladspa" for d in PLUGIN_DIRS) + (Path("/usr/lib/ladspa"), Path("/usr/local/lib/ladspa"))
SAMPLE_DIRS = (Path("/usr/share/lmms/samples"), Path("/usr/local/share/lmms/samples"))
#: log lines that mean the render lost audio although LMMS exited normally
BAD_LOG = ("NOTES TOO MANY",)
SEED_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static unsigned long seed(void) { const char *s = getenv("MIXDOWN_LMMS_SEED"); return s ? strtoul(s, 0, 10) : 1ul; }
void srand(unsigned s) {
    (void)s;
    void (*real)(unsigned) = (void (*)(unsigned))dlsym(RTLD_NEXT, "srand");
    real((unsigned)seed());
}
time_t time(time_t *t) { time_t v = (time_t)(1000000000ul + seed()); if (t) *t = v; return v; }
long sysconf(int name) {
    if (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF) return 1;
    long (*real)(int) = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    return real(name);
}
int get_nprocs(void) { return 1; }
int get_nprocs_conf(void) { return 1; }
"""


class RenderError(MixdownError, RuntimeError):
    """LMMS failed on a project after every retry; the message says how."""


def find_lmms() -> str | None:
    """Path of the ``lmms`` binary, or None."""
    return shutil.which("lmms")


def seed_library(cache: Path) -> Path | None:
    """The preload library in ``cache`` (compiled when missing), or None without a C compiler (renders then vary)."""
    lib = Path(cache) / f"lmms_seed-{hashlib.sha1(SEED_SOURCE.encode()).hexdigest()[:10]}.so"
    if lib.is_file():
        return lib
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log.warning("no C compiler: LMMS renders are not pinned to a seed and will vary from run to run")
        return None
    lib.parent.mkdir(parents=True, exist_ok=True)
    src = lib.with_suffix(".c")
    src.write_text(SEED_SOURCE)
    tmp = lib.with_name(f".{lib.name}.{os.getpid()}")
    res = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(tmp), str(src), "-ldl"], capture_output=True,
                         text=True)
    if res.returncode != 0:
        log.warning("could not compile %s (%s); LMMS renders will vary", src, res.stderr.strip()[-300:])
        return None
    os.replace(tmp, lib)
    return lib


# ----------------------------------------------------------------------------- what a project needs
def _ladspa_file(name: str) -> bool:
    stem = name[:-3] if name.endswith(".so") else name
    return any((d / f"{stem}.so").is_file() for d in LADSPA_DIRS)


def _plugin(name: str) -> bool:
    return any((d / f"lib{name.lower()}.so").is_file() for d in PLUGIN_DIRS)


def resolve_sample(src: str, project: Path) -> Path | None:
    """A sample file named in a project: absolute, beside the project, or in LMMS's factory samples."""
    p = Path(src)
    for cand in ([p] if p.is_absolute() else [project.parent / p] + [d / p for d in SAMPLE_DIRS]):
        if cand.is_file():
            return cand
    return None


def missing_requirements(root: ET.Element, project: Path) -> list[str]:
    """What the project needs and this machine lacks: instrument/effect plugins, LADSPA files, samples."""
    out = []
    for inst in root.iter("instrument"):
        if inst.get("name") and not _plugin(inst.get("name")):
            out.append(f"instrument plugin {inst.get('name')}")
    for eff in root.iter("effect"):
        name = eff.get("name", "")
        if name == "ladspaeffect":
            attrs = {a.get("name"): a.get("value") for a in eff.iter("attribute")}
            if attrs.get("file") and not _ladspa_file(attrs["file"]):
                out.append(f"LADSPA plugin {attrs['file']}")
        elif name and not _plugin(name):
            out.append(f"effect plugin {name}")
    for elem in root.iter():
        if elem.tag in ("audiofileprocessor", "sampletco") and elem.get("src"):
            if resolve_sample(elem.get("src"), project) is None:
                out.append(f"sample {elem.get('src')}")
    return sorted(set(out))


# ----------------------------------------------------------------------------- rendering
def _cpu() -> int:
    """One CPU this process may use (spreads parallel build workers over the allowed CPUs)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    return cpus[os.getpid() % len(cpus)]


def _command(mmp: Path, wav: Path) -> list[str]:
    cmd = [find_lmms() or "lmms"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allowroot")
    cmd += ["render", str(mmp), "-x", "1", "-s", str(SAMPLE_RATE), "-f", "wav", "-a", "-o", str(wav)]
    cmd = _no_aslr() + cmd
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(_cpu())] + cmd
    return cmd


@functools.lru_cache(maxsize=1)
def _no_aslr() -> list[str]:
    """``setarch <arch> -R`` (address-space randomisation off) when it works here, else ``[]``."""
    arch = platform.machine()
    if shutil.which("setarch") is None or not arch:
        return []
    ok = subprocess.run(["setarch", arch, "-R", "true"], capture_output=True).returncode == 0
    if not ok:
        log.warning("setarch -R fails here; LMMS mixes with several ZynAddSubFX instances may vary between renders")
    return ["setarch", arch, "-R"] if ok else []


def _env(workdir: Path, seed_lib: Path | None, seed: int) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_HASH_SEED="0", MIXDOWN_LMMS_SEED=str(seed),
               HOME=str(workdir / "home"))
    if seed_lib is not None:
        env["LD_PRELOAD"] = str(seed_lib)
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    return env


def render_once(root: ET.Element, workdir: Path, name: str, seed_lib: Path | None, seed: int = 1,
                timeout_s: float = 900.0) -> tuple[np.ndarray | None, str]:
    """Render one project document; returns ``(audio (n, 2) float32, "")`` or ``(None, why it failed)``."""
    workdir.mkdir(parents=True, exist_ok=True)
    mmp = write_project(root, workdir / f"{name}.mmp")
    wav = workdir / f"{name}.wav"
    wav.unlink(missing_ok=True)
    try:
        res = subprocess.run(_command(mmp, wav), env=_env(workdir, seed_lib, seed), capture_output=True,
                             text=True, errors="replace", timeout=timeout_s, cwd=workdir)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s:.0f} s"
    logtext = res.stdout + res.stderr
    bad = [b for b in BAD_LOG if b in logtext]
    if res.returncode != 0:
        return None, f"lmms exited with {res.returncode} ({_tail(logtext)})"
    if bad:
        return None, f"lmms logged {bad[0]!r} (lost notes)"
    if not wav.is_file():
        return None, f"lmms wrote no audio ({_tail(logtext)})"
    try:
        x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        return None, f"unreadable render ({e})"
    finally:
        wav.unlink(missing_ok=True)
    if sr != SAMPLE_RATE:
        return None, f"rendered at {sr} Hz, asked for {SAMPLE_RATE} Hz"
    if not np.all(np.isfinite(x)):
        return None, "render has NaN/Inf samples"
    return x, ""


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and "Not enough samples" not in ln]
    return " | ".join(lines[-2:])[-200:] or "no output"


def render(root: ET.Element, workdir: Path, name: str, seed_lib: Path | None, project: Path, retries: int = 3,
           seed: int = 1) -> tuple[np.ndarray, int]:
    """Render with retries; returns ``(audio, attempts)``; RenderError after ``retries`` failures."""
    reasons = []
    for attempt in range(1, retries + 1):
        x, why = render_once(root, workdir, name, seed_lib, seed)
        if x is not None:
            return x, attempt
        reasons.append(why)
        log.warning("%s: render of %s failed (attempt %d of %d): %s", project, name, attempt, retries, why)
    raise RenderError(f"{project}: LMMS failed {retries} times rendering {name}: {'; '.join(reasons)}")
