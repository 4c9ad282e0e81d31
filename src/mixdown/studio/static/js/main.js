// The studio page: loads the session, builds the mixer, keeps audio and meters in step with the
// server's renders (asking for the status, which answers as soon as something changed), and wires the
// toolbar and the transport.
import { act, fetchAudio, get, toast } from "./api.js";
import { setHandlers } from "./controls.js";
import { applyState, edit, editMany, idle, onState, setLock, store } from "./editing.js";
import { drawSpectrum, showMeters, showStrips } from "./meters.js";
import { Player } from "./player.js";
import { buildEditor, buildMixer } from "./strips.js";
import { Timeline, clock } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const player = new Player();
const view = { scope: "loop", loaded: { loop: null, full: null }, meters: null, status: null,
  selected: null, mute: new Set(), solo: new Set(), region: [0, 0], match: true, strips: null, stripsKey: null };
const EDITOR_KEY = () => `mixdown-studio-editor:${store.desc ? store.desc.session : ""}`;
let mixer = null, timeline = null;

async function reloadState() { applyState(await get("api/state")); }

function select(target, reveal = true) {
  view.selected = target;
  buildEditor($("editor"), target, { desc: store.desc, state: () => store.state, editMany });
  $("editor").dataset.target = target;
  mixer.setSelected(target);
  applyState({});
  try { sessionStorage.setItem(EDITOR_KEY(), target); } catch (e) { /* storage off: not kept over a reload */ }
  if (reveal) {  // beside the mixer on a wide screen; below it on a narrow one: scroll it into view
    const r = $("editor").getBoundingClientRect();
    if (r.top > window.innerHeight - 120 || r.top < 0) $("editor").scrollIntoView({ block: "start" });
  }
}

/** The strips' meters of the render that plays (fetched once per render). */
async function loadStrips(scope, info) {
  const key = `${scope}:${renderKey(info)}`;
  if (view.stripsKey === key) return;
  try {
    const s = await get(`api/strips/${scope}`);
    if (s.key && s.key.join() === info.key.join()) { view.strips = s; view.stripsKey = key; }
  } catch (e) { /* not measured yet: the next poll asks again */ }
}

function setCold(cold) {
  document.body.classList.toggle("cold", cold);
  document.body.dataset.mixing = cold ? "1" : "";
}

async function monitor(kind, name) {
  const set = view[kind];
  if (set.has(name)) set.delete(name); else set.add(name);
  const r = await act("api/monitor", { mute: [...view.mute], solo: [...view.solo] });
  if (r) { view.mute = new Set(r.mute); view.solo = new Set(r.solo); }
  mixer.setMonitor(view.mute, view.solo);
}

function renderKey(r) { return `${r.key.join(".")}@${r.start_s}/${r.frames}`; }

/** Fetch the buffers of a render the page has not loaded yet. */
async function loadAudio(scope, info) {
  const key = renderKey(info);
  const prev = view.loaded[scope];
  const sameFrame = prev && prev.split("@")[1] === key.split("@")[1] && prev.split(".")[1] === key.split(".")[1];
  const wanted = sameFrame ? ["mix"] : info.sources;
  const ctx = player.ensureContext();
  const bufs = {};
  for (const s of wanted) {
    const b = await fetchAudio(ctx, `api/audio/${scope}/${s}.f32`);
    if (!b) return;  // not ready after all: the next poll tries again
    bufs[s] = b;
  }
  if (view.scope !== scope) return;
  if (!sameFrame) { const was = player.playing; player.clear(); player.setBuffers(bufs, false); if (was) player.play(); }
  else player.setBuffers(bufs, true);
  view.loaded[scope] = key;
  document.body.dataset.loaded = key;
  document.body.dataset.loadedVersion = String(info.version);
}

function updateMatch() {
  const m = view.meters;
  const mix = m && m.mix && m.mix.integrated_lufs;
  const gains = {};
  for (const s of ["raw", "reference"]) {
    const l = m && m[s] && m[s].integrated_lufs;
    gains[s] = view.match && mix !== null && mix !== undefined && l !== null && l !== undefined ? Math.pow(10, (mix - l) / 20) : 1;
  }
  player.setMatchGains(gains);
}

