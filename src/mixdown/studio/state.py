"""The studio's editable mix: current settings, the model's settings, locks, undo and redo.

One :class:`MixState` per server; every method takes its lock, so concurrent requests see and
make whole edits. A *target* is a track name or ``"master"``; a *key* is a flat parameter name
of the spec table (``fader_db``, ``eq.2.gain_db``, ``compressor.ratio``...). Values are checked
against the table (finite, inside the range, frequencies below 0.45 x the sample rate) before
anything changes: an edit with one bad value changes nothing.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from mixdown.errors import UsageError
from mixdown.studio import backend as B

MASTER = "master"
HISTORY_LIMIT = 500


class EditError(UsageError):
    """An edit names an unknown target or key, or a value the spec rejects (message says which)."""


@dataclass(frozen=True)
class Change:
    target: str
    key: str
    value: float


def _snapshot(params: B.MixParams) -> tuple[list[dict[str, float]], dict[str, float]]:
    return [dict(t.values) for t in params.tracks], dict(params.master.values)


class MixState:
    """The mix being edited. ``version`` grows with every change of the settings."""

    def __init__(self, params: B.MixParams, baseline: B.MixParams | None = None):
        self._lock = threading.RLock()
        self.params = params
        self.baseline = copy.deepcopy(baseline or params)  # what Reset returns to
        self.locks: set[tuple[str, str]] = set()
        self.version = 0
        self._undo: list[tuple[list[dict[str, float]], dict[str, float]]] = []
        self._redo: list[tuple[list[dict[str, float]], dict[str, float]]] = []
        self._track_specs = {s.name: s for s in B.track_specs()}
        self._master_specs = {s.name: s for s in B.master_specs()}
        self.names = [t.name for t in params.tracks]
        self._gesture: str | None = None  # of the last edit

    # --------------------------------------------------------------------------- reading
    def copy_params(self) -> B.MixParams:
        with self._lock:
            return copy.deepcopy(self.params)

    def values_of(self, target: str) -> dict[str, float]:
        with self._lock:
            return dict(self._values(self.params, target))

    def _values(self, params: B.MixParams, target: str) -> dict[str, float]:
        if target == MASTER:
            return params.master.values
        for t in params.tracks:
            if t.name == target:
                return t.values
        raise EditError(f"no track {target!r}; targets: {', '.join(self.names)}, master")

    def spec(self, target: str, key: str):
        specs = self._master_specs if target == MASTER else self._track_specs
        if target != MASTER and target not in self.names:
            raise EditError(f"no track {target!r}; targets: {', '.join(self.names)}, master")
        if key not in specs:
            raise EditError(f"{target}: no parameter {key!r}; parameters: {', '.join(specs)}")
        return specs[key]

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows about the settings (JSON-ready)."""
        with self._lock:
            return {"version": self.version,
                    "tracks": {t.name: dict(t.values) for t in self.params.tracks},
                    "master": dict(self.params.master.values),
                    "baseline": {"tracks": {t.name: dict(t.values) for t in self.baseline.tracks},
                                 "master": dict(self.baseline.master.values)},
                    "locks": sorted(f"{t}.{k}" for t, k in self.locks),
                    "can_undo": bool(self._undo), "can_redo": bool(self._redo)}

    # --------------------------------------------------------------------------- editing
    def parse(self, items: Any) -> list[Change]:
        """Validate ``[{"target", "key", "value"}, ...]`` (a decoded JSON list) into changes."""
        if not isinstance(items, list) or not items:
            raise EditError("'changes' must be a non-empty list of {target, key, value} objects")
        out = []
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not {"target", "key", "value"} <= set(it):
                raise EditError(f"changes[{i}] must be an object with target, key and value")
            target, key, value = it["target"], it["key"], it["value"]
            if not isinstance(target, str) or not isinstance(key, str):
                raise EditError(f"changes[{i}]: target and key must be strings")
            spec = self.spec(target, key)
            problem = B.check_value(spec, value, self.params.sample_rate)
            if problem:
                raise EditError(f"{target}.{key}: {problem}")
            out.append(Change(target, key, float(value)))
        return out

    def apply(self, changes: list[Change], gesture: str | None = None) -> int:
        """Set the values; returns the new version. One undo step per call, or per ``gesture``
        (edits naming the gesture of the edit before them join its step: a slider drag).
        Locked values can be edited: a lock keeps a value through Mix and Reset, not away from
        the user's hand. An edit that changes no value is no step: nothing happens."""
        with self._lock:
            if all(self._values(self.params, c.target)[c.key] == c.value for c in changes):
                return self.version
            if gesture is None or gesture != self._gesture or not self._undo:
                self._push_undo()
            self._gesture = gesture
            for c in changes:
                self._values(self.params, c.target)[c.key] = c.value
            return self._bump()

    def set_lock(self, target: str, key: str, locked: bool) -> None:
        with self._lock:
            self.spec(target, key)
            (self.locks.add if locked else self.locks.discard)((target, key))

    def lock_values(self) -> dict[tuple[str, str], float]:
        with self._lock:
            return {(t, k): self._values(self.params, t)[k] for t, k in self.locks}

    def take_model(self, track_values, master_values, held: dict[tuple[str, str], float]) -> int:
        """Install the model's settings (rows in spec order) as current and baseline, keeping the
        values locked when the model ran (``held``) and any lock set since at its current value."""
        with self._lock:
            held = {**held, **{k: v for k, v in self.lock_values().items() if k not in held}}
            fresh = copy.deepcopy(self.params)
            names = [s.name for s in B.track_specs()]
            for t, row in zip(fresh.tracks, track_values):
                t.values = {k: float(v) for k, v in zip(names, row)}
            fresh.master.values = {s.name: float(v) for s, v in zip(B.master_specs(), master_values)}
            self.baseline = copy.deepcopy(fresh)
            self._push_undo()
            self.params.tracks = fresh.tracks
            self.params.master.values = fresh.master.values
            for (target, key), v in held.items():
                if (target, key) in self.locks:
                    self._values(self.params, target)[key] = v
            return self._bump()

    def reset(self) -> int:
        """Back to the baseline (the model's last settings), locked values kept."""
        with self._lock:
            held = self.lock_values()
            self._push_undo()
            base = copy.deepcopy(self.baseline)
            for t, b in zip(self.params.tracks, base.tracks):
                t.values = b.values
            self.params.master.values = base.master.values
            for (target, key), v in held.items():
                self._values(self.params, target)[key] = v
            return self._bump()

    def undo(self) -> int:
        return self._step(self._undo, self._redo, "undo")

    def redo(self) -> int:
        return self._step(self._redo, self._undo, "redo")

    def _step(self, src: list, dst: list, what: str) -> int:
        with self._lock:
            if not src:
                raise EditError(f"nothing to {what}")
            self._gesture = None
            dst.append(_snapshot(self.params))
            tracks, master = src.pop()
            for t, v in zip(self.params.tracks, tracks):
                t.values = v
            self.params.master.values = master
            return self._bump()

    def forget_history(self) -> None:
        with self._lock:
            self._undo.clear()
            self._redo.clear()
            self._gesture = None

    def _push_undo(self) -> None:
        self._gesture = None
        self._undo.append(_snapshot(self.params))
        del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()

    def _bump(self) -> int:
        self.version += 1
        return self.version
