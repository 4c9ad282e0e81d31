// The settings as the page knows them, and edits sent to the server: latest value per parameter,
// one request in flight, one undo step per gesture (a slider drag, an EQ handle drag).
import { post, toast } from "./api.js";
import { refreshControls } from "./controls.js";
import { refreshCurves } from "./curves.js";

export const store = { desc: null, state: null, listeners: [] };
const pending = new Map();
const CURVE_KEY = /^(eq\.|highpass|compressor\.)/;  // the keys the EQ response and the compressor curve show
let sending = false;

export function onState(fn) { store.listeners.push(fn); }

function valuesOf(state, target) {
  return target === "master" ? state.master : state.tracks[target];
}

/** Install a server snapshot (edits not yet sent stay on top of it) and refresh the views. */
export function applyState(snap) {
  const before = store.state;
  store.state = { ...store.state, ...snap };
  for (const p of pending.values()) valuesOf(store.state, p.target)[p.key] = p.value;
  refreshControls(store.state);
  const targets = ["master", ...Object.keys(store.state.tracks)];
  for (const t of targets) {
    const a = before && valuesOf(before, t), b = valuesOf(store.state, t);
    if (!a || JSON.stringify(a) !== JSON.stringify(b)) refreshCurves(t);
  }
  for (const fn of store.listeners) fn(store.state);
}

/** Set several values of one target: shown at once, sent as soon as the line is free. */
export function editMany(target, pairs, gesture) {
  const vals = valuesOf(store.state, target);
  for (const [key, value] of pairs) {
    pending.set(`${target}|${key}`, { target, key, value, gesture });
    vals[key] = value;
  }
  flush();  // the request first: the page's own redrawing follows while the server renders
  refreshControls(store.state);
  if (pairs.some(([key]) => CURVE_KEY.test(key))) refreshCurves(target);  // a fader or pan moves no curve
}

export function edit(target, key, value, gesture) { editMany(target, [[key, value]], gesture); }

export const idle = () => !sending && pending.size === 0;

async function flush() {
  if (sending || pending.size === 0) return;
  sending = true;
  const batch = [...pending.values()];
  pending.clear();
  try {
    const snap = await post("api/params", {
      changes: batch.map(({ target, key, value }) => ({ target, key, value })),
      gesture: batch[batch.length - 1].gesture,
    });
    applyState(snap);
  } catch (e) {
    toast(e.message);  // refused (e.g. out of range): show the server's values again
    document.dispatchEvent(new CustomEvent("studio-reload"));
  } finally {
    sending = false;
    if (pending.size) flush();
  }
}

export async function setLock(target, key, locked) {
  try {
    applyState(await post("api/locks", { target, key, locked }));
  } catch (e) {
    toast(e.message);
  }
}
