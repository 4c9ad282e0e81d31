// One control per parameter: slider + number field with its unit + lock toggle.
// Controls register under "target|key" so a state update (or another tab's edit) refreshes them all.
import { toast } from "./api.js";
import { FADER_TICKS, UNIT_LABEL, clamp, decimals, format, fromUnit, label, parse, quantize, stepFrom, toUnit } from "./specs.js";

const registry = new Map();
const PADLOCK = (shackle) => `<svg viewBox="0 0 12 14" width="10" height="12" aria-hidden="true"><path d="${shackle}" `
  + `fill="none" stroke="currentColor" stroke-width="1.6"/><rect x="1.5" y="6" width="9" height="7" rx="1" fill="currentColor"/></svg>`;
const LOCK_SHUT = PADLOCK("M3.5 6V4a2.5 2.5 0 0 1 5 0v2");
const LOCK_OPEN = PADLOCK("M3.5 6V4a2.5 2.5 0 0 1 5 0v-0.5");
const handlers = { edit: () => {}, lock: () => {} };
let gestureCount = 0;

export function setHandlers(h) { Object.assign(handlers, h); }
export const newGesture = () => `g${Date.now()}-${++gestureCount}`;

function register(target, key, ctl) {
  const id = `${target}|${key}`;
  if (!registry.has(id)) registry.set(id, []);
  registry.get(id).push(ctl);
}

/** Show every registered control's value and lock from the server state. */
export function refreshControls(state) {
  const locks = new Set(state.locks);
  for (const [id, all] of registry) {
    const ctls = all.filter((c) => !c.el || c.el.isConnected);  // drop controls of a closed editor
    registry.set(id, ctls);
    const [target, key] = id.split("|");
    const values = target === "master" ? state.master : state.tracks[target];
    if (!values) continue;
    for (const c of ctls) c.show(values[key], locks.has(`${target}.${key}`));
  }
}

export function lockButton(target, key) {
  const b = document.createElement("button");
  b.className = "lock";
  b.innerHTML = LOCK_OPEN;
  b.title = `lock ${target}.${key}: Mix and Reset keep it`;
  b.dataset.target = target;
  b.dataset.key = key;
  b.addEventListener("click", () => handlers.lock(target, key, !b.classList.contains("on")));
  return b;
}

function numberField(spec, target, key) {
  const f = document.createElement("input");
  if (spec.unit === "pan") {  // shown as L 30 / C / R 30
    f.type = "text";
    f.className = "num";
    f.spellcheck = false;
  } else {
    f.type = "number";
    f.step = String(Math.pow(10, -decimals(spec)));
    f.min = String(spec.lo);
    f.max = String(spec.hi);
  }
  f.dataset.target = target;
  f.dataset.key = key;
  f.title = `${target}.${key}: ${spec.lo} .. ${spec.hi} ${spec.unit}`;
  return f;
}

const KEY_DIR = { ArrowUp: 1, ArrowRight: 1, PageUp: 1, ArrowDown: -1, ArrowLeft: -1, PageDown: -1 };

/**
 * A parameter control. opts.vertical makes a fader (dB ticks, finer travel near 0 dB). Sliders send
 * edits while dragging (one undo step per gesture; Shift-drag moves a tenth as fast); arrow keys
 * step (specs.stepFrom; Shift: fine, for pan coarse), one undo step per held key; the field sends
 * on change, a value outside the range clamped to the limit with a note. A value equal to the
 * current one is not sent. Returns the element.
 */
