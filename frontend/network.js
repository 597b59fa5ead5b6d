// The network diagram: feature column, hidden layers of neurons, the output, and the
// links between them. Neurons are boxes in the DOM (for layout, hover, the bias's click);
// their thumbnails and bias colours (thumbs.js) and the links (links.js) are drawn on two
// canvases laid over them, from boxes read once per layout. The DOM is rebuilt only when
// the structure changes, and the newest frame is painted again right after, so that
// thumbnails never stay blank.

import { channel, paintGrid } from "./heatmap.js";
import { Links, SHOWN } from "./links.js";
import { Thumbs } from "./thumbs.js";

const DENSE = 16; // a column with more units than this gets smaller thumbnails
const PAINT_BUDGET = 5; // ms of thumbnail painting per call of work()
const REST = 60; // ms between calls of work() when no frame comes
function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

const pictures = new Map(); // feature name -> its picture, a data URL

/** A feature's thumbnail from /api/meta: the server computes the features, the page never. */
function featurePicture(feature) {
  if (!pictures.has(feature.name)) {
    const data = Float32Array.from(feature.grid.flat());
    const res = feature.grid.length;
    let hi = 1e-9;
    for (const v of data) hi = Math.max(hi, Math.abs(v));
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = res;
    paintGrid(canvas.getContext("2d"), { shape: [1, res, res], data }, { kind: "scale", scale: hi });
    pictures.set(feature.name, canvas.toDataURL());
  }
  return pictures.get(feature.name);
}

function thumb(tag, parent, column, unit) {
  const box = el(tag, "thumb", parent);
  box.dataset.column = column;
  box.dataset.unit = unit;
  return box;
}

export class Network {
  constructor({ root, links, thumbs, note, features, layers }, handlers) {
    Object.assign(this, { root, note, featuresEl: features, layersEl: layers, handlers });
    this.canvases = [links, thumbs];
    this.links = new Links(links);
    this.thumbs = new Thumbs(thumbs);
    this.units = []; // per column: [{thumb, bias}]
    this.selects = []; // per hidden layer: its activation menu
    this.key = null;
    this.last = null; // the newest frame, to paint again after a rebuild
    this.stale = []; // per column: its thumbnails wait for painting
    this.nextColumn = 0; // round robin
    this.scheduled = false; // a timer will go on with the work
    this.worked = 0; // when work() last ran
    new ResizeObserver(() => this.layout()).observe(root);
    root.addEventListener("mousemove", (e) => this.pointer(e));
    root.addEventListener("mouseleave", () => this.pointer(null));
    root.addEventListener("click", (e) => {
      const link = this.linkAt(e);
      if (link && this.editable) this.handlers.onEdit(link, e);
    });
  }

  /** Show a config: rebuilt only if its structure changed, then painted with the newest frame. */
  build(config, { meta, extent, nOutputs, editable }) {
    const key = JSON.stringify([config.features, config.hidden_layers.map((l) => l.units),
      config.batch_norm, extent, nOutputs, editable]);
    if (key !== this.key) {
      this.key = key;
      this.editable = editable;
      this.rebuild(config, meta, nOutputs); // and paints the newest frame again
    }
    this.selects.forEach((select, l) => { select.value = config.hidden_layers[l].activation; });
  }

