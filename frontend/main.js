// The playground page: builds its menus from /api/meta, keeps the config in the address,
// and talks to the server only through the public REST routes and the websocket.

import { attachOrCreate, rememberToken, showId } from "./address.js";
import { api, decodeFrame, Socket } from "./api.js";
import { Chart } from "./chart.js";
import { Editor } from "./editor.js";
import { paintGrid, paintPoints } from "./heatmap.js";
import { showLegend } from "./legend.js";
import { lessonLinks } from "./lessonnav.js";
import { Network } from "./network.js";
import { numberInput } from "./numbers.js";
import { bindTools } from "./tools.js";
import { fromHash, toHash } from "./url.js";

const $ = (id) => document.getElementById(id);
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const DROPOUTS = [0, 0.1, 0.2, 0.3, 0.5];
const DECAYS = [0, 0.001, 0.01, 0.1, 1];
const DEFAULT_CONFIG = {
  problem: "classification",
  dataset: { name: "circle", n_samples: 500, noise: 0, train_fraction: 0.5, seed: 0, classes: 2 },
  features: ["x1", "x2"],
  hidden_layers: [{ units: 4, activation: "tanh" }, { units: 2, activation: "tanh" }],
  optimizer: { name: "sgd", learning_rate: 0.03 },
  batch_size: 10,
  regularization: { name: "none", rate: 0 },
};
const STATUS_TEXT = {
  running: "Running", paused: "Paused", diverged: "Diverged", snapshot: "Snapshot (read-only)",
};

const state = {
  meta: null, id: null, token: null, config: null, view: { showTest: false, discretize: false },
  points: null, extent: 6, revision: -1, status: "paused", epoch: 0, frame: null, stopAt: 0,
  hover: null, socket: null, connection: "connecting", message: "", shared: false, shareId: null,
  render: { frames: 0, ms: 0 }, // frames drawn and the milliseconds spent decoding and drawing them
};

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = String(value);
  o.textContent = label ?? String(value);
  select.appendChild(o);
}

function fill(select, values, labels) {
  select.replaceChildren();
  values.forEach((v, i) => option(select, v, labels ? labels[i] : undefined));
}

function nearest(values, v) {
  return values.reduce((a, b) => (Math.abs(b - v) < Math.abs(a - v) ? b : a), values[0]);
}

// status -------------------------------------------------------------------------------
function showStatus() {
  const el = $("status");
  let text, kind;
  if (state.connection === "lost") {
    text = "Connection lost: reconnecting by itself…"; kind = "lost";
  } else if (state.connection === "connecting") {
    text = "Connecting…"; kind = "lost";
  } else {
    kind = state.status;
    text = STATUS_TEXT[state.status] || state.status;
    if (state.message) text += `: ${state.message}`;
  }
  el.textContent = text;
  el.className = `status ${kind}`;
  const play = $("play");
  play.classList.toggle("playing", state.status === "running");
  play.setAttribute("aria-label", state.status === "running" ? "Pause" : "Run");
}

function flash(message) {
  state.message = message;
  showStatus();
}

/** A message that stays until dismissed (the status line is rewritten by every frame). */
function notice(text) {
  $("notice-text").textContent = text;
  $("notice").hidden = false;
}

// config ---------------------------------------------------------------------------------
function outputKind(config) {
  if (config.problem === "regression") return "scale";
  if (config.dataset.classes > 2 || config.output_activation === "softmax") return "classes";
  const out = config.output_activation;
  return out === "auto" || out === "sigmoid" ? "probability" : "signed";
}

function nOutputs(config, nClasses) {
  return outputKind(config) === "classes" ? nClasses : 1;
}

function writeAddress() {
  history.replaceState(null, "", toHash(state.config, state.view));
}

