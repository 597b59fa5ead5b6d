// The data column: the data sets (with real points from each generator; the image and
// sequence sets after them), the sliders, Regenerate, uploads, points added by clicking on
// the output, and what is said about the user's own data (no generator; scaled into the
// plane). A set of another kind of data brings a network that fits it (nets.js).

import { api } from "./api.js";
import { $, allow, dataKind, datasetLabel, isImages } from "./dom.js";
import { paintPoints } from "./heatmap.js";
import { imageNet, POINT_NET, sequenceNet } from "./nets.js";

// Each slider: its label, the label's text while dragged, its value and label for a
// config, and what it sends when let go.
const SLIDERS = {
  train_fraction: { label: "train-value", text: (v) => `${v}%`,
    value: (c) => Math.round(c.dataset.train_fraction * 100),
    send: (v) => ({ dataset: { train_fraction: v / 100 } }) },
  noise: { label: "noise-value", text: String, value: (c) => Math.round(c.dataset.noise * 100),
    send: (v) => ({ dataset: { noise: v / 100 } }) },
  batch_size: { label: "batch-value", text: String,
    value: (c) => (c.batch_size === "full" ? 30 : Math.min(30, c.batch_size)),
    shown: (c) => String(c.batch_size), // "full" says so
    send: (v) => ({ batch_size: v }) },
  classes: { label: "classes-value", text: String, value: (c) => c.dataset.classes,
    send: (v) => ({ dataset: { classes: v } }) },
  side: { label: "side-value", text: (v) => `${v} × ${v}`, value: (c, meta) => sideOf(meta, c),
    send: (v) => ({ dataset: { side: v } }) },
  length: { label: "length-value", text: (v) => `${v} steps`, value: (c, meta) => lengthOf(meta, c),
    send: (v) => ({ dataset: { length: v } }) },
};
const OWN = "your own data has no generator: noise and Regenerate apply to built-in sets";
// Uploads that brought their own test points (a JSON x_test, a CSV's split column, and so
// every clicked point): the ratio does not split them (the points say so: own_split).
const SPLIT = "your data brought its own test points: the ratio applies to data without them";

/**
 * How many dimensions an IDX file of bytes (00 00 08, as MNIST's) says it has (its 4th
 * byte: 3 for images, 1 for labels), read through gzip when it is gzipped; null when it
 * is no such file or cannot be read.
 */
async function idxDims(file) {
  let head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b && typeof DecompressionStream === "function") {
    const reader = file.stream().pipeThrough(new DecompressionStream("gzip")).getReader();
    try { head = (await reader.read()).value || new Uint8Array(); } catch { return null; }
    reader.cancel().catch(() => {});
  }
  return head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2] === 8 ? head[3] : null;
}

/** The upload's body: one NPZ file, or MNIST's two IDX files (images, labels) as a form. */
async function imageBody(files) {
  if (files.length === 1) {
    // one IDX file alone is half of MNIST's pair: say so, rather than send it as an NPZ
    if (await idxDims(files[0]) !== null) {
      throw new Error(`${files[0].name} is an IDX file: choose MNIST's two IDX files, images ` +
        "and labels, together");
    }
    return files[0];
  }
  if (files.length !== 2) {
    throw new Error("choose one NPZ file, or MNIST's two IDX files (images and labels) together");
  }
  // the labels file: one dimension in its header, or "label" in its name
  const dims = await Promise.all(files.map(idxDims));
  let labels = dims.indexOf(1);
  if (labels < 0) labels = /label/i.test(files[1].name) ? 1 : 0;
  const form = new FormData();
  form.append("images", files[1 - labels]);
  form.append("labels", files[labels]);
  return form;
}

/** A data set's spec, a point, image or sequence set (none: the user's own data). */
function specOf(meta, name) {
  return meta.datasets.find((d) => d.name === name) ||
    meta.image_datasets.find((d) => d.name === name) ||
    meta.sequence_datasets.find((d) => d.name === name);
}

