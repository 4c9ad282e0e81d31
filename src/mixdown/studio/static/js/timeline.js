// The song's overview (peaks of the raw sum), the loop region (drag to set it) and the playhead.
import { canvasSize, fitCanvas } from "./curves.js";

export class Timeline {
  constructor(canvas, seconds, onRegion, onSeek) {
    this.cv = canvas;
    this.seconds = seconds;
    this.peaks = [];
    this.region = [0, Math.min(seconds, 12)];
    this.playhead = null;
    this.drag = null;
    canvas.addEventListener("pointerdown", (ev) => {
      this.drag = { from: this._t(ev), to: this._t(ev) };
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!this.drag) return;
      this.drag.to = this._t(ev);
      this.draw();
    });
    canvas.addEventListener("pointerup", () => {
      if (!this.drag) return;
      const a = Math.min(this.drag.from, this.drag.to), b = Math.max(this.drag.from, this.drag.to);
      this.drag = null;
      if (b - a > 0.25) onRegion(a, b); else onSeek(a);
      this.draw();
    });
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  _t(ev) {
    const r = this.cv.getBoundingClientRect();
    return Math.max(0, Math.min(this.seconds, ((ev.clientX - r.left) / r.width) * this.seconds));
  }

  setPeaks(p) { this.peaks = p; this.draw(); }
  setRegion(a, b) { this.region = [a, b]; this.draw(); }
  setPlayhead(t) {  // redrawn when the playhead moves by a pixel (not in every animation frame)
    const px = t === null ? null : Math.round((t / this.seconds) * canvasSize(this.cv).w);
    if (px === this.playheadPx && !this.drag) return;
    this.playhead = t;
    this.playheadPx = px;
    this.draw();
  }

  draw() {
    const g = fitCanvas(this.cv);
    const { w, h } = canvasSize(this.cv);
    const x = (t) => (t / this.seconds) * w;
    g.clearRect(0, 0, w, h);
    const [a, b] = this.drag ? [Math.min(this.drag.from, this.drag.to), Math.max(this.drag.from, this.drag.to)] : this.region;
    g.fillStyle = "rgba(79,195,247,0.16)";
    g.fillRect(x(a), 0, x(b) - x(a), h);
    g.strokeStyle = "#4fc3f7";
    g.strokeRect(x(a) + 0.5, 0.5, x(b) - x(a) - 1, h - 1);
    g.fillStyle = "#7d8794";
    const n = this.peaks.length;
    for (let i = 0; i < n; i++) {
      const ph = this.peaks[i] * (h / 2 - 4);
      g.fillRect((i / n) * w, h / 2 - ph, Math.max(1, w / n), 2 * ph);
    }
    g.fillStyle = "#9aa0aa";
    g.font = "9px sans-serif";
    const step = this.seconds > 120 ? 30 : this.seconds > 30 ? 10 : this.seconds > 8 ? 2 : 0.5;
    for (let t = 0; t < this.seconds; t += step) g.fillText(clock(t, step < 1), x(t) + 2, h - 3);
    if (this.playhead !== null) {
      g.strokeStyle = "#fff";
      g.beginPath(); g.moveTo(x(this.playhead), 0); g.lineTo(x(this.playhead), h); g.stroke();
    }
  }
}

export function clock(t, tenths = true) {
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${tenths ? s.toFixed(1).padStart(4, "0") : String(Math.floor(s)).padStart(2, "0")}`;
}
