// The network diagram: feature column, hidden layers of neuron thumbnails, the output,
// and the links between them (SVG, width and colour by weight). Built once per
// structure; each frame only repaints canvases and sets link attributes that changed.

import { diverging, rgbCss } from "./colors.js";
import { paintGrid } from "./heatmap.js";

const SVG = "http://www.w3.org/2000/svg";
const THUMB = 36;
const FEATURE_FNS = {
  x1: (a) => a, x2: (a, b) => b, x1_squared: (a) => a * a, x2_squared: (a, b) => b * b,
  x1_x2: (a, b) => a * b, sin_x1: (a) => Math.sin(a), sin_x2: (a, b) => Math.sin(b),
  cos_x1: (a) => Math.cos(a), cos_x2: (a, b) => Math.cos(b),
};

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function featureGrid(name, extent, res = 25) {
  const fn = FEATURE_FNS[name];
  const data = new Float32Array(res * res);
  let hi = 1e-9;
  for (let r = 0; r < res; r++) {
    for (let c = 0; c < res; c++) {
      const x = -extent + (2 * extent * (c + 0.5)) / res;
      const y = extent - (2 * extent * (r + 0.5)) / res;
      const v = fn ? fn(x, y) : 0;
      data[r * res + c] = v;
      hi = Math.max(hi, Math.abs(v));
    }
  }
  return { grid: { shape: [1, res, res], data }, scale: hi };
}

function channel(grid, c) {
  const [, r1, r2] = grid.shape;
  const n = r1 * r2;
  const data = grid.data.subarray(c * n, (c + 1) * n);
  let hi = 1e-9;
  for (let i = 0; i < n; i++) hi = Math.max(hi, Math.abs(data[i]));
  return { grid: { shape: [1, r1, r2], data }, scale: hi };
}

export class Network {
  constructor({ root, svg, features, layers }, meta, handlers) {
    Object.assign(this, { root, svg, featuresEl: features, layersEl: layers, meta, handlers });
    this.links = [];
    this.units = [];
    window.addEventListener("resize", () => this.drawLinks());
  }

  /** Rebuild for a config (new structure or features). */
  build(config, extent, nOutputs) {
    this.config = config;
    this.featuresEl.replaceChildren();
    this.layersEl.replaceChildren();
    this.units = []; // per column: [{canvas, bias}]
    const inputs = [];
    for (const f of this.meta.features) {
      const active = config.features.includes(f.name);
      const box = el("div", `feature${active ? " active" : ""}`, this.featuresEl);
      box.dataset.feature = f.name;
      box.title = `${f.description}: click to ${active ? "remove" : "add"}`;
      const canvas = el("canvas", "thumb", box);
      canvas.width = canvas.height = THUMB;
      el("span", "feature-label", box).textContent = f.label;
      const { grid, scale } = featureGrid(f.name, extent);
      paintGrid(canvas.getContext("2d"), grid, { kind: "scale", scale });
      box.addEventListener("click", () => this.handlers.onToggleFeature(f.name));
      if (active) inputs[config.features.indexOf(f.name)] = { canvas };
    }
    this.units.push(inputs);
    const activations = this.meta.activations.filter((a) => a.hidden).map((a) => a.name);
    config.hidden_layers.forEach((layer, l) => {
      const col = el("div", "layer", this.layersEl);
      const head = el("div", "layer-head", col);
      const plus = el("button", "round small", head);
      plus.textContent = "+";
      plus.title = "Add a neuron";
      plus.setAttribute("aria-label", `Add a neuron to layer ${l + 1}`);
      plus.addEventListener("click", () => this.handlers.onNeurons(l, +1));
      const minus = el("button", "round small", head);
      minus.textContent = "\u2212";
      minus.title = "Remove a neuron";
      minus.setAttribute("aria-label", `Remove a neuron from layer ${l + 1}`);
      minus.addEventListener("click", () => this.handlers.onNeurons(l, -1));
      el("div", "layer-units", head).textContent = `${layer.units} neuron${layer.units > 1 ? "s" : ""}`;
      const select = el("select", "layer-activation", head);
      select.setAttribute("aria-label", `Activation of layer ${l + 1}`);
      for (const name of activations) {
        const o = el("option", null, select);
        o.value = o.textContent = name;
      }
      select.value = layer.activation;
      select.addEventListener("change", () => this.handlers.onActivation(l, select.value));
      const units = [];
      for (let u = 0; u < layer.units; u++) {
        const node = el("div", "neuron", col);
        const canvas = el("canvas", "thumb", node);
        canvas.width = canvas.height = THUMB;
        const bias = el("div", "bias", node);
        bias.title = "bias: click to edit";
        node.addEventListener("mouseenter", () => this.handlers.onHover({ layer: l, unit: u }));
        node.addEventListener("mouseleave", () => this.handlers.onHover(null));
        if (!config.batch_norm) {
          bias.addEventListener("click", (e) => this.handlers.onEdit(
            { layer: l, source: null, target: u }, e));
        } else {
          bias.classList.add("none");
          bias.title = "no bias: batch norm's beta does its job";
        }
        units.push({ canvas, bias });
      }
      this.units.push(units);
    });
    const out = el("div", "layer output-layer", this.layersEl);
    el("div", "layer-head", out).textContent = "Output";
    const outs = [];
    for (let k = 0; k < nOutputs; k++) {
      const node = el("div", "neuron output-node", out);
      const canvas = el("canvas", "thumb", node);
      canvas.width = canvas.height = THUMB;
      const bias = el("div", "bias", node);
      bias.title = "bias: click to edit";
      bias.addEventListener("click", (e) => this.handlers.onEdit(
        { layer: config.hidden_layers.length, source: null, target: k }, e));
      outs.push({ canvas, bias });
    }
    this.units.push(outs);
    requestAnimationFrame(() => this.drawLinks());
  }

