"""Locked parameters (``--lock vocals.fader_db=-2``): parsed and checked against the spec table."""

from __future__ import annotations

import numpy as np

from mixdown.params import spec as S


def parse_locks(items: list[str] | dict[str, float], names: list[str],
                sample_rate: int | None = None) -> dict[tuple[str, str], float]:
    """``["vocals.fader_db=-2", "master.output_gain_db=-1"]`` -> ``{("vocals", "fader_db"): -2.0}``.

    Unknown tracks or keys raise ``ValueError`` listing the valid ones; values outside the
    parameter's range raise ``ValueError`` naming it.
    """
    pairs = items.items() if isinstance(items, dict) else (_split_lock(i) for i in items)
    out: dict[tuple[str, str], float] = {}
    for target, value in pairs:
        track, _, key = target.partition(".")
        valid_keys = S.MASTER_NAMES if track == "master" else S.TRACK_NAMES
        if track != "master" and track not in names:
            raise ValueError(f"--lock {target}: no track {track!r}; tracks: {', '.join(names)}, master")
        if key not in valid_keys:
            raise ValueError(f"--lock {target}: no key {key!r}; valid keys: {', '.join(valid_keys)}")
        spec = (S.MASTER_SPECS if track == "master" else S.TRACK_SPECS)[valid_keys.index(key)]
        problem = S.check_value(spec, float(value), sample_rate)
        if problem:
            raise ValueError(f"--lock {target}: {problem}")
        out[(track, key)] = float(value)
    return out


def _split_lock(item: str) -> tuple[str, float]:
    target, sep, value = item.partition("=")
    try:
        return target.strip(), float(value)
    except ValueError:
        raise ValueError(f"--lock {item!r}: expected TRACK.KEY=NUMBER, e.g. vocals.fader_db=-2") from None


def apply_locks(tv: np.ndarray, mv: np.ndarray, names: list[str], locks: dict[tuple[str, str], float]) -> None:
    """Write locked values into ``tv (N, N_TRACK_PARAMS)`` / ``mv (N_MASTER_PARAMS,)`` in place."""
    for (track, key), value in locks.items():
        if track == "master":
            mv[S.MASTER_NAMES.index(key)] = value
        else:
            tv[names.index(track), S.TRACK_NAMES.index(key)] = value
