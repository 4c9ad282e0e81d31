// The EQ editor: the response of [high-pass +] the six bands, with draggable band handles.
// Drag a handle: frequency and gain; wheel over it: Q; drag the HP handle sideways: high-pass.
import { canvasSize, drawFreqGrid, drawResponse, fitCanvas, freqOfX, onCurves, xOfFreq } from "./curves.js";
import { newGesture } from "./controls.js";
import { bandTitle, clamp, eqBands } from "./specs.js";

const DB_RANGE = 18;
const COLORS = ["#ef9a9a", "#ffcc80", "#fff59d", "#a5d6a7", "#90caf9", "#ce93d8"];

export function eqEditor(target, specs, getValues, edit) {
  const cv = document.createElement("canvas");
  cv.className = "eq-canvas";
  cv.dataset.target = target;
  const byName = Object.fromEntries(specs.map((s) => [s.name, s]));
  const bands = eqBands(specs);
  const hp = byName.highpass_hz;
  let curves = null;
  let drag = null;

  function handles() {
    const v = getValues();
    const { w, h } = canvasSize(cv);
    const out = bands.map((b) => ({
      band: b, x: xOfFreq(v[b.keys.freq_hz], w),
      y: h / 2 - (v[b.keys.gain_db] / DB_RANGE) * (h / 2), color: COLORS[b.index % COLORS.length],
    }));
    if (hp) out.push({ hp: true, x: xOfFreq(Math.max(20, v.highpass_hz), w), y: h / 2, color: "#b0bec5" });
    return out;
  }

  function draw() {
    const g = fitCanvas(cv);
    const { w, h } = canvasSize(cv);
    drawFreqGrid(g, w, h, DB_RANGE);
    if (curves) {
      curves.eq.bands_db.forEach((b, i) => {
        g.globalAlpha = 0.35;
        drawResponse(g, { freqs_hz: curves.eq.freqs_hz, total_db: b }, w, h, DB_RANGE, "#9aa0aa", 1);
      });
      g.globalAlpha = 1;
      drawResponse(g, curves.eq, w, h, DB_RANGE, "#4fc3f7", 2.5);
    }
    for (const hd of handles()) {
      g.fillStyle = hd.color;
      g.strokeStyle = "#111";
      g.beginPath();
      if (hd.hp) g.rect(hd.x - 5, hd.y - 5, 10, 10); else g.arc(hd.x, hd.y, 6, 0, 2 * Math.PI);
      g.fill(); g.stroke();
      g.fillStyle = "#111";
      g.font = "bold 8px sans-serif";
      g.fillText(hd.hp ? "H" : String(hd.band.index + 1), hd.x - 2.5, hd.y + 3);
    }
  }

  function pick(ev) {
    const r = cv.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    let best = null, dist = 14;
    for (const hd of handles()) {
      const d = Math.hypot(hd.x - x, hd.y - y);
      if (d < dist) { dist = d; best = hd; }
    }
    return best;
  }

  cv.addEventListener("pointerdown", (ev) => {
    const hd = pick(ev);
    if (!hd) return;
    drag = { hd, gesture: newGesture() };
    cv.setPointerCapture(ev.pointerId);
  });
  cv.addEventListener("pointermove", (ev) => {
    if (!drag) { cv.style.cursor = pick(ev) ? "grab" : "crosshair"; return; }
    const r = cv.getBoundingClientRect();
    const { w, h } = canvasSize(cv);
    const f = freqOfX(ev.clientX - r.left, w);
    if (drag.hd.hp) {
      edit(target, [["highpass_hz", clamp(hp, f)]], drag.gesture);
      return;
    }
    const k = drag.hd.band.keys;
    const gain = ((h / 2 - (ev.clientY - r.top)) / (h / 2)) * DB_RANGE;
    edit(target, [[k.freq_hz, clamp(byName[k.freq_hz], f)], [k.gain_db, clamp(byName[k.gain_db], gain)]],
      drag.gesture);
  });
  const end = () => { drag = null; };
  cv.addEventListener("pointerup", end);
  cv.addEventListener("pointercancel", end);
  cv.addEventListener("wheel", (ev) => {
    const hd = pick(ev);
    if (!hd || hd.hp) return;
    ev.preventDefault();
    const key = hd.band.keys.q;
    const q = getValues()[key] * (ev.deltaY < 0 ? 1.1 : 1 / 1.1);
    edit(target, [[key, clamp(byName[key], q)]], `wheel-${target}-${key}`);
  }, { passive: false });

  onCurves(target, (c) => { curves = c; draw(); }, cv);
  new ResizeObserver(draw).observe(cv);
  return { el: cv, draw, title: (i) => bandTitle(i, bands.length) };
}
