// The links between the network's columns, all on one canvas: no element per link, no
// layout read per link (the ends come from the thumbnails' boxes, read once per layout),
// and the link under the pointer is found by arithmetic. The weights are read from the
// frame's float32 grids as they are. Each gap between two columns is redrawn only when a
// link it draws changed, and the redrawing is paced: a canvas defers its drawing, so the
// cost (rasterizing ~10 us a curve in software) comes at the frame's commit, not in the
// script. A budget of RATE links a millisecond, saved up to BURST, decides which gaps are
// redrawn now and which wait: 12 x 64 units have 45 000 links, more than a CPU draws in a
// frame. Wide gaps draw thin lines, and only their strongest links.

import { diverging, rgbCss } from "./colors.js";

const STEP = 0.125; // weights are drawn in steps of this size
const MAX_WIDTH = 8;
const MAX_KEY = Math.ceil((MAX_WIDTH - 0.6) / 1.6 / STEP); // beyond it, nothing looks different
const THIN = 256; // a gap with more links than this draws them one pixel wide
export const SHOWN = 1024; // a gap draws at most this many links, the strongest
const RATE = 10; // links (a thick one counts 3) drawn per millisecond, on average
const BURST = 1500; // the most that one call of draw() may draw (a whole gap, at least)

const strokeWidth = (w) => Math.min(MAX_WIDTH, 0.6 + Math.abs(w) * 1.6);

const stepOf = (w) => Math.max(-MAX_KEY, Math.min(MAX_KEY, Math.round((w ?? 0) / STEP)));

/** A weight matrix {rows, cols, data: Float32Array, row-major} as the steps it is drawn at. */
function steps({ data }) {
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = stepOf(data[i]);
  return out;
}

/** Whether the picture of a gap changes: a link at or above `floor` (a step) moved. */
function moved(before, now, floor) {
  if (!before || before.length !== now.length) return true;
  for (let i = 0; i < now.length; i++) {
    const a = before[i], b = now[i];
    if (a !== b && (a >= floor || a <= -floor || b >= floor || b <= -floor)) return true;
  }
  return false;
}

/** The curve's parameter s in [0, 1] (0 at the source) where its x is u of the way across. */
function curveAt(u) {
  // A link runs from (xa, y1) to (xb, y2) with both controls at the middle x: its x is
  // xa + (xb - xa)(1.5t - 1.5t^2 + t^3), which only grows, and its y is y1 + (y2 - y1)s
  // with s = 3t^2 - 2t^3. Bisection finds t.
  let lo = 0, hi = 1;
  for (let k = 0; k < 24; k++) {
    const t = (lo + hi) / 2;
    if (1.5 * t - 1.5 * t * t + t * t * t < u) lo = t; else hi = t;
  }
  const t = (lo + hi) / 2;
  return 3 * t * t - 2 * t * t * t;
}

function curve(path, a, b) {
  const mid = (a.right + b.left) / 2;
  path.moveTo(a.right, a.y);
  path.bezierCurveTo(mid, a.y, mid, b.y, b.left, b.y);
}

export class Links {
  constructor(canvas) {
    Object.assign(this, { canvas, ctx: canvas.getContext("2d"), ratio: 1 });
    this.columns = []; // per column: [{left, right, y}], the canvas's CSS pixels
    this.matrices = []; // per gap: the newest {rows, cols, data}
    this.drawn = []; // per gap: the steps of the weights drawn, and the weakest step drawn
    this.dirty = []; // per gap: needs drawing
    this.next = 0; // the gap to look at first, round robin
    this.allowance = BURST; // links that may be drawn now
    this.since = performance.now();
    this.hovered = null;
  }

  layout(columns, ratio) {
    this.columns = columns;
    this.ratio = ratio;
    this.dirty = this.dirty.map(() => true);
  }

  get gaps() { return Math.max(0, Math.min(this.columns.length - 1, this.matrices.length)); }

  /** A frame's grids (weights0, weights1, ...): a gap needs drawing if a link drawn moved. */
  setWeights(grids) {
    let l = 0;
    for (; grids[`weights${l}`]; l++) {
      const { shape: [rows, cols], data } = grids[`weights${l}`];
      const matrix = { rows, cols, data };
      this.matrices[l] = matrix;
      const now = steps(matrix);
      const drawn = this.drawn[l];
      if (!this.dirty[l] && drawn && !moved(drawn.steps, now, drawn.floor)) continue;
      this.drawn[l] = { steps: now, floor: drawn ? drawn.floor : 0 };
      this.dirty[l] = true;
    }
    this.matrices.length = this.drawn.length = this.dirty.length = l;
  }

