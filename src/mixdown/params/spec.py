"""The single table of console parameters.

Every place that needs to know a parameter's name, unit, range or scale reads it from here:
normalisation of network outputs (0..1) to physical units, the size of network heads, the JSON
reader and writer, exporters and tests. Ranges are the defaults of ``docs/console.md``
(the spec allows configs to narrow them; mixdown does not: checkpoints store the ranges they were
trained with, and loading refuses a checkpoint whose ranges differ from this table).

A *flat name* addresses one scalar: ``input_gain_db``, ``eq.2.freq_hz``, ``compressor.ratio``,
``reverb_send_db``, ``reverb.decay_mid_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

EQ_BAND_TYPES: tuple[str, ...] = ("low_shelf", "peak", "peak", "peak", "peak", "high_shelf")
N_EQ_BANDS = len(EQ_BAND_TYPES)
COMPRESSOR_KEYS: tuple[str, ...] = (
    "threshold_db", "ratio", "attack_ms", "release_ms", "knee_db", "makeup_db",
)
#: Frequencies must lie below this fraction of the sample rate (console spec).
MAX_FREQ_FRACTION = 0.45
#: Sample rates the console takes (Hz): at 8 kHz every parameter range still has room below
#: 0.45 x the rate (the high shelf starts at 1500 Hz); 768 kHz is the highest rate audio files use.
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 768000
#: ``master.normalize`` (present only when a loudness target was asked for): key -> (lo, hi)
NORMALIZE_RANGES: dict[str, tuple[float, float]] = {
    "target_lufs": (-70.0, 0.0), "ceiling_dbtp": (-60.0, 6.0), "gain_db": (-72.0, 72.0)}


@dataclass(frozen=True)
class ParamSpec:
    """One scalar console parameter.

    Args:
        name: flat name, e.g. ``"eq.0.freq_hz"``.
        unit: ``"dB"``, ``"Hz"``, ``"ms"``, ``"s"``, ``"ratio"``, ``"q"`` or ``"pan"``.
        lo: lowest allowed physical value.
        hi: highest allowed physical value.
        scale: ``"lin"`` or ``"log"``: how 0..1 maps onto ``lo..hi``.
        off_up_to_hz: at sample rates up to this one the parameter is fixed at ``lo`` (off): the
            reverb's sends, below the rate the spec defines the reverb at (0: no such rule).
    """

    name: str
    unit: str
    lo: float
    hi: float
    scale: str = "lin"
    off_up_to_hz: float = 0.0

    @property
    def is_frequency(self) -> bool:
        return self.unit == "Hz"

    def limits(self, sample_rate: float | None = None) -> tuple[float, float]:
        """Physical range at ``sample_rate``: frequencies capped below 0.45 x ``sample_rate``; a
        parameter that is off up to some rate (the reverb's sends) is ``(lo, lo)`` there."""
        hi = self.hi
        if self.is_frequency and sample_rate is not None:
            hi = min(hi, MAX_FREQ_FRACTION * sample_rate * 0.999)
        if sample_rate is not None and sample_rate <= self.off_up_to_hz:
            hi = self.lo
        return self.lo, hi


def _eq_specs(prefix: str) -> list[ParamSpec]:
    specs: list[ParamSpec] = []
    for i, kind in enumerate(EQ_BAND_TYPES):
        f_lo, f_hi = {"low_shelf": (30.0, 500.0), "peak": (40.0, 18000.0),
                      "high_shelf": (1500.0, 16000.0)}[kind]
        q_lo, q_hi = (0.3, 6.0) if kind == "peak" else (0.5, 1.5)
        specs += [
            ParamSpec(f"{prefix}eq.{i}.freq_hz", "Hz", f_lo, f_hi, "log"),
            ParamSpec(f"{prefix}eq.{i}.gain_db", "dB", -15.0, 15.0),
            ParamSpec(f"{prefix}eq.{i}.q", "q", q_lo, q_hi, "log"),
        ]
    return specs


def _compressor_specs(prefix: str) -> list[ParamSpec]:
    return [
        ParamSpec(f"{prefix}compressor.threshold_db", "dB", -60.0, 0.0),
        ParamSpec(f"{prefix}compressor.ratio", "ratio", 1.0, 20.0, "log"),
        ParamSpec(f"{prefix}compressor.attack_ms", "ms", 0.1, 100.0, "log"),
        ParamSpec(f"{prefix}compressor.release_ms", "ms", 10.0, 1000.0, "log"),
        ParamSpec(f"{prefix}compressor.knee_db", "dB", 0.0, 12.0),
        ParamSpec(f"{prefix}compressor.makeup_db", "dB", 0.0, 24.0),
    ]


#: The reverb's bands have a fixed 4 kHz edge, which must lie below 0.45 x the sample rate: up to
#: this rate (8889 Hz) the spec defines no reverb, so every send is off. The rule lives in the
#: send's row (``off_up_to_hz``): its range there is only -60 dB, which the reader enforces (an
#: error naming the track), and predictions, refinement and the training console clip to.
REVERB_MIN_SAMPLE_RATE = 4000.0 / MAX_FREQ_FRACTION
#: The reverb (console spec, ``mixdown.params/2``): each track's post-fader, post-pan send into
#: one stereo convolution reverb, whose settings live on the master as ``reverb.*``.
#: ``reverb_send_db <= -60`` is no send (gain 0).
REVERB_TRACK_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("reverb_send_db", "dB", -60.0, 0.0, off_up_to_hz=REVERB_MIN_SAMPLE_RATE),)
REVERB_MASTER_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("reverb.predelay_ms", "ms", 0.0, 100.0),
    ParamSpec("reverb.decay_low_s", "s", 0.1, 10.0, "log"),
    ParamSpec("reverb.decay_mid_s", "s", 0.1, 10.0, "log"),
    ParamSpec("reverb.decay_high_s", "s", 0.1, 10.0, "log"),
    ParamSpec("reverb.highpass_hz", "Hz", 20.0, 1000.0, "log"),  # log like the tracks' high-pass
    ParamSpec("reverb.return_db", "dB", -48.0, 12.0),
)
REVERB_TRACK_NAMES: tuple[str, ...] = tuple(s.name for s in REVERB_TRACK_SPECS)
REVERB_MASTER_NAMES: tuple[str, ...] = tuple(s.name for s in REVERB_MASTER_SPECS)
#: ``reverb_send_db`` at or below this is no send (spec).
SEND_OFF_DB = -60.0
#: The reverb that files and models without one get (``mixdown.params/1`` files, checkpoints
#: trained before the reverb): the console spec's example settings (20 ms pre-delay, 1.8 / 1.5 /
#: 0.7 s decays, 200 Hz return high-pass, unity return). Their sends are off, so it is silent
#: until a send is raised; then it is a medium plate-like room, a sensible starting point.
DEFAULT_REVERB: dict[str, float] = {"reverb.predelay_ms": 20.0, "reverb.decay_low_s": 1.8,
                                    "reverb.decay_mid_s": 1.5, "reverb.decay_high_s": 0.7,
                                    "reverb.highpass_hz": 200.0, "reverb.return_db": 0.0}

