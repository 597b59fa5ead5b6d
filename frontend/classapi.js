// A teacher's class, over its public contract (docs/api.md, "Classes"): REST calls and the
// class's websocket. The teacher's token goes in a header or an `auth` command, never in
// an address.

import { decodeFrame, ReconnectingSocket } from "./api.js";

/** An answer that is not a success: its status and the server's message. */
export class ApiError extends Error {
  constructor(status, message, details = []) { super(message); this.status = status; this.details = details; }
}

async function call(method, path, { body, token } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || response.statusText,
      (data && data.details) || []);
  }
  return data;
}

const base = (id) => `/api/classes/${encodeURIComponent(id)}`;

/** A file (not JSON) that needs the token: the Response itself, or the server's error. */
async function file(path, token) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, (data && data.error) || response.statusText);
  }
  return response;
}

export const classes = {
  create: (body) => call("POST", "/api/classes", { body }),
  get: (id, token) => call("GET", base(id), { token }),
  info: (id) => call("GET", `${base(id)}/join`),
  join: (id, name) => call("POST", `${base(id)}/join`, { body: { name } }),
  pause: (id, token) => call("POST", `${base(id)}/pause`, { token }),
  lock: (id, token) => call("POST", `${base(id)}/lock`, { token }),
  unlock: (id, token) => call("POST", `${base(id)}/unlock`, { token }),
  results: (id, token) => call("GET", `${base(id)}/results`, { token }),
  resultsCsv: (id, token) => file(`${base(id)}/results.csv`, token),
  start: (id, token, source) => call("POST", `${base(id)}/start`, { token, body: source }),
  remove: (id, token, experimentId) => call("DELETE",
    `${base(id)}/students/${encodeURIComponent(experimentId)}`, { token }),
  experiment: (id) => call("GET", `/api/experiments/${encodeURIComponent(id)}`),
  lessons: () => call("GET", "/api/lessons"),
  meta: () => call("GET", "/api/meta"),
};

/**
 * /ws/classes/{id}, reconnecting by itself (api.js's rule): `auth` first, then a binary
 * message of the whole class a few times a second -> onMessage({header, grids}) (grids:
 * the thumbnails that changed, by experiment id). onState("live" | "lost" | "refused" |
 * "error", text).
 */
export class ClassSocket extends ReconnectingSocket {
  constructor(id, token, { onMessage, onState }) {
    super(`/ws/classes/${encodeURIComponent(id)}`, onState);
    Object.assign(this, { token, onMessage });
    this.open();
  }

  opened(ws) { ws.send(JSON.stringify({ type: "auth", token: this.token })); }

  binary(buffer) {
    this.delay = 500;
    this.onMessage(decodeFrame(buffer));
  }

  text(message) {
    if (message.type === "ack" && message.command === "auth") this.onState("live");
    else if (message.type === "error") this.onState("error", message.message);
  }
}
