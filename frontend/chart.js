// The loss (or accuracy) curve on one canvas, with a y axis of values and an x axis of
// epochs, redrawn only when a new epoch arrives. The canvas has as many pixels as its box
// on the screen: stretched, it was blurred, and the browser painted it anew at every frame
// instead of handing it to the compositor as it is.
// One spike (a diverging run's 1e+32) must not flatten the rest: the linear axis reaches
// at most CLIP times the curve's usual level, and what lies above it is drawn on the top
// edge with a mark and its value. The log scale shows everything; a run that diverged
// ends in a red line at the epoch that diverged, even if it had only its first epoch.

import { compact } from "./numbers.js";

const CLIP = 10;
const INK = { train: "#999999", test: "#222222", axis: "#666666", grid: "#e6e6e6",
  clipped: "#b35806", diverged: "#b3261e" };
const FONT = "10px system-ui, sans-serif";
const PAD = { left: 40, right: 8, top: 12, bottom: 16 };
const DOTS = 20; // a curve of this few epochs also draws a dot at each: one epoch shows

/** Round tick values over [lo, hi], about n of them, in steps of 1, 2 or 5 x 10^k. */
export function ticks(lo, hi, n = 3, least = 0) {
  const raw = Math.max((hi - lo) / n, least, 1e-300);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9));
  const values = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    values.push(Number((k * step).toPrecision(12)));
  }
  return { values, step };
}

/** A tick's text: the decimals its step needs, scientific when large or tiny. */
function tickText(v, step) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1e4 || step < 1e-3) return v.toExponential(Math.abs(v) >= 1e4 ? 1 : 0);
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** A power of ten's text on the log axis. */
const decade = (e) => (e >= -3 && e <= 3 ? String(10 ** e) : `1e${e}`);

/**
 * The most the linear axis shows: CLIP times the curve's usual level, the larger of where
 * each curve started and the lower quartile of all its values. A steady curve, falling or
 * rising, stays whole; a spike or a blow-up goes over. Infinity: nothing to clip by.
 */
export function ceiling(rows, keys) {
  const values = [], firsts = [];
  for (const key of keys) {
    const first = rows.find((r) => Number.isFinite(r[key]));
    if (first) firsts.push(Math.abs(first[key]));
    for (const r of rows) if (Number.isFinite(r[key])) values.push(Math.abs(r[key]));
  }
  if (!values.length) return Infinity;
  values.sort((a, b) => a - b);
  const usual = Math.max(...firsts, values[Math.floor((values.length - 1) / 4)]);
  return usual > 0 ? CLIP * usual : Infinity;
}