  rebuild(config, meta, nOutputs) {
    this.featuresEl.replaceChildren();
    this.layersEl.replaceChildren();
    const widest = Math.max(config.features.length, nOutputs, ...config.hidden_layers.map((l) => l.units));
    this.root.classList.toggle("dense", widest > DENSE);
    this.units = [];
    this.selects = [];
    const inputs = [];
    for (const f of meta.features) {
      const active = config.features.includes(f.name);
      const box = el(this.editable ? "button" : "div", `feature${active ? " active" : ""}`, this.featuresEl);
      box.dataset.feature = f.name;
      box.title = this.editable ? `${f.description}: click to ${active ? "remove" : "add"}` : f.description;
      // A picture (an img, not a canvas: a canvas is a layer of its own at every frame)
      const img = thumb("img", box, active ? 0 : "", active ? config.features.indexOf(f.name) : "");
      img.alt = "";
      img.src = featurePicture(f);
      el("span", "feature-label", box).textContent = f.label;
      if (this.editable) box.addEventListener("click", () => this.handlers.onToggleFeature(f.name));
      if (active) inputs[config.features.indexOf(f.name)] = { thumb: img };
    }
    this.units.push(inputs);
    const activations = meta.activations.filter((a) => a.hidden).map((a) => a.name);
    config.hidden_layers.forEach((layer, l) => {
      const col = el("div", "layer", this.layersEl);
      this.units.push(this.column(col, config, layer, l, activations));
    });
    const out = el("div", "layer output-layer", this.layersEl);
    el("div", "layer-head", out).textContent = "Output";
    const outs = [];
    for (let k = 0; k < nOutputs; k++) {
      const node = el("div", "neuron output-node", out);
      outs.push({ thumb: thumb("div", node, config.hidden_layers.length + 1, k),
        bias: this.bias(node, config.hidden_layers.length, k, false) });
    }
    this.units.push(outs);
    const wide = this.units.some((col, l) => l + 1 < this.units.length &&
      col.length * this.units[l + 1].length > SHOWN);
    this.note.textContent = wide ? `Large layers: each shows its ${SHOWN.toLocaleString("en-US")} ` +
      "strongest links; point between two layers to read any weight." : "";
    this.note.hidden = !wide;
    this.links.clear(); // the old weights may not fit the new columns
    this.layout();
  }

  column(col, config, layer, l, activations) {
    const head = el("div", "layer-head", col);
    if (this.editable) {
      for (const [text, delta, title, label] of [["+", 1, "Add a neuron", "Add a neuron to"],
        ["\u2212", -1, "Remove a neuron", "Remove a neuron from"]]) {
        const button = el("button", "round small", head);
        button.textContent = text;
        button.title = title;
        button.setAttribute("aria-label", `${label} layer ${l + 1}`);
        button.addEventListener("click", () => this.handlers.onNeurons(l, delta));
      }
    }
    el("div", "layer-units", head).textContent = `${layer.units} neuron${layer.units > 1 ? "s" : ""}`;
    const select = el("select", "layer-activation", head);
    select.setAttribute("aria-label", `Activation of layer ${l + 1}`);
    select.title = "The activation g(z) of this layer's neurons";
    for (const name of activations) {
      const o = el("option", null, select);
      o.value = o.textContent = name;
    }
    select.disabled = !this.editable;
    select.addEventListener("change", () => this.handlers.onActivation(l, select.value));
    this.selects.push(select);
    const units = [];
    for (let u = 0; u < layer.units; u++) {
      const node = el("div", "neuron", col);
      node.title = "What this neuron computes over the plane (orange negative, blue positive): " +
        "point at it to see it large in the output";
      node.addEventListener("mouseenter", () => this.handlers.onHover({ layer: l, unit: u }));
      node.addEventListener("mouseleave", () => this.handlers.onHover(null));
      units.push({ thumb: thumb("div", node, l + 1, u), bias: this.bias(node, l, u, config.batch_norm) });
    }
    return units;
  }

  bias(node, layer, unit, batchNorm) {
    const bias = el(this.editable && !batchNorm ? "button" : "div", "bias", node);
    if (batchNorm) {
      bias.classList.add("none");
    } else if (this.editable) {
      bias.title = "bias: click to edit";
      bias.setAttribute("aria-label", `Bias of ${layer + 1}.${unit + 1}`);
      bias.addEventListener("click", (e) => this.handlers.onEdit({ layer, source: null, target: unit }, e));
    } else {
      bias.title = "bias";
    }
    return bias;
  }