async function change(changes) {
  if (!state.socket) return;
  const reply = await state.socket.send({ type: "update", config: changes });
  if (reply.type === "error") { flash(reply.message); renderControls(); return; }
  const before = state.config.dataset.name;
  state.config = reply.config;
  writeAddress();
  renderControls();
  if (!reply.weights_kept) refresh();
  // The server starts fresh weights for a new data set: say so, the curve restarts too.
  if (reply.config.dataset.name !== before) {
    notice(`New data set (${reply.config.dataset.name}): a fresh run started, with new ` +
      "weights and a new loss curve from epoch 0.");
  }
}

async function command(type, extra = {}) {
  if (!state.socket) return;
  const reply = await state.socket.send({ type, ...extra });
  if (reply.type === "error") flash(reply.message);
}

// what the server holds ---------------------------------------------------------------------
let refreshing = null; // the refresh under way; a second request runs once it is done
let again = false;

function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      await fetchState();
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

async function fetchState() {
  const [exp, points, history] = await Promise.all([
    api.get(state.id), api.points(state.id), api.history(state.id)]);
  state.config = exp.config;
  state.points = points;
  state.extent = points.extent;
  state.nClasses = points.n_classes;
  state.revision = exp.revision;
  showDataScale(exp.data_scale);
  state.status = exp.status;
  state.message = exp.message;
  showNetwork();
  chart.reset(history.rows);
  writeAddress();
  showStatus();
}

/** The network, controls and heatmap for state.config; the newest frame painted again. */
function showNetwork() {
  network.build(state.config, { meta: state.meta, extent: state.extent, editable: !state.shared,
    nOutputs: nOutputs(state.config, state.nClasses) });
  $("layer-count").textContent = state.config.hidden_layers.length;
  renderControls();
  showLegend({ low: $("colorbar-low"), high: $("colorbar-high"),
    gradient: document.querySelector("#colorbar .gradient"), text: $("colorbar-text") },
  outputKind(state.config), { nClasses: state.nClasses, scale: regressionScale() });
  drawPoints();
  if (state.frame) draw(state.frame);
}

/** Uploaded points scaled into the plane: say by how much (the view's data_scale). */
function showDataScale(scale) {
  const el = $("data-scale");
  el.hidden = !(scale < 1);
  el.textContent = `Your points were scaled by ${Number(scale).toPrecision(2)} to fit the plane.`;
}

// drawing ------------------------------------------------------------------------------------
const heatmap = $("heatmap").getContext("2d");
const pointsLayer = $("points").getContext("2d");
const chart = new Chart($("chart"));

function fmt(v) { return v == null || !Number.isFinite(v) ? "-" : v.toFixed(3); }

function regressionScale() {
  const ys = state.points ? state.points.y_train : [];
  return Math.max(1e-6, ...ys.map((y) => Math.abs(y)));
}

function draw({ grids }) {
  const kind = outputKind(state.config);
  const hovered = state.hover && network.neuronGrid(grids, state.hover);
  if (hovered) {
    paintGrid(heatmap, hovered.grid, { kind: "scale", scale: hovered.scale });
    $("heatmap-label").textContent = `layer ${state.hover.layer + 1}, neuron ${state.hover.unit + 1}`;
  } else {
    paintGrid(heatmap, grids.output, {
      kind, scale: kind === "scale" ? regressionScale() : 1, discretize: state.view.discretize,
    });
    $("heatmap-label").textContent = "";
  }
}

function drawPoints() {
  pointsLayer.clearRect(0, 0, pointsLayer.canvas.width, pointsLayer.canvas.height);
  if (!state.points) return;
  paintPoints(pointsLayer, state.points, state.extent, {
    showTest: state.view.showTest,
    regressionScale: state.config.problem === "regression" ? regressionScale() : 0,
  });
}

