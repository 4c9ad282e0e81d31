// The mixer (one strip per track, then the master) and the editor of the selected strip.
// Built from the spec table: a parameter the page has never heard of gets a generic control.
import { compCurve } from "./comp.js";
import { paramControl, watch } from "./controls.js";
import { drawMiniEq, onCurves } from "./curves.js";
import { eqEditor } from "./eq.js";
import { grMeter, levelMeter } from "./meters.js";
import { bandTitle, eqBands, placeOf } from "./specs.js";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function groups(specs) {
  const out = {};
  for (const s of specs) (out[placeOf(s.name)] = out[placeOf(s.name)] || []).push(s);
  return out;
}

/**
 * Build the strips into `mixer`. ctx: {desc, select(target), monitor(kind, name), state()}.
 * Returns {setMonitor(mute, solo), setSelected(target)}.
 */
export function buildMixer(mixer, ctx) {
  mixer.textContent = "";
  const tg = groups(ctx.desc.track_specs);
  const mg = groups(ctx.desc.master_specs);
  const strips = new Map();
  for (const t of ctx.desc.track_info) {
    const s = el("div", "strip");
    s.dataset.target = t.name;
    const h = el("h3", "", t.name);
    h.title = `${t.file} (click to edit EQ and compressor)`;
    h.addEventListener("click", () => ctx.select(t.name));
    const ms = el("div", "ms");
    const mute = el("button", "mute", "M");
    mute.title = "mute (monitoring only: not saved)";
    const solo = el("button", "solo", "S");
    solo.title = "solo in context: this track through the master bus";
    mute.dataset.target = solo.dataset.target = t.name;
    mute.addEventListener("click", () => ctx.monitor("mute", t.name));
    solo.addEventListener("click", () => ctx.monitor("solo", t.name));
    ms.append(mute, solo);
    s.append(h, el("span", "meta", t.channels === 2 ? "stereo" : "mono"), ms);
    s.append(...miniViews(t.name, ctx));
    for (const spec of tg.strip || []) s.append(paramControl(spec, t.name));
    for (const [g, specs] of Object.entries(tg)) {  // groups the page has no editor for (e.g. reverb)
      if (["strip", "eq", "compressor", "fader", "pan"].includes(g)) continue;
      for (const spec of specs) s.append(paramControl(spec, t.name, { label: spec.name }));
    }
    for (const spec of tg.pan || []) s.append(paramControl(spec, t.name, { home: 0 }));
    for (const spec of tg.fader || []) s.append(withMeter(paramControl(spec, t.name, { vertical: true, label: "fader", home: 0 }), t.name));
    mixer.append(s);
    strips.set(t.name, { el: s, mute, solo });
  }
  const m = el("div", "strip master");
  m.dataset.target = "master";
  const mh = el("h3", "", "master");
  mh.addEventListener("click", () => ctx.select("master"));
  m.append(mh, el("span", "meta", "stereo bus"), ...miniViews("master", ctx));
  const norm = ctx.desc.normalize;
  if (norm) {  // a static gain chosen by `mixdown mix --target-lufs`: kept as written, edits do not move it
    const n = el("span", "meta", `normalize ${norm.gain_db >= 0 ? "+" : ""}${norm.gain_db.toFixed(1)} dB (to ${norm.target_lufs} LUFS, kept)`);
    n.title = "master.normalize from the parameter file: applied last, as written; your edits change the loudness";
    m.append(n);
  }
  for (const [g, specs] of Object.entries(mg)) {
    if (["eq", "compressor", "fader"].includes(g)) continue;
    if (g !== "strip") m.append(el("span", "meta", g));
    for (const spec of specs) m.append(paramControl(spec, "master"));
  }
  for (const spec of mg.fader || []) m.append(withMeter(paramControl(spec, "master", { vertical: true, label: "output", home: 0 }), "master"));
  mixer.append(m);
  strips.set("master", { el: m });
  return {
    setMonitor(muteSet, soloSet) {
      for (const [name, st] of strips) {
        if (!st.mute) continue;
        st.mute.classList.toggle("on", muteSet.has(name));
        st.solo.classList.toggle("on", soloSet.has(name));
      }
    },
    setSelected(target) {
      for (const [name, st] of strips) st.el.classList.toggle("selected", name === target);
    },
  };
}

function withMeter(fader, target) {  // the level meter beside the fader
  fader.querySelector(".fader-body").append(levelMeter(target));
  return fader;
}

function miniViews(target, ctx) {
  const eq = el("canvas", "mini");
  eq.title = "EQ response (click to edit)";
  eq.addEventListener("click", () => ctx.select(target));
  onCurves(target, (c) => drawMiniEq(eq, c.eq), eq);
  const comp = compCurve(target, "mini");
  comp.title = "compressor static curve (click to edit)";
  comp.addEventListener("click", () => ctx.select(target));
  return [eq, comp, grMeter(target)];
}

/** Fill the editor with the EQ, compressor and every other group of `target`. */
export function buildEditor(box, target, ctx) {
  box.textContent = "";
  const specs = target === "master" ? ctx.desc.master_specs : ctx.desc.track_specs;
  const g = groups(specs);
  box.append(el("h2", "", target === "master" ? "master bus" : `track: ${target}`));
  const left = el("div");
  const eqSpecs = [...(g.eq || []), ...specs.filter((s) => s.name === "highpass_hz")];
  const values = () => (target === "master" ? ctx.state().master : ctx.state().tracks[target]);
  const editor = eqEditor(target, eqSpecs, values, ctx.editMany);
  left.append(el("h4", "", "EQ \u2014 drag a band: frequency and gain; wheel: Q"), editor.el);
  for (const s of eqSpecs) watch(target, s.name, () => editor.draw(), editor.el);
  const bandBox = el("div", "bands");
  const byName = Object.fromEntries(specs.map((s) => [s.name, s]));
  const bands = eqBands(specs);
  for (const b of bands) {
    const card = el("div", "band");
    card.append(el("div", "title", bandTitle(b.index, bands.length)));
    for (const k of ["freq_hz", "gain_db", "q"]) card.append(paramControl(byName[b.keys[k]], target));
    bandBox.append(card);
  }
  left.append(bandBox);
  if (byName.highpass_hz) left.append(paramControl(byName.highpass_hz, target, { label: "high-pass" }));
  const right = el("div");
  right.append(el("h4", "", "compressor \u2014 static curve"), compCurve(target), grMeter(target));
  const cf = el("div", "fields");
  for (const s of g.compressor || []) cf.append(paramControl(s, target));
  right.append(cf);
  for (const [name, list] of Object.entries(g)) {
    if (["eq", "compressor"].includes(name)) continue;
    right.append(el("h4", "", name === "strip" ? "strip" : name));
    const f = el("div", "fields");
    for (const s of list) if (s.name !== "highpass_hz") f.append(paramControl(s, target));
    right.append(f);
  }
  box.append(left, right);
}
