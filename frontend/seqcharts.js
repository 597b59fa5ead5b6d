// The pictures of a sequence network (sequences.js says what goes in them): the wave with
// the target and the prediction, a recurrent layer's states or gates as a units x time
// heatmap, and the gradient through time as bars on a log scale. Every canvas has as many
// pixels as its box on the screen times devicePixelRatio (stretched, it blurs), and all
// three share one left margin and one width, so that step t is at the same x in each.

import { ticks } from "./chart.js";
import { DIVERGING_TABLE, divergingIndex } from "./colors.js";

export const PAD = { left: 46, right: 8 }; // CSS pixels: the y axis' labels, the last tick
const FONT = "11px system-ui, sans-serif";
const INK = { axis: "#666", text: "#444", grid: "#e6e6e6", input: "#222", target: "#1e6b34",
  output: "#0072b2", drawn: "#b35806", bar: "#0072b2", bad: "#b3261e" };
const CHANNELS = ["#222", "#777", "#a0a0a0"]; // a wave's channels: the first darkest

/** The canvas at its box's CSS width and `h` CSS pixels high: a context in CSS pixels. */
export function fit(canvas, h) {
  const ratio = Math.min(3, window.devicePixelRatio || 1);
  const w = Math.max(120, canvas.clientWidth || canvas.parentElement?.clientWidth || 300);
  canvas.style.height = `${h}px`;
  const pw = Math.round(w * ratio), ph = Math.round(h * ratio);
  if (canvas.width !== pw) canvas.width = pw;
  if (canvas.height !== ph) canvas.height = ph;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(pw / w, 0, 0, ph / h, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = FONT;
  return { ctx, w, h };
}

/** The x of step t (0-based) at the middle of its column, of T columns over [x0, x1]. */
export const stepX = (t, T, x0, x1) => x0 + ((t + 0.5) * (x1 - x0)) / T;

/** The time axis under a plot: ticks at round steps (1-based, as people count). */
function timeAxis(ctx, T, x0, x1, y) {
  ctx.strokeStyle = INK.axis;
  ctx.fillStyle = INK.text;
  ctx.beginPath();
  ctx.moveTo(x0, y + 0.5);
  ctx.lineTo(x1, y + 0.5);
  ctx.stroke();
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const marks = ticks(1, T, Math.max(2, Math.min(8, Math.floor((x1 - x0) / 45))), 1).values
    .filter((s) => s >= 1 && s <= T);
  if (!marks.includes(1)) marks.unshift(1);
  for (const s of marks) {
    const x = stepX(s - 1, T, x0, x1);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x, y + 3);
    ctx.stroke();
    ctx.fillText(String(s), x, y + 4);
  }
  ctx.textAlign = "right";
  ctx.fillText("time step", x1, y + 16);
}

