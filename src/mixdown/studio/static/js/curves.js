// EQ responses and compressor curves, computed by the server (the library's own filter code).
// One request in flight per target; an update that arrives meanwhile triggers one more.
import { post } from "./api.js";

const listeners = new Map();
const inFlight = new Set();
const again = new Set();
const latest = new Map();

/** Call fn(curves) for target now (if known) and on every update; `el`: stop once it leaves the page. */
export function onCurves(target, fn, el = null) {
  if (!listeners.has(target)) listeners.set(target, []);
  listeners.get(target).push({ fn, el });
  if (latest.has(target)) fn(latest.get(target));
}

export async function refreshCurves(target) {
  if (inFlight.has(target)) { again.add(target); return; }
  inFlight.add(target);
  try {
    const c = await post("api/curves", { target });
    latest.set(target, c);
    const live = (listeners.get(target) || []).filter((l) => !l.el || l.el.isConnected);
    listeners.set(target, live);  // views of a closed editor are dropped
    for (const l of live) l.fn(c);
  } catch (e) {
    console.warn(`curves for ${target}: ${e.message}`);
  } finally {
    inFlight.delete(target);
    if (again.delete(target)) refreshCurves(target);
  }
}

// ------------------------------------------------------------------ drawing helpers
export const F_MIN = 20, F_MAX = 20000;

export function xOfFreq(f, w) { return (Math.log(f / F_MIN) / Math.log(F_MAX / F_MIN)) * w; }
export function freqOfX(x, w) { return F_MIN * Math.pow(F_MAX / F_MIN, x / w); }

// Displayed sizes of the canvases, kept by a ResizeObserver: reading clientWidth in every animation
// frame after the meters changed the page forced a layout of the whole page per frame.
const sizes = new WeakMap();
const resized = typeof ResizeObserver === "undefined" ? null : new ResizeObserver((entries) => {
  for (const e of entries) sizes.set(e.target, { w: e.contentRect.width, h: e.contentRect.height });
});

/** The canvas's displayed size in CSS pixels ({w, h}), without a layout once it is observed. */
export function canvasSize(cv) {
  const known = sizes.get(cv);
  if (known) return known;
  const s = { w: cv.clientWidth, h: cv.clientHeight };
  if (resized && cv.isConnected) { sizes.set(cv, s); resized.observe(cv); }
  return s;
}

/** Fit a canvas's drawing buffer to its displayed size; returns the 2D context. */
export function fitCanvas(cv) {
  const r = window.devicePixelRatio || 1;
  const s = canvasSize(cv);
  const w = Math.max(10, Math.round(s.w * r)), h = Math.max(10, Math.round(s.h * r));
  if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; }
  const g = cv.getContext("2d");
  g.setTransform(r, 0, 0, r, 0, 0);
  return g;
}

export function drawFreqGrid(g, w, h, dbRange) {
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#262a31";
  g.fillStyle = "#6b717c";
  g.font = "9px sans-serif";
  g.lineWidth = 1;
  for (const f of [50, 100, 200, 500, 1000, 2000, 5000, 10000]) {
    const x = xOfFreq(f, w);
    g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
    if (h > 80) g.fillText(f >= 1000 ? `${f / 1000}k` : String(f), x + 2, h - 3);
  }
  for (let db = -dbRange; db <= dbRange; db += dbRange / 3) {
    const y = h / 2 - (db / dbRange) * (h / 2);
    g.strokeStyle = db === 0 ? "#3a404a" : "#262a31";
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    if (h > 80 && db !== 0) g.fillText(`${db > 0 ? "+" : ""}${db.toFixed(0)}`, 2, y - 2);
  }
}

export function drawResponse(g, eq, w, h, dbRange, color, width = 2) {
  g.strokeStyle = color;
  g.lineWidth = width;
  g.beginPath();
  eq.freqs_hz.forEach((f, i) => {
    const x = xOfFreq(f, w);
    const y = h / 2 - (Math.max(-dbRange * 1.5, Math.min(dbRange * 1.5, eq.total_db[i])) / dbRange) * (h / 2);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
}

/** A small EQ curve (the strips' thumbnails). */
export function drawMiniEq(cv, eq) {
  const g = fitCanvas(cv);
  const { w, h } = canvasSize(cv);
  drawFreqGrid(g, w, h, 18);
  drawResponse(g, eq, w, h, 18, "#4fc3f7", 1.5);
}
