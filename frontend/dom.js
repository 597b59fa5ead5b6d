// Small helpers that the page's modules share: finding, filling and allowing controls, and
// what the config says about how the output is coloured.

export const $ = (id) => document.getElementById(id);

/** Replace a menu's options: values, with labels or the values as text. */
export function fill(select, values, labels) {
  select.replaceChildren();
  values.forEach((v, i) => {
    const o = document.createElement("option");
    o.value = String(v);
    o.textContent = labels ? labels[i] : String(v);
    select.appendChild(o);
  });
}

/** The value of `values` nearest to v: a menu of steps shows a value set from elsewhere. */
export function nearest(values, v) {
  return values.reduce((a, b) => (Math.abs(b - v) < Math.abs(a - v) ? b : a), values[0]);
}

/** Enable or disable a control; its tooltip says why it is off. */
export function allow(control, allowed, reason) {
  control.disabled = !allowed;
  // no title at all when allowed: an empty one would hide the label's help
  if (allowed) control.removeAttribute("title"); else control.title = reason;
}

/** How the output is coloured, from the config (heatmap.js's kinds). */
export function outputKind(config) {
  if (config.problem === "regression") return "scale";
  if (config.dataset.classes > 2 || config.output_activation === "softmax") return "classes";
  const out = config.output_activation;
  return out === "auto" || out === "sigmoid" ? "probability" : "signed";
}

/** The largest target of regression data: full colour there. */
export function regressionScale(points) {
  const ys = points ? points.y_train : [];
  let hi = 1e-6;
  for (const y of ys) hi = Math.max(hi, Math.abs(y));
  return hi;
}

/** Image data: its pixels are the input, so it has no 2-D features (docs/config.md). */
export function isImages(config) {
  return Boolean(config) && config.features.length === 0;
}

/**
 * The kind of data the network takes, as /api/meta's layer_types name them: "sequences"
 * for a set of meta.sequence_datasets, "images" for other data without 2-D features,
 * else "points". An upload's is what the frames say (`input`: the store's), when known.
 */
export function dataKind(meta, config, input = null) {
  if (config.dataset.name === "custom" && input) return input;
  if ((meta.sequence_datasets || []).some((d) => d.name === config.dataset.name)) return "sequences";
  return isImages(config) ? "images" : "points";
}

/**
 * Whether the experiment takes images now, by the config (isImages is true of sequences
 * too): what a question about images (maps, mistakes, a drawing) must ask after a change,
 * before the new data's first frame has come.
 */
export function takesImages({ meta, config, input }) {
  return Boolean(meta && config) && dataKind(meta, config, input) === "images";
}

/** The name people read for a data set (/api/meta's label): "Regression: plane". */
export function datasetLabel(meta, name) {
  if (name === "custom") return "your own data";
  const sets = [...meta.datasets, ...meta.image_datasets, ...meta.sequence_datasets];
  const spec = sets.find((d) => d.name === name);
  return spec?.label || name;
}

/** Bars of class probabilities in `box`, a row per class name (rebuilt when the names
 * change); `truth` and `predicted` mark the rows (null: unknown). */
export function probabilityBars(box, names, probs, truth, predicted) {
  if (box.dataset.classes !== names.join("|")) { // other names, even as many of them
    box.dataset.classes = names.join("|");
    box.replaceChildren(...names.map((name) => {
      const row = document.createElement("div");
      row.className = "probability";
      row.innerHTML = "<span class=\"class-name\"></span><span class=\"bar\"><span></span></span>" +
        "<span class=\"value\"></span>";
      row.firstChild.textContent = name;
      row.title = name;
      return row;
    }));
  }
  [...box.children].forEach((row, c) => {
    row.querySelector(".bar > span").style.width = `${(100 * probs[c]).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${Math.round(100 * probs[c])}%`;
    row.classList.toggle("truth", c === truth);
    row.classList.toggle("wrong", c === predicted && truth !== null && predicted !== truth);
  });
}