function onFrame(buffer) {
  const started = performance.now();
  const frame = decodeFrame(buffer);
  const { header } = frame;
  state.frame = frame;
  if (!state.shared && header.revision !== state.revision && state.revision >= 0) {
    state.revision = header.revision;
    refresh();
  }
  state.epoch = header.epoch;
  $("epoch").textContent = header.epoch.toLocaleString("en-US", { minimumIntegerDigits: 6 });
  const m = header.metrics;
  $("test-loss").textContent = fmt(m.test_loss);
  $("train-loss").textContent = fmt(m.train_loss);
  $("test-accuracy").textContent = fmt(m.test_accuracy);
  $("train-accuracy").textContent = fmt(m.train_accuracy);
  if (header.status !== state.status || header.message !== state.message) {
    state.status = header.status;
    state.message = header.message;
    showStatus();
  }
  chart.add(m);
  network.update(frame, outputKind(state.config));
  draw(frame);
  const spent = performance.now() - started;
  state.render = { frames: state.render.frames + 1, ms: state.render.ms + spent };
}

// the network's handlers -----------------------------------------------------------------
const hovercard = $("hovercard");
const editor = new Editor(
  { box: $("link-editor"), label: $("editor-label"), input: $("editor-value"),
    message: $("editor-message") },
  (target, value) => command("set_weight", { ...target, value }));

function currentValue({ layer, source, target }) {
  const weights = state.frame && state.frame.header.weights[layer];
  if (!weights) return 0;
  return source === null ? weights.b && weights.b[target] : weights.W[source][target];
}

const network = new Network(
  { root: $("network"), links: $("links"), thumbs: $("thumbs"), note: $("network-note"),
    features: $("features"), layers: $("layers") },
  {
    onToggleFeature: (name) => {
      const features = state.config.features.includes(name)
        ? state.config.features.filter((f) => f !== name) : [...state.config.features, name];
      if (!features.length) { flash("keep at least one input feature"); return; }
      change({ features });
    },
    onNeurons: (layer, delta) => {
      const layers = state.config.hidden_layers.map((l) => ({ ...l }));
      const limit = state.meta.limits.max_units;
      layers[layer].units = Math.max(1, Math.min(limit, layers[layer].units + delta));
      change({ hidden_layers: layers });
    },
    onActivation: (layer, activation) => {
      const layers = state.config.hidden_layers.map((l, i) => (i === layer ? { ...l, activation } : l));
      change({ hidden_layers: layers });
    },
    onEdit: (target, event) => editor.open(target, currentValue(target), event),
    onHover: (target) => { state.hover = target; if (state.frame) draw(state.frame); },
    onLinkHover: (link, event) => {
      if (!link) { hovercard.hidden = true; return; }
      const box = hovercard.parentElement.getBoundingClientRect();
      hovercard.textContent = `Weight ${Number(link.value ?? 0).toFixed(3)}`;
      hovercard.style.left = `${event.clientX - box.left + 10}px`;
      hovercard.style.top = `${event.clientY - box.top - 24}px`;
      hovercard.hidden = false;
    },
  },
);

// controls ------------------------------------------------------------------------------
/** Enable or disable a control; its tooltip says why it is off. */
function allow(control, allowed, reason) {
  control.disabled = !allowed;
  // no title at all when allowed: an empty one would hide the label's help
  if (allowed) control.removeAttribute("title"); else control.title = reason;
}

// Sliders being dragged: a render (a frame of a change made meanwhile) must not snap them
// back under the user's finger; the value is sent when they are let go.
const dragging = new Set();

function setSlider(id, label, value, text = value) {
  if (dragging.has(id)) return;
  $(id).value = value;
  $(label).textContent = text;
}