  /** Read where every thumbnail is (once per layout, not per frame); size the canvases. */
  layout() {
    if (!this.units.length) return;
    const box = this.root.getBoundingClientRect();
    const dx = this.root.scrollLeft - box.left - this.root.clientLeft;
    const dy = this.root.scrollTop - box.top - this.root.clientTop;
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const snap = (v) => Math.round(v * ratio) / ratio; // whole device pixels: no blurred edges
    let width = 0, height = 0;
    const inner = (e) => {
      const r = e.getBoundingClientRect();
      return r.width ? { x: snap(r.left + dx + e.clientLeft), y: snap(r.top + dy + e.clientTop),
        w: e.clientWidth, h: e.clientHeight } : null;
    };
    const outer = (e) => {
      const r = e && e.getBoundingClientRect();
      return r && r.width ? { x: snap(r.left + dx), y: snap(r.top + dy), w: r.width, h: r.height } : null;
    };
    const places = this.units.map((col) => col.map(({ thumb: t, bias }) => {
      const r = t.getBoundingClientRect();
      const b = outer(bias); // below its neuron's corner: the canvas reaches it too
      width = Math.max(width, r.right + dx);
      height = Math.max(height, r.bottom + dy, b ? b.y + b.h : 0);
      return { left: r.left + dx, right: r.right + dx, y: r.top + dy + r.height / 2,
        inner: { thumb: inner(t), bias: b } };
    }));
    for (const canvas of this.canvases) {
      canvas.style.width = `${Math.ceil(width)}px`;
      canvas.style.height = `${Math.ceil(height)}px`;
      canvas.width = Math.ceil(width) * ratio;
      canvas.height = Math.ceil(height) * ratio;
    }
    this.links.layout(places, ratio);
    this.thumbs.layout(places.map((col) => col.map((p) => p.inner)), ratio);
    this.repaint();
  }

  /** Paint a frame: {header, grids} and the output's kind. */
  update(frame, outputKind) {
    this.last = { frame, outputKind };
    this.repaint();
  }

  repaint() {
    if (!this.last || !this.units.length) return;
    this.stale = this.units.map((_, c) => c > 0); // the features' pictures never change
    this.links.setWeights(this.last.frame.grids);
    this.work();
  }

  /**
   * Paint stale columns, round robin, until this call's budget is spent (at least one),
   * then the links that changed. What is left waits for the next frame, or, if none comes
   * (paused), for a pause of REST ms: a big network is drawn over several frames, and
   * never takes the whole processor from the rest of the page or the server.
   */
  work() {
    const started = performance.now();
    this.worked = started;
    const n = this.units.length;
    const first = this.nextColumn; // fixed for the loop: nextColumn moves as columns are done
    for (let k = 0; k < n && performance.now() - started < PAINT_BUDGET; k++) {
      const c = (first + k) % n;
      if (!this.stale[c]) continue;
      this.paintColumn(c);
      this.stale[c] = false;
      this.nextColumn = (c + 1) % n;
    }
    this.links.draw();
    if (!this.scheduled) this.later();
  }

  later() {
    if (!(this.stale.some(Boolean) || this.links.pending)) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      if (performance.now() - this.worked < REST) this.later(); // a frame did some meanwhile
      else this.work();
    }, REST);
  }

  /** A column's thumbnails and biases. */
  paintColumn(c) {
    const { frame: { grids }, outputKind } = this.last;
    const biases = grids[`biases${c - 1}`];
    const output = c === this.units.length - 1;
    const grid = output ? grids.output : grids[`layer${c}`];
    // a frame without the neurons' grids (the network was off screen: session.js) keeps
    // the thumbnails drawn last, until the frame asked for when it came back
    if (!grid && c > 0) return;
    const probability = outputKind === "probability" || outputKind === "classes";
    const items = [];
    for (let u = 0; grid && u < Math.min(grid.shape[0], this.units[c].length); u++) {
      const { grid: g, scale } = channel(grid, u);
      const options = !output ? { kind: "scale", scale } : probability ? { kind: "probability" }
        : { kind: outputKind === "signed" ? "signed" : "scale", scale };
      items.push({ unit: u, grid: g, options });
    }
    this.thumbs.paint(c, items, biases ? biases.data : null);
  }

  linkAt(event) {
    if (event.target.closest(".neuron, .feature, .layer-head")) return null;
    const box = this.root.getBoundingClientRect();
    return this.links.at(event.clientX - box.left - this.root.clientLeft + this.root.scrollLeft,
      event.clientY - box.top - this.root.clientTop + this.root.scrollTop);
  }

  pointer(event) {
    const link = event && this.linkAt(event);
    this.links.hover(link);
    this.work();
    this.root.classList.toggle("on-link", Boolean(link) && this.editable);
    this.handlers.onLinkHover(link, event);
  }
}
