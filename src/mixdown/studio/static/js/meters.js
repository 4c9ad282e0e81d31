// Loudness of what plays (BS.1770 figures computed by the server over the loop or the song), a
// live spectrum of the output (the player's analyser), and the strips' meters: per track the peak
// and RMS of its strip output with a clip light held until clicked, the compressors' gain
// reduction, the master's true peak (red above 0 dBTP); the server measures them per hop of the
// render (api/strips) and the page shows the hop at the playing position.
import { F_MAX, F_MIN, canvasSize, fitCanvas, xOfFreq } from "./curves.js";

const DB_LO = -60, DB_HI = 6, GR_RANGE = 24;
const levelMeters = [];
const grMeters = [];
const height = (db) => `${(100 * Math.max(0, Math.min(1, (db - DB_LO) / (DB_HI - DB_LO)))).toFixed(1)}%`;

/** A strip's level meter: RMS bar, peak line, a clip light (click to clear). */
export function levelMeter(target) {
  const m = document.createElement("div");
  m.className = "meter";
  m.dataset.target = target;
  m.title = target === "master" ? "master: true peak (red above 0 dBTP) and RMS" : `${target}: peak and RMS of the strip's output`;
  const clip = document.createElement("button");
  clip.className = "clip";
  clip.title = target === "master" ? "over 0 dBTP (click to clear)" : "clipped: over 0 dBFS (click to clear)";
  clip.addEventListener("click", () => clip.classList.remove("on"));
  const bar = document.createElement("div");
  bar.className = "bar";
  const rms = document.createElement("div");
  rms.className = "rms";
  const peak = document.createElement("div");
  peak.className = "peak";
  const zero = document.createElement("div");
  zero.className = "zero";
  zero.style.bottom = height(0);
  bar.append(rms, peak, zero);
  m.append(clip, bar);
  m.dataset.peak = m.dataset.rms = String(-120);
  levelMeters.push({ el: m, target, rms, peak, clip });
  return m;
}

/** A compressor's gain-reduction meter (0 .. -24 dB, filling from the left). */
export function grMeter(target) {
  const m = document.createElement("div");
  m.className = "gr-meter";
  m.dataset.target = target;
  m.title = `${target}: compressor gain reduction (0 .. -${GR_RANGE} dB)`;
  const fill = document.createElement("div");
  fill.className = "fill";
  const val = document.createElement("span");
  val.textContent = "GR 0.0";
  m.append(fill, val);
  m.dataset.gr = "0";
  grMeters.push({ el: m, target, fill, val });
  return m;
}

/** Show the hop of `strips` (api/strips) at song time `t`; nothing plays: meters at rest. */
export function showStrips(strips, t, playing) {
  const i = strips && playing ? Math.floor((t - strips.start_s) / strips.hop_s) : -1;
  const pick = (target) => (target === "master" ? strips && strips.master : strips && strips.tracks && strips.tracks[target]);
  for (let k = levelMeters.length - 1; k >= 0; k--) {
    const m = levelMeters[k];
    if (!m.el.isConnected) { levelMeters.splice(k, 1); continue; }
    const v = pick(m.target);
    const peak = v && i >= 0 && i < v.peak.length ? (m.target === "master" ? v.true_peak[i] : v.peak[i]) : -120;
    const rms = v && i >= 0 && i < v.rms.length ? v.rms[i] : -120;
    if (m.shown === `${peak}/${rms}`) continue;  // unchanged: no DOM write (no style work in this frame)
    m.shown = `${peak}/${rms}`;
    m.rms.style.height = height(rms);
    m.peak.style.bottom = height(peak);
    m.peak.classList.toggle("hot", peak > -6);
    const over = m.target === "master" ? peak > 0 : peak >= 0;
    m.el.classList.toggle("over", over);
    if (over) m.clip.classList.add("on");
    m.el.dataset.peak = String(peak);
    m.el.dataset.rms = String(rms);
  }
  for (let k = grMeters.length - 1; k >= 0; k--) {
    const m = grMeters[k];
    if (!m.el.isConnected) { grMeters.splice(k, 1); continue; }
    const v = pick(m.target);
    const gr = v && v.gr && i >= 0 && i < v.gr.length ? v.gr[i] : 0;
    if (m.shown === gr) continue;
    m.shown = gr;
    m.fill.style.width = `${(100 * Math.min(1, -gr / GR_RANGE)).toFixed(1)}%`;
    m.val.textContent = `GR ${gr === 0 ? "0.0" : gr.toFixed(1)}`;
    m.el.dataset.gr = String(gr);
  }
}

