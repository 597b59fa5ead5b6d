// A canvas to draw on with a mouse or a finger, read as the data's own images: the strokes
// are averaged down to H x W pixels in [0, 1] (ink is 1, as in the data) and sent to
// POST /maps while one draws (one request at a time, the newest drawing next), so that
// the network's reading of it and its feature maps follow the pen.

import { api, decodeFrame, gate } from "./api.js";
import { $, takesImages } from "./dom.js";

const SIDE = 128; // about this many canvas pixels a side, a whole number per data pixel
const READ_EVERY = 300; // ms between two readings of the drawing while frames come
const PEN = 0.2; // the pen's width, as a share of the side: a stroke of the digits' width

/** The drawing averaged into h x w cells: alpha (ink) in [0, 1], row by row. */
function downscale(ctx, h, w, k) {
  const { data } = ctx.getImageData(0, 0, w * k, h * k);
  return Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => {
    let sum = 0;
    for (let y = r * k; y < (r + 1) * k; y++) {
      for (let x = c * k; x < (c + 1) * k; x++) sum += data[4 * (y * w * k + x) + 3];
    }
    return Math.min(1, sum / (255 * k * k));
  }));
}

export function bindDraw(store) {
  const canvas = $("draw");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let size = null; // [h, w, k]: the data's image size and canvas pixels per data pixel
  let drawing = false, last = null, sending = false, again = false;

  function fit(h, w) {
    if (size && size[0] === h && size[1] === w) return;
    const k = Math.max(1, Math.floor(SIDE / Math.max(h, w)));
    size = [h, w, k];
    if (store.state.source === "drawing") store.set({ source: "example", drawn: null });
    canvas.width = w * k;
    canvas.height = h * k;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }

  async function send() {
    if (sending) { again = true; return; }
    sending = true;
    do {
      again = false;
      const [h, w, k] = size;
      try {
        const image = downscale(ctx, h, w, k);
        const answer = await gate.read(() => (takesImages(store.state)
          ? api.mapsOfDrawing(store.state.reads, image) : null));
        if (answer) store.set({ drawn: decodeFrame(answer), source: "drawing" });
      } catch (error) {
        store.set({ message: `the drawing was not read: ${error.message}` });
      }
    } while (again);
    sending = false;
  }

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (!size) return;
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.strokeStyle = ctx.fillStyle = "#000";
    ctx.lineWidth = PEN * canvas.width;
    ctx.beginPath();
    ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    send();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const next = at(e);
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...next);
    ctx.stroke();
    last = next;
    send();
  });
  const stop = () => { if (drawing) { drawing = false; send(); } };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  $("draw-clear").addEventListener("click", () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    store.set({ source: "example", drawn: null });
  });

  // the canvas takes the data's image size; a new data set or network clears it
  store.watch(["frame"], ({ frame }) => {
    if (!frame || frame.header.input !== "images") return;
    const [, C, H, W] = frame.grids.examples.shape;
    $("draw-box").hidden = C !== 1; // grey, one channel
    fit(H, W);
  });
  // what the network says, here: on a phone the layers are further down the page
  // (only while the drawing is what goes through the network: another image chosen, the
  // verdict would be about a picture no longer on show)
  store.watch(["drawn", "source"], ({ drawn, frame, source }) => {
    const verdict = $("draw-verdict");
    if (!drawn || !frame || source !== "drawing") { verdict.textContent = ""; return; }
    const p = drawn.grids.probabilities.data;
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
    verdict.textContent = `The network says: ${frame.header.classes[best]} ` +
      `(${Math.round(100 * p[best])} %)`;
  });
  // while it trains, the drawing is read again by the newer weights, every READ_EVERY ms
  let readAt = 0;
  store.watch(["frame"], () => {
    if (store.state.source !== "drawing" || performance.now() - readAt < READ_EVERY) return;
    readAt = performance.now();
    send();
  });
}
