// Grids to pixels with ImageData, through a small canvas as big as the grid that is then
// drawn, scaled, wherever the grid should appear.

import { CLASS_COLORS, classShade, diverging, DIVERGING_TABLE, divergingIndex } from "./colors.js";

const scratch = new Map(); // resolution -> {canvas, ctx, image}

function buffer(res) {
  let entry = scratch.get(res);
  if (!entry) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = res;
    const ctx = canvas.getContext("2d");
    entry = { canvas, ctx, image: ctx.createImageData(res, res) };
    scratch.set(res, entry);
  }
  return entry;
}

/**
 * A grid's colours into `px` (RGBA bytes, res x res).
 * kind: "signed" (values in [-1, 1]), "probability" (P(class 1) in [0, 1]),
 * "classes" (k channels of probabilities), "scale" (any values, divided by `scale`).
 */
function fill(px, grid, { kind, scale = 1, discretize = false, channel = 0 }) {
  const [channels, res] = [grid.shape[0], grid.shape[1]];
  const n = res * res;
  const d = grid.data;
  const mul = kind === "probability" ? 2 : kind === "scale" ? 1 / (scale || 1) : 1;
  const add = kind === "probability" ? -1 : 0;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    if (kind === "classes" && channels > 1) {
      let best = 0, p = d[i];
      for (let c = 1; c < channels; c++) if (d[c * n + i] > p) { p = d[c * n + i]; best = c; }
      const rgb = classShade(best, discretize ? 0.75 : (p - 1 / channels) / (1 - 1 / channels));
      px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2];
    } else {
      let v = d[channel * n + i] * mul + add;
      if (discretize) v = v >= 0 ? 1 : -1;
      const k = divergingIndex(v);
      px[o] = DIVERGING_TABLE[k]; px[o + 1] = DIVERGING_TABLE[k + 1]; px[o + 2] = DIVERGING_TABLE[k + 2];
    }
    px[o + 3] = 255;
  }
}

/** A grid's picture as ImageData at the grid's resolution (reused: copy it before the next). */
export function gridPixels(grid, options) {
  const { image } = buffer(grid.shape[1]);
  fill(image.data, grid, options);
  return image;
}

/** Channel c of a grid ([channels, r, r]) as a grid of its own, with its largest |value|. */
export function channel(grid, c) {
  const [, r1, r2] = grid.shape;
  const n = r1 * r2;
  const data = grid.data.subarray(c * n, (c + 1) * n);
  let hi = 1e-9;
  for (let i = 0; i < n; i++) hi = Math.max(hi, Math.abs(data[i]));
  return { grid: { shape: [1, r1, r2], data }, scale: hi };
}

/** Paint a grid onto `ctx` (a canvas context), stretched to its size. */
export function paintGrid(ctx, grid, options) {
  const { canvas, ctx: small } = buffer(grid.shape[1]);
  small.putImageData(gridPixels(grid, options), 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(canvas, 0, 0, ctx.canvas.width, ctx.canvas.height);
}

/** Training (white ring) and test (dark ring) points over a heatmap. */
export function paintPoints(ctx, points, extent, { showTest, regressionScale }) {
  const w = ctx.canvas.width, h = ctx.canvas.height;
  const sx = (x) => ((x + extent) / (2 * extent)) * w;
  const sy = (y) => ((extent - y) / (2 * extent)) * h;
  const draw = (xs, ys, stroke) => {
    ctx.lineWidth = 1;
    ctx.strokeStyle = stroke;
    for (let i = 0; i < xs.length; i++) {
      const label = ys[i];
      if (regressionScale) {
        const [r, g, b] = diverging(label / regressionScale);
        ctx.fillStyle = `rgb(${r | 0},${g | 0},${b | 0})`;
      } else {
        ctx.fillStyle = CLASS_COLORS[label % CLASS_COLORS.length];
      }
      ctx.beginPath();
      ctx.arc(sx(xs[i][0]), sy(xs[i][1]), 3, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  };
  draw(points.x_train, points.y_train, "#ffffff");
  if (showTest) draw(points.x_test, points.y_test, "#222222");
}
