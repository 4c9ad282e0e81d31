"""LMMS projects (e.g. Debian ``lmms-common``'s demos): each track rendered alone and neutral, and the mix.

Layout::

    <root>/**/<name>.mmpz  or  <name>.mmp        (root e.g. /usr/share/lmms/projects/demos)

Song id: the project path relative to the root without its suffix (``CapDan/CapDan-ReggaeTry``);
split by a hash of the project name. Rendering (``prepare``, in the build worker) writes
``<out>/rendered/lmms/<song>/tracks/NN-<track>.flac`` and ``mix.flac``: the raw tracks are the
stems of :func:`~mixdown.data.builders.lmms_project.stem_project` (volume 100 %, pan centre, no
effects, neutral FX mixer and master, no volume/pan automation); the mix is the project as
shipped. Everything is rendered twice and the difference recorded (``meta.repeat_error_db``).
Effects (e.g. look-ahead limiters) may delay the mix: the lag is measured by GCC-PHAT (power
envelopes when its peak is unclear, see :func:`~mixdown.data.builders.rendered.align_offset`)
and the mix moved earlier by it (``meta.mix_shift_samples``, ``meta.align_method``).
Stems are cut or padded to the mix's length.

Skipped, with the reason in the build report: projects needing plugins or samples this machine
lacks, tracks muted in the project (not in the mix), tracks without notes or clips, tracks that
render silent, projects LMMS fails on after retries or whose render peaks absurdly high
(:data:`MAX_PEAK_DB`). The projects of :data:`RESERVED` (kept for
an independent evaluation) are left out; the ``lmms-reserved`` source builds only them, all in
the ``test`` split.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mixdown.data.builders import BuildError, Discovery, SongSpec, TrackSpec, unique_names
from mixdown.data.builders import lmms_project as P
from mixdown.data.builders import lmms_render as R
from mixdown.data.builders import rendered as RD
from mixdown.data.manifest import Skip, hash_split
from mixdown.data.roles import normalise_role

log = logging.getLogger(__name__)
NAME = "lmms"
LAYOUT = "LMMS projects (*.mmp or *.mmpz) anywhere under the root, e.g. /usr/share/lmms/projects/demos"
#: bump when rendering changes, so rendered songs are redone
RENDER_VERSION = 3
#: demo projects kept for independent evaluation (the ``lmms-reserved`` source): never train or tune on them
RESERVED = frozenset((
    "EsoXLB-CPU", "Impulslogik-Zen", "Momo64-esp", "Settel-InnerRecreation", "Socceroos-Progress",
    "StrictProduction-DearJonDoe", "TameAnderson-MakeMe", "Thomasso-AxeFromThe80s",
))
#: a render peaking this far above full scale is broken (isolated huge spikes seen in one demo's mix)
MAX_PEAK_DB = 30.0
#: repeat every render and record the difference (``meta.repeat_error_db``)
VERIFY_REPEAT = True


def project_files(root: Path) -> list[Path]:
    """``*.mmp`` and ``*.mmpz`` files under ``root`` (hidden folders skipped), sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".mmp", ".mmpz")
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _song_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _role(stem: P.Stem) -> str:
    files = [Path(f).stem for f in stem.files]
    return normalise_role(stem.name, *files, "bass" if stem.plugin == "lb302" else None,
                          "drums" if stem.plugin == "kicker" else None)


def _clean_name(name: str) -> str:
    """A track name fit for a file name: sample suffixes dropped (``kick02.ogg`` -> ``kick02``), odd characters
    replaced by ``_``."""
    name = re.sub(r"\.(ogg|wav|flac|mp3|ds|sf2|xpf|gig|pat)$", "", name.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^\w.+-]+", "_", name).strip("_.") or "track"


