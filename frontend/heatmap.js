// Grids to pixels with ImageData: one small canvas per grid, scaled up by drawImage.

import { CLASS_COLORS, classShade, diverging } from "./colors.js";

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
 * Paint a grid onto `target` (a canvas context), stretched to its size.
 * kind: "signed" (values in [-1, 1]), "probability" (P(class 1) in [0, 1]),
 * "classes" (k channels of probabilities), "scale" (any values, divided by `scale`).
 */
export function paintGrid(ctx, grid, { kind, scale = 1, discretize = false, channel = 0 }) {
  const [channels, res] = [grid.shape[0], grid.shape[1]];
  const { canvas, ctx: small, image } = buffer(res);
  const px = image.data;
  const n = res * res;
  const d = grid.data;
  for (let i = 0; i < n; i++) {
    let rgb;
    if (kind === "classes" && channels > 1) {
      let best = 0, p = d[i];
      for (let c = 1; c < channels; c++) if (d[c * n + i] > p) { p = d[c * n + i]; best = c; }
      const strength = discretize ? 0.75 : (p - 1 / channels) / (1 - 1 / channels);
      rgb = classShade(best, strength);
    } else {
      let v = d[channel * n + i];
      if (kind === "probability") v = 2 * v - 1;
      else if (kind === "scale") v = v / (scale || 1);
      if (discretize) v = v >= 0 ? 1 : -1;
      rgb = diverging(v);
    }
    const o = 4 * i;
    px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]; px[o + 3] = 255;
  }
  small.putImageData(image, 0, 0);
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
