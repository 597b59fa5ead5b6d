// Every neuron's thumbnail on one canvas. A canvas per neuron made each one a layer that
// the browser walks at every frame: 12 x 64 units cost 40 ms a frame before a pixel was
// drawn. A grid's colours are scaled here (bilinear) to its box's size in device pixels
// and put straight into the canvas: no drawImage, so no blending with a neighbour's edge.

import { gridPixels } from "./heatmap.js";

const samplers = new Map(); // "res>size" -> per output pixel: [lower index, upper index, weight]

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

function resample(src, res, out, w, h) {
  const sx = sampler(res, w), sy = sampler(res, h);
  const s = src.data, d = out.data;
  for (let y = 0; y < h; y++) {
    const r0 = sy.lo[y] * res, r1 = sy.hi[y] * res, fy = sy.f[y];
    for (let x = 0; x < w; x++) {
      const a = 4 * (r0 + sx.lo[x]), b = 4 * (r0 + sx.hi[x]);
      const c = 4 * (r1 + sx.lo[x]), e = 4 * (r1 + sx.hi[x]), fx = sx.f[x];
      const o = 4 * (y * w + x);
      for (let k = 0; k < 3; k++) {
        const top = s[a + k] + (s[b + k] - s[a + k]) * fx;
        const bottom = s[c + k] + (s[e + k] - s[c + k]) * fx;
        d[o + k] = top + (bottom - top) * fy;
      }
      d[o + 3] = 255;
    }
  }
}

export class Thumbs {
  constructor(canvas) {
    Object.assign(this, { canvas, ctx: canvas.getContext("2d"), boxes: [], ratio: 1 });
    this.images = new Map(); // "w x h" -> ImageData to fill
  }

  /** Where each column's boxes are ({x, y, w, h}, the canvas's CSS pixels). */
  layout(boxes, ratio) {
    this.boxes = boxes;
    this.ratio = ratio;
  }

  /** Paint [{column, unit, grid, options}] into their boxes. */
  paint(items) {
    for (const { column, unit, grid, options } of items) {
      const box = this.boxes[column] && this.boxes[column][unit];
      if (!box) continue;
      const w = Math.round(box.w * this.ratio), h = Math.round(box.h * this.ratio);
      const key = `${w}x${h}`;
      if (!this.images.has(key)) this.images.set(key, this.ctx.createImageData(w, h));
      const image = this.images.get(key);
      resample(gridPixels(grid, options), grid.shape[1], image, w, h);
      this.ctx.putImageData(image, Math.round(box.x * this.ratio), Math.round(box.y * this.ratio));
    }
  }
}
