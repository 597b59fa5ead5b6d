// Colours: orange for negative / class 0, blue for positive / class 1 (the Playground's
// pair, safe for colour-blind eyes), and the Okabe-Ito palette for more classes.

export const CLASS_COLORS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#56b4e9",
  "#d55e00", "#f0e442", "#000000", "#999999", "#8c564b"];
const NEG = [230, 159, 0];
const POS = [0, 114, 178];
const MID = [248, 248, 248];

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
const CLASS_RGB = CLASS_COLORS.map(hexToRgb);

/** t in [-1, 1] -> [r, g, b]: orange, white, blue. */
export function diverging(t) {
  const x = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = x < 0 ? NEG : POS;
  const a = Math.abs(x);
  return [MID[0] + (end[0] - MID[0]) * a, MID[1] + (end[1] - MID[1]) * a,
    MID[2] + (end[2] - MID[2]) * a];
}

/** A class colour faded towards white by (1 - strength). */
export function classShade(k, strength) {
  const c = CLASS_RGB[k % CLASS_RGB.length];
  const s = Math.max(0, Math.min(1, strength));
  return [MID[0] + (c[0] - MID[0]) * s, MID[1] + (c[1] - MID[1]) * s, MID[2] + (c[2] - MID[2]) * s];
}

export function rgbCss([r, g, b]) { return `rgb(${r | 0},${g | 0},${b | 0})`; }

// diverging() for 511 steps of t in [-1, 1], as flat rgb bytes: painting a grid looks up
// a colour per cell instead of making an array per cell.
const STEPS = 255;
export const DIVERGING_TABLE = (() => {
  const table = new Uint8ClampedArray(3 * (2 * STEPS + 1));
  for (let i = 0; i <= 2 * STEPS; i++) table.set(diverging(i / STEPS - 1), 3 * i);
  return table;
})();

/** t (any number; NaN counts as 0) -> its offset in DIVERGING_TABLE. */
export function divergingIndex(t) {
  const x = t > 1 ? 1 : t < -1 ? -1 : t === t ? t : 0; // t === t: not NaN
  return 3 * Math.round((x + 1) * STEPS);
}
