// HTTP calls to the studio server. Paths are relative: the page's URL carries the access token.

const toastEl = () => document.getElementById("toast");
let toastTimer = null;

export function toast(message, kind = "error") {
  const el = toastEl();
  el.textContent = message;
  el.className = `show ${kind === "error" ? "" : "info"}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = ""; }, kind === "error" ? 8000 : 3500);
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json() : await res.arrayBuffer();
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${method} ${path}: HTTP ${res.status}`);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

/** POST and show any refusal in the toast; returns null when refused. */
export async function act(path, body) {
  try {
    return await post(path, body);
  } catch (e) {
    toast(e.message);
    return null;
  }
}

/** Fetch a render's samples (api/audio/...f32: float32, interleaved stereo) into an AudioBuffer at
 * the session's rate, with no WAV to decode; returns null when not ready. */
export async function fetchAudio(ctx, path) {
  const res = await fetch(path);
  if (!res.ok) return null;
  const frames = Number(res.headers.get("x-mixdown-frames")), rate = Number(res.headers.get("x-mixdown-sample-rate"));
  const x = new Float32Array(await res.arrayBuffer());
  if (!frames || x.length !== 2 * frames) return null;
  const buf = ctx.createBuffer(2, frames, rate);
  const left = buf.getChannelData(0), right = buf.getChannelData(1);
  for (let i = 0, j = 0; i < frames; i++, j += 2) { left[i] = x[j]; right[i] = x[j + 1]; }
  return buf;
}