/** A label written upwards along the left edge, centred on [y0, y1]. */
function sideLabel(ctx, text, y0, y1) {
  ctx.save();
  ctx.translate(10, (y0 + y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillStyle = INK.text;
  ctx.fillText(text, 0, 0);
  ctx.restore();
}

/** A number short enough for an axis: 0.5, -1.2, 1e-3. */
function short(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0);
  return String(Number(v.toPrecision(2)));
}

/** Values of a wave as columns: [T][C] rows, or [T] numbers, as [T][C]. */
export const rows = (values) => values.map((v) => (Array.isArray(v) ? v : [v]));

/**
 * The wave: its input channels, the target and the prediction when they are per step, the
 * drawing. `range` [lo, hi] fixes the y axis (while one draws); else it fits what is shown.
 * Answers the axis used, {lo, hi, x0, x1, y0, y1}, for reading a pointer back into values.
 */
export function paintWave(canvas, { input, target = null, output = null, range = null,
  drawing = false, height = 170 }) {
  const { ctx, w, h } = fit(canvas, height);
  const x0 = PAD.left, x1 = w - PAD.right, y0 = 8, y1 = h - 30;
  const lines = [rows(input)];
  if (target) lines.push(rows(target));
  if (output) lines.push(rows(output));
  let [lo, hi] = range || [Infinity, -Infinity];
  if (!range) {
    for (const line of lines) for (const step of line) for (const v of step) {
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!(hi > lo)) { lo = (Number.isFinite(lo) ? lo : 0) - 1; hi = lo + 2; }
    const pad = 0.08 * (hi - lo);
    lo -= pad; hi += pad;
  }
  const T = lines[0].length;
  const y = (v) => y1 - ((v - lo) / (hi - lo)) * (y1 - y0);
  // the y axis: round values, with a faint line across at each
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const { values } = ticks(lo, hi, 4);
  for (const v of values) {
    if (v < lo || v > hi) continue;
    ctx.strokeStyle = v === 0 ? "#c8c8c8" : INK.grid;
    ctx.beginPath();
    ctx.moveTo(x0, Math.round(y(v)) + 0.5);
    ctx.lineTo(x1, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillStyle = INK.text;
    ctx.fillText(short(v), x0 - 4, y(v));
  }
  sideLabel(ctx, "value", y0, y1);
  timeAxis(ctx, T, x0, x1, y1);
  const line = (steps, c, color, width, dash = []) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    let gap = true; // a value that is not a number (null: it overflowed) breaks the line
    steps.forEach((step, t) => {
      if (step[c] === null || !Number.isFinite(step[c])) { gap = true; return; }
      const v = Math.max(lo, Math.min(hi, step[c]));
      if (gap) ctx.moveTo(stepX(t, T, x0, x1), y(v)); else ctx.lineTo(stepX(t, T, x0, x1), y(v));
      gap = false;
    });
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 1;
  };
  const C = lines[0][0]?.length || 0;
  for (let c = C - 1; c >= 0; c--) {
    line(lines[0], c, drawing && c === 0 ? INK.drawn : CHANNELS[Math.min(c, 2)], c ? 1.5 : 2);
  }
  if (target) line(rows(target), 0, INK.target, 2, [5, 3]);
  if (output) line(rows(output), 0, INK.output, 2);
  return { lo, hi, x0, x1, y0, y1, T };
}

/** A sequential colour map for values in [0, 1]: white to blue (a gate's openness). */
function sequential(v) {
  const a = v > 1 ? 1 : v > 0 ? v : 0;
  return [248 + (0 - 248) * a, 248 + (114 - 248) * a, 248 + (178 - 248) * a];
}

/**
 * A units x time heatmap of `matrix` [T][units]: units on rows (1 at the top), time on
 * columns. kind "signed": orange below 0, white at 0, blue above, full at +-scale; kind
 * "unit": 0 white to 1 blue. A row is `row` CSS pixels high, a column as wide as fits.
 */
export function paintHeatmap(canvas, matrix, { kind = "signed", scale = 1 } = {}) {
  const T = matrix.length, H = matrix[0]?.length || 0;
  const row = Math.max(3, Math.min(10, Math.floor(128 / Math.max(1, H))));
  const { ctx, w } = fit(canvas, H * row + 38);
  const x0 = PAD.left, x1 = w - PAD.right, y0 = 6, y1 = y0 + H * row; // room for unit 1's label
  if (!T || !H) return;
  // one pixel a cell, scaled up sharp: cells stay crisp squares at every screen
  const cells = new ImageData(T, H);
  for (let t = 0; t < T; t++) {
    for (let u = 0; u < H; u++) {
      const v = matrix[t][u];
      const i = 4 * (u * T + t);
      if (kind === "unit") {
        cells.data.set(sequential(v), i);
      } else {
        const k = divergingIndex(v / scale);
        cells.data[i] = DIVERGING_TABLE[k];
        cells.data[i + 1] = DIVERGING_TABLE[k + 1];
        cells.data[i + 2] = DIVERGING_TABLE[k + 2];
      }
      cells.data[i + 3] = 255;
    }
  }
  const small = new OffscreenCanvas(T, H);
  small.getContext("2d").putImageData(cells, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, x0, y0, x1 - x0, y1 - y0);
  ctx.strokeStyle = "#bbb";
  ctx.strokeRect(x0 - 0.5, y0 - 0.5, x1 - x0 + 1, y1 - y0 + 1);
  // the unit axis: 1 at the top, the last at the bottom, a few between
  ctx.fillStyle = INK.text;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const marks = H <= 4 ? Array.from({ length: H }, (_, u) => u + 1)
    : [1, ...ticks(1, H, 3, 1).values.filter((u) => u > 1 && u < H && (H - u) * row > 14), H];
  for (const u of marks) ctx.fillText(String(u), x0 - 4, y0 + (u - 0.5) * row);
  sideLabel(ctx, "unit", y0, Math.max(y1, y0 + 30));
  timeAxis(ctx, T, x0, x1, y1 + 1);
}

/** 10 to the e as people write it: 10⁻³. */
const SUPER = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074",
  5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };
