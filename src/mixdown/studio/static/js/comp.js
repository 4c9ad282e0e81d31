// The compressor's static curve (input level -> output level, makeup included), from the server.
import { canvasSize, fitCanvas, onCurves } from "./curves.js";

const LO = -72, HI = 0, OUT_LO = -72, OUT_HI = 24;

export function compCurve(target, cls = "comp-canvas") {
  const cv = document.createElement("canvas");
  cv.className = cls;
  let data = null;

  function draw() {
    const g = fitCanvas(cv);
    const { w, h } = canvasSize(cv);
    const x = (db) => ((db - LO) / (HI - LO)) * w;
    const y = (db) => h - ((db - OUT_LO) / (OUT_HI - OUT_LO)) * h;
    g.clearRect(0, 0, w, h);
    g.strokeStyle = "#262a31";
    g.fillStyle = "#6b717c";
    g.font = "9px sans-serif";
    for (let db = LO; db <= HI; db += 12) {
      g.beginPath(); g.moveTo(x(db), 0); g.lineTo(x(db), h); g.stroke();
      if (h > 80) g.fillText(`${db}`, x(db) + 2, h - 3);
    }
    for (let db = OUT_LO; db <= OUT_HI; db += 12) {
      g.beginPath(); g.moveTo(0, y(db)); g.lineTo(w, y(db)); g.stroke();
      if (h > 80) g.fillText(`${db}`, 2, y(db) - 2);
    }
    g.strokeStyle = "#3a404a";
    g.setLineDash([4, 4]);
    g.beginPath(); g.moveTo(x(LO), y(LO)); g.lineTo(x(HI), y(HI)); g.stroke();
    g.setLineDash([]);
    if (!data) return;
    g.strokeStyle = "#ffb74d";
    g.lineWidth = 2;
    g.beginPath();
    data.in_db.forEach((l, i) => { if (i === 0) g.moveTo(x(l), y(data.out_db[i])); else g.lineTo(x(l), y(data.out_db[i])); });
    g.stroke();
    g.lineWidth = 1;
    if (h > 80) { g.fillStyle = "#9aa0aa"; g.fillText("in dB \u2192", w - 48, h - 14); g.fillText("out dB", 4, 10); }
  }

  onCurves(target, (c) => { data = c.compressor; draw(); }, cv);
  new ResizeObserver(draw).observe(cv);
  return cv;
}
