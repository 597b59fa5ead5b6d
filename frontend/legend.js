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
      return ["", "", `Each of the ${nClasses} classes has its colour; the stronger the ` +
        "colour, the surer the network (softmax)."];
    default:
      return [`-${scale.toPrecision(2)}`, `+${scale.toPrecision(2)}`, "Regression: the " +
        "output is a number; blue is above 0, orange below, full colour at the largest " +
        "target in the data."];
  }
}

/** One swatch per class, with its number: classes are not a scale, no gradient between. */
function swatches(list, nClasses) {
  const items = list.querySelectorAll("li");
  if (items.length === nClasses) return;
  list.replaceChildren(...Array.from({ length: nClasses }, (_, k) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "class-swatch";
    swatch.style.background = CLASS_COLORS[k % CLASS_COLORS.length];
    item.append(swatch, `class ${k}`);
    return item;
  }));
}

/** Fill the colour bar (end labels, gradient) or the classes' swatches, and the sentence. */
export function showLegend(els, kind, { nClasses = 2, scale = 1 } = {}) {
  const [low, high, text] = words(kind, { nClasses, scale });
  const classes = kind === "classes";
  els.bar.hidden = classes;
  els.classes.hidden = !classes;
  if (classes) swatches(els.classes, nClasses);
  els.low.textContent = low;
  els.high.textContent = high;
  const stops = [-1, -0.5, 0, 0.5, 1].map((t) => rgbCss(diverging(t)));
  els.gradient.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  els.text.textContent = `${text} ${NEURONS}`;
}
