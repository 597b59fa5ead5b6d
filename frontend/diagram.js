// The network column: the diagram (network.js) built from the config and painted from
// each frame, the layer buttons, the weight and bias editor, and the weight under the pointer.

import { $, isImages, outputKind } from "./dom.js";
import { Editor } from "./editor.js";
import { Network } from "./network.js";
import { compact } from "./numbers.js";

/** A weight (source: a unit of the layer before) or a bias (source null) of a frame. */
function valueIn(frame, { layer, source, target }) {
  const grids = frame ? frame.grids : {};
  const W = grids[`weights${layer}`], b = grids[`biases${layer}`];
  if (source === null) return b ? b.data[target] : 0;
  return W ? W.data[source * W.shape[1] + target] : 0;
}

export function bindDiagram(store, { change, command, flash }) {
  const { meta } = store.state;
  const layers = () => store.state.config.hidden_layers;
  const hovercard = $("hovercard");
  let carded = null; // the link the card is about: its value follows the frames (an edit)
  const card = (value) => {
    const text = `Weight ${compact(Number(value ?? 0))}`;
    if (hovercard.textContent !== text) hovercard.textContent = text;
  };
  const editor = new Editor(
    { box: $("link-editor"), label: $("editor-label"), input: $("editor-value"),
      message: $("editor-message") },
    (target, value) => command("set_weight", { ...target, value }));
  const network = new Network(
    { root: $("network"), links: $("links"), thumbs: $("thumbs"), note: $("network-note"),
      features: $("features"), layers: $("layers") },
    {
      onToggleFeature: (name) => {
        const { features } = store.state.config;
        const next = features.includes(name) ? features.filter((f) => f !== name) : [...features, name];
        if (!next.length) { flash("keep at least one input feature"); return; }
        change({ features: next });
      },
      onNeurons: (layer, delta) => {
        const next = layers().map((l) => ({ ...l }));
        next[layer].units = Math.max(1, Math.min(meta.limits.max_units, next[layer].units + delta));
        change({ hidden_layers: next });
      },
      onActivation: (layer, activation) =>
        change({ hidden_layers: layers().map((l, i) => (i === layer ? { ...l, activation } : l)) }),
      onEdit: (target, event) => editor.open(target, valueIn(store.state.frame, target), event),
      onHover: (hover) => store.set({ hover }),
      onLinkHover: (link, event) => {
        carded = link;
        if (!link) { hovercard.hidden = true; return; }
        const box = hovercard.parentElement.getBoundingClientRect();
        card(link.value);
        hovercard.style.left = `${event.clientX - box.left + 10}px`;
        hovercard.style.top = `${event.clientY - box.top - 24}px`;
        hovercard.hidden = false;
      },
    },
  );
  $("add-layer").addEventListener("click", () => {
    const now = layers();
    if (now.length >= meta.limits.max_layers) { flash(`at most ${meta.limits.max_layers} layers`); return; }
    const activation = now.length ? now[now.length - 1].activation : "tanh";
    change({ hidden_layers: [...now, { units: 2, activation }] });
  });
  $("remove-layer").addEventListener("click", () => {
    if (layers().length) change({ hidden_layers: layers().slice(0, -1) });
  });

  store.watch(["config", "extent", "nClasses", "mode"], ({ config, extent, nClasses, editable }) => {
    if (isImages(config)) return; // layerlist.js shows an image network
    const nOutputs = outputKind(config) === "classes" ? nClasses : 1;
    network.build(config, { meta, extent, editable, nOutputs });
    $("layer-count").textContent = config.hidden_layers.length;
    for (const id of ["add-layer", "remove-layer"]) $(id).hidden = !editable;
  });
  store.watch(["frame"], ({ frame, config }) => {
    if (!frame.header.input) network.update(frame, outputKind(config)); // a frame of points
    if (carded && !hovercard.hidden) card(valueIn(frame, carded));
  });
}
