// Playback: the raw sum (A), the mix (B) and the reference (C) run in sync, one of them audible,
// so switching keeps the position. A new render of the mix is swapped in at the same position.
// Everything goes through one analyser (the spectrum of what plays).

const SOURCES = ["raw", "mix", "reference"];
const RAMP_S = 0.012;

export class Player {
  constructor() {
    this.ctx = null;
    this.buffers = {};
    this.nodes = {};
    this.selected = "mix";
    this.matchGains = { raw: 1, mix: 1, reference: 1 };
    this.playing = false;
    this.offset = 0;       // seconds into the buffers when (re)started
    this.startedAt = 0;    // ctx time of that start
    this.loop = true;
    this.onstate = () => {};
  }

  ensureContext() {
    if (this.ctx) return this.ctx;
    const AC = window.AudioContext || window.webkitAudioContext;
    this.ctx = new AC();
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 8192;
    this.analyser.smoothingTimeConstant = 0.75;
    this.analyser.connect(this.ctx.destination);
    return this.ctx;
  }

  get duration() {
    const b = this.buffers.mix || this.buffers.raw;
    return b ? b.duration : 0;
  }

  /** Seconds into the buffers now. */
  position() {
    if (!this.playing || !this.ctx) return this.offset;
    const d = this.duration || 1;
    const p = this.offset + (this.ctx.currentTime - this.startedAt);
    return this.loop ? p % d : Math.min(p, d);
  }

  /** Replace some buffers ({mix: AudioBuffer, ...}); playing sources restart at the same position. */
  setBuffers(buffers, keepPosition = true) {
    const pos = keepPosition ? this.position() : 0;
    Object.assign(this.buffers, buffers);
    if (!this.playing) { this.offset = Math.min(pos, this.duration); return; }
    for (const name of Object.keys(buffers)) this._restart(name, pos);
  }

  clear() {
    this.stop();
    this.buffers = {};
    this.offset = 0;
  }

  _gainFor(name) {
    return name === this.selected ? this.matchGains[name] ?? 1 : 0;
  }

  _restart(name, pos) {
    const old = this.nodes[name];
    if (old) {
      old.gain.gain.setTargetAtTime(0, this.ctx.currentTime, RAMP_S / 3);
      old.src.stop(this.ctx.currentTime + RAMP_S * 2);
      delete this.nodes[name];
    }
    const buf = this.buffers[name];
    if (!buf) return;
    const src = this.ctx.createBufferSource();
    src.buffer = buf;
    src.loop = this.loop;
    const gain = this.ctx.createGain();
    gain.gain.value = 0;
    gain.gain.setTargetAtTime(this._gainFor(name), this.ctx.currentTime, RAMP_S / 3);
    src.connect(gain).connect(this.analyser);
    // started "now" at the shared clock position so every source stays aligned
    const at = this.offset + (this.ctx.currentTime - this.startedAt);
    const d = buf.duration || 1;
    src.start(0, this.loop ? at % d : Math.min(at, d));
    if (name === "mix") src.onended = () => { if (this.nodes.mix && this.nodes.mix.src === src && !this.loop) this.stop(); };
    this.nodes[name] = { src, gain };
  }

  play() {
    this.ensureContext();
    if (this.ctx.state === "suspended") this.ctx.resume();
    if (this.playing) return;
    if (this.offset >= this.duration) this.offset = 0;
    this.playing = true;
    this.startedAt = this.ctx.currentTime;
    for (const name of SOURCES) this._restart(name, this.offset);
    this.onstate();
  }

  stop() {
    if (!this.playing) return;
    this.offset = this.position();
    this.playing = false;
    for (const name of Object.keys(this.nodes)) {
      try { this.nodes[name].src.stop(); } catch (e) { /* already stopped */ }
    }
    this.nodes = {};
    this.onstate();
  }

  seek(seconds) {
    const was = this.playing;
    this.stop();
    this.offset = Math.max(0, Math.min(seconds, this.duration));
    if (was) this.play();
    this.onstate();
  }

  select(name) {
    this.selected = name;
    this._applyGains();
    this.onstate();
  }

  setMatchGains(gains) {
    this.matchGains = { ...this.matchGains, ...gains };
    this._applyGains();
  }

  _applyGains() {
    if (!this.ctx) return;
    for (const [name, n] of Object.entries(this.nodes)) {
      n.gain.gain.setTargetAtTime(this._gainFor(name), this.ctx.currentTime, RAMP_S / 3);
    }
  }
}
