// The page's only ways to the server: the public REST routes and the websocket.

class ApiError extends Error {
  constructor(status, message, details = []) { super(message); this.status = status; this.details = details; }
}

async function call(method, path, { body, token, contentType } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof FormData) {
    payload = body; // the browser writes its multipart Content-Type, with the boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = contentType ? body : JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || response.statusText,
      (data && data.details) || []);
  }
  return data;
}

/**
 * The page's own config changes and its questions about images (maps, mistakes, drawings),
 * one kind at a time. A question sent before a change to points but answered after it is
 * refused by the server, and the browser logs the refusal. A question waits for the change
 * under way, then checks again whether it still applies; a change waits for the questions
 * under way (each one small). They do not nest: a read inside a read could wait on a change
 * that waits on the outer one.
 */
class Gate {
  constructor() { this.reads = 0; this.change = null; this.drained = null; }

  async read(fn) {
    while (this.change) await this.change;
    this.reads += 1;
    try { return await fn(); } finally {
      this.reads -= 1;
      if (this.reads === 0 && this.drained) this.drained();
    }
  }

  async write(fn) {
    while (this.change) await this.change;
    let done;
    this.change = new Promise((resolve) => { done = resolve; });
    try {
      while (this.reads) await new Promise((resolve) => { this.drained = resolve; });
      return await fn();
    } finally {
      this.drained = null;
      this.change = null;
      done();
    }
  }
}

export const gate = new Gate();

export const api = {
  meta: () => call("GET", "/api/meta"),
  create: (config) => call("POST", "/api/experiments", { body: config }),
  get: (id) => call("GET", `/api/experiments/${id}`),
  points: (id) => call("GET", `/api/experiments/${id}/points`),
  history: (id) => call("GET", `/api/experiments/${id}/history`),
  preview: (name, classes) => call("GET",
    `/api/datasets/preview?name=${encodeURIComponent(name)}&classes=${classes}`),
  uploadJson: (data) => call("POST", "/api/datasets", { body: data }),
  lessons: () => call("GET", "/api/lessons"),
  exportModel: (id) => call("GET", `/api/experiments/${id}/export`),
  importModel: (data) => call("POST", "/api/experiments/import", { body: data }),
  gradientCheck: (id) => call("GET", `/api/experiments/${id}/gradient-check?points=32`),
  share: (id, token) => call("POST", `/api/experiments/${id}/share`, { token }),
  snapshot: (shareId) => call("GET", `/api/shares/${shareId}`),
  snapshotPoints: (shareId) => call("GET", `/api/shares/${shareId}/points`),
  fork: (shareId) => call("POST", `/api/shares/${shareId}/fork`),
  async snapshotFrame(shareId) {
    const response = await fetch(`/api/shares/${shareId}/frame`);
    if (!response.ok) throw new ApiError(response.status, "the snapshot cannot be drawn");
    return response.arrayBuffer();
  },
  // Looking inside an image network, an experiment's or a snapshot's: `at` is its path
  // (state.reads), /api/experiments/ID or /api/shares/ID.
  summary: (at) => call("GET", `${at}/summary`),
  /** One test image's feature maps and probabilities, binary in the frame layout. */
  async maps(at, example) {
    const response = await fetch(`${at}/maps?example=${example}`);
    if (!response.ok) throw new ApiError(response.status, "no feature maps for that image");
    return response.arrayBuffer();
  },
  /** The same for a drawing ({image: (H, W) or (C, H, W) pixels in [0, 1]}). */
  async mapsOfDrawing(at, image) {
    const response = await fetch(`${at}/maps`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ image }) });
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiError(response.status, (data && data.error) || "the drawing was refused");
    }
    return response.arrayBuffer();
  },
  /** One test sequence through time (docs/api.md): input, target, output, layers, gradient. */
  sequence: (at, example) => call("GET", `${at}/sequence?example=${example}`),
  /** The same for a drawn wave: input [T][C]. */
  sequenceOfDrawing: (at, input) => call("POST", `${at}/sequence`, { body: { input } }),
  /**
   * The test images the network gets wrong, surest first: {count, items: [{index, label,
   * predicted, probability, image (C, H, W)}]}; with `true` and `predicted`, one confusion
   * cell's images (the diagonal: right ones).
   */
  mistakes(at, { true: t, predicted, limit }) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (t !== undefined) query.set("true", String(t));
    if (predicted !== undefined) query.set("predicted", String(predicted));
    return call("GET", `${at}/mistakes?${query}`);
  },
  /** Images: an NPZ file as the body, or a FormData with MNIST's IDX files. */
  uploadImages: (body) => (body instanceof FormData
    ? call("POST", "/api/datasets", { body })
    : call("POST", "/api/datasets?kind=npz", { body, contentType: "application/octet-stream" })),
  uploadSequences: (body) => call("POST", "/api/datasets?kind=sequences",
    { body, contentType: "application/octet-stream" }),
  uploadCsv: (text) => call("POST", "/api/datasets", { body: text, contentType: "text/csv" }),
};

// float16 -> float32, through a table of all 65536 values (built once).
const HALF = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * 2 ** -14 * (frac / 1024);
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return table;
})();