export function paramControl(spec, target, opts = {}) {
  const key = spec.name;
  const wrap = document.createElement("div");
  wrap.className = opts.vertical ? "fader" : "ctl";
  wrap.dataset.param = `${target}.${key}`;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = opts.label || label(key);
  const field = numberField(spec, target, key);
  const unit = document.createElement("span");
  unit.className = "unit";
  unit.textContent = UNIT_LABEL[spec.unit] || spec.unit;
  const lock = lockButton(target, key);
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = "1000";
  slider.step = "1";
  slider.dataset.target = target;
  slider.dataset.key = key;
  slider.setAttribute("aria-label", `${target} ${key}`);
  let gesture = null;
  let dragging = false;
  let current;  // the value shown
  let fine = null;  // a Shift-drag: where it started
  let keyGesture = null;
  const send = (v, g) => {
    v = quantize(spec, clamp(spec, v));
    if (v === current) { field.value = format(spec, v); return; }
    handlers.edit(target, key, v, g, true);
  };
  const name_ = opts.label || label(key);
  slider.addEventListener("pointerdown", (ev) => {
    gesture = newGesture();
    dragging = true;
    if (!ev.shiftKey || current === undefined) return;
    ev.preventDefault();
    slider.setPointerCapture(ev.pointerId);
    fine = { x: ev.clientX, y: ev.clientY, u: fromUnit(spec, current) };
  });
  slider.addEventListener("mousedown", (ev) => { if (ev.shiftKey) ev.preventDefault(); });
  slider.addEventListener("pointermove", (ev) => {
    if (!fine) return;
    const r = slider.getBoundingClientRect();
    const d = opts.vertical ? (fine.y - ev.clientY) / r.height : (ev.clientX - fine.x) / r.width;
    const u = Math.min(1, Math.max(0, fine.u + d / 10));
    slider.value = String(Math.round(1000 * u));
    send(toUnit(spec, u), gesture);
  });
  const endDrag = () => { dragging = false; gesture = null; fine = null; };
  slider.addEventListener("pointerup", endDrag);
  slider.addEventListener("pointercancel", endDrag);
  slider.addEventListener("input", () => {
    if (fine) return;
    const v = toUnit(spec, Number(slider.value) / 1000);
    field.value = format(spec, v);
    send(v, gesture || newGesture());
  });
  slider.addEventListener("change", endDrag);
  const nudge = (ev) => {
    const dir = KEY_DIR[ev.key];
    if (!dir || current === undefined || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target === field && !["ArrowUp", "ArrowDown"].includes(ev.key)) return;  // the caret's keys
    ev.preventDefault();
    if (!keyGesture) keyGesture = newGesture();
    send(stepFrom(spec, current, dir, ev.shiftKey), keyGesture);
  };
  for (const e of [slider, field]) {
    e.addEventListener("keydown", nudge);
    e.addEventListener("keyup", () => { keyGesture = null; });
  }
  field.addEventListener("change", () => {
    if (field.value.trim() === "") return;  // emptied to type anew (the server's value stays)
    const v = parse(spec, field.value);
    if (Number.isNaN(v)) {
      toast(`${target} ${name_}: "${field.value}" is not a value; type a number${spec.unit === "pan" ? " or L 30 / C / R 30" : ""}`);
      field.value = format(spec, current);
      return;
    }
    const c = clamp(spec, v);
    if (c !== v) {
      toast(`${target} ${name_}: ${format(spec, v)} is ${v > spec.hi ? "above" : "below"} the range `
        + `(${format(spec, spec.lo)} .. ${format(spec, spec.hi)} ${UNIT_LABEL[spec.unit] || spec.unit}); set to the limit, ${format(spec, c)}`, "info");
    }
    field.value = format(spec, c);
    send(c, newGesture());
  });
  slider.addEventListener("dblclick", () => {
    if (opts.home !== undefined) send(opts.home, newGesture());
  });
  if (opts.vertical) {
    const row = document.createElement("div");
    row.className = "row";
    row.append(field, unit, lock);
    const body = document.createElement("div");
    body.className = "fader-body";
    const ticks = document.createElement("div");
    ticks.className = "ticks";
    for (const db of FADER_TICKS) {
      if (db < spec.lo || db > spec.hi) continue;
      const t = document.createElement("span");
      t.textContent = db > 0 ? `+${db}` : String(db);
      t.style.bottom = `calc(${(fromUnit(spec, db) * 100).toFixed(2)}% * (1 - 16 / 150) + 8px - 6px)`;
      if (db === 0) t.className = "zero";
      ticks.append(t);
    }
    body.append(ticks, slider);
    wrap.append(body, row, name);
  } else {
    wrap.append(name, lock, slider, field, unit);
  }
  const ctl = {
    el: wrap,
    show(v, locked) {
      if (v === undefined) return;
      current = v;
      if (!dragging) slider.value = String(Math.round(1000 * fromUnit(spec, v)));
      if (document.activeElement !== field) field.value = format(spec, v);
      lock.classList.toggle("on", locked);
      lock.innerHTML = locked ? LOCK_SHUT : LOCK_OPEN;
      wrap.classList.toggle("locked", locked);
    },
  };
  register(target, key, ctl);
  return wrap;
}

/** Register a custom view (the EQ or compressor canvas) to hear about state updates. */
export function watch(target, key, show, el = null) { register(target, key, { show, el }); }