let lastShown = null;
const fmt = (v, d = 1) => (v === null || v === undefined ? "\u2013" : v.toFixed(d));

export function showMeters(meters, source, position, matchDb) {
  const m = meters && meters[source];
  let mom = null;
  if (m && m.momentary_lufs && m.momentary_lufs.length) {
    // momentary value i covers the 400 ms ending at (i * 0.1 + 0.4) s
    const i = Math.max(0, Math.min(m.momentary_lufs.length - 1, Math.round((position - 0.4) / 0.1)));
    mom = m.momentary_lufs[i];
  }
  const key = [m, source, matchDb, mom];
  if (lastShown && key.every((v, i) => v === lastShown[i])) return;  // unchanged: no DOM write
  lastShown = key;
  document.getElementById("m-source").textContent = { raw: "A raw", mix: "B mix", reference: "C ref" }[source];
  document.getElementById("m-integrated").textContent = fmt(m && m.integrated_lufs);
  const tp = document.getElementById("m-truepeak");
  tp.textContent = fmt(m && m.true_peak_dbtp, 2);
  tp.classList.toggle("over", Boolean(m && m.true_peak_dbtp !== null && m.true_peak_dbtp > 0));
  document.getElementById("m-match").textContent = matchDb === null ? "\u2013" : matchDb.toFixed(1);
  document.getElementById("m-momentary").textContent = fmt(mom);
}

export function drawSpectrum(canvas, analyser, sampleRate) {
  const g = fitCanvas(canvas);
  const { w, h } = canvasSize(canvas);
  if (!analyser && canvas.dataset.drawn === `${w}x${h}`) return;  // nothing plays: the grid is drawn
  canvas.dataset.drawn = analyser ? "" : `${w}x${h}`;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#262a31";
  g.fillStyle = "#6b717c";
  g.font = "9px sans-serif";
  for (const f of [100, 1000, 10000]) {
    const x = xOfFreq(f, w);
    g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
    g.fillText(f >= 1000 ? `${f / 1000}k` : String(f), x + 2, h - 3);
  }
  const dbLo = -100, dbHi = -10;
  for (let db = -90; db <= -20; db += 20) {
    const y = h - ((db - dbLo) / (dbHi - dbLo)) * h;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    g.fillText(`${db} dB`, 2, y - 2);
  }
  if (!analyser) return;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const hz = sampleRate / analyser.fftSize;
  g.strokeStyle = "#81c784";
  g.lineWidth = 1.5;
  g.beginPath();
  let started = false;
  for (let px = 0; px < w; px += 2) {  // one point per 2 px: the loudest bin under it
    const f0 = F_MIN * Math.pow(F_MAX / F_MIN, px / w), f1 = F_MIN * Math.pow(F_MAX / F_MIN, (px + 2) / w);
    let best = -Infinity;
    for (let k = Math.floor(f0 / hz); k <= Math.ceil(f1 / hz) && k < bins.length; k++) best = Math.max(best, bins[k]);
    if (!Number.isFinite(best)) continue;
    const y = h - ((Math.max(dbLo, best) - dbLo) / (dbHi - dbLo)) * h;
    if (!started) { g.moveTo(px, y); started = true; } else g.lineTo(px, y);
  }
  g.stroke();
  g.lineWidth = 1;
}