def _spec(path: Path, root: Path, reserved: bool) -> tuple[SongSpec | None, list[Skip]]:
    sid = _song_id(path, root)
    try:
        doc = P.read_project(path)
    except P.ProjectError as e:
        return None, [Skip(sid, str(path), str(e))]
    missing = R.missing_requirements(doc, path)
    if missing:
        return None, [Skip(sid, str(path), f"needs what this machine lacks: {', '.join(missing[:6])}")]
    found = P.stems(doc)
    skips = [Skip(sid, str(path), f"track {s.index} {s.name!r} is muted in the project (not in the mix)")
             for s in found if s.muted]
    skips += [Skip(sid, str(path), f"track {s.index} {s.name!r} plays no notes or clips")
              for s in found if not s.muted and not s.events]
    live = [s for s in found if not s.muted and s.events]
    if not live:
        return None, skips + [Skip(sid, str(path), "no unmuted instrument or sample tracks")]
    names = unique_names([_clean_name(s.name) for s in live])
    tracks = [TrackSpec(Path(f"{s.index:02d}-{n}.flac"), n, _role(s),
                        {"lmms_index": s.index, "lmms_name": s.name, "kind": s.kind, "plugin": s.plugin})
              for s, n in zip(live, names)]
    split = "test" if reserved else hash_split(path.name.split(".")[0])
    head = doc.find("head")
    bpm = None if head is None else head.get("bpm") or head.findtext("bpm") or (
        head.find("bpm").get("value") if head.find("bpm") is not None else None)
    meta = {"project": path.name, "creator_version": doc.get("creatorversion"), "reserved": reserved,
            "render_version": RENDER_VERSION,
            "bpm": float(bpm) if bpm else None}
    spec = SongSpec(song=sid, source=NAME_RESERVED if reserved else NAME, split=split, root=root, tracks=tracks,
                    mix=Path("mix.flac"), meta=meta, skips=list(skips), decode=path)
    return spec, []


NAME_RESERVED = "lmms-reserved"


def discover(root: Path, reserved: bool = False) -> Discovery:
    """Projects under ``root``: the unreserved ones, or (``reserved``) only those of :data:`RESERVED`."""
    if R.find_lmms() is None:
        raise BuildError("the lmms source renders projects with LMMS, which is not installed; run "
                         "scripts/setup_system.sh (Debian packages lmms, lmms-common)")
    out = Discovery([])
    for path in project_files(root):
        is_reserved = path.name.split(".")[0] in RESERVED
        if is_reserved != reserved:
            if is_reserved:
                out.skipped.append(Skip(_song_id(path, root), str(path), "reserved for independent evaluation "
                                        "(build it with --source lmms-reserved)"))
            continue
        spec, skips = _spec(path, root, reserved)
        out.skipped += skips
        if spec is not None:
            out.songs.append(spec)
    return out


# ----------------------------------------------------------------------------- rendering (prepare)
def _render_pair(doc, workdir: Path, name: str, seed_lib, project: Path) -> tuple[np.ndarray, float | None, int]:
    """Render twice when :data:`VERIFY_REPEAT`; returns (audio, repeat error dB or None, attempts)."""
    x, attempts = R.render(doc, workdir, name, seed_lib, project)
    if not VERIFY_REPEAT:
        return x, None, attempts
    y, more = R.render(doc, workdir, name, seed_lib, project)
    return x, RD.repeat_error_db(x, y), attempts + more


def _absolute_samples(doc, project: Path) -> None:
    """Sample paths made absolute, so the project renders from another folder (``.work``)."""
    for elem in doc.iter():
        if elem.tag in ("audiofileprocessor", "sampletco") and elem.get("src"):
            found = R.resolve_sample(elem.get("src"), project)
            if found is not None:
                elem.set("src", str(found))