/** A built-in sequence set's steps: the config's, or the set's own. */
function lengthOf(meta, config) {
  const spec = meta.sequence_datasets.find((d) => d.name === config.dataset.name);
  return spec ? config.dataset.length ?? spec.length : null;
}

/** Whether the config's network answers at every step (its last layer returns sequences). */
function perStep(config) {
  const last = config.hidden_layers[config.hidden_layers.length - 1];
  return Boolean(last && last.return_sequences);
}

/**
 * The changes that switch to data set `d` (a meta entry with its `kind`): its name, classes
 * and side within its bounds, and, where the config's network cannot take it (another kind
 * of data, or a sequence set that wants a target per step where the network gives one per
 * sequence, or the other way round), a network that fits it.
 */
function switchTo(meta, config, d, input) {
  const changes = { dataset: { name: d.name, id: null } }; // an upload's id goes with it
  if (d.train_fraction) changes.dataset.train_fraction = d.train_fraction; // its published split
  if (config.dataset.classes > d.max_classes) changes.dataset.classes = d.max_classes;
  if (config.dataset.classes < d.min_classes) changes.dataset.classes = d.min_classes;
  // a side is an image set's; the other image set takes it where it can
  const side = config.dataset.side;
  if (side != null && (d.kind !== "images" || side < d.sides[0] || side > d.sides[1])) {
    changes.dataset.side = null;
  }
  const kind = dataKind(meta, config, input);
  if (d.kind === "images" && kind !== "images") {
    Object.assign(changes, imageNet(d));
    if (d.max_classes > d.min_classes) changes.dataset.classes = Math.min(4, d.max_classes);
  }
  if (d.kind === "sequences" && (kind !== "sequences" || perStep(config) !== d.per_step)) {
    Object.assign(changes, sequenceNet(d));
  }
  if (d.kind === "points" && kind !== "points") Object.assign(changes, POINT_NET);
  if (d.problem !== config.problem) changes.problem = d.problem;
  return changes;
}

/** A built-in image set's side in pixels: the config's, or the set's own. */
function sideOf(meta, config) {
  const spec = meta.image_datasets.find((d) => d.name === config.dataset.name);
  return spec ? config.dataset.side ?? spec.shape[1] : null;
}

/** A sequence set's button picture: a wave or two through time, drawn here. */
function sequencePicture(ctx, name) {
  ctx.lineWidth = 2;
  const trace = (y0, height, wave) => {
    ctx.beginPath();
    for (let x = 4; x <= 44; x += 1) {
      const y = y0 - height * wave((x - 4) / 40);
      if (x === 4) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    }
    ctx.stroke();
  };
  const turn = (t) => t - Math.floor(t);
  if (name === "sine") {
    trace(24, 14, (t) => Math.sin(2 * Math.PI * 1.5 * t));
  } else if (name === "waves") { // sine, triangle, square
    trace(11, 6, (t) => Math.sin(2 * Math.PI * 2 * t));
    trace(24, 6, (t) => 1 - 4 * Math.abs(turn(2 * t + 0.25) - 0.5));
    trace(37, 6, (t) => (turn(2 * t) < 0.5 ? 1 : -1));
  } else { // a jagged 1-D digit
    const points = [0, 0.2, 0.9, 0.4, -0.6, -0.9, 0.1, 0.7, 0.3, -0.2, 0];
    trace(24, 16, (t) => {
      const at = t * (points.length - 1), i = Math.min(points.length - 2, Math.floor(at));
      return points[i] + (points[i + 1] - points[i]) * (at - i);
    });
  }
}