export class Chart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.rows = [];
    this.accuracy = false;
    this.log = false; // a log scale for the loss
    this.diverged = false; // the run diverged the epoch after the last row
    this.size = { w: canvas.width, h: canvas.height }; // CSS pixels
    new ResizeObserver(() => this.fit()).observe(canvas);
  }

  fit() {
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    if (!w || !h) return;
    this.size = { w, h };
    this.canvas.width = Math.round(w * ratio);
    this.canvas.height = Math.round(h * ratio);
    this.ctx.setTransform(this.canvas.width / w, 0, 0, this.canvas.height / h, 0, 0);
    this.draw();
  }

  reset(rows) { this.rows = rows.slice(); this.draw(); }

  add(row) {
    const last = this.rows[this.rows.length - 1];
    if (last && row.epoch <= last.epoch) return;
    this.rows.push(row);
    if (this.rows.length > 6000) this.rows = this.rows.filter((_, i) => i % 2 === 0);
    this.draw();
  }

  /**
   * The y axis: {lo, hi, limit (values above it are clipped), ticks, text, at(v)}; lo, hi
   * and the ticks are in the axis's own units (powers of ten on the log scale), at(v) maps
   * a value to them.
   */
  axis(values, limit) {
    if (this.accuracy) {
      const lo = Math.min(0.5, ...values);
      const t = ticks(lo, 1, 2);
      return { lo, hi: 1, limit: Infinity, ticks: t.values, text: (v) => tickText(v, t.step),
        at: (v) => v };
    }
    if (this.log) {
      const positive = values.filter((v) => v > 0);
      let lo = Math.floor(Math.log10(Math.min(...positive, 1)));
      let hi = Math.ceil(Math.log10(Math.max(...positive, 1e-300)));
      if (!positive.length) [lo, hi] = [-1, 0];
      if (hi <= lo) hi = lo + 1;
      const every = Math.ceil((hi - lo + 1) / 4); // at most four decades labelled
      const marks = [];
      for (let e = hi; e >= lo; e -= every) marks.unshift(e);
      return { lo, hi, limit: Infinity, ticks: marks, text: decade,
        at: (v) => Math.log10(Math.max(v, 10 ** (lo - 1))) };
    }
    let hi = Math.max(0, ...values.filter((v) => v <= limit));
    if (!(hi > 0)) hi = 1;
    const t = ticks(0, hi, 3);
    let highest = t.values[t.values.length - 1];
    if (highest < hi) { // the top line has its value
      highest = Number((highest + t.step).toPrecision(12));
      t.values.push(highest);
    }
    return { lo: 0, hi: highest, limit, ticks: t.values, text: (v) => tickText(v, t.step),
      at: (v) => v };
  }

  draw() {
    const { ctx, size: { w, h } } = this;
    ctx.clearRect(0, 0, w, h);
    const keys = this.accuracy ? ["train_accuracy", "test_accuracy"] : ["train_loss", "test_loss"];
    const rows = this.rows.filter((r) => keys.some((k) => Number.isFinite(r[k])));
    const what = this.accuracy ? "Accuracy" : "Loss";
    Object.assign(this.canvas.dataset, { points: rows.length, clipped: 0, top: "",
      diverged: String(this.diverged && rows.length > 0) });
    if (!rows.length) {
      this.canvas.setAttribute("aria-label", `${what} curve: no epoch yet`);
      return;
    }
    const values = rows.flatMap((r) => keys.map((k) => r[k])).filter(Number.isFinite);
    const y = this.axis(values, this.accuracy || this.log ? Infinity : ceiling(rows, keys));
    const e0 = rows[0].epoch, last = rows[rows.length - 1].epoch;
    const divergedAt = this.diverged ? last + 1 : null;
    const e1 = Math.max(divergedAt ?? last, e0 + 1);
    const left = PAD.left, right = w - PAD.right, top = PAD.top, bottom = h - PAD.bottom;
    const X = (e) => left + ((e - e0) / (e1 - e0)) * (right - left);
    const Y = (v) => {
      const t = (y.at(v) - y.lo) / (y.hi - y.lo);
      return bottom - Math.max(0, Math.min(1, t)) * (bottom - top);
    };

    // axes: the y axis's values with light lines across, the epochs under the x axis
    ctx.font = FONT;
    ctx.lineWidth = 1;
    ctx.fillStyle = INK.axis;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of y.ticks) {
      const py = Math.round(bottom - ((v - y.lo) / (y.hi - y.lo)) * (bottom - top)) + 0.5;
      ctx.strokeStyle = INK.grid;
      ctx.beginPath(); ctx.moveTo(left, py); ctx.lineTo(right, py); ctx.stroke();
      ctx.fillText(y.text(v), left - 4, py);
    }
    ctx.strokeStyle = INK.axis;
    ctx.beginPath(); ctx.moveTo(left + 0.5, top); ctx.lineTo(left + 0.5, bottom + 0.5);
    ctx.lineTo(right, bottom + 0.5); ctx.stroke();
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xt = ticks(e0, e1, Math.max(2, Math.floor((right - left) / 60)), 1);
    const named = 2 + ctx.measureText("epoch ").width; // where the axis's name ends
    for (const e of xt.values) {
      const px = X(e), label = e.toLocaleString("en-US");
      ctx.beginPath(); ctx.moveTo(px, bottom); ctx.lineTo(px, bottom + 3); ctx.stroke();
      if (px - ctx.measureText(label).width / 2 < named) continue; // under the name: its tick says it
      ctx.fillText(label, Math.min(px, right - 10), bottom + 4);
    }
    ctx.textAlign = "left";
    ctx.fillText("epoch", 2, bottom + 4);

    // the curves; a value over the axis sits on its top edge
    let clipped = 0, highest = -Infinity, highestAt = null;
    for (const [color, key] of [[INK.train, keys[0]], [INK.test, keys[1]]]) {
      ctx.strokeStyle = ctx.fillStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      for (const r of rows) {
        const v = r[key];
        if (!Number.isFinite(v)) continue;
        if (started) ctx.lineTo(X(r.epoch), Y(v)); else ctx.moveTo(X(r.epoch), Y(v));
        started = true;
      }
      ctx.stroke();
      for (const r of rows) {
        const v = r[key];
        if (!Number.isFinite(v)) continue;
        if (rows.length <= DOTS) {
          ctx.beginPath(); ctx.arc(X(r.epoch), Y(v), 2.5, 0, 2 * Math.PI); ctx.fill();
        }
        if (v > y.limit) {
          clipped += 1;
          if (v > highest) { highest = v; highestAt = r.epoch; }
        }
      }
    }
    if (clipped) this.markClipped(rows, keys, y, X, top, highest, highestAt);
    if (divergedAt !== null) this.markDiverged(rows, keys, X, divergedAt, Y, [top, bottom]);

    Object.assign(this.canvas.dataset, { clipped, top: y.text(y.hi) });
    const end = rows[rows.length - 1];
    const said = keys.filter((k) => Number.isFinite(end[k]))
      .map((k) => `${k.replace("_", " ")} ${compact(end[k])}`).join(", ");
    this.canvas.setAttribute("aria-label", `${what} curve, epochs ${e0} to ${last}: ${said}` +
      (clipped ? `; ${clipped} values above ${y.text(y.hi)} drawn on the top edge, the ` +
        `highest ${compact(highest)}` : "") +
      (divergedAt !== null ? `; diverged at epoch ${divergedAt}` : ""));
  }

  /** Over the axis: a triangle on the top edge at each such epoch, and the highest value. */
  markClipped(rows, keys, y, X, top, highest, highestAt) {
    const { ctx } = this;
    ctx.fillStyle = INK.clipped;
    for (const r of rows) {
      if (!keys.some((k) => r[k] > y.limit)) continue;
      const px = X(r.epoch);
      ctx.beginPath();
      ctx.moveTo(px, top - 7); ctx.lineTo(px - 4, top - 1); ctx.lineTo(px + 4, top - 1);
      ctx.closePath(); ctx.fill();
    }
    const px = X(highestAt), text = `${compact(highest)} \u2191`;
    ctx.font = `bold ${FONT}`;
    const width = ctx.measureText(text).width;
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    // right of its mark, or left of it near the right edge: inside the canvas
    const x = px + 6 + width <= this.size.w - PAD.right ? px + 6 : px - 6 - width;
    ctx.fillText(text, Math.max(PAD.left + 2, x), top + 1);
    ctx.font = FONT;
  }

  /** A dashed red line at the epoch that diverged, and a dashed climb to it. */
  markDiverged(rows, keys, X, epoch, Y, [top, bottom]) {
    const { ctx } = this;
    const end = rows[rows.length - 1], px = X(epoch);
    ctx.save();
    ctx.strokeStyle = ctx.fillStyle = INK.diverged;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
    const key = Number.isFinite(end[keys[1]]) ? keys[1] : keys[0];
    if (Number.isFinite(end[key])) {
      ctx.beginPath(); ctx.moveTo(X(end.epoch), Y(end[key])); ctx.lineTo(px, top); ctx.stroke();
    }
    ctx.font = `bold ${FONT}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    ctx.fillText(`diverged at epoch ${epoch}`, px - 4, bottom - 2);
    ctx.restore();
  }
}
