// The spec table (sent by the server from mixdown.params.spec) -> how each parameter is shown.
// Nothing here names a parameter except the few with a dedicated widget (fader, pan, EQ, compressor):
// any other parameter, present or future (e.g. a reverb send), gets a generic control.

export const UNIT_LABEL = { dB: "dB", Hz: "Hz", ms: "ms", ratio: ":1", q: "Q", pan: "L-R" };

/** Where a parameter goes: "fader", "pan", "eq", "compressor", a group name ("reverb"...) or "strip". */
export function placeOf(name) {
  if (name === "fader_db" || name === "output_gain_db") return "fader";
  if (name === "pan") return "pan";
  const dot = name.indexOf(".");
  return dot < 0 ? "strip" : name.slice(0, dot);
}

/** Bands of the EQ as [{index, type, keys: {freq_hz, gain_db, q}}] from the spec names. */
export function eqBands(specs) {
  const bands = [];
  for (const s of specs) {
    const m = /^eq\.(\d+)\.(\w+)$/.exec(s.name);
    if (!m) continue;
    const i = Number(m[1]);
    bands[i] = bands[i] || { index: i, keys: {} };
    bands[i].keys[m[2]] = s.name;
  }
  return bands.filter(Boolean);
}

export function bandTitle(i, n) {  // numbered as the EQ editor's handles
  return `${i + 1} \u00b7 ${i === 0 ? "low shelf" : i === n - 1 ? "high shelf" : "peak"}`;
}

/** Short label of a parameter: the last part of its name without the unit suffix. */
export function label(name) {
  const last = name.split(".").pop();
  return last.replace(/_(db|hz|ms|s)$/, "").replace(/_/g, " ");
}

export function toUnit(spec, u) {  // 0..1 -> physical
  u = Math.min(1, Math.max(0, u));
  if (spec.scale === "log") return spec.lo * Math.pow(spec.hi / spec.lo, u);
  return spec.lo + u * (spec.hi - spec.lo);
}

export function fromUnit(spec, v) {  // physical -> 0..1
  if (spec.scale === "log") return Math.log(v / spec.lo) / Math.log(spec.hi / spec.lo);
  return (v - spec.lo) / (spec.hi - spec.lo);
}

export function clamp(spec, v) {
  return Math.min(spec.hi, Math.max(spec.lo, v));
}

export function format(spec, v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "";
  if (spec.unit === "Hz") return v >= 1000 ? v.toFixed(0) : v.toFixed(1);
  if (spec.unit === "pan" || spec.unit === "q") return v.toFixed(2);
  if (spec.unit === "ms") return v < 10 ? v.toFixed(2) : v.toFixed(1);
  return v.toFixed(1);
}

export function decimals(spec) {
  return { Hz: 1, pan: 2, q: 2, ms: 2 }[spec.unit] ?? 1;
}