/** An image or sequence set's button picture: a few strokes of what it holds, drawn here. */
function setPicture(name, kind) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 48;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#f8f8f8";
  ctx.fillRect(0, 0, 48, 48);
  ctx.fillStyle = ctx.strokeStyle = "#222";
  ctx.lineWidth = 4;
  if (kind === "sequences") {
    sequencePicture(ctx, name);
  } else if (name === "digits") {
    ctx.font = "bold 22px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("3", 14, 15);
    ctx.fillText("7", 34, 15);
    ctx.fillText("0", 14, 35);
    ctx.fillText("4", 34, 35);
  } else {
    ctx.beginPath();
    ctx.moveTo(6, 6); ctx.lineTo(20, 20); ctx.moveTo(20, 6); ctx.lineTo(6, 20);
    ctx.moveTo(28, 13); ctx.lineTo(42, 13);
    ctx.rect(7, 29, 13, 13);
    ctx.moveTo(42, 35); ctx.arc(35, 35, 7, 0, 2 * Math.PI);
    ctx.stroke();
  }
  return canvas.toDataURL();
}

const GROUPS = { images: "Images", sequences: "Sequences through time" };
const CLASSES = { points: "dataset", images: "dataset image-set", sequences: "dataset sequence-set" };

/** The sets' buttons, points first, then the image and the sequence sets under a heading. */
function datasetButtons(meta, onPick) {
  const kinds = { points: meta.datasets, images: meta.image_datasets, sequences: meta.sequence_datasets };
  return Object.entries(kinds).flatMap(([kind, sets]) => {
    const buttons = sets.map((d) => datasetButton({ ...d, kind }, onPick));
    if (!GROUPS[kind] || !sets.length) return buttons;
    const head = document.createElement("p");
    head.className = "datasets-group";
    head.dataset.kind = kind;
    head.textContent = GROUPS[kind];
    return [head, ...buttons];
  });
}

function datasetButton(d, onPick) {
  const item = document.createElement("button");
  item.className = CLASSES[d.kind];
  item.dataset.name = d.name;
  item.dataset.kind = d.kind;
  item.dataset.problem = d.problem;
  item.title = `${d.label}: ${d.description}`;
  item.setAttribute("aria-label", d.label);
  const picture = document.createElement("img"); // not a canvas: that is a layer per frame
  picture.alt = "";
  picture.width = picture.height = 48;
  const label = document.createElement("span");
  label.textContent = d.label;
  if (d.kind !== "points") picture.src = setPicture(d.name, d.kind);
  item.append(picture, label);
  item.addEventListener("click", () => onPick(d));
  return item;
}

/** Real points from each generator, as the server makes them. */
async function paintDatasets(meta, flash) {
  for (const item of document.querySelectorAll(".dataset[data-kind='points']")) {
    const spec = meta.datasets.find((d) => d.name === item.dataset.name);
    try {
      const points = await api.preview(spec.name, spec.max_classes > 2 ? 3 : 2);
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 48;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#f8f8f8";
      ctx.fillRect(0, 0, 48, 48);
      const scale = Math.max(1e-6, ...points.y.map((y) => Math.abs(y)));
      paintPoints(ctx, { x_train: points.x, y_train: points.y, x_test: [], y_test: [] }, 6,
        { showTest: false, regressionScale: spec.problem === "regression" ? scale : 0 });
      item.querySelector("img").src = canvas.toDataURL();
    } catch (error) { flash(`no thumbnail for ${spec.label}: ${error.message}`); }
  }
}

/**
 * The points with one more, in the data's own units: the server scales an upload into the
 * plane, so points sent as drawn (already scaled) would come back unscaled, the note lost.
 */
function withPoint(points, [x, y], label) {
  const s = points.scale || 1;
  const own = (xs) => xs.map(([a, b]) => [a / s, b / s]);
  const data = { x: [...own(points.x_train), [x / s, y / s]], y: [...points.y_train, label] };
  if (points.x_test.length) Object.assign(data, { x_test: own(points.x_test), y_test: points.y_test });
  return data;
}

