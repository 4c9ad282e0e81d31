// Loudness of what plays (BS.1770 figures computed by the server over the loop or the song) and a
// live spectrum of the output (the player's analyser).
import { F_MAX, F_MIN, fitCanvas, xOfFreq } from "./curves.js";

const fmt = (v, d = 1) => (v === null || v === undefined ? "\u2013" : v.toFixed(d));

export function showMeters(meters, source, position, matchDb) {
  const m = meters && meters[source];
  document.getElementById("m-source").textContent = { raw: "A raw", mix: "B mix", reference: "C ref" }[source];
  document.getElementById("m-integrated").textContent = fmt(m && m.integrated_lufs);
  document.getElementById("m-truepeak").textContent = fmt(m && m.true_peak_dbtp, 2);
  document.getElementById("m-match").textContent = matchDb === null ? "\u2013" : matchDb.toFixed(1);
  let mom = null;
  if (m && m.momentary_lufs && m.momentary_lufs.length) {
    // momentary value i covers the 400 ms ending at (i * 0.1 + 0.4) s
    const i = Math.max(0, Math.min(m.momentary_lufs.length - 1, Math.round((position - 0.4) / 0.1)));
    mom = m.momentary_lufs[i];
  }
  document.getElementById("m-momentary").textContent = fmt(mom);
}

export function drawSpectrum(canvas, analyser, sampleRate) {
  const g = fitCanvas(canvas);
  const w = canvas.clientWidth, h = canvas.clientHeight;
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
