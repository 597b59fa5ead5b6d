// What the output's colours mean, for the output kind on show (see heatmap.js's kinds).

import { CLASS_COLORS, diverging, rgbCss } from "./colors.js";

const NEURONS = "Each neuron's square uses the same scale: orange is negative, blue positive, " +
  "white zero.";

function words(kind, { nClasses, scale }) {
  switch (kind) {
    case "probability":
      return ["0", "1", "The output is the probability of class 1: blue is class 1, orange " +
        "class 0, white 0.5 (undecided); paler means less sure."];
    case "signed":
      return ["-1", "+1", "The output's sign is the class: blue above 0 is class 1, orange " +
        "below 0 is class 0."];
    case "classes":
      return ["class 0", `class ${nClasses - 1}`, `Each of the ${nClasses} classes has its ` +
        "colour; the stronger the colour, the surer the network (softmax)."];
    default:
      return [`-${scale.toPrecision(2)}`, `+${scale.toPrecision(2)}`, "Regression: the " +
        "output is a number; blue is above 0, orange below, full colour at the largest " +
        "target in the data."];
  }
}

/** Fill the colour bar's end labels, gradient and sentence for this output. */
export function showLegend(els, kind, { nClasses = 2, scale = 1 } = {}) {
  const [low, high, text] = words(kind, { nClasses, scale });
  els.low.textContent = low;
  els.high.textContent = high;
  const stops = kind === "classes"
    ? CLASS_COLORS.slice(0, nClasses)
    : [-1, -0.5, 0, 0.5, 1].map((t) => rgbCss(diverging(t)));
  els.gradient.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  els.text.textContent = `${text} ${NEURONS}`;
}