  /** Forget the weights (a new structure): nothing is drawn until new ones come. */
  clear() {
    this.matrices = [];
    this.drawn = [];
    this.dirty = [];
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  hover(link) {
    const old = this.hovered;
    const same = link && old && ["layer", "source", "target"].every((k) => link[k] === old[k]);
    if (same || link === old) return;
    this.hovered = link;
    if (old) this.dirty[old.layer] = true;
    if (link) this.dirty[link.layer] = true;
  }

  get pending() { return this.dirty.some((d, l) => d && l < this.gaps); }

  /** Draw dirty gaps, round robin, while the budget lasts (the hovered gap at once). */
  draw() {
    const now = performance.now();
    this.allowance = Math.min(BURST, this.allowance + (now - this.since) * RATE);
    this.since = now;
    for (let k = 0; k < this.gaps; k++) {
      const l = (this.next + k) % this.gaps;
      if (!this.dirty[l]) continue;
      const hovered = this.hovered && this.hovered.layer === l;
      if (this.allowance <= 0 && !hovered) break;
      this.allowance -= this.drawGap(l);
      this.dirty[l] = false;
      this.next = (l + 1) % this.gaps;
    }
  }

  /** The links of gap l that are drawn: all, or the SHOWN strongest. */
  shown(l) {
    const from = this.columns[l], to = this.columns[l + 1], { rows, cols, data } = this.matrices[l];
    const n = Math.min(from.length, rows), m = Math.min(to.length, cols);
    let floor = -1;
    if (n * m > SHOWN) {
      const sizes = new Float32Array(n * m);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) sizes[i * m + j] = Math.abs(data[i * cols + j]);
      sizes.sort();
      floor = sizes[n * m - SHOWN];
    }
    const links = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const w = data[i * cols + j];
        if (Math.abs(w) >= floor && links.length < SHOWN) links.push([w, from[i], to[j]]);
      }
    }
    if (this.drawn[l]) this.drawn[l].floor = floor < 0 ? 0 : Math.max(0, Math.abs(stepOf(floor)) - 1);
    return { links, thin: n * m > THIN };
  }
  drawGap(l) {
    const { ctx } = this;
    const from = this.columns[l], to = this.columns[l + 1];
    if (!from.length || !to.length) return 0;
    const left = from[0].right - 1, right = to[0].left + 1;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, 0, right - left, this.canvas.height / this.ratio);
    ctx.clip();
    ctx.clearRect(left, 0, right - left, this.canvas.height / this.ratio);
    const { links, thin } = this.shown(l);
    const paths = new Map(); // weight step -> one path for the gap's links of that step
    for (const [w, a, b] of links) {
      const key = stepOf(w);
      if (!paths.has(key)) paths.set(key, new Path2D());
      curve(paths.get(key), a, b);
    }
    for (const [key, path] of paths) {
      const w = key * STEP;
      ctx.globalAlpha = thin ? Math.min(1, 0.15 + 0.85 * Math.abs(w)) : 0.85;
      ctx.lineWidth = thin ? 1 : strokeWidth(w);
      ctx.strokeStyle = rgbCss(diverging(w));
      ctx.stroke(path);
    }
    this.drawHovered(l);
    ctx.restore();
    return links.length * (thin ? 1 : 3);
  }

  drawHovered(l) {
    const h = this.hovered;
    if (!h || h.layer !== l) return;
    const a = this.columns[l][h.source], b = this.columns[l + 1] && this.columns[l + 1][h.target];
    if (!a || !b) return;
    const { ctx } = this;
    const path = new Path2D();
    curve(path, a, b);
    ctx.globalAlpha = 1;
    ctx.lineWidth = strokeWidth(h.value) + 3;
    ctx.strokeStyle = "#333";
    ctx.stroke(path);
    ctx.lineWidth = strokeWidth(h.value);
    ctx.strokeStyle = rgbCss(diverging(h.value));
    ctx.stroke(path);
  }

  /** The link nearest to a point (the canvas's CSS pixels), within a few pixels, or null. */
  at(x, y) {
    for (let l = 0; l < this.gaps; l++) {
      const from = this.columns[l], to = this.columns[l + 1], { rows, cols, data } = this.matrices[l];
      if (!from.length || !to.length) continue;
      const xa = from[0].right, xb = to[0].left;
      if (x < xa || x > xb) continue;
      const s = curveAt((x - xa) / (xb - xa || 1));
      let best = null, distance = Infinity;
      for (let i = 0; i < from.length && i < rows; i++) {
        for (let j = 0; j < to.length && j < cols; j++) {
          const d = Math.abs(from[i].y + (to[j].y - from[i].y) * s - y);
          const w = data[i * cols + j];
          if (d < distance && d <= Math.max(4, strokeWidth(w) / 2 + 2)) {
            distance = d;
            best = { layer: l, source: i, target: j, value: w };
          }
        }
      }
      return best;
    }
    return null;
  }
}
