// Every neuron's thumbnail and bias square on one canvas, a column at a time: a column is
// composed in one ImageData and put in one call. A canvas per neuron made each one a layer
// that the browser walked at every frame (12 x 64 units: 40 ms before a pixel was drawn),
// a putImageData per neuron cost a copy each, and a bias coloured through its element's
// style cost a style, layout and paint pass per frame. A grid's colours are scaled here
// (bilinear) to its box's size in device pixels: no drawImage, so no blending at edges.

import { DIVERGING_TABLE, divergingIndex } from "./colors.js";
import { gridPixels } from "./heatmap.js";

const samplers = new Map(); // "res>size" -> per output pixel: [lower index, upper index, weight]
const BIAS_BORDER = [119, 119, 119]; // #777, as the bias element's border

function sampler(res, size) {
  const key = `${res}>${size}`;
  if (!samplers.has(key)) {
    const lo = new Int32Array(size), hi = new Int32Array(size), f = new Float32Array(size);
    for (let o = 0; o < size; o++) {
      const g = Math.min(res - 1, Math.max(0, ((o + 0.5) * res) / size - 0.5));
      lo[o] = Math.floor(g);
      hi[o] = Math.min(res - 1, lo[o] + 1);
      f[o] = g - lo[o];
    }
    samplers.set(key, { lo, hi, f });
  }
  return samplers.get(key);
}

/** src (res x res RGBA) scaled into the box {x, y, w, h} of `out` (an ImageData). */
function resample(src, res, out, { x: ox, y: oy, w, h }) {
  const sx = sampler(res, w), sy = sampler(res, h);
  const s = src.data, d = out.data, stride = out.width;
  for (let y = 0; y < h; y++) {
    const r0 = sy.lo[y] * res, r1 = sy.hi[y] * res, fy = sy.f[y];
    let o = 4 * ((oy + y) * stride + ox);
    for (let x = 0; x < w; x++, o += 4) {
      const a = 4 * (r0 + sx.lo[x]), b = 4 * (r0 + sx.hi[x]);
      const c = 4 * (r1 + sx.lo[x]), e = 4 * (r1 + sx.hi[x]), fx = sx.f[x];
      for (let k = 0; k < 3; k++) {
        const top = s[a + k] + (s[b + k] - s[a + k]) * fx;
        const bottom = s[c + k] + (s[e + k] - s[c + k]) * fx;
        d[o + k] = top + (bottom - top) * fy;
      }
      d[o + 3] = 255;
    }
  }
}

/**
 * A one-channel grid's values, divided by `scale`, scaled into the box and coloured: the
 * values are interpolated, then coloured once a pixel (a third of the work of colouring
 * the grid first and interpolating its three channels).
 */
function resampleValues(values, res, scale, out, { x: ox, y: oy, w, h }) {
  const sx = sampler(res, w), sy = sampler(res, h);
  const d = out.data, stride = out.width, k = 1 / (scale || 1);
  for (let y = 0; y < h; y++) {
    const r0 = sy.lo[y] * res, r1 = sy.hi[y] * res, fy = sy.f[y];
    let o = 4 * ((oy + y) * stride + ox);
    for (let x = 0; x < w; x++, o += 4) {
      const lo = sx.lo[x], hi = sx.hi[x], fx = sx.f[x];
      const top = values[r0 + lo] + (values[r0 + hi] - values[r0 + lo]) * fx;
      const bottom = values[r1 + lo] + (values[r1 + hi] - values[r1 + lo]) * fx;
      let t = (top + (bottom - top) * fy) * k; // divergingIndex, inlined: this is the hot loop
      t = t > 1 ? 1 : t < -1 ? -1 : t === t ? t : 0;
      const c = 3 * (((t + 1) * 255 + 0.5) | 0);
      d[o] = DIVERGING_TABLE[c]; d[o + 1] = DIVERGING_TABLE[c + 1]; d[o + 2] = DIVERGING_TABLE[c + 2];
      d[o + 3] = 255;
    }
  }
}

/** A bias square: a grey border, its value's colour inside (orange negative, blue positive). */
function square(out, { x: ox, y: oy, w, h }, value, border) {
  const k = divergingIndex(value), d = out.data, stride = out.width;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * ((oy + y) * stride + ox + x);
      const edge = x < border || y < border || x >= w - border || y >= h - border;
      for (let c = 0; c < 3; c++) d[o + c] = edge ? BIAS_BORDER[c] : DIVERGING_TABLE[k + c];
      d[o + 3] = 255;
    }
  }
}

export class Thumbs {
  constructor(canvas) {
    Object.assign(this, { canvas, ctx: canvas.getContext("2d"), columns: [], ratio: 1 });
    this.images = new Map(); // "w x h" -> ImageData to fill
  }

  /**
   * Where each column's units are: [{thumb: {x, y, w, h}, bias: {...} | null}], the
   * canvas's CSS pixels. Kept in device pixels, relative to the column's bounding box.
   */
  layout(columns, ratio) {
    this.ratio = ratio;
    const px = (b) => b && { x: Math.round(b.x * ratio), y: Math.round(b.y * ratio),
      w: Math.max(1, Math.round(b.w * ratio)), h: Math.max(1, Math.round(b.h * ratio)) };
    this.columns = columns.map((units) => {
      const boxes = units.map((u) => ({ thumb: px(u.thumb), bias: px(u.bias) }));
      const all = boxes.flatMap((b) => [b.thumb, b.bias].filter(Boolean)); // none: not shown
      if (!all.length) return null;
      const x = Math.min(...all.map((b) => b.x)), y = Math.min(...all.map((b) => b.y));
      const w = Math.max(...all.map((b) => b.x + b.w)) - x, h = Math.max(...all.map((b) => b.y + b.h)) - y;
      const local = (b) => b && { ...b, x: b.x - x, y: b.y - y };
      return { x, y, w, h, units: boxes.map((b) => ({ thumb: local(b.thumb), bias: local(b.bias) })) };
    });
  }

  /** Paint column c: [{unit, grid, options}] into the units' boxes, and the biases (or null). */
  paint(c, items, biases) {
    const col = this.columns[c];
    if (!col) return;
    const key = `${col.w}x${col.h}`;
    if (!this.images.has(key)) this.images.set(key, this.ctx.createImageData(col.w, col.h));
    const image = this.images.get(key);
    image.data.fill(0);
    for (const { unit, grid, options } of items) {
      const box = col.units[unit];
      if (!box || !box.thumb) continue;
      if (options.kind === "scale" && grid.shape[0] === 1) {
        resampleValues(grid.data, grid.shape[1], options.scale, image, box.thumb);
      } else {
        resample(gridPixels(grid, options), grid.shape[1], image, box.thumb);
      }
    }
    const border = Math.max(1, Math.round(this.ratio));
    if (biases) {
      col.units.forEach(({ bias }, u) => {
        if (bias && u < biases.length) square(image, bias, biases[u], border);
      });
    }
    this.ctx.putImageData(image, col.x, col.y);
  }
}