def _render_song(spec: SongSpec, dest: Path, seed_lib) -> dict[str, Any]:
    """Render stems and mix of ``spec`` into ``dest``; returns the ``done.json`` result."""
    doc = P.read_project(spec.decode)
    _absolute_samples(doc, spec.decode)
    work = dest / ".work"
    work.mkdir(parents=True, exist_ok=True)
    mix, mix_rep, attempts = _render_pair(doc, work, "mix", seed_lib, spec.decode)
    files: dict[Path, np.ndarray | Path] = {}  # stems wait on disk (.npy): a song may have 50 long stems
    repeat: dict[str, float | None] = {"mix": mix_rep}
    silent, total = [], np.zeros_like(mix)
    for t in spec.tracks:
        x, rep, n = _render_pair(P.stem_project(doc, t.meta["lmms_index"]), work, f"stem{t.meta['lmms_index']:02d}",
                                 seed_lib, spec.decode)
        attempts += n
        x = RD.fit_length(x, len(mix))
        if not RD.is_active(x, R.SAMPLE_RATE):
            silent.append(t.name)
            continue
        total += x
        np.save(work / f"{t.path.stem}.npy", x)
        files[dest / "tracks" / t.path.name] = work / f"{t.path.stem}.npy"
        repeat[t.name] = rep
    if not files:
        raise R.RenderError(f"{spec.decode}: every track renders silent")
    align = RD.align_offset(total, mix, R.SAMPLE_RATE)
    files[dest / "mix.flac"] = RD.shift(mix, int(align["offset"]))
    scale_db = RD.write_song_audio(files, R.SAMPLE_RATE)
    shutil.rmtree(work, ignore_errors=True)
    return {"files": [str(p.relative_to(dest)) for p in files], "silent": silent,
            "mix_shift_samples": int(align["offset"]), "align_method": align["method"],
            "phat_sharpness": align["phat_sharpness"], "envelope_correlation": align["envelope_correlation"],
            "scale_db": scale_db, "repeat_error_db": repeat, "attempts": attempts, "seeded": seed_lib is not None}


def prepare(spec: SongSpec, out: Path) -> SongSpec:
    """Render the song (or reuse an earlier render of the same project) and point the spec at the files."""
    dest = Path(out) / "rendered" / NAME / spec.song
    st = spec.decode.stat()
    key = {"v": RENDER_VERSION, "project": str(spec.decode), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
           "tracks": [t.name for t in spec.tracks], "verify": VERIFY_REPEAT}
    done = RD.read_done(dest / "done.json", key)
    if done is None:
        log.info("%s: rendering %d tracks and the mix with LMMS", spec.song, len(spec.tracks))
        result = _render_song(spec, dest, R.seed_library(Path(out) / ".cache"))
        RD.write_done(dest / "done.json", key, result)
        done = dict(key=key, **result)
    if done["scale_db"] < -MAX_PEAK_DB:
        raise R.RenderError(f"{spec.decode}: a render peaks {-done['scale_db']:.0f} dB above full scale (impulsive "
                            f"glitches in LMMS's output); not usable")
    silent = set(done["silent"])
    tracks = [replace(t, path=dest / "tracks" / t.path.name) for t in spec.tracks if t.name not in silent]
    skips = list(spec.skips) + [Skip(spec.song, str(spec.decode), f"track {n!r} renders silent (below "
                                     f"{RD.ACTIVE_DB:.0f} dBFS)") for n in done["silent"]]
    meta = dict(spec.meta, **{k: done.get(k) for k in ("mix_shift_samples", "align_method", "phat_sharpness",
                                                       "envelope_correlation", "scale_db", "repeat_error_db",
                                                       "attempts", "seeded")})
    warnings = list(spec.warnings)
    reps = [v for v in done["repeat_error_db"].values() if v is not None and v > -60]
    if reps:
        warnings.append(f"renders not repeatable: {len(reps)} of {len(done['repeat_error_db'])} files differ "
                        f"between two renders (worst {max(reps):.1f} dB)")
    return replace(spec, tracks=tracks, mix=dest / "mix.flac", meta=meta, skips=skips, warnings=warnings)
