// The spec table (sent by the server from mixdown.params.spec) -> how each parameter is shown.
// Nothing here names a parameter except the few with a dedicated widget (fader, pan, EQ, compressor):
// any other parameter, present or future (e.g. a reverb send), gets a generic control.

export const UNIT_LABEL = { dB: "dB", Hz: "Hz", ms: "ms", ratio: ":1", q: "Q", pan: "%" };

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
  if (placeOf(spec.name) === "fader") return faderValue(spec, u);
  if (spec.scale === "log") return spec.lo * Math.pow(spec.hi / spec.lo, u);
  return spec.lo + u * (spec.hi - spec.lo);
}

export function fromUnit(spec, v) {  // physical -> 0..1
  if (placeOf(spec.name) === "fader") return faderPosition(spec, v);
  if (spec.scale === "log") return Math.log(v / spec.lo) / Math.log(spec.hi / spec.lo);
  return (v - spec.lo) / (spec.hi - spec.lo);
}

// A fader's travel as on a console: dB per position piecewise linear, finest around 0 dB
// (6 dB take 15 % of the travel there, against 8 % for 12 dB at the bottom).
const TAPER = [[-48, 0], [-36, 0.08], [-24, 0.18], [-12, 0.35], [-6, 0.5], [0, 0.65], [6, 0.8], [12, 0.9], [24, 1]];
export const FADER_TICKS = [12, 6, 0, -6, -12, -24, -48];

function taper(spec) {  // the points inside the spec's range, ends at its limits
  const pts = TAPER.filter(([db]) => db > spec.lo && db < spec.hi);
  const at = (db) => {  // position of a dB value on the full taper
    for (let i = 1; i < TAPER.length; i++) {
      const [d0, p0] = TAPER[i - 1], [d1, p1] = TAPER[i];
      if (db <= d1) return p0 + ((Math.max(db, d0) - d0) / (d1 - d0)) * (p1 - p0);
    }
    return 1;
  };
  const lo = at(spec.lo), hi = at(spec.hi);
  return [[spec.lo, 0], ...pts.map(([db, p]) => [db, (p - lo) / (hi - lo)]), [spec.hi, 1]];
}

export function faderPosition(spec, v) {
  const t = taper(spec);
  v = clamp(spec, v);
  for (let i = 1; i < t.length; i++) {
    if (v <= t[i][0]) return t[i - 1][1] + ((v - t[i - 1][0]) / (t[i][0] - t[i - 1][0])) * (t[i][1] - t[i - 1][1]);
  }
  return 1;
}

export function faderValue(spec, u) {
  const t = taper(spec);
  for (let i = 1; i < t.length; i++) {
    if (u <= t[i][1]) return t[i - 1][0] + ((u - t[i - 1][1]) / (t[i][1] - t[i - 1][1])) * (t[i][0] - t[i - 1][0]);
  }
  return spec.hi;
}

export function clamp(spec, v) {
  return Math.min(spec.hi, Math.max(spec.lo, v));
}

/** The value shown: "-0.0" as "0.0"; pan as "L 30", "C", "R 30" (per cent). */
export function format(spec, v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "";
  if (spec.unit === "pan") {
    const pc = Math.round(v * 100);
    return pc === 0 ? "C" : `${pc < 0 ? "L" : "R"} ${Math.abs(pc)}`;
  }
  let s;
  if (spec.unit === "Hz") s = v >= 1000 ? v.toFixed(0) : v.toFixed(1);
  else if (spec.unit === "q") s = v.toFixed(2);
  else if (spec.unit === "ms") s = v < 10 ? v.toFixed(2) : v.toFixed(1);
  else s = v.toFixed(1);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** A typed value in the spec's units (pan: "L 30", "R30", "C", "-30" per cent); NaN when unreadable. */
export function parse(spec, text) {
  const t = String(text).trim();
  if (spec.unit === "pan") {
    const m = /^([LRC])\s*(\d+(?:\.\d+)?)?\s*%?$/i.exec(t);
    if (m) return m[1].toUpperCase() === "C" ? (m[2] && Number(m[2]) !== 0 ? NaN : 0) : (m[1].toUpperCase() === "L" ? -1 : 1) * Number(m[2] ?? NaN) / 100;
    return /^[-+]?\d+(\.\d+)?\s*%?$/.test(t) ? parseFloat(t) / 100 : NaN;
  }
  return t === "" || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? NaN : Number(t);
}

/** The arrow keys' step from v: up (+1) or down (-1), fine with Shift. Faders and other dB values
 * 0.5 dB (Shift 0.1), pan 1 % (Shift 5 %), log-scaled values by a ratio (Hz a semitone, others 10 %;
 * Shift a quarter of it), other linear values 1 % of the range (Shift 0.2 %). */
export function stepFrom(spec, v, dir, shift) {
  let out;
  if (spec.unit === "pan") out = Math.round((v + dir * (shift ? 0.05 : 0.01)) * 100) / 100;
  else if (spec.unit === "dB") out = Math.round((v + dir * (shift ? 0.1 : 0.5)) * 10) / 10;
  else if (spec.scale === "log") out = v * Math.pow(spec.unit === "Hz" ? Math.pow(2, 1 / 12) : 1.1, dir * (shift ? 0.25 : 1));
  else out = v + dir * (spec.hi - spec.lo) * (shift ? 0.002 : 0.01);
  return clamp(spec, out);
}

/** ``v`` at the precision the page edits with (decimals of the field). */
export function quantize(spec, v) { return Number(v.toFixed(decimals(spec))); }

export function decimals(spec) {
  return { Hz: 1, pan: 2, q: 2, ms: 2 }[spec.unit] ?? 1;
}