function renderControls() {
  const c = state.config;
  $("learning_rate").value = String(nearest(LEARNING_RATES, c.optimizer.learning_rate));
  $("optimizer").value = c.optimizer.name;
  $("decay").value = String(nearest(DECAYS, c.optimizer.decay));
  $("regularization").value = c.regularization.name;
  $("regularization_rate").value = String(nearest(REG_RATES, c.regularization.rate));
  $("problem").value = c.problem;
  $("init").value = c.init.name;
  $("dropout").value = String(nearest(DROPOUTS, c.dropout));
  $("batch_norm").checked = c.batch_norm;
  renderActivation();
  const train = Math.round(c.dataset.train_fraction * 100);
  setSlider("train_fraction", "train-value", train, `${train}%`);
  setSlider("noise", "noise-value", Math.round(c.dataset.noise * 100));
  setSlider("batch_size", "batch-value", c.batch_size === "full" ? 30 : Math.min(30, c.batch_size),
    c.batch_size);
  const spec = state.meta.datasets.find((d) => d.name === c.dataset.name);
  $("classes-row").hidden = !spec || spec.max_classes <= 2;
  setSlider("classes", "classes-value", c.dataset.classes);
  // Your own data (uploaded or clicked) has no generator: no noise, nothing to regenerate.
  const own = "your own data has no generator: noise and Regenerate apply to built-in sets";
  allow($("noise"), Boolean(spec), own);
  allow($("regenerate"), Boolean(spec), own);
  $("own-data").hidden = Boolean(spec);
  document.querySelectorAll(".dataset").forEach((d) => {
    d.classList.toggle("selected", d.dataset.name === c.dataset.name);
    d.hidden = d.dataset.problem !== c.problem;
  });
  renderPaintClass();
  $("show-test").checked = state.view.showTest;
  $("discretize").checked = state.view.discretize;
  const classification = c.problem === "classification";
  document.querySelectorAll(".accuracy").forEach((e) => { e.hidden = !classification; });
  if (!classification && chart.accuracy) {
    chart.accuracy = $("show-accuracy").checked = false;
    chart.draw();
  }
  renderOptimizerParams();
}

function renderActivation() {
  const select = $("activation");
  const layers = state.config.hidden_layers;
  const acts = new Set(layers.map((l) => l.activation));
  select.options[0].textContent = layers.length ? "(per layer)" : "(no hidden layer)";
  select.value = acts.size === 1 ? [...acts][0] : "";
  allow(select, layers.length > 0, "there is no hidden layer: add one with + above the network");
}

function renderPaintClass() {
  // Clicked points are for classification; the class chosen stays chosen.
  const paint = $("paint-class");
  const c = state.config;
  const k = c.problem === "classification" ? (state.nClasses || c.dataset.classes) : 0;
  const chosen = Number(paint.value || 0);
  if (paint.options.length !== k) {
    fill(paint, [...Array(k).keys()], [...Array(k).keys()].map((i) => `class ${i}`));
  }
  paint.value = String(chosen < k ? chosen : 0);
  $("paint-field").hidden = k === 0;
  $("heatmap").classList.toggle("paintable", k > 0 && !state.shared);
}

let optimizerShown = null; // the optimizer whose fields are on the page

function renderOptimizerParams() {
  const box = $("optimizer-params");
  const spec = state.meta.optimizers.find((o) => o.name === state.config.optimizer.name);
  const params = Object.entries(spec ? spec.params : {});
  if (optimizerShown === state.config.optimizer.name) {
    // Same fields: new values, except where someone is typing.
    for (const [name, p] of params) {
      const input = $(`opt-${name}`);
      if (document.activeElement !== input && input.getAttribute("aria-invalid") !== "true") {
        input.value = state.config.optimizer[name] ?? p.default;
      }
    }
    return;
  }
  optimizerShown = state.config.optimizer.name;
  box.replaceChildren();
  for (const [name, p] of params) {
    const label = document.createElement("label");
    label.className = "field small";
    const title = document.createElement("span");
    title.textContent = name;
    const input = document.createElement("input");
    input.value = state.config.optimizer[name] ?? p.default;
    input.title = `${p.description} (${p.min} to ${p.max})`;
    input.id = `opt-${name}`;
    const message = document.createElement("span");
    message.className = "field-error";
    message.setAttribute("role", "alert");
    const submit = numberInput(input, message, () => ({ min: p.min, max: p.max }),
      (value) => change({ optimizer: { [name]: value } }));
    input.addEventListener("change", submit);
    label.append(title, input, message);
    box.appendChild(label);
  }
}

