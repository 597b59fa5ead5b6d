// What an image experiment's frames show (docs/protocol.md, "Image frames"): the strip of
// test examples with their labels and predictions, the chosen example as it goes through
// the network (every layer's feature maps, every conv layer's filters, the class
// probabilities), and the test set's confusion matrix. Frames carry the first example's
// maps; another one's (any test image: one of the strip, or a mistake clicked in
// mistakes.js) come from GET /maps (an experiment's or a snapshot's), asked again at most
// every MAPS_EVERY ms.

import { api, decodeFrame, gate } from "./api.js";
import { DIVERGING_TABLE, divergingIndex } from "./colors.js";
import { paintConfusion } from "./confusion.js";
import { $, isImages, takesImages, probabilityBars } from "./dom.js";

const MAPS_EVERY = 250; // ms between two requests for the chosen example's maps
const MAP_SIZE = 44; // CSS pixels of a feature map's side

/** A small canvas of w x h pixels, shown pixelated. */
export function pixels(w, h, cls) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  c.className = cls;
  return c;
}

/** One channel of an image (values in [0, 1]) as ink on paper: 1 is black. */
export function paintInk(canvas, data, offset) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < canvas.width * canvas.height; i++) {
    const v = 255 - Math.round(255 * Math.max(0, Math.min(1, data[offset + i])));
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

/** Cells of values, orange (negative) to blue (positive), divided by `scale`. */
function paintSigned(data, offset, n, scale, put) {
  for (let i = 0; i < n; i++) {
    const k = divergingIndex(data[offset + i] / scale);
    put(i, DIVERGING_TABLE[k], DIVERGING_TABLE[k + 1], DIVERGING_TABLE[k + 2]);
  }
}

function largest(data, from = 0, to = data.length) {
  let hi = 1e-9;
  for (let i = from; i < to; i++) hi = Math.max(hi, Math.abs(data[i]));
  return hi;
}

/** A conv or pool entry's maps [C, H, W]: one canvas per channel, each on its own scale. */
function paintMaps(box, grid) {
  const [C, H, W] = grid.shape;
  let canvases = box.querySelectorAll("canvas");
  if (canvases.length !== C || canvases[0].width !== W || canvases[0].height !== H) {
    box.replaceChildren(...Array.from({ length: C }, (_, c) => {
      const canvas = pixels(W, H, "map");
      canvas.title = `feature map ${c + 1} (orange negative, blue positive)`;
      return canvas;
    }));
    canvases = box.querySelectorAll("canvas");
  }
  const { data } = grid;
  canvases.forEach((canvas, c) => {
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(W, H);
    const n = H * W;
    paintSigned(data, c * n, n, largest(data, c * n, (c + 1) * n), (i, r, g, b) => {
      image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b;
      image.data[4 * i + 3] = 255;
    });
    ctx.putImageData(image, 0, 0);
  });
}

/** A dense entry's units [units]: one row of squares, on one scale. */
function paintUnits(box, grid) {
  const n = grid.shape[0];
  let canvas = box.querySelector("canvas");
  if (!canvas || canvas.width !== n) {
    canvas = pixels(n, 1, "units");
    canvas.title = "what each unit outputs for this image (orange negative, blue positive)";
    box.replaceChildren(canvas);
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(n, 1);
  paintSigned(grid.data, 0, n, largest(grid.data), (i, r, g, b) => {
    image.data.set([r, g, b, 255], 4 * i);
  });
  ctx.putImageData(image, 0, 0);
  canvas.style.width = `${Math.min(n * 12, 12 * 32)}px`;
}

const TILE = 40; // CSS pixels a filter's side is drawn at, about (whole pixels per weight)

function cell(tag, cls, text) {
  const e = document.createElement(tag);
  e.className = cls;
  e.textContent = text;
  return e;
}

/**
 * A conv entry's filters [F, C, k, k], one tile per filter and input map, every weight a
 * square of whole pixels (a 3 x 3 filter is 39 px a side, not 9 blurred ones), all on one
 * scale for the layer. One input map: a numbered tile per filter. More: a row per filter
 * and a column per input map, numbered along both sides, every tile titled.
 */
function paintFilters(box, grid, layer) {
  const [F, C, k] = grid.shape;
  let tiles = box.querySelectorAll("canvas");
  if (tiles.length !== F * C || tiles[0].width !== k) {
    const px = Math.max(4, Math.round(TILE / k)) * k;
    const head = cell("p", "filters-head", C === 1
      ? `Filters of layer ${layer}: ${F}, each ${k} \u00d7 ${k} weights`
      : `Filters of layer ${layer}: a row per filter (${F}), a column per input map (${C}), ` +
        `each ${k} \u00d7 ${k} weights`);
    const table = cell("div", C === 1 ? "filter-grid single" : "filter-grid", "");
    table.style.setProperty("--tile", `${px}px`);
    if (C > 1) {
      table.style.gridTemplateColumns = `auto repeat(${C}, minmax(0, ${px}px))`;
      table.append(cell("span", "filter-corner", "filter"),
        ...Array.from({ length: C }, (_, c) => cell("span", "filter-col", `map ${c + 1}`)));
    }
    for (let f = 0; f < F; f++) {
      if (C > 1) table.append(cell("span", "filter-row", String(f + 1)));
      for (let c = 0; c < C; c++) {
        const tile = pixels(k, k, "filter-tile");
        tile.title = `layer ${layer}, filter ${f + 1}${C > 1 ? `, input map ${c + 1}` : ""}: ` +
          `${k} \u00d7 ${k} weights (orange negative, blue positive)`;
        if (C > 1) { table.append(tile); continue; }
        const figure = cell("figure", "filter", "");
        figure.append(tile, cell("figcaption", "", String(f + 1)));
        table.append(figure);
      }
    }
    box.replaceChildren(head, table);
    tiles = box.querySelectorAll("canvas");
  }
  const { data } = grid;
  const scale = largest(data);
  const kk = k * k;
  tiles.forEach((tile, t) => { // tile t is filter floor(t / C), input map t % C
    const ctx = tile.getContext("2d");
    const image = ctx.createImageData(k, k);
    paintSigned(data, t * kk, kk, scale, (i, r, g, b) => {
      image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b;
      image.data[4 * i + 3] = 255;
    });
    ctx.putImageData(image, 0, 0);
  });
}

const argmax = (data, from, k) => {
  let best = 0;
  for (let c = 1; c < k; c++) if (data[from + c] > data[from + best]) best = c;
  return best;
};

/**
 * A caption "true\u2192said": it may wrap at spaces and after the arrow, never inside a
 * class name (the CSS breaks a word only where it cannot fit at all).
 */
export function caption(span, text) {
  if (span.textContent === text) return;
  const parts = text.split("\u2192");
  span.replaceChildren(...parts.flatMap((part, i) =>
    (i < parts.length - 1 ? [`${part}\u2192`, document.createElement("wbr")] : [part])));
}

export function bindImages(store) {
  const strip = $("examples");
  let stripRevision = null; // the examples are the same in every frame of a revision
  let asking = false, askedAt = 0;

  const choose = (example) => {
    askedAt = 0; // at once, not after the pause between two requests
    store.set({ example, maps: null, source: "example" });
  };

  /** The chosen example's maps: from the frame (the first) or from GET /maps. */
  async function fetchMaps() {
    const { example, reads } = store.state;
    if (!example || asking || performance.now() - askedAt < MAPS_EVERY) return;
    asking = true;
    askedAt = performance.now();
    try {
      const answer = await gate.read(() => (takesImages(store.state)
        ? api.maps(reads, example) : null));
      const maps = answer && decodeFrame(answer);
      if (maps && maps.header.example === store.state.example) store.set({ maps });
    } catch { /* the next frame asks again */ }
    asking = false;
    if (store.state.example !== example) { askedAt = 0; fetchMaps(); } // chosen meanwhile
  }

  function paintStrip(frame) {
    const examples = frame.grids.examples;
    const [n, , H, W] = examples.shape;
    if (stripRevision !== frame.header.revision || strip.children.length !== n) {
      stripRevision = frame.header.revision;
      // short class names (digits): 8 a row; names (shapes): 4 a row, room to read them
      strip.classList.toggle("named", frame.header.classes.some((c) => c.length > 2));
      const data = examples.data.map((v) => v / 255);
      strip.replaceChildren(...Array.from({ length: n }, (_, i) => {
        const item = document.createElement("button");
        item.className = "example";
        item.dataset.example = i;
        const canvas = pixels(W, H, "example-image");
        paintInk(canvas, data, i * examples.shape[1] * H * W);
        const label = document.createElement("span");
        item.append(canvas, label);
        item.addEventListener("click", () => choose(i));
        return item;
      }));
    }
    const { classes, example_labels: labels } = frame.header;
    const probabilities = frame.grids.probabilities;
    const k = probabilities.shape[1];
    [...strip.children].forEach((item, i) => {
      const predicted = argmax(probabilities.data, i * k, k);
      const right = predicted === labels[i];
      const text = right ? `\u2713${classes[predicted]}` : `${classes[labels[i]]}\u2192${classes[predicted]}`;
      caption(item.lastChild, text);
      item.classList.toggle("right", right);
      item.classList.toggle("wrong", !right);
      item.classList.toggle("chosen", i === store.state.example && store.state.source !== "drawing");
      item.title = `test image ${i + 1}: a ${classes[labels[i]]}, the network says ` +
        `${classes[predicted]} (${Math.round(100 * probabilities.data[i * k + predicted])} %)` +
        `${right ? "" : ": wrong"}. Click to see it go through the network.`;
      item.setAttribute("aria-label", `test image ${i + 1}: ${classes[labels[i]]}, ` +
        `predicted ${classes[predicted]}`);
    });
  }

  /**
   * What goes through the network on show: the chosen test example (its maps from the
   * frame or from /maps) or the drawing ({grids} of POST /maps).
   */
  function chosen(frame, maps) {
    const { example, source, drawn } = store.state;
    const { classes, example_labels: labels } = frame.header;
    if (source === "drawing" && drawn) {
      const image = drawn.grids.image;
      return { grids: drawn.grids, pixels: image.data.map((v) => v / 255), offset: 0,
        shape: image.shape, truth: null, probs: drawn.grids.probabilities.data, at: 0,
        text: "your drawing" };
    }
    const [n, C, H, W] = frame.grids.examples.shape;
    if (example >= n) { // a test image beyond the strip: all of it from /maps
      if (!maps) return null; // asked for: the picture on show stays until it comes
      const image = maps.grids.image, label = maps.header.label;
      return { grids: maps.grids, pixels: image.data.map((v) => v / 255), offset: 0,
        shape: image.shape, truth: label, probs: maps.grids.probabilities.data, at: 0,
        text: `test image ${example + 1}, a ${classes[label]}` };
    }
    return { grids: example && maps ? maps.grids : example ? null : frame.grids,
      pixels: frame.grids.examples.data.map((v) => v / 255), offset: example * C * H * W,
      shape: [C, H, W], truth: labels[example], probs: frame.grids.probabilities.data,
      at: example * frame.grids.probabilities.shape[1],
      text: `test image ${example + 1}, a ${classes[labels[example]]}` };
  }

  function paintChosen(frame, maps) {
    const { classes, layers } = frame.header;
    const input = chosen(frame, maps);
    if (!input) return;
    const source = input.grids;
    const [C, H, W] = input.shape;
    let picture = $("input-image").querySelector("canvas");
    if (!picture || picture.width !== W || picture.height !== H) {
      picture = pixels(W, H, "input-picture");
      $("input-image").replaceChildren(picture);
    }
    paintInk(picture, input.pixels, input.offset);
    $("input-shape").textContent = `${C} × ${H} × ${W} · ${input.text}`;
    // each layer
    layers.forEach((_, i) => {
      const item = document.querySelector(`.image-layer[data-entry='${i + 1}']`);
      if (!item) return;
      const box = item.querySelector(".maps");
      // a layer of units (dense) or of maps (conv, pool), whatever its type: by its grid
      const units = source?.[`units${i + 1}`], maps = source?.[`maps${i + 1}`];
      if (units) paintUnits(box, units); else if (maps) paintMaps(box, maps);
      const filters = frame.grids[`filters${i + 1}`];
      if (filters && item.querySelector(".filters")) {
        paintFilters(item.querySelector(".filters"), filters, i + 1);
      }
    });
    // the probabilities, as bars
    const k = frame.grids.probabilities.shape[1];
    const box = $("probabilities");
    const best = argmax(input.probs, input.at, k);
    probabilityBars(box, classes, input.probs.subarray(input.at, input.at + k), input.truth,
      best);
  }

  store.watch(["config"], ({ config }) => {
    document.body.classList.toggle("images", isImages(config));
  });
  let data = null; // the data set's fields: another test set, another example 0
  store.watch(["config"], ({ config }) => {
    // a new network or data set: its example 0 is the one the frames carry
    const now = config && JSON.stringify(config.dataset);
    if (store.state.example && (!isImages(config) || (data !== null && now !== data))) choose(0);
    data = now;
  });
  store.watch(["frame", "example", "maps", "drawn", "source"], ({ frame, maps }) => {
    if (!frame || frame.header.input !== "images") return;
    paintStrip(frame);
    paintChosen(frame, maps);
    paintConfusion($("confusion"), frame.grids.confusion.data, frame.header.classes,
      { noun: "test image", opens: true });
    fetchMaps();
  });
  store.watch(["example"], () => fetchMaps());
  return { choose };
}
