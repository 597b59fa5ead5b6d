// The layer editor of an image network: one card per hidden entry (conv, pool, dense) with
// its fields (bounds from /api/meta's layer_types), its output shape and parameter count
// (GET /summary, fetched again after each change), and the places where images.js paints
// what the layer sees. A refused change says the server's reason and changes nothing.

import { api } from "./api.js";
import { $, isImages } from "./dom.js";

const TITLES = { conv: "Convolution", pool: "Pooling", dense: "Dense" };
const NEW_UNITS = { filters: 8, units: 16 }; // for the fields without a default
const typeOf = (l) => l.type || "dense";
const shapeText = (s) => s.slice(1).join(" × ");

/** Summary rows grouped by hidden entry: a conv, pool or dense layer starts each group. */
function groups(summary) {
  const out = [];
  for (const row of summary.layers) {
    if (["conv", "max_pool", "avg_pool", "dense"].includes(row.kind)) out.push([]);
    if (row.kind !== "flatten" && out.length) out[out.length - 1].push(row);
  }
  return out.map((rows) => ({
    shape: rows[rows.length - 1].output_shape,
    params: rows.reduce((a, r) => a + r.trainable_params + r.non_trainable_params, 0),
  }));
}

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

export function bindImageLayers(store, { change }) {
  const { meta } = store.state;
  const specs = Object.fromEntries(meta.layer_types.map((t) => [t.type, t.fields]));
  const box = $("image-layers");
  const error = $("layers-error");
  let key = null;
  let asked = 0; // the newest summary asked for: an older answer is dropped

  async function send(hidden) {
    error.hidden = true;
    const reply = await change({ hidden_layers: hidden });
    if (reply && reply.type === "error") {
      error.textContent = reply.message;
      error.hidden = false;
    }
  }
  const layers = () => store.state.config.hidden_layers;
  const edit = (i, field, value) =>
    send(layers().map((l, j) => (j === i ? { ...l, [field]: value } : l)));

  function fresh(type) {
    const entry = type === "dense" ? {} : { type };
    for (const [name, f] of Object.entries(specs[type])) entry[name] = f.default ?? NEW_UNITS[name];
    return entry;
  }
  function add(type) {
    const now = layers();
    if (now.length >= meta.limits.max_layers) {
      error.textContent = `at most ${meta.limits.max_layers} hidden layers`;
      error.hidden = false;
      return;
    }
    // conv and pool go before the dense layers (after the last conv or pool), dense at the end
    let at = now.length;
    if (type !== "dense") {
      const firstDense = now.findIndex((l) => typeOf(l) === "dense");
      if (firstDense >= 0) at = firstDense;
    }
    send([...now.slice(0, at), fresh(type), ...now.slice(at)]);
  }
  for (const type of ["conv", "pool", "dense"]) $(`add-${type}`).addEventListener("click", () => add(type));

  /** A field's control: a menu of its choices or of its range, or a number box. */
  function control(i, entry, name, f, editable) {
    const label = el("label", "layer-field");
    el("span", null, label, name);
    let input;
    if (f.choices || (f.max !== null && f.max - f.min <= 12)) {
      input = el("select", null, label);
      const values = f.choices || Array.from({ length: f.max - f.min + 1 }, (_, k) => f.min + k);
      for (const v of values) el("option", null, input, String(v)).value = String(v);
      input.value = String(entry[name]);
      input.addEventListener("change", () =>
        edit(i, name, f.choices ? input.value : Number(input.value)));
    } else {
      input = el("input", null, label);
      Object.assign(input, { type: "number", min: f.min, max: f.max, step: 1, value: entry[name] });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); }); // sends it
      input.addEventListener("change", () => {
        const v = Number(input.value);
        if (!Number.isInteger(v) || v < f.min || v > f.max) {
          error.textContent = `${name}: a whole number from ${f.min} to ${f.max}`;
          error.hidden = false;
          input.value = entry[name];
          return;
        }
        edit(i, name, v);
      });
    }
    input.disabled = !editable;
    input.setAttribute("aria-label", `${name} of layer ${i + 1}`);
    if (f.description) label.title = f.description;
    return label;
  }

  function card(i, entry, editable) {
    const type = typeOf(entry);
    const item = el("li", `image-layer ${type}`);
    item.dataset.entry = i + 1;
    const head = el("div", "image-layer-head", item);
    el("b", null, head, `${i + 1}. ${TITLES[type]}`);
    el("span", "layer-shape", head);
    if (editable) {
      const remove = el("button", "round small", head, "\u00d7");
      remove.title = "Remove this layer";
      remove.setAttribute("aria-label", `Remove layer ${i + 1}`);
      remove.addEventListener("click", () => send(layers().filter((_, j) => j !== i)));
    }
    const fields = el("div", "layer-fields", item);
    for (const [name, f] of Object.entries(specs[type])) fields.append(control(i, entry, name, f, editable));
    el("div", "maps", item); // images.js paints the chosen example's maps (or units) here
    if (type === "conv") el("div", "filters", item);
    return item;
  }

  async function summarize(at) {
    if (!at) return; // no experiment yet
    const mine = ++asked;
    let summary;
    try { summary = await api.summary(at); } catch { return; } // the next change asks again
    if (mine !== asked) return;
    const parts = groups(summary);
    box.querySelectorAll(".image-layer").forEach((item, i) => {
      const part = parts[i];
      item.querySelector(".layer-shape").textContent = part
        ? `${shapeText(part.shape)} · ${part.params.toLocaleString("en-US")} parameters` : "";
    });
    const out = parts[parts.length - 1];
    $("output-params").textContent = out ? `${out.params.toLocaleString("en-US")} parameters` : "";
    $("total-params").textContent = summary.total_params.toLocaleString("en-US");
  }

  store.watch(["config", "mode"], ({ config, editable, reads }) => {
    if (!isImages(config)) { key = null; return; }
    const next = JSON.stringify([config.hidden_layers, editable]);
    if (next !== key) {
      key = next;
      box.replaceChildren(...config.hidden_layers.map((l, i) => card(i, l, editable)));
    } else {
      // a refused change: every control shows what holds again, except where one types
      box.querySelectorAll(".image-layer").forEach((item, i) => {
        item.querySelectorAll("select, input").forEach((c) => {
          if (c === document.activeElement && c.tagName === "INPUT") return;
          const name = c.getAttribute("aria-label").split(" of ")[0];
          c.value = String(config.hidden_layers[i][name]);
        });
      });
    }
    $("image-add").hidden = !editable;
    summarize(reads);
  });
}