const WAIT_S = 1;  // a status request waits this long for news (a render, meters, a job) before answering

async function poll() {
  let delay = 0;
  try {
    const tag = view.status && view.status.tag;
    const st = await get(tag ? `api/status?wait_s=${WAIT_S}&tag=${encodeURIComponent(tag)}` : "api/status");
    view.status = st;
    if (idle() && st.version !== store.state.version) await reloadState();
    $("job").textContent = st.job ? `${st.job} running\u2026` : st.error || "";
    setCold(Boolean(st.mixing_first));
    const r = view.scope === "loop" ? st.loop : st.full;
    if (r && view.loaded[view.scope] !== renderKey(r)) await loadAudio(view.scope, r);
    if (r && r.meters) { view.meters = r.meters; updateMatch(); }
    if (r) await loadStrips(view.scope, r);
    const parts = [];
    if (st.loop) parts.push(`loop re-rendered in ${st.loop.seconds.toFixed(2)} s`);
    parts.push(st.full_busy || !st.full || st.full.key.join() !== st.key.join() ? "full song: rendering\u2026" : "full song: ready");
    $("render-info").textContent = parts.join(" \u00b7 ");
    view.region = st.loop_region;
    if (timeline && !timeline.drag) timeline.setRegion(...st.loop_region);
    if (r && view.loaded[view.scope] !== renderKey(r)) delay = 100;  // not loaded after all: ask again soon
  } catch (e) {
    $("job").textContent = `server unreachable (${e.message})`;
    view.status = null;
    delay = 1000;
  }
  setTimeout(poll, delay);
}

function songTime() {
  const p = player.position();
  return view.scope === "loop" ? view.region[0] + p : p;
}

let frames = 0;

function frame() {
  const t = songTime();
  $("clock").textContent = clock(t);
  if (timeline) timeline.setPlayhead(player.playing || t > 0 ? t : null);
  const m = view.meters;
  const sel = player.selected;
  const match = m && m.mix && m[sel] && sel !== "mix" && view.match && m.mix.integrated_lufs !== null && m[sel].integrated_lufs !== null
    ? m.mix.integrated_lufs - m[sel].integrated_lufs : null;
  showMeters(m, sel, player.position(), match);
  showStrips(view.strips, t, player.playing);
  if (++frames % 2 === 0) {  // the spectrum at half the frame rate: the page's time goes to what changed
    drawSpectrum($("spectrum"), player.playing ? player.analyser : null, player.ctx ? player.ctx.sampleRate : 48000);
  }
  requestAnimationFrame(frame);
}

async function runJob(path, body, done) {
  $("job").textContent = "working\u2026";
  const r = await act(path, body);
  if (r) { if (r.version !== undefined) applyState(r); if (done) done(r); }
}

// the take the last mix was (a model that draws an engineer's way of mixing says; others: null)
let take = null;

function mixed(r) {
  take = r.notes && Number.isInteger(r.notes.take) ? r.notes.take : null;
  const which = take === null ? "" : ` (take ${take})`;
  toast(`the model mixed the session${which}, locked values kept`, "info");
}

