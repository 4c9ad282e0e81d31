"""The build report: what went into each split, what was skipped and why, and song warnings.

Written as ``<out>/build_report.json`` (machine-readable, :class:`BuildReport` fields) and
``<out>/build_report.md`` (for people); sharded builds write ``build_report.shard-I-of-N.*``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mixdown.data.manifest import SPLITS, atomic_write_text, write_json

MD_LIST_LIMIT = 200


@dataclass
class BuildReport:
    """Summary of one build.

    Attributes:
        source, root, out; shard ``[I, N]`` or None.
        songs_found: songs discovery listed (in this shard); songs_written: records in the manifests.
        analysed: songs read this run; cached: songs taken from ``<out>/.cache``; failed: songs whose
            analysis raised (not cached, retried next run).
        splits: ``{split: {"songs", "tracks", "hours", "file"}}`` (hours of reference mix, else longest track).
        skipped: ``[{"song", "path", "reason"}]``: files (path set) and whole songs left out.
        warnings: ``[{"song", "warnings": [str]}]`` for written songs with warnings.
        not_aligned: songs whose mix is offset or weakly correlated with the track sum.
        elapsed_s: wall time of the build.
    """

    source: str
    root: str
    out: str
    shard: list[int] | None = None
    songs_found: int = 0
    songs_written: int = 0
    analysed: int = 0
    cached: int = 0
    failed: int = 0
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    not_aligned: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BuildReport:
        return cls(**d)

    def summary(self) -> str:
        """One line: songs per split, skips, warnings."""
        per = ", ".join(f"{s} {v['songs']}" for s, v in self.splits.items())
        return (f"{self.songs_written} of {self.songs_found} songs written ({per}); {len(self.skipped)} skipped "
                f"entries; {len(self.warnings)} songs with warnings; {self.cached} from cache")

    def to_markdown(self) -> str:
        """A readable report (long lists cut at :data:`MD_LIST_LIMIT` entries)."""
        shard = f" (shard {self.shard[0]} of {self.shard[1]})" if self.shard else ""
        lines = [f"# Dataset build: {self.source}{shard}", "",
                 f"- root: `{self.root}`", f"- out: `{self.out}`", f"- {self.summary()}",
                 f"- analysed {self.analysed}, cached {self.cached}, failed {self.failed}, "
                 f"{self.elapsed_s:.1f} s", "", "| split | songs | tracks | hours | file |", "|---|---|---|---|---|"]
        for s, v in self.splits.items():
            lines.append(f"| {s} | {v['songs']} | {v['tracks']} | {v['hours']:.2f} | `{Path(v['file']).name}` |")
        lines += ["", f"## Skipped ({len(self.skipped)})", ""]
        lines += [f"- `{k['song']}`" + (f" `{k['path']}`" if k.get("path") else "") + f": {k['reason']}"
                  for k in self.skipped[:MD_LIST_LIMIT]] or ["nothing"]
        lines += _more(self.skipped)
        lines += ["", f"## Not aligned with the mix ({len(self.not_aligned)})", ""]
        lines += [f"- `{s}`" for s in self.not_aligned[:MD_LIST_LIMIT]] or ["none"]
        lines += _more(self.not_aligned)
        lines += ["", f"## Warnings ({len(self.warnings)} songs)", ""]
        for w in self.warnings[:MD_LIST_LIMIT]:
            lines.append(f"- `{w['song']}`: " + "; ".join(w["warnings"]))
        lines += _more(self.warnings) if self.warnings else ["none"]
        return "\n".join(lines) + "\n"


def _more(items: list) -> list[str]:
    n = len(items) - MD_LIST_LIMIT
    return [f"- ... and {n} more (see build_report.json)"] if n > 0 else []


def report_paths(out: Path, shard: tuple[int, int] | None) -> tuple[Path, Path]:
    """``build_report.json`` / ``.md`` (or ``build_report.shard-I-of-N.*``) in ``out``."""
    stem = "build_report" if shard is None else f"build_report.shard-{shard[0]}-of-{shard[1]}"
    return Path(out) / f"{stem}.json", Path(out) / f"{stem}.md"


def write_report(report: BuildReport, out: Path, shard: tuple[int, int] | None = None) -> Path:
    """Atomically write the JSON and Markdown reports; returns the JSON path."""
    js, md = report_paths(out, shard)
    write_json(js, asdict(report))
    atomic_write_text(md, report.to_markdown())
    return js


def read_report(path: Path) -> BuildReport:
    return BuildReport.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def merge_reports(reports: list[BuildReport], out: Path) -> BuildReport:
    """One report for the shards of a build (counts added, lists joined, split files renamed)."""
    first = reports[0] if reports else BuildReport(source="unknown", root="", out=str(out))
    merged = BuildReport(source=first.source, root=first.root, out=str(out))
    for r in reports:
        for k in ("songs_found", "songs_written", "analysed", "cached", "failed"):
            setattr(merged, k, getattr(merged, k) + getattr(r, k))
        merged.skipped += r.skipped
        merged.warnings += r.warnings
        merged.not_aligned += r.not_aligned
        merged.elapsed_s = max(merged.elapsed_s, r.elapsed_s)
        for s, v in r.splits.items():
            m = merged.splits.setdefault(s, {"songs": 0, "tracks": 0, "hours": 0.0,
                                             "file": str(Path(out) / f"{s}.jsonl")})
            m["songs"] += v["songs"]
            m["tracks"] += v["tracks"]
            m["hours"] = round(m["hours"] + v["hours"], 6)
    merged.splits = {s: merged.splits[s] for s in SPLITS if s in merged.splits}
    merged.warnings.sort(key=lambda w: w["song"])
    merged.not_aligned.sort()
    return merged