export function bindData(store, { change, flash }) {
  const { meta } = store.state;
  $("datasets").append(...datasetButtons(meta, (d) => change(switchTo(meta, store.state.config, d, store.state.input))));
  [$("classes").min, $("classes").max] = meta.bounds.classes;
  // Sliders say their value while dragged; the change is sent when they are let go, and a
  // render meanwhile (a frame of a change made elsewhere) does not snap them back.
  const dragging = new Set();
  for (const [id, { label, text, send }] of Object.entries(SLIDERS)) {
    $(id).addEventListener("input", (e) => {
      dragging.add(id);
      $(label).textContent = text(e.target.value);
    });
    $(id).addEventListener("change", (e) => {
      dragging.delete(id);
      change(send(Number(e.target.value)));
    });
  }
  $("regenerate").addEventListener("click", () =>
    change({ dataset: { seed: (store.state.config.dataset.seed + 1) % 4294967296 } }));

  // Points (a CSV, clicked points): from images or sequences, the point net comes along.
  const useUpload = (upload) => change({
    ...(dataKind(meta, store.state.config, store.state.input) === "points" ? {} : POINT_NET),
    problem: upload.problem, dataset: { name: "custom", id: upload.id, side: null } });
  $("upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    try { await useUpload(await api.uploadCsv(await file.text())); }
    catch (error) { flash(`upload refused: ${error.message}`); }
  });
  // Images: on success the experiment trains on them (a small conv net if it had a point
  // net); a refusal, of the files or of the change, is said here and changes nothing.
  const uploadError = (text) => {
    $("upload-error").textContent = text;
    $("upload-error").hidden = !text;
  };
  $("upload-images").addEventListener("change", async (event) => {
    const files = [...event.target.files];
    event.target.value = "";
    uploadError("");
    if (!files.length) return;
    let upload;
    try { upload = await api.uploadImages(await imageBody(files)); }
    catch (error) {
      const details = (error.details || []).map((d) => d.message).filter((m) => m && m !== error.message);
      uploadError(`Images refused: ${[error.message, ...details].join("; ")}`);
      return;
    }
    const use = { ...upload.use, dataset: { ...upload.use.dataset, side: null } }; // its own size
    const changes = dataKind(meta, store.state.config, store.state.input) === "images" ? use : { ...imageNet(), ...use };
    const reply = await change(changes);
    if (reply && reply.type === "error") uploadError(`The network refused these images: ${reply.message}`);
  });
  $("upload-sequences").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    event.target.value = "";
    uploadError("");
    if (!file) return;
    let upload;
    try { upload = await api.uploadSequences(await file.arrayBuffer()); }
    catch (error) {
      const details = (error.details || []).map((d) => d.message).filter((m) => m && m !== error.message);
      uploadError(`Sequences refused: ${[error.message, ...details].join("; ")}`);
      return;
    }
    // a recurrent net that answers as the targets come: per sequence, or at every step
    const reply = await change({ ...sequenceNet(upload), ...upload.use });
    if (reply && reply.type === "error") uploadError(`The network refused these sequences: ${reply.message}`);
  });
  let data = null; // another data set, chosen since: the refusal is old news
  store.watch(["config"], ({ config }) => {
    const now = JSON.stringify(config.dataset);
    if (data !== null && now !== data) uploadError("");
    data = now;
  });
  $("heatmap").addEventListener("click", async (event) => {
    const { points, extent: e, config, editable } = store.state;
    if (!editable || config.problem !== "classification" || !points) return;
    const rect = event.target.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * 2 * e - e;
    const y = e - ((event.clientY - rect.top) / rect.height) * 2 * e;
    const label = Number($("paint-class").value || 0);
    try { await useUpload(await api.uploadJson(withPoint(points, [x, y], label))); }
    catch (error) { flash(`point refused: ${error.message}`); }
  });

  store.watch(["config", "mode", "points"], ({ config: c, editable, points }) => {
    // the classes a data set can have (the shapes: 2 to 7), before the slider shows its value
    const range = specOf(meta, c.dataset.name) || { min_classes: meta.bounds.classes[0],
      max_classes: meta.bounds.classes[1] };
    [$("classes").min, $("classes").max] = [range.min_classes, range.max_classes];
    const spec = specOf(meta, c.dataset.name);
    if (spec && spec.sides) [$("side").min, $("side").max] = spec.sides;
    if (spec && spec.lengths) [$("length").min, $("length").max] = spec.lengths;
    for (const [id, { label, text, value, shown }] of Object.entries(SLIDERS)) {
      if (dragging.has(id)) continue;
      $(id).value = value(c, meta);
      $(label).textContent = shown ? shown(c) : text(value(c, meta));
    }
    $("classes-row").hidden = !spec || spec.max_classes <= 2 || spec.max_classes === spec.min_classes;
    $("side-row").hidden = !(spec && spec.sides);
    // A sequence set's steps: fixed for MNIST-1D (40), said so rather than hidden.
    $("length-row").hidden = !(spec && spec.lengths);
    const steady = Boolean(spec && spec.lengths && spec.lengths[0] === spec.lengths[1]);
    allow($("length"), !steady, steady ? `${datasetLabel(meta, spec.name)} has ${spec.lengths[0]} ` +
      "steps, always: the length applies to generated sequences" : "");
    if (steady && !dragging.has("length")) $("length-value").textContent = `${spec.lengths[0]} steps (fixed)`;
    // Your own data (uploaded or clicked) has no generator: no noise, nothing to regenerate.
    // A fixed set (the digits, MNIST-1D) has no noise either; Regenerate draws a new split.
    const fixed = Boolean(spec && spec.size);
    const what = dataKind(meta, c, store.state.input) === "sequences" ? "sequences" : "images";
    allow($("noise"), Boolean(spec) && !fixed,
      fixed ? `${datasetLabel(meta, spec.name)} are fixed ${what}: noise applies to generated ` +
        "sets" : OWN);
    allow($("regenerate"), Boolean(spec), OWN);
    const ownSplit = c.dataset.name === "custom" && Boolean(points && points.own_split);
    allow($("train_fraction"), !ownSplit, SPLIT);
    if (ownSplit && points) {
      const [train, test] = [points.x_train.length, points.x_test.length];
      $("train-value").textContent = `its own (${train} train, ${test} test)`;
    }
    $("own-data").hidden = Boolean(spec) || !editable;
    // Point and image sets of the chosen problem (image sets are classification); every
    // sequence set, since each brings its own problem (sine is regression).
    document.querySelectorAll(".dataset").forEach((d) => {
      d.classList.toggle("selected", d.dataset.name === c.dataset.name);
      d.hidden = d.dataset.kind !== "sequences" && d.dataset.problem !== c.problem;
    });
    document.querySelectorAll(".datasets-group").forEach((head) => {
      head.hidden = !document.querySelector(`.dataset[data-kind='${head.dataset.kind}']:not([hidden])`);
    });
  });
  store.watch(["config", "nClasses", "mode"], ({ config, nClasses, editable }) => {
    // Clicked points are for classification; the class chosen stays chosen.
    const paint = $("paint-class");
    const k = config.problem === "classification" ? (nClasses || config.dataset.classes) : 0;
    const chosen = Number(paint.value || 0);
    if (paint.options.length !== k) {
      paint.replaceChildren(...[...Array(k).keys()].map((i) => new Option(`class ${i}`, String(i))));
    }
    paint.value = String(chosen < k ? chosen : 0);
    $("paint-field").hidden = k === 0 || !editable || isImages(config);
    $("heatmap").classList.toggle("paintable", k > 0 && editable);
  });
  store.watch(["dataScale"], ({ dataScale }) => {
    $("data-scale").hidden = !(dataScale < 1);
    $("data-scale").textContent = `Your points were scaled by ${Number(dataScale).toPrecision(2)} ` +
      "to fit the plane.";
  });
  paintDatasets(meta, flash);
}