function datasetThumbnails() {
  const box = $("datasets");
  for (const d of state.meta.datasets) {
    const item = document.createElement("button");
    item.className = "dataset";
    item.dataset.name = d.name;
    item.dataset.problem = d.problem;
    item.title = `${d.name}: ${d.description}`;
    item.setAttribute("aria-label", d.name);
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 48;
    item.appendChild(canvas);
    const label = document.createElement("span");
    label.textContent = d.name.replaceAll("_", " "); // lets "gaussian quantiles" wrap
    item.appendChild(label);
    item.addEventListener("click", () => {
      const changes = { dataset: { name: d.name } };
      if (state.config.dataset.classes > d.max_classes) changes.dataset.classes = d.max_classes;
      change(changes);
    });
    box.appendChild(item);
  }
}

async function paintThumbnails() {
  // Real points from each generator, as the server makes them.
  for (const item of document.querySelectorAll(".dataset")) {
    const spec = state.meta.datasets.find((d) => d.name === item.dataset.name);
    try {
      const points = await api.preview(spec.name, spec.max_classes > 2 ? 3 : 2);
      const ctx = item.querySelector("canvas").getContext("2d");
      ctx.fillStyle = "#f8f8f8";
      ctx.fillRect(0, 0, 48, 48);
      const scale = Math.max(1e-6, ...points.y.map((y) => Math.abs(y)));
      paintPoints(ctx, { x_train: points.x, y_train: points.y, x_test: [], y_test: [] }, 6,
        { showTest: false, regressionScale: spec.problem === "regression" ? scale : 0 });
    } catch (error) { flash(`no thumbnail for ${spec.name}: ${error.message}`); }
  }
}

function bindControls() {
  const m = state.meta;
  fill($("learning_rate"), LEARNING_RATES);
  fill($("optimizer"), m.optimizers.map((o) => o.name));
  fill($("decay"), DECAYS);
  fill($("regularization"), m.regularizations.map((r) => r.name),
    m.regularizations.map((r) => (r.name === "none" ? "None" : r.name.toUpperCase().replace("_", " "))));
  fill($("regularization_rate"), REG_RATES);
  fill($("problem"), m.problems, ["Classification", "Regression"]);
  fill($("init"), m.initializers.map((i) => i.name));
  fill($("dropout"), DROPOUTS);
  const hidden = m.activations.filter((a) => a.hidden).map((a) => a.name);
  fill($("activation"), ["", ...hidden], ["(per layer)", ...hidden]);
  [$("classes").min, $("classes").max] = m.bounds.classes;

  $("learning_rate").addEventListener("change", (e) =>
    change({ optimizer: { learning_rate: Number(e.target.value) } }));
  $("optimizer").addEventListener("change", (e) => change({ optimizer: {
    name: e.target.value, momentum: null, ema: null, beta1: null, beta2: null, epsilon: null, rho: null } }));
  $("decay").addEventListener("change", (e) => change({ optimizer: { decay: Number(e.target.value) } }));
  $("regularization").addEventListener("change", (e) =>
    change({ regularization: { name: e.target.value, l1_ratio: null } }));
  $("regularization_rate").addEventListener("change", (e) =>
    change({ regularization: { rate: Number(e.target.value) } }));
  $("problem").addEventListener("change", (e) => {
    const first = m.datasets.find((d) => d.problem === e.target.value);
    change({ problem: e.target.value, dataset: { name: first.name, classes: 2 } });
  });
  $("init").addEventListener("change", (e) => change({ init: { name: e.target.value, scale: null } }));
  $("dropout").addEventListener("change", (e) => change({ dropout: Number(e.target.value) }));
  $("batch_norm").addEventListener("change", (e) => change({ batch_norm: e.target.checked }));
  $("activation").addEventListener("change", (e) => {
    if (!e.target.value) return;
    change({ hidden_layers: state.config.hidden_layers.map((l) => ({ ...l, activation: e.target.value })) });
  });
  $("train_fraction").addEventListener("change", (e) =>
    change({ dataset: { train_fraction: Number(e.target.value) / 100 } }));
  $("noise").addEventListener("change", (e) => change({ dataset: { noise: Number(e.target.value) / 100 } }));
  $("batch_size").addEventListener("change", (e) => change({ batch_size: Number(e.target.value) }));
  $("classes").addEventListener("change", (e) => change({ dataset: { classes: Number(e.target.value) } }));
  $("regenerate").addEventListener("click", () =>
    change({ dataset: { seed: (state.config.dataset.seed + 1) % 4294967296 } }));
  $("add-layer").addEventListener("click", () => {
    const layers = state.config.hidden_layers;
    if (layers.length >= m.limits.max_layers) { flash(`at most ${m.limits.max_layers} layers`); return; }
    const activation = layers.length ? layers[layers.length - 1].activation : "tanh";
    change({ hidden_layers: [...layers, { units: 2, activation }] });
  });
  $("remove-layer").addEventListener("click", () => {
    if (!state.config.hidden_layers.length) return;
    change({ hidden_layers: state.config.hidden_layers.slice(0, -1) });
  });
  $("play").addEventListener("click", togglePlay);
  $("train-n").addEventListener("click", trainN);
  // A new pace applies at once: a play while running changes only the pace.
  $("speed").addEventListener("change", () => {
    if (state.status === "running") command("play", speed());
  });
  // Sliders say their value while dragged; the change is sent when let go.
  for (const [id, label, show] of [["train_fraction", "train-value", (v) => `${v}%`],
    ["noise", "noise-value", String], ["batch_size", "batch-value", String],
    ["classes", "classes-value", String]]) {
    $(id).addEventListener("input", (e) => {
      dragging.add(id);
      $(label).textContent = show(e.target.value);
    });
    $(id).addEventListener("change", () => dragging.delete(id));
  }
  $("step").addEventListener("click", () => command("step"));
  $("reset").addEventListener("click", () => command("reset"));
  $("show-test").addEventListener("change", (e) => {
    state.view.showTest = e.target.checked; writeAddress(); drawPoints();
  });
  $("discretize").addEventListener("change", (e) => {
    state.view.discretize = e.target.checked; writeAddress(); if (state.frame) draw(state.frame);
  });
  $("show-accuracy").addEventListener("change", (e) => { chart.accuracy = e.target.checked; chart.draw(); });
  $("upload").addEventListener("change", uploadCsv);
  $("heatmap").addEventListener("click", addPoint);
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea")) return;
    if (e.key === " " && e.target.closest("button")) return; // Space presses that button
    if (e.key === " ") { e.preventDefault(); togglePlay(); }
    else if (e.key === "s") command("step");
    else if (e.key === "r") command("reset");
  });
}