  centre(element) {
    const a = element.getBoundingClientRect(), b = this.root.getBoundingClientRect();
    return [a.left - b.left + a.width / 2, a.top - b.top + a.height / 2, a.width / 2];
  }

  drawLinks() {
    if (!this.units.length) return;
    this.svg.replaceChildren();
    const box = this.root.getBoundingClientRect();
    this.svg.setAttribute("width", box.width);
    this.svg.setAttribute("height", box.height);
    this.links = [];
    for (let l = 0; l + 1 < this.units.length; l++) {
      const from = this.units[l], to = this.units[l + 1];
      const row = [];
      from.forEach((src, i) => {
        const [x1, y1, r1] = this.centre(src.canvas);
        const targets = [];
        to.forEach((dst, j) => {
          const [x2, y2, r2] = this.centre(dst.canvas);
          const path = document.createElementNS(SVG, "path");
          const xa = x1 + r1, xb = x2 - r2, mid = (xa + xb) / 2;
          path.setAttribute("d", `M${xa},${y1} C${mid},${y1} ${mid},${y2} ${xb},${y2}`);
          path.setAttribute("class", "link");
          path.dataset.layer = l; path.dataset.source = i; path.dataset.target = j;
          path.addEventListener("click", (e) => this.handlers.onEdit(
            { layer: l, source: i, target: j }, e));
          path.addEventListener("mouseenter", (e) => this.handlers.onLinkHover(
            { layer: l, source: i, target: j, value: path.weight }, e));
          path.addEventListener("mouseleave", () => this.handlers.onLinkHover(null));
          this.svg.appendChild(path);
          targets.push(path);
        });
        row.push(targets);
      });
      this.links.push(row);
    }
    if (this.lastWeights) this.setWeights(this.lastWeights, true);
  }

  setWeights(weights, force = false) {
    this.lastWeights = weights;
    weights.forEach((layer, l) => {
      const row = this.links[l];
      if (!row) return;
      layer.W.forEach((ws, i) => ws.forEach((w, j) => {
        const path = row[i] && row[i][j];
        if (!path || (!force && path.weight === w)) return;
        path.weight = w;
        path.setAttribute("stroke-width", Math.min(8, 0.6 + Math.abs(w) * 1.6).toFixed(2));
        path.setAttribute("stroke", rgbCss(diverging(w)));
      }));
      const column = this.units[l + 1];
      if (layer.b && column) {
        layer.b.forEach((b, j) => {
          if (column[j]) column[j].bias.style.background = rgbCss(diverging(b));
          if (column[j]) column[j].bias.dataset.value = b;
        });
      }
    });
  }

  /** Repaint every neuron's thumbnail and the links from a frame. */
  update(header, grids, outputKind) {
    for (let l = 1; l < this.units.length - 1; l++) {
      const grid = grids[`layer${l}`];
      if (!grid) continue;
      this.units[l].forEach((unit, u) => {
        if (u >= grid.shape[0]) return;
        const { grid: g, scale } = channel(grid, u);
        paintGrid(unit.canvas.getContext("2d"), g, { kind: "scale", scale });
      });
    }
    const outs = this.units[this.units.length - 1];
    if (grids.output) {
      outs.forEach((unit, k) => {
        const { grid: g, scale } = channel(grids.output, k);
        paintGrid(unit.canvas.getContext("2d"), g,
          outputKind === "probability" || outputKind === "classes"
            ? { kind: "probability" } : { kind: outputKind === "signed" ? "signed" : "scale", scale });
      });
    }
    this.setWeights(header.weights);
  }

  neuronGrid(grids, { layer, unit }) {
    const grid = grids[`layer${layer + 1}`];
    return grid && unit < grid.shape[0] ? channel(grid, unit) : null;
  }
}