function decodeGrid(buffer, base, g) {
  const count = g.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  if (g.dtype === "float16") {
    const raw = new Uint16Array(buffer, base + g.offset, count);
    for (let i = 0; i < count; i++) out[i] = HALF[raw[i]];
  } else if (g.dtype === "uint8") {
    const raw = new Uint8Array(buffer, base + g.offset, count);
    if (!g.low) { out.set(raw); return out; } // plain bytes (an image's pixels * 255)
    const per = count / g.shape[0];
    for (let c = 0; c < g.shape[0]; c++) {
      const lo = g.low[c], span = (g.high[c] - g.low[c]) / 255;
      for (let i = c * per; i < (c + 1) * per; i++) out[i] = lo + span * raw[i];
    }
  } else if (g.dtype === "int32") {
    out.set(new Int32Array(buffer.slice(base + g.offset, base + g.offset + g.length)));
  } else {
    out.set(new Float32Array(buffer.slice(base + g.offset, base + g.offset + g.length)));
  }
  return out;
}

/** The weight grids as one {W: rows of numbers, b: numbers | null} per dense layer. */
function layerWeights(grids) {
  const layers = [];
  for (let l = 0; grids[`weights${l}`]; l++) {
    const { shape: [rows, cols], data } = grids[`weights${l}`];
    const W = Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * cols, (r + 1) * cols)));
    const b = grids[`biases${l}`] ? Array.from(grids[`biases${l}`].data) : null;
    layers.push({ W, b });
  }
  return layers;
}

/**
 * A binary frame (docs/protocol.md) -> {header, grids: {name: {shape, data: Float32Array}}}.
 * A grid is decoded when its data is first read: a frame may be drawn only in part.
 */
export function decodeFrame(buffer) {
  const view = new DataView(buffer);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const grids = {};
  for (const g of header.grids) {
    let data = null;
    grids[g.name] = { shape: g.shape, get data() { return (data ??= decodeGrid(buffer, 4 + n, g)); } };
  }
  let weights = null;
  Object.defineProperty(header, "weights", { enumerable: true, get: () => (weights ??= layerWeights(grids)) });
  return { header, grids };
}

/**
 * A websocket that reconnects by itself, by one rule for every page: a close that the
 * server means for good (4403: the token was refused; 4404: no such experiment or class)
 * ends it, with the server's last error as the reason, onState("refused", reason); a
 * server at a limit (4429) is asked again after LIMITED ms, onState("limited", reason);
 * anything else (a restart, a lost network) at once, then slower: onState("lost", ms).
 */
const FINAL = new Set([4403, 4404]);
const LIMITED = 15000;

export class ReconnectingSocket {
  constructor(path, onState) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    Object.assign(this, { onState, delay: 500, closed: false, lastError: "" });
  }

  open() {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.opened(ws);
    ws.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) { this.binary(event.data); return; }
      const message = JSON.parse(event.data);
      if (message.type === "error") this.lastError = message.message;
      this.text(message);
    };
    ws.onclose = (event) => {
      this.dropped();
      if (this.closed) return;
      if (FINAL.has(event.code)) {
        this.closed = true;
        this.onState("refused", this.lastError || "the server refused this connection");
        return;
      }
      const limited = event.code === 4429;
      const wait = limited ? LIMITED : this.delay;
      if (limited) this.onState("limited", `${this.lastError}; trying again in ${wait / 1000} s`);
      else this.onState("lost", wait);
      setTimeout(() => this.open(), wait);
      this.delay = Math.min(this.delay * 2, 5000);
    };
  }

  /** Hooks: the connection opened, a binary or a text message came, it was lost. */
  opened() {}
  binary() {}
  text() {}
  dropped() {}

  close() { this.closed = true; this.ws.close(); }
}

/**
 * /ws/experiments/{id}. Commands resolve with their reply, in order. The edit token goes
 * in an `auth` command, the first thing sent on every connection, never in the address.
 * Frames (binary) are handed on at most once per animation frame, the newest only: a page
 * that draws slower than frames arrive skips, it never lags.
 */
export class Socket extends ReconnectingSocket {
  constructor(id, token, { onFrame, onState, onHello }) {
    super(`/ws/experiments/${id}`, onState);
    this.token = token;
    this.onFrame = onFrame; this.onHello = onHello;
    this.pending = [];
    this.latest = null; // the newest frame not drawn yet
    // what the page shows (the server's default); a sequence page adds `example`: which
    // test sequence the frames carry
    this.view = { frames: true, neurons: true };
    this.open();
  }

  /** What the page shows ({frames, neurons}, and a picked `example`): the server sends that. */
  show(view) {
    const next = { ...this.view, ...view };
    if (Object.keys(next).every((k) => next[k] === this.view[k])) return;
    this.view = next;
    this.send({ type: "view", ...next }); // unsent while closed: opened() tells it
  }

  opened(ws) {
    this.delay = 500;
    if (this.token) {
      this.pending.push((reply) => {
        if (reply.type === "error" || !reply.editable) {
          this.onState("error", "this tab's edit token was refused: you can watch, not change");
        }
      });
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
    }
    if (!this.view.frames || !this.view.neurons || this.view.example) {
      this.send({ type: "view", ...this.view });
    }
    this.onState("open");
  }

  text(message) {
    if (message.type === "hello") { this.onHello(message); return; }
    const waiting = this.pending.shift();
    if (waiting) waiting(message);
    else if (message.type === "error") this.onState("error", message.message);
  }

  dropped() {
    for (const waiting of this.pending.splice(0)) {
      waiting({ type: "error", message: "the connection was lost" });
    }
  }

  binary(buffer) { this.frame(buffer); }

  frame(buffer) {
    const scheduled = this.latest !== null;
    this.latest = buffer;
    if (scheduled) return;
    requestAnimationFrame(() => {
      const newest = this.latest;
      this.latest = null;
      this.onFrame(newest);
    });
  }

  send(command) {
    return new Promise((resolve) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        resolve({ type: "error", message: "not connected; reconnecting" });
        return;
      }
      this.pending.push(resolve);
      this.ws.send(JSON.stringify(command));
    });
  }

}
