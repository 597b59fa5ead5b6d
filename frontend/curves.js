// Many loss curves on one chart: one line per student, each labelled at its end, on a log
// scale (one student's spike or a diverged run must not flatten everyone else's), with both
// axes and their values. A canvas, drawn again whole on each call: a class is small.

const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
  "#7a5195", "#3d7f3d", "#b8860b", "#444444"]; // colour-blind friendly first
const FONT = "13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

export function colourOf(index) { return PALETTE[index % PALETTE.length]; }

/** Round numbers for an axis from lo to hi: about `count` of them, 1-2-5 steps. */
function linearTicks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || power * 10;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

/** Loss values for a log axis from lo to hi: 1-2-5 per decade, or every digit when the
 * range is under a decade, or whole decades when it spans many. */
function logTicks(lo, hi) {
  const decades = Math.log10(hi / lo);
  const mantissas = decades > 4 ? [1] : decades > 1.2 ? [1, 2, 5] : [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const ticks = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p += 1) {
    for (const m of mantissas) {
      const v = m * 10 ** p;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

function label(v) {
  if (v >= 1000 || v < 0.001) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(3)));
}

/**
 * Draw `lines` ([{name, colour, points: [[epoch, loss|null], ...]}]) on `canvas`, sized to
 * its box. `focus`: a name drawn bold over the others (they fade). Returns what it drew,
 * for the tests: {lines, yTicks, xTicks}.
 */
export function drawCurves(canvas, lines, { focus = null, yLabel = "test loss" } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 320;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = FONT;

  const values = lines.flatMap((l) => l.points.map((p) => p[1]))
    .filter((v) => v != null && Number.isFinite(v) && v > 0);
  const epochs = lines.flatMap((l) => l.points.map((p) => p[0]));
  if (!values.length) {
    ctx.fillStyle = "#666";
    ctx.textAlign = "center";
    ctx.fillText("No curve yet: the lines appear as students train.", width / 2, height / 2);
    return { lines: 0, yTicks: [], xTicks: [] };
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi / lo < 1.5) { lo /= 1.25; hi *= 1.25; } // a flat class still gets an axis
  const maxEpoch = Math.max(1, ...epochs);

  // room for the names at the right, as wide as the longest (capped)
  const names = lines.map((l) => l.name);
  const nameWidth = Math.min(150, Math.max(40, ...names.map((n) => ctx.measureText(n).width)));
  const narrow = width < 520;
  const pad = { left: 58, right: narrow ? 12 : nameWidth + 18, top: 14, bottom: 40 };
  const plotW = Math.max(40, width - pad.left - pad.right);
  const plotH = Math.max(40, height - pad.top - pad.bottom);
  const x = (e) => pad.left + (e / maxEpoch) * plotW;
  const y = (v) => pad.top + (1 - Math.log(v / lo) / Math.log(hi / lo)) * plotH;

  // axes, grid and values
  const yTicks = logTicks(lo, hi);
  const xTicks = linearTicks(0, maxEpoch, narrow ? 4 : 8).filter((t) => Number.isInteger(t));
  ctx.strokeStyle = "#e4e4e4";
  ctx.fillStyle = "#555";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yTicks) {
    const ty = Math.round(y(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.left, ty); ctx.lineTo(pad.left + plotW, ty); ctx.stroke();
    ctx.fillText(label(t), pad.left - 6, ty);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of xTicks) {
    const tx = Math.round(x(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(tx, pad.top); ctx.lineTo(tx, pad.top + plotH); ctx.stroke();
    ctx.fillText(t.toLocaleString("en-US"), tx, pad.top + plotH + 5);
  }
  ctx.strokeStyle = "#999";
  ctx.beginPath();
  ctx.moveTo(pad.left + 0.5, pad.top); ctx.lineTo(pad.left + 0.5, pad.top + plotH + 0.5);
  ctx.lineTo(pad.left + plotW, pad.top + plotH + 0.5);
  ctx.stroke();
  ctx.fillStyle = "#333";
  ctx.fillText("epoch", pad.left + plotW / 2, pad.top + plotH + 22);
  ctx.save();
  ctx.translate(14, pad.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(`${yLabel} (log scale)`, 0, 0);
  ctx.restore();

  // the lines: a gap where a loss is not finite (a diverged epoch); the focused one last
  const ordered = [...lines].sort((a, b) => (a.name === focus) - (b.name === focus));
  const ends = [];
  for (const line of ordered) {
    const faded = focus && line.name !== focus;
    ctx.strokeStyle = line.colour;
    ctx.globalAlpha = faded ? 0.25 : 1;
    ctx.lineWidth = line.name === focus ? 3.5 : 2;
    ctx.beginPath();
    let drawing = false;
    let last = null;
    for (const [e, v] of line.points) {
      if (v == null || !Number.isFinite(v) || v <= 0) { drawing = false; continue; }
      const px = x(e);
      const py = y(Math.min(hi, Math.max(lo, v)));
      if (drawing) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      drawing = true;
      last = [px, py];
    }
    ctx.stroke();
    if (last) { // where the student is now (and a one-point curve shows at all)
      ctx.fillStyle = line.colour;
      ctx.beginPath(); ctx.arc(last[0], last[1], line.name === focus ? 5 : 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (last) ends.push({ line, y: last[1], faded });
  }
  ctx.globalAlpha = 1;

  // names at the right edge, at their line's end, pushed apart so none overlap
  if (!narrow) {
    // within the plot's height: past it they would sit on the epoch axis's values
    ends.sort((a, b) => a.y - b.y);
    const gap = 15;
    const top = pad.top + 6;
    const bottom = pad.top + plotH;
    if (ends.length) ends[0].y = Math.max(ends[0].y, top);
    for (let i = 1; i < ends.length; i += 1) ends[i].y = Math.max(ends[i].y, ends[i - 1].y + gap);
    const overflow = ends.length ? ends[ends.length - 1].y - bottom : 0;
    if (overflow > 0) for (const end of ends) end.y -= overflow;
    for (let i = ends.length - 2; i >= 0; i -= 1) ends[i].y = Math.min(ends[i].y, ends[i + 1].y - gap);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const end of ends) {
      ctx.globalAlpha = end.faded ? 0.35 : 1;
      ctx.fillStyle = end.line.colour;
      ctx.font = end.line.name === focus ? `bold ${FONT}` : FONT;
      let text = end.line.name;
      while (text.length > 1 && ctx.measureText(text).width > nameWidth) text = text.slice(0, -2) + "…";
      ctx.fillText(text, pad.left + plotW + 8, end.y);
    }
    ctx.globalAlpha = 1;
  }
  return { lines: ends.length, yTicks, xTicks };
}