export const power = (e) => `10${String(e).split("").map((ch) => SUPER[ch]).join("")}`;

/**
 * The gradient through time: a bar per step of `gradient` [T] (norms, >= 0) on a log
 * scale, its axis in whole powers of ten. A step whose gradient is not finite (it
 * exploded, null in the JSON) is a red bar to the top marked "∞"; one of exactly 0 a grey
 * mark on the floor.
 * Answers the decades shown, [low, high].
 */
export function paintGradient(canvas, gradient, { height = 130 } = {}) {
  const { ctx, w } = fit(canvas, height);
  const x0 = PAD.left, x1 = w - PAD.right, y0 = 8, y1 = height - 30;
  const T = gradient.length;
  const finite = gradient.filter((g) => Number.isFinite(g) && g > 0);
  let low = finite.length ? Math.floor(Math.log10(Math.min(...finite))) : -3;
  let high = finite.length ? Math.ceil(Math.log10(Math.max(...finite))) : 0;
  if (high <= low) high = low + 1;
  low = Math.max(low, high - 40); // below 10⁻⁴⁰ of the largest: gone, drawn at the floor
  // the axis: every decade a faint line, labelled as often as they fit, counting from the top
  const every = Math.ceil((high - low) / Math.max(1, Math.floor((y1 - y0) / 18)));
  low = high - every * Math.ceil((high - low) / every);
  const y = (g) => y1 - ((Math.log10(g) - low) / (high - low)) * (y1 - y0);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let e = low; e <= high; e++) {
    ctx.strokeStyle = INK.grid;
    ctx.beginPath();
    ctx.moveTo(x0, Math.round(y(10 ** e)) + 0.5);
    ctx.lineTo(x1, Math.round(y(10 ** e)) + 0.5);
    ctx.stroke();
    if ((high - e) % every === 0) {
      ctx.fillStyle = INK.text;
      ctx.fillText(power(e), x0 - 4, y(10 ** e));
    }
  }
  sideLabel(ctx, "gradient", y0, y1);
  const width = (x1 - x0) / T;
  const gap = width > 4 ? 1 : 0;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  gradient.forEach((g, t) => {
    const left = x0 + t * width + gap / 2;
    if (g === null || !Number.isFinite(g)) {
      ctx.fillStyle = INK.bad;
      ctx.fillRect(left, y0, width - gap, y1 - y0);
      ctx.fillStyle = "#fff";
      ctx.fillText("\u221e", left + width / 2, y0 + 12);
      return;
    }
    if (g <= 0) { // nothing flows back to this step: a grey mark on the floor says so
      ctx.fillStyle = "#bbb";
      ctx.fillRect(left, y1 - 2, width - gap, 2);
      return;
    }
    const top = Math.max(y0, Math.min(y1, y(g)));
    ctx.fillStyle = INK.bar;
    ctx.fillRect(left, top, width - gap, y1 - top);
  });
  timeAxis(ctx, T, x0, x1, y1);
  return [low, high];
}
