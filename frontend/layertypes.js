// The kinds of hidden layer, as /api/meta's "layer_types" describes them (docs/api.md): each
// entry says which data it takes, its fields with defaults and bounds, and its address token.
// Everything on the page that differs by layer type asks here, so that a type added on the
// server needs no change of the page.

/** The entry a config entry is of: its `type`, or (none given) the type written without one. */
export function typeOf(types, layer) {
  if (layer.type) return types.find((t) => t.type === layer.type);
  return types.find((t) => !hasLiteral(t)); // dense: written without a type
}

/** Whether its address token starts with a word of its own ("conv:..."), not a field. */
export function hasLiteral(entry) {
  return !(entry.token[0] in entry.fields);
}

/** Whether a config entry has an activation (a pool layer has none). */
export function hasActivation(types, layer) {
  const entry = typeOf(types, layer);
  return Boolean(entry) && "activation" in entry.fields;
}

/** Whether a config entry is recurrent: its type can return sequences (rnn, lstm, gru). */
export function isRecurrent(types, layer) {
  const entry = typeOf(types, layer);
  return Boolean(entry) && "return_sequences" in entry.fields;
}

/** The activations of the layers that have one, in order. */
export function activations(types, layers) {
  return layers.filter((l) => hasActivation(types, l)).map((l) => l.activation);
}

/** The types that may be used on this kind of data ("points", "images", "sequences"). */
export function typesFor(types, kind) {
  return types.filter((t) => t.inputs.includes(kind));
}

/** Whether a type reads flat vectors (it may be used on points): the layers that go last. */
export function readsVectors(entry) {
  return entry.inputs.includes("points");
}

/** A field's kind of control: "boolean", "choice" or "number". */
export function fieldKind(f) {
  if (f.choices) return f.choices.every((c) => typeof c === "boolean") ? "boolean" : "choice";
  return "number";
}

// A required field (default null) starts here: units 16 as before; any other count 8,
// within its bounds.
const START = { units: 16 };

/** A new config entry of this type with its defaults (dense written without a type). */
export function freshLayer(entry) {
  const layer = hasLiteral(entry) ? { type: entry.type } : {};
  for (const [name, f] of Object.entries(entry.fields)) {
    layer[name] = f.default ?? Math.min(f.max ?? Infinity, Math.max(f.min ?? 1, START[name] ?? 8));
  }
  return layer;
}