/** The pace chosen (epochs a second), or none: as fast as the server goes. */
function speed() {
  const v = Number($("speed").value);
  return v > 0 ? { speed: v } : {};
}

function togglePlay() {
  if (state.status === "running") { command("pause"); return; }
  // A lesson's preset trains to the epoch its claim names, then stops there.
  const left = state.stopAt - state.epoch;
  command("play", left > 0 ? { epochs: left, ...speed() } : speed());
}

function trainN() {
  const epochs = Number($("train-epochs").value);
  if (!Number.isInteger(epochs) || epochs < 1) { flash("train: a whole number of epochs, 1 or more"); return; }
  command("play", { epochs, ...speed() });
}

// your own data --------------------------------------------------------------------------------
async function useUpload(upload) {
  await change({ problem: upload.problem, dataset: { name: "custom", id: upload.id } });
}

async function uploadCsv(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  try {
    await useUpload(await api.uploadCsv(await file.text()));
  } catch (error) { flash(`upload refused: ${error.message}`); }
}

async function addPoint(event) {
  if (!state.socket || state.config.problem !== "classification" || !state.points) return;
  const rect = event.target.getBoundingClientRect();
  const e = state.extent;
  const x = ((event.clientX - rect.left) / rect.width) * 2 * e - e;
  const y = e - ((event.clientY - rect.top) / rect.height) * 2 * e;
  const label = Number($("paint-class").value || 0);
  const p = state.points;
  const data = { x: [...p.x_train, [x, y]], y: [...p.y_train, label], x_test: p.x_test, y_test: p.y_test };
  if (!data.x_test.length) { delete data.x_test; delete data.y_test; }
  try {
    await useUpload(await api.uploadJson(data));
  } catch (error) { flash(`point refused: ${error.message}`); }
}