function wireToolbar() {
  $("btn-mix").addEventListener("click", () => runJob("api/mix", take === null ? {} : { take }, mixed));
  $("btn-take").addEventListener("click", () => runJob("api/mix", { take: (take ?? 0) + 1 }, mixed));
  $("btn-reset").addEventListener("click", () => runJob("api/reset"));
  $("btn-undo").addEventListener("click", () => runJob("api/undo"));
  $("btn-redo").addEventListener("click", () => runJob("api/redo"));
  $("btn-save").addEventListener("click", () => runJob("api/save", {}, (r) => toast(`saved ${r.saved}`, "info")));
  for (const fmt of ["dawproject", "reaper"]) {
    $(`btn-export-${fmt}`).addEventListener("click", () => runJob("api/export", { format: fmt }, (r) => toast(`exported ${r.exported}`, "info")));
  }
  $("btn-report").addEventListener("click", () => {
    const tab = window.open("about:blank", "_blank");  // opened inside the click: not a blocked pop-up
    runJob("api/report", {}, (r) => { toast(`report written: ${r.report}`, "info"); if (tab) tab.location = r.url; });
  });
  $("btn-play").addEventListener("click", () => (player.playing ? player.stop() : player.play()));
  for (const b of document.querySelectorAll(".abc button")) {
    b.addEventListener("click", () => player.select(b.dataset.source));
  }
  $("match-loudness").addEventListener("change", (e) => { view.match = e.target.checked; updateMatch(); });
  $("loop-on").addEventListener("change", (e) => {
    view.scope = e.target.checked ? "loop" : "full";
    player.loop = e.target.checked;
    player.clear();
    view.loaded = { loop: null, full: null };
    if (view.scope === "full" && !(view.status && view.status.full)) toast("the full song is still rendering; it plays once ready", "info");
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && ["number", "text"].includes(e.target.type)) return;
    if (e.code === "Space") { e.preventDefault(); $("btn-play").click(); }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); runJob(e.shiftKey ? "api/redo" : "api/undo"); }
  });
  document.addEventListener("studio-reload", reloadState);
  player.onstate = () => {
    $("btn-play").innerHTML = player.playing ? "&#x25A0;" : "&#x25B6;";
    for (const b of document.querySelectorAll(".abc button")) b.classList.toggle("on", b.dataset.source === player.selected);
  };
}

async function boot() {
  const s = await get("api/state");
  store.desc = s;
  document.title = `mixdown studio: ${s.session}`;
  $("session-name").textContent = `${s.session} \u00b7 ${s.track_info.length} tracks \u00b7 ${s.sample_rate} Hz \u00b7 ${clock(s.seconds)}` +
    (s.reference ? ` \u00b7 reference ${s.reference}` : "");
  const refButton = document.querySelector('.abc button[data-source="reference"]');
  if (!s.reference) {
    refButton.disabled = true;
    refButton.title = `C: no reference mix. Put one in the session folder as reference_mix.wav (or .flac), or start `
      + "the studio with --reference REF.wav";
    $("ref-hint").textContent = "C: add reference_mix.wav to the session folder";
    $("ref-hint").title = refButton.title;
  } else {
    refButton.title = `C: the reference, ${s.reference}` + (s.reference_found
      ? " (found in the session folder; Mix refines towards a reference only when given with --reference)" : "");
  }
  setCold(Boolean(s.mixing_first));
  setHandlers({ edit: (t, k, v, g) => edit(t, k, v, g), lock: setLock });
  view.mute = new Set(s.mute); view.solo = new Set(s.solo);
  mixer = buildMixer($("mixer"), { desc: s, select, monitor, state: () => store.state });
  mixer.setMonitor(view.mute, view.solo);
  onState((st) => {
    $("btn-undo").disabled = !st.can_undo;
    $("btn-redo").disabled = !st.can_redo;
    document.body.dataset.version = String(st.version);
  });
  applyState(s);  // the first state: every curve is fetched
  timeline = new Timeline($("timeline"), s.seconds,
    (a, b) => act("api/loop", { start_s: a, end_s: b }).then((r) => r && timeline.setRegion(...r.loop_region)),
    (t) => player.seek(view.scope === "loop" ? Math.max(0, Math.min(t - view.region[0], player.duration)) : t));
  timeline.setRegion(...s.loop_region);
  let saved = null;
  try { saved = sessionStorage.getItem(EDITOR_KEY()); } catch (e) { /* no storage */ }
  const known = saved === "master" || s.track_info.some((t) => t.name === saved);
  select(known ? saved : s.track_info[0] ? s.track_info[0].name : "master", false);
  wireToolbar();
  player.onstate();
  get("api/overview").then((o) => timeline.setPeaks(o.peaks));
  setTimeout(() => get("api/overview").then((o) => timeline.setPeaks(o.peaks)), 3000);
  document.body.dataset.ready = "1";
  poll();
  requestAnimationFrame(frame);
}

boot().catch((e) => toast(`could not load the studio: ${e.message}`));
