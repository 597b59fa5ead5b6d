// The address holds the whole config: one declarative list of fields, as in the
// TensorFlow Playground. Copying the address shares the setup; opening it restores it.
// A value that cannot be read is refused, with the reason, and only that field is left out.

import { fieldKind, hasLiteral, typeOf } from "./layertypes.js";
import { parseNumber } from "./numbers.js";

function number(s) {
  const { value, error } = parseNumber(s);
  if (error) throw new Error(error);
  return value;
}

function whole(s) {
  if (!/^\d+$/.test(s)) throw new Error(`"${s}" is not a whole number`);
  return Number(s);
}

const str = { parse: (s) => s, format: (v) => String(v) };
const num = { parse: number, format: (v) => String(v) };
const bool = {
  parse: (s) => {
    if (s !== "true" && s !== "false") throw new Error("true or false");
    return s === "true";
  },
  format: (v) => String(Boolean(v)),
};
const list = { parse: (s) => (s ? s.split(",") : []), format: (v) => v.join(",") };
const batch = { parse: (s) => (s === "full" ? "full" : whole(s)), format: (v) => String(v) };
// One entry per hidden layer, from its type's token in /api/meta ("layer_types"): a literal
// word (the type) unless it names a field, then the fields in order, joined by ":":
// "8:tanh" (dense), "conv:8:3:1:same:relu", "pool:max:2", "lstm:16:false"; the last
// fields may be left out (the server's defaults). "none" for no hidden layer.
function fieldValue(f, s) {
  const kind = fieldKind(f);
  if (kind === "boolean") return bool.parse(s);
  if (kind === "choice") return s;
  return [f.default, f.min, f.max].every((v) => v == null || Number.isInteger(v))
    ? whole(s) : number(s);
}

function layerEntry(types, part) {
  const [head, ...rest] = part.split(":");
  const entry = types.find((t) => hasLiteral(t) && t.token[0] === head) ||
    types.find((t) => !hasLiteral(t));
  if (!entry) throw new Error("the layer types are not known here"); // meta did not load
  const literal = hasLiteral(entry);
  const names = literal ? entry.token.slice(1) : entry.token;
  const values = literal ? rest : [head, ...rest];
  if (values.length > names.length) {
    throw new Error(`${part}: a ${entry.type} layer takes ${names.join(":")}`);
  }
  const layer = literal ? { type: entry.type } : {};
  values.forEach((s, i) => {
    try {
      layer[names[i]] = fieldValue(entry.fields[names[i]], s);
    } catch (error) {
      const known = types.filter(hasLiteral).map((t) => t.token[0]).join(", ");
      throw new Error(!literal && i === 0 && !/^\d/.test(s)
        ? `"${s}" is neither a layer type (${known}) nor a number (${names[0]})`
        : `${names[i]} of ${part}: ${error.message}`);
    }
  });
  return layer;
}

function layerText(types, l) {
  const entry = typeOf(types, l);
  const parts = entry.token.map((t) => (t in entry.fields ? l[t] : t));
  while (parts.length && parts[parts.length - 1] == null) parts.pop(); // the server's default
  return parts.map(String).join(":");
}

const layers = (types) => ({
  parse: (s) => (s === "none" ? [] : s.split(",").map((part) => layerEntry(types, part))),
  format: (v) => (v.length ? v.map((l) => layerText(types, l)).join(",") : "none"),
});

const FIELDS = [
  ["problem", "problem", str],
  ["dataset", "dataset.name", str],
  ["data", "dataset.id", str],
  ["samples", "dataset.n_samples", num],
  ["noise", "dataset.noise", num],
  ["train", "dataset.train_fraction", num],
  ["dataSeed", "dataset.seed", num],
  ["classes", "dataset.classes", num],
  ["side", "dataset.side", num],
  ["length", "dataset.length", num],
  ["features", "features", list],
  ["layers", "hidden_layers", layers], // a codec of the layer types
  ["output", "output_activation", str],
  ["loss", "loss", str],
  ["delta", "loss_params.delta", num],
  ["init", "init.name", str],
  ["initScale", "init.scale", num],
  ["initRecurrent", "init.recurrent", str],
  ["optimizer", "optimizer.name", str],
  ["lr", "optimizer.learning_rate", num],
  ["decay", "optimizer.decay", num],
  ["momentum", "optimizer.momentum", num],
  ["ema", "optimizer.ema", num],
  ["beta1", "optimizer.beta1", num],
  ["beta2", "optimizer.beta2", num],
  ["epsilon", "optimizer.epsilon", num],
  ["rho", "optimizer.rho", num],
  ["clipNorm", "optimizer.clip_norm", num],
  ["batch", "batch_size", batch],
  ["reg", "regularization.name", str],
  ["regRate", "regularization.rate", num],
  ["l1Ratio", "regularization.l1_ratio", num],
  ["dropout", "dropout", num],
  ["batchNorm", "batch_norm", bool],
  ["seed", "seed", num],
];
const VIEW_FIELDS = ["showTest", "discretize", "logScale"];

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys[keys.length - 1]] = value;
}

// A codec, or a function of the layer types that gives one.
const codecOf = (codec, types) => (typeof codec === "function" ? codec(types) : codec);

/** config (+ view options) -> "#key=value&..."; types: /api/meta's layer_types. */
export function toHash(config, types, view = {}) {
  const params = new URLSearchParams();
  for (const [key, path, codec] of FIELDS) {
    const value = getPath(config, path);
    if (value !== undefined && value !== null) params.set(key, codecOf(codec, types).format(value));
  }
  for (const key of VIEW_FIELDS) if (view[key]) params.set(key, "true");
  return "#" + params.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
}

/**
 * "#..." -> {config (only the fields given and read), view, refused: [{key, text, reason}]};
 * types: /api/meta's layer_types.
 */
export function fromHash(hash, types) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const config = {};
  const refused = [];
  for (const [key, path, codec] of FIELDS) {
    if (!params.has(key)) continue;
    const text = params.get(key);
    try {
      setPath(config, path, codecOf(codec, types).parse(text));
    } catch (error) {
      refused.push({ key, text, reason: error.message });
    }
  }
  const view = {};
  for (const key of VIEW_FIELDS) view[key] = params.get(key) === "true";
  return { config, view, refused };
}

/** The address's fields that hold a config field the server named ("hidden_layers.0.units"). */
export function fieldsFor(name) {
  return FIELDS.filter(([, path]) => name === path || name.startsWith(`${path}.`) ||
    path.startsWith(`${name}.`)).map(([key, path]) => ({ key, path }));
}

/** Leave a field (a dotted path) out of a config, in place. */
export function dropPath(config, path) {
  const keys = path.split(".");
  const parent = keys.slice(0, -1).reduce((o, k) => (o == null ? undefined : o[k]), config);
  if (parent) delete parent[keys[keys.length - 1]];
}