async function showLesson(params) {
  const id = params.get("lesson");
  if (!id) return;
  const lessons = await api.lessons();
  const lesson = lessons.find((l) => l.id === id);
  if (!lesson) return;
  const preset = lesson.presets[Number(params.get("preset") || 0)];
  $("banner-text").textContent = `${lesson.title}${preset ? ` (${preset.label})` : ""}: ` +
    `${lesson.text}`;
  if (preset) {
    state.stopAt = preset.epochs;
    $("train-epochs").value = preset.epochs;
    $("banner-text").append(` Press play: it trains ${preset.epochs} epochs and stops.`);
  }
  $("banner").append(lessonLinks(lessons, lessons.indexOf(lesson)));
  $("banner").hidden = false;
}

// start ---------------------------------------------------------------------------------
/** A snapshot changes nothing: every control that would is off, every tool hidden. */
function readOnly() {
  const controls = ".controls select, .controls input, .controls button, " +
    ".column.data select, .column.data input, .column.data button";
  document.querySelectorAll(controls).forEach((e) => { e.disabled = true; });
  for (const id of ["tools", "data-tools", "add-layer", "remove-layer", "paint-field", "own-data"]) {
    $(id).hidden = true;
  }
}

async function startShared(shareId) {
  state.shared = true;
  state.shareId = shareId;
  document.body.classList.add("shared");
  const [snapshot, points, frame] = await Promise.all([
    api.snapshot(shareId), api.snapshotPoints(shareId), api.snapshotFrame(shareId)]);
  state.config = snapshot.config;
  state.points = points;
  state.extent = points.extent;
  state.nClasses = points.n_classes;
  state.connection = "open";
  showNetwork();
  chart.reset(snapshot.history.rows);
  readOnly();
  onFrame(frame);
  state.status = "snapshot";
  state.message = "";
  const epoch = snapshot.epoch ?? snapshot.model?.epoch; // older servers nest it
  $("banner-text").textContent = `A shared snapshot at epoch ${epoch}: the network ` +
    "exactly as it was shared. It never changes; make your own copy to train it further.";
  $("banner").hidden = false;
  $("fork").hidden = false;
  showStatus();
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (params.get("embed") === "1") document.body.classList.add("embed");
  state.meta = await api.meta();
  datasetThumbnails();
  bindControls();
  bindTools(state, flash);
  state.view = fromHash(location.hash).view;
  if (document.body.dataset.share) {
    await startShared(document.body.dataset.share);
    paintThumbnails();
    return;
  }
  const { exp, refused } = await attachOrCreate(params, DEFAULT_CONFIG);
  if (refused.length) {
    notice(`Parts of the address were refused and use the defaults instead: ` +
      `${refused.join("; ")}.`);
  }
  state.id = exp.id;
  state.token = exp.edit_token;
  state.config = exp.config;
  rememberToken(exp);
  showId(exp.id, exp.config, state.view);
  document.body.dataset.experiment = exp.id;
  await refresh();
  state.socket = new Socket(state.id, state.token, {
    onFrame,
    onHello: () => { state.connection = "open"; showStatus(); },
    onState: (kind, detail) => {
      if (kind === "lost") state.connection = "lost";
      else if (kind === "error") state.message = detail;
      showStatus();
    },
  });
  showLesson(params);
  paintThumbnails();
}

window.addEventListener("hashchange", async () => {
  const { config, refused } = fromHash(location.hash);
  if (refused.length) {
    notice(`Parts of the address were refused: ${refused.map((r) => `${r.key}=${r.text} ` +
      `(${r.reason})`).join("; ")}.`);
  }
  if (toHash(config) !== toHash(state.config)) await change(config);
});

start().catch((error) => notice(`The page could not start: ${error.message}. Reload to try again.`));
window.playground = state; // for the curious, and for the browser tests
