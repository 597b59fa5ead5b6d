// The layer editor of an image or sequence network: one card per hidden entry with its
// fields, its output shape and parameter count (GET /summary, fetched again after each
// change), and the places where images.js paints what the layer sees. Its add buttons, each
// card's title and controls come from /api/meta's layer_types (layertypes.js): the types
// that take this kind of data. A refused change says the server's reason and changes nothing.

import { api } from "./api.js";
import { $, dataKind } from "./dom.js";
import { fieldKind, freshLayer, readsVectors, typeOf, typesFor } from "./layertypes.js";

const shapeText = (s) => s.slice(1).join(" × ");
// Summary rows that finish the layer before them rather than start one of their own.
const FOLLOWERS = ["activation", "dropout", "batch_norm", "output"];

/**
 * Summary rows grouped by hidden entry (and the output layer last): each engine layer
 * starts a group but those that follow one (its activation...); a flatten shows nowhere.
 */
function groups(summary) {
  const out = [];
  for (const row of summary.layers) {
    if (row.kind === "flatten") continue;
    if (!FOLLOWERS.includes(row.kind) || !out.length) out.push([]);
    out[out.length - 1].push(row);
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

export function bindLayerList(store, { change }) {
  const { meta } = store.state;
  const types = meta.layer_types;
  const box = $("image-layers");
  const add = $("image-add");
  const error = $("layers-error");
  let key = null;
  let kind = null; // the data kind whose add buttons are up
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

  function insert(entry) {
    const now = layers();
    if (now.length >= meta.limits.max_layers) {
      error.textContent = `at most ${meta.limits.max_layers} hidden layers`;
      error.hidden = false;
      return;
    }
    // a layer that reads flat vectors (dense) goes at the end; the others (conv, pool, a
    // recurrent layer) before the first of those, after the last of their own
    let at = now.length;
    if (!readsVectors(entry)) {
      const first = now.findIndex((l) => readsVectors(typeOf(types, l)));
      if (first >= 0) at = first;
    }
    const head = now.slice(0, at), fresh = freshLayer(entry);
    const before = head[at - 1];
    if (before && typeof before.return_sequences === "boolean" && "return_sequences" in fresh) {
      // a recurrent layer after one: the one before now gives every step for it to read,
      // and the new one gives what the one before gave (its last step, or every step)
      fresh.return_sequences = before.return_sequences;
      head[at - 1] = { ...before, return_sequences: true };
    }
    send([...head, fresh, ...now.slice(at)]);
  }

  /** One "+ Type" button per type this kind of data takes, in the order they go in. */
  function buttons(kindNow) {
    kind = kindNow;
    const offered = typesFor(types, kind);
    const inOrder = [...offered.filter((t) => !readsVectors(t)), ...offered.filter(readsVectors)];
    add.replaceChildren(...inOrder.map((entry) => {
      const button = el("button", "text", null, `+ ${entry.label}`);
      button.id = `add-${entry.type}`;
      button.title = entry.description;
      button.addEventListener("click", () => insert(entry));
      return button;
    }));
  }

  /** A field's control: a box to tick, a menu of its choices or of its range, or a number box. */
  function control(i, layer, name, f, editable) {
    const label = el("label", "layer-field");
    el("span", null, label, name);
    let input;
    const what = fieldKind(f);
    if (what === "boolean") {
      input = el("input", null, label);
      Object.assign(input, { type: "checkbox", checked: Boolean(layer[name]) });
      input.addEventListener("change", () => edit(i, name, input.checked));
    } else if (what === "choice" || (f.max !== null && f.max - f.min <= 12)) {
      input = el("select", null, label);
      const values = f.choices || Array.from({ length: f.max - f.min + 1 }, (_, k) => f.min + k);
      for (const v of values) el("option", null, input, String(v)).value = String(v);
      input.value = String(layer[name]);
      input.addEventListener("change", () =>
        edit(i, name, what === "choice" ? input.value : Number(input.value)));
    } else {
      input = el("input", null, label);
      Object.assign(input, { type: "number", min: f.min, max: f.max, step: 1, value: layer[name] });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); }); // sends it
      input.addEventListener("change", () => {
        const v = Number(input.value);
        if (!Number.isInteger(v) || v < f.min || v > f.max) {
          error.textContent = `${name}: a whole number from ${f.min} to ${f.max}`;
          error.hidden = false;
          input.value = layer[name];
          return;
        }
        edit(i, name, v);
      });
    }
    input.disabled = !editable;
    input.dataset.field = name;
    input.setAttribute("aria-label", `${name} of layer ${i + 1}`);
    if (f.description) label.title = f.description;
    return label;
  }

  function card(i, layer, editable) {
    const entry = typeOf(types, layer);
    const item = el("li", `image-layer ${entry.type}`);
    item.dataset.entry = i + 1;
    const head = el("div", "image-layer-head", item);
    el("b", null, head, `${i + 1}. ${entry.label}`).title = entry.description;
    el("span", "layer-shape", head);
    if (editable) {
      const remove = el("button", "round small", head, "\u00d7");
      remove.title = "Remove this layer";
      remove.setAttribute("aria-label", `Remove layer ${i + 1}`);
      remove.addEventListener("click", () => send(layers().filter((_, j) => j !== i)));
    }
    const fields = el("div", "layer-fields", item);
    for (const [name, f] of Object.entries(entry.fields)) {
      fields.append(control(i, layer, name, f, editable));
    }
    // images.js paints the chosen example's maps (or units) and a conv layer's filters here
    el("div", "maps", item);
    el("div", "filters", item);
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

  // a sequence network's input row: the steps and channels of the sequence shown
  store.watch(["sequence"], ({ sequence }) => {
    if (kind !== "sequences" || !sequence) return;
    const T = sequence.input.length;
    const C = Array.isArray(sequence.input[0]) ? sequence.input[0].length : 1;
    $("input-shape").textContent = `${T} steps × ${C} channel${C === 1 ? "" : "s"}`;
  });

  store.watch(["config", "mode", "input"], ({ config, editable, reads, input }) => {
    const kindNow = config && dataKind(meta, config, input);
    if (!config || kindNow === "points") { key = null; return; } // diagram.js's +/- then
    if (kindNow !== kind) buttons(kindNow);
    const next = JSON.stringify([config.hidden_layers, editable, kindNow]);
    if (next !== key) {
      key = next;
      box.replaceChildren(...config.hidden_layers.map((l, i) => card(i, l, editable)));
    } else {
      // a refused change: every control shows what holds again, except where one types
      box.querySelectorAll(".image-layer").forEach((item, i) => {
        item.querySelectorAll("select, input").forEach((c) => {
          const value = config.hidden_layers[i][c.dataset.field];
          if (c.type === "checkbox") c.checked = Boolean(value);
          else if (c !== document.activeElement || c.tagName !== "INPUT") c.value = String(value);
        });
      });
    }
    add.hidden = !editable;
    summarize(reads);
  });
}
