// The settings bar: one entry per control, with its options (from /api/meta), how it
// shows the config and what it sends. The optimizer's own fields follow the optimizer.

import { $, allow, fill, isImages, nearest } from "./dom.js";
import { addHelp } from "./help.js";
import { activations, hasActivation, isRecurrent } from "./layertypes.js";
import { POINT_NET } from "./nets.js";
import { numberInput } from "./numbers.js";

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const DROPOUTS = [0, 0.1, 0.2, 0.3, 0.5];
const DECAYS = [0, 0.001, 0.01, 0.1, 1];
const CLIPS = [0.1, 0.5, 1, 2, 5, 10]; // and off (null); another value from the address is added
const RECURRENT_INITS = { orthogonal: "Orthogonal", init: "As initialization" };
const OPTIMIZER_PARAMS = { momentum: null, ema: null, beta1: null, beta2: null, epsilon: null, rho: null };
const capital = (s) => s[0].toUpperCase() + s.slice(1);
const steps = (values) => () => [values];

/** id -> {options(meta) -> [values, labels?], show(config, meta) -> value, send(value, state) -> changes} */
const MENUS = {
  learning_rate: { options: steps(LEARNING_RATES),
    show: (c) => nearest(LEARNING_RATES, c.optimizer.learning_rate),
    send: (v) => ({ optimizer: { learning_rate: Number(v) } }) },
  optimizer: { options: (m) => [m.optimizers.map((o) => o.name)],
    show: (c) => c.optimizer.name,
    send: (v) => ({ optimizer: { name: v, ...OPTIMIZER_PARAMS } }) },
  clip_norm: { options: () => [["", ...CLIPS], ["Off", ...CLIPS.map(String)]],
    show: (c) => c.optimizer.clip_norm ?? "",
    send: (v) => ({ optimizer: { clip_norm: v === "" ? null : Number(v) } }) },
  decay: { options: steps(DECAYS),
    show: (c) => nearest(DECAYS, c.optimizer.decay),
    send: (v) => ({ optimizer: { decay: Number(v) } }) },
  regularization: {
    options: (m) => [m.regularizations.map((r) => r.name), m.regularizations.map((r) =>
      (r.name === "none" ? "None" : r.name.toUpperCase().replace("_", " ")))],
    show: (c) => c.regularization.name,
    send: (v) => ({ regularization: { name: v, l1_ratio: null } }) },
  regularization_rate: { options: steps(REG_RATES),
    show: (c) => nearest(REG_RATES, c.regularization.rate),
    send: (v) => ({ regularization: { rate: Number(v) } }) },
  problem: { options: (m) => [m.problems, m.problems.map(capital)],
    show: (c) => c.problem,
    // the first data set of that kind, with two classes: a change of problem is a new start
    send: (v, { meta, config }) => ({ problem: v,
      dataset: { name: meta.datasets.find((d) => d.problem === v).name, classes: 2 },
      ...(isImages(config) ? POINT_NET : {}) }) },
  init: { options: (m) => [m.initializers.map((i) => i.name)],
    show: (c) => c.init.name,
    send: (v) => ({ init: { name: v, scale: null } }) },
  init_recurrent: { options: () => [Object.keys(RECURRENT_INITS), Object.values(RECURRENT_INITS)],
    show: (c) => c.init.recurrent ?? "orthogonal",
    send: (v) => ({ init: { recurrent: v } }) },
  dropout: { options: steps(DROPOUTS),
    show: (c) => nearest(DROPOUTS, c.dropout),
    send: (v) => ({ dropout: Number(v) }) },
  // one activation for every hidden layer; each layer's own menu is on the network
  activation: {
    options: (m) => {
      const hidden = m.activations.filter((a) => a.hidden).map((a) => a.name);
      return [["", ...hidden], ["(per layer)", ...hidden]];
    },
    show: (c, m) => {
      const acts = new Set(activations(m.layer_types, c.hidden_layers));
      return acts.size === 1 ? [...acts][0] : "";
    },
    // only the layers that have one (a pool layer has none)
    send: (v, { config, meta }) => (v ? { hidden_layers: config.hidden_layers.map((l) =>
      (hasActivation(meta.layer_types, l) ? { ...l, activation: v } : l)) } : null) },
};

function showActivation(meta, config) {
  const select = $("activation");
  const layers = activations(meta.layer_types, config.hidden_layers).length;
  // an LSTM's or a GRU's activations are its own (tanh, sigmoid gates): built in, not none
  select.options[0].textContent = layers ? "(per layer)"
    : config.hidden_layers.length ? "(built in)" : "(no hidden layer)";
  allow(select, layers > 0, config.hidden_layers.length
    ? "no hidden layer here has an activation of its own (an LSTM's and a GRU's are fixed)"
    : "there is no hidden layer: add one with + above the network");
}

/** Show a menu's value; one not among its options (from an address) is added, not rounded. */
function showValue(select, value) {
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) select.add(new Option(text, text));
  select.value = text;
}

/** The optimizer's own fields (momentum, beta1, ...), typed numbers checked where typed. */
class OptimizerFields {
  constructor(box, change) {
    Object.assign(this, { box, change, shown: null }); // shown: the optimizer whose fields are up
  }

  show(meta, config) {
    const spec = meta.optimizers.find((o) => o.name === config.optimizer.name);
    const params = Object.entries(spec ? spec.params : {});
    if (this.shown === config.optimizer.name) {
      // Same fields: new values, except where someone is typing.
      for (const [name, p] of params) {
        const input = $(`opt-${name}`);
        if (document.activeElement !== input && input.getAttribute("aria-invalid") !== "true") {
          input.value = config.optimizer[name] ?? p.default;
        }
      }
      return;
    }
    this.shown = config.optimizer.name;
    this.box.replaceChildren(...params.map(([name, p]) => this.field(name, p, config)));
    this.box.querySelectorAll(".field").forEach(addHelp);
  }

  field(name, p, config) {
    const label = document.createElement("label");
    label.className = "field small";
    const title = document.createElement("span");
    title.textContent = name;
    const input = document.createElement("input");
    input.value = config.optimizer[name] ?? p.default;
    label.title = `${p.description} (${p.min} to ${p.max})`;
    input.id = `opt-${name}`;
    const message = document.createElement("span");
    message.className = "field-error";
    message.setAttribute("role", "alert");
    const submit = numberInput(input, message, () => ({ min: p.min, max: p.max }),
      (value) => this.change({ optimizer: { [name]: value } }));
    input.addEventListener("change", submit);
    label.append(title, input, message);
    return label;
  }
}

export function bindSettings(store, change) {
  const { meta } = store.state;
  for (const [id, menu] of Object.entries(MENUS)) {
    fill($(id), ...menu.options(meta));
    $(id).addEventListener("change", (e) => {
      const changes = menu.send(e.target.value, store.state);
      if (changes) change(changes);
    });
  }
  $("batch_norm").addEventListener("change", (e) => change({ batch_norm: e.target.checked }));
  const fields = new OptimizerFields($("optimizer-params"), change);
  store.watch(["config"], ({ config }) => {
    for (const [id, menu] of Object.entries(MENUS)) showValue($(id), menu.show(config, meta));
    $("batch_norm").checked = config.batch_norm;
    $("recurrent-field").hidden = !config.hidden_layers.some((l) => isRecurrent(meta.layer_types, l));
    showActivation(meta, config);
    fields.show(meta, config);
  });
}