#: Per-track parameters, in the order of the network's per-track output vector (and of the file).
TRACK_SPECS: tuple[ParamSpec, ...] = tuple(
    [ParamSpec("input_gain_db", "dB", -48.0, 24.0),
     ParamSpec("highpass_hz", "Hz", 20.0, 500.0, "log")]
    + _eq_specs("")
    + _compressor_specs("")
    + [ParamSpec("fader_db", "dB", -48.0, 24.0),
       ParamSpec("pan", "pan", -1.0, 1.0)]
    + list(REVERB_TRACK_SPECS)
)

#: Master-bus parameters, in the order of the network's master output vector (and of the file).
MASTER_SPECS: tuple[ParamSpec, ...] = tuple(
    _eq_specs("") + _compressor_specs("") + list(REVERB_MASTER_SPECS)
    + [ParamSpec("output_gain_db", "dB", -48.0, 24.0)]
)

TRACK_NAMES: tuple[str, ...] = tuple(s.name for s in TRACK_SPECS)
MASTER_NAMES: tuple[str, ...] = tuple(s.name for s in MASTER_SPECS)
N_TRACK_PARAMS = len(TRACK_SPECS)
N_MASTER_PARAMS = len(MASTER_SPECS)


class Table(tuple):
    """A table of parameter rows (a tuple of :class:`ParamSpec`) that does the parameter work:
    ``names``, ``columns`` (name -> column), :meth:`limits` and :meth:`clip`. :data:`TRACK` and
    :data:`MASTER` are the console's; ``Table(rows)`` makes one for any rows (a checkpoint's)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self)

    @property
    def columns(self) -> dict[str, int]:
        """Name -> column of the table's values ``(..., len(table))``."""
        return {s.name: i for i, s in enumerate(self)}

    def limits(self, sample_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` arrays of every row's range at ``sample_rate`` (:meth:`ParamSpec.limits`)."""
        lo, hi = np.array([s.limits(sample_rate) for s in self], dtype=np.float64).reshape(-1, 2).T
        return lo, hi

    def clip(self, values, sample_rate: float | None = None):
        """``values`` ``(..., len(table))`` physical (numpy or torch) clipped to every row's range at
        ``sample_rate`` (the only clipping of settings to the table: predictions, refinement,
        baselines, the prior, the training console).

        >>> float(TRACK.clip(np.full(N_TRACK_PARAMS, 1e9), 8000)[TRACK.columns["reverb_send_db"]])
        -60.0
        """
        lo, hi = self.limits(sample_rate)
        if isinstance(values, np.ndarray) or not hasattr(values, "clamp"):
            return np.clip(np.asarray(values, dtype=np.float64), lo, hi)
        import torch

        return torch.clamp(values, torch.as_tensor(lo, dtype=values.dtype, device=values.device),
                           torch.as_tensor(hi, dtype=values.dtype, device=values.device))


#: The console's tables: per track and on the master bus.
TRACK = Table(TRACK_SPECS)
MASTER = Table(MASTER_SPECS)


def index(specs: Sequence[ParamSpec], name: str) -> int:
    """Position of ``name`` in ``specs``; ``KeyError`` listing valid names otherwise."""
    for i, s in enumerate(specs):
        if s.name == name:
            return i
    raise KeyError(f"unknown parameter {name!r}; valid: {', '.join(s.name for s in specs)}")


def _bounds(specs: Sequence[ParamSpec], sample_rate: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = np.array([s.limits(sample_rate) for s in specs], dtype=np.float64).T
    is_log = np.array([s.scale == "log" for s in specs])
    return lo, hi, is_log


def denormalize(u, specs: Sequence[ParamSpec] = TRACK_SPECS, sample_rate: float | None = None):
    """Map normalised values ``u`` in [0, 1] to physical units.

    Works on numpy arrays and torch tensors (differentiably).

    Shape:
        u: ``(..., len(specs))`` -> same shape, physical units.
    """
    # The upper half is computed from ``hi`` down, the lower half from ``lo`` up: then rounding
    # can never carry a value in [0, 1] outside [lo, hi] (the reader would reject it), and the
    # ends map to ``lo`` and ``hi`` exactly.
    lo, hi, is_log = _bounds(specs, sample_rate)
    if isinstance(u, np.ndarray):
        upper = u > 0.5
        lin = np.where(upper, hi - (1.0 - u) * (hi - lo), lo + u * (hi - lo))
        safe_lo = np.where(is_log, lo, 1.0)
        safe_hi = np.where(is_log, hi, 2.0)
        log = np.where(upper, safe_hi * (safe_lo / safe_hi) ** (1.0 - u), safe_lo * (safe_hi / safe_lo) ** u)
        return np.where(is_log, log, lin)
    import torch

    lo_t = torch.as_tensor(lo, dtype=u.dtype, device=u.device)
    hi_t = torch.as_tensor(hi, dtype=u.dtype, device=u.device)
    is_log_t = torch.as_tensor(is_log, device=u.device)
    upper = u > 0.5
    lin = torch.where(upper, hi_t - (1.0 - u) * (hi_t - lo_t), lo_t + u * (hi_t - lo_t))
    safe_lo = torch.where(is_log_t, lo_t, torch.ones_like(lo_t))
    safe_hi = torch.where(is_log_t, hi_t, torch.ones_like(hi_t) * 2)
    log_ratio = torch.log(safe_hi / safe_lo)
    log = torch.where(upper, safe_hi * torch.exp((u - 1.0) * log_ratio), safe_lo * torch.exp(u * log_ratio))
    return torch.where(is_log_t, log, lin)


def normalize(x, specs: Sequence[ParamSpec] = TRACK_SPECS, sample_rate: float | None = None):
    """Inverse of :func:`denormalize` (numpy or torch); values are not clipped.

    Shape:
        x: ``(..., len(specs))`` physical units -> same shape in [0, 1] when in range.
    """
    lo, hi, is_log = _bounds(specs, sample_rate)
    hi = np.where(hi > lo, hi, lo + 1.0)  # a range fixed at its low end (a send off at low rates): 0
    if isinstance(x, np.ndarray):
        lin = (x - lo) / (hi - lo)
        safe_lo = np.where(is_log, lo, 1.0)
        safe_hi = np.where(is_log, hi, 2.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = np.log(np.where(is_log, x, 1.0) / safe_lo) / np.log(safe_hi / safe_lo)
        return np.where(is_log, log, lin)
    import torch

    lo_t = torch.as_tensor(lo, dtype=x.dtype, device=x.device)
    hi_t = torch.as_tensor(hi, dtype=x.dtype, device=x.device)
    is_log_t = torch.as_tensor(is_log, device=x.device)
    lin = (x - lo_t) / (hi_t - lo_t)
    safe_lo = torch.where(is_log_t, lo_t, torch.ones_like(lo_t))
    safe_hi = torch.where(is_log_t, hi_t, torch.ones_like(hi_t) * 2)
    safe_x = torch.where(is_log_t, x, torch.ones_like(x))
    log = torch.log(safe_x / safe_lo) / torch.log(safe_hi / safe_lo)
    return torch.where(is_log_t, log, lin)


def neutral_track_values(sample_rate: float | None = None) -> dict[str, float]:
    """Physical values of a track strip that leaves the signal unchanged (unity, centre pan);
    band frequencies (irrelevant at 0 dB) are kept valid for ``sample_rate``."""
    vals = {"input_gain_db": 0.0, "highpass_hz": 20.0, "fader_db": 0.0, "pan": 0.0, "reverb_send_db": SEND_OFF_DB}
    vals.update(_neutral_eq_comp(sample_rate))
    return vals


def neutral_master_values(sample_rate: float | None = None) -> dict[str, float]:
    """Physical values of a master bus that leaves the mix unchanged (the reverb is
    :data:`DEFAULT_REVERB`: it adds nothing while every send is off)."""
    vals = _neutral_eq_comp(sample_rate)
    vals.update(DEFAULT_REVERB)
    vals["output_gain_db"] = 0.0
    return vals


def _neutral_eq_comp(sample_rate: float | None) -> dict[str, float]:
    freqs = (100.0, 250.0, 800.0, 2500.0, 6000.0, 8000.0)
    cap = MAX_FREQ_FRACTION * sample_rate * 0.99 if sample_rate else math.inf
    vals: dict[str, float] = {}
    for i, (kind, f) in enumerate(zip(EQ_BAND_TYPES, freqs)):
        vals[f"eq.{i}.freq_hz"] = min(f, cap)
        vals[f"eq.{i}.gain_db"] = 0.0
        vals[f"eq.{i}.q"] = 0.707 if kind != "peak" else 1.0
    vals.update({"compressor.threshold_db": 0.0, "compressor.ratio": 1.0,
                 "compressor.attack_ms": 10.0, "compressor.release_ms": 100.0,
                 "compressor.knee_db": 0.0, "compressor.makeup_db": 0.0})
    return vals


def check_sample_rate(sample_rate) -> str | None:
    """Return a message when ``sample_rate`` is not an integer in the supported range, else None."""
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool):
        return f"must be a whole number of Hz, got {sample_rate!r}"
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        return (f"{sample_rate} Hz is outside [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz "
                f"(the console's EQ ranges need at least {MIN_SAMPLE_RATE} Hz)")
    return None


def check_magnitude(value) -> str | None:
    """A message for a whole number beyond a float's range (``1e309`` written out: a JSON file or
    request may hold 400 digits), which ``math.isfinite`` and ``float`` refuse with an
    ``OverflowError``; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            try:
                digits = f"{len(str(abs(value)))} digits"
            except ValueError:  # beyond Python's limit on converting integers to text
                digits = f"about {int(value.bit_length() * 0.30103) + 1} digits"
            return f"must be a finite number, got a whole number of {digits}"
    return None


def check_value(spec: ParamSpec, value: float, sample_rate: float | None) -> str | None:
    """Return a message when ``value`` is not finite or outside the spec's range, else None (a whole
    number too large for a float, as JSON may hold, is named, never an ``OverflowError``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"must be a number, got {value!r}"
    problem = check_magnitude(value)
    if problem:
        return problem
    if not math.isfinite(value):
        return f"must be finite, got {value!r}"
    if not spec.lo <= value <= spec.hi:
        return f"{value} is outside [{spec.lo}, {spec.hi}] {spec.unit}"
    if spec.is_frequency and sample_rate is not None and value >= MAX_FREQ_FRACTION * sample_rate:
        return (f"{value} Hz is not below 0.45 x sample_rate "
                f"({MAX_FREQ_FRACTION * sample_rate:g} Hz at {sample_rate:g} Hz)")
    if sample_rate is not None and sample_rate <= spec.off_up_to_hz and value > spec.lo:  # off at this rate
        return (f"{value} {spec.unit} sends to the reverb, which needs a sample rate above "
                f"{spec.off_up_to_hz:.0f} Hz (its 4 kHz band edge must lie below 0.45 x sample_rate, "
                f"{sample_rate:g} Hz here); set it to {spec.lo:g} (off)")
    return None
