// One control per parameter: slider + number field with its unit + lock toggle.
// Controls register under "target|key" so a state update (or another tab's edit) refreshes them all.
import { UNIT_LABEL, clamp, decimals, format, fromUnit, label, toUnit } from "./specs.js";

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
  f.type = "number";
  f.step = String(Math.pow(10, -decimals(spec)));
  f.min = String(spec.lo);
  f.max = String(spec.hi);
  f.dataset.target = target;
  f.dataset.key = key;
  f.title = `${target}.${key}: ${spec.lo} .. ${spec.hi} ${spec.unit}`;
  return f;
}

/**
 * A parameter control. opts.vertical makes a fader. Sliders send edits while dragging (one undo
 * step per gesture); the number field sends on change. Returns the element.
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
  slider.addEventListener("pointerdown", () => { gesture = newGesture(); dragging = true; });
  slider.addEventListener("input", () => {
    const v = toUnit(spec, Number(slider.value) / 1000);
    field.value = format(spec, v);
    handlers.edit(target, key, Number(format(spec, v)), gesture || newGesture(), true);
  });
  slider.addEventListener("change", () => { dragging = false; gesture = null; });
  field.addEventListener("change", () => {
    const v = Number(field.value);
    if (field.value === "" || Number.isNaN(v)) return;
    handlers.edit(target, key, v, newGesture(), false);
  });
  slider.addEventListener("dblclick", () => {
    if (opts.home !== undefined) handlers.edit(target, key, clamp(spec, opts.home), newGesture(), false);
  });
  if (opts.vertical) {
    const row = document.createElement("div");
    row.className = "row";
    row.append(field, unit, lock);
    wrap.append(slider, row, name);
  } else {
    wrap.append(name, lock, slider, field, unit);
  }
  const ctl = {
    el: wrap,
    show(v, locked) {
      if (v === undefined) return;
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
