// Which experiment the page shows. The address carries its id (?e=ID), so that a reload
// comes back to it; the edit token stays in this tab's sessionStorage, never in an address.
// An id this tab has no token for is watched, read-only (a link from someone else). With
// no id (or one that is gone), the page makes a new experiment from the config in the
// address; whatever part of it is refused falls back to the default, and is named.
// Afterwards the address follows the config and the view options.

import { api } from "./api.js";
import { dropPath, fieldsFor, fromHash, toHash } from "./url.js";

const TOKENS = "playground-token:";
const DEFAULT_CONFIG = {
  problem: "classification",
  dataset: { name: "circle", n_samples: 500, noise: 0, train_fraction: 0.5, seed: 0, classes: 2 },
  features: ["x1", "x2"],
  hidden_layers: [{ units: 4, activation: "tanh" }, { units: 2, activation: "tanh" }],
  optimizer: { name: "sgd", learning_rate: 0.03 },
  batch_size: 10,
  regularization: { name: "none", rate: 0 },
};

function rememberToken(exp) {
  sessionStorage.setItem(TOKENS + exp.id, exp.edit_token);
}

/** The address follows the config and view; an address edited by hand is sent as a change. */
export function bindAddress(store, { change, notice }) {
  const types = store.state.meta.layer_types;
  store.watch(["config", "view"], ({ config, view }) => {
    if (config) history.replaceState(null, "", toHash(config, types, view));
  });
  window.addEventListener("hashchange", async () => {
    const { config, refused } = fromHash(location.hash, types);
    if (refused.length) {
      notice(`Parts of the address were refused: ${refused.map((r) => `${r.key}=${r.text} ` +
        `(${r.reason})`).join("; ")}.`);
    }
    if (toHash(config, types) !== toHash(store.state.config, types)) await change(config);
  });
}

/** Put the experiment's id in the address, keeping what else is there (lesson, embed). */
function showId(id) {
  const params = new URLSearchParams(location.search);
  params.set("e", id);
  history.replaceState(null, "", `?${params}${location.hash}`);
}

/** Go to an experiment just made (a fork or an imported model), with its token. */
export function openExperiment(exp, types) {
  rememberToken(exp);
  location.href = `/?e=${exp.id}${toHash(exp.config, types)}`;
}

/**
 * The experiment of the address, or a new one: {exp, mode: "edit" | "watch", refused:
 * ["key=text (reason)", ...]}; exp.edit_token where this tab may edit. Its id goes in the
 * address. A new one with no config in the address starts from `defaults` (a lesson's preset).
 * types: /api/meta's layer_types, to read the address's layers.
 */
export async function attach(params, types, defaults = DEFAULT_CONFIG) {
  const found = await existing(params.get("e"));
  const result = found || { ...(await create(types, defaults)), mode: "edit" };
  if (result.mode === "edit") rememberToken(result.exp);
  showId(result.exp.id);
  return result;
}

async function existing(id) {
  if (!id) return null;
  const token = sessionStorage.getItem(TOKENS + id);
  try {
    const exp = await api.get(id);
    return token ? { exp: { ...exp, edit_token: token }, mode: "edit", refused: [] }
      : { exp, mode: "watch", refused: [] };
  } catch (error) {
    if (error.status !== 404) throw error;
    return null; // gone: start anew
  }
}

async function create(types, defaults) {
  const texts = new URLSearchParams(location.hash.replace(/^#/, ""));
  const { config, refused } = fromHash(location.hash, types);
  const notes = refused.map((r) => `${r.key}=${r.text} (${r.reason})`);
  const body = Object.keys(config).length || refused.length ? config : defaults;
  for (;;) {
    try {
      return { exp: await api.create(body), refused: notes };
    } catch (error) {
      if (error.status !== 422) throw error;
      // Leave out each field the server named, and try the rest.
      const dropped = new Map(); // address key -> {path, reason}
      for (const d of error.details) {
        for (const f of fieldsFor(d.field)) {
          const known = dropped.has(f.key) || notes.some((n) => n.startsWith(`${f.key}=`));
          if (texts.has(f.key) && !known) dropped.set(f.key, { ...f, reason: d.message });
        }
      }
      if (!dropped.size) {
        notes.push(`the rest of the setup (${error.message})`);
        return { exp: await api.create(defaults), refused: notes };
      }
      for (const f of dropped.values()) {
        dropPath(body, f.path);
        notes.push(`${f.key}=${texts.get(f.key)} (${f.reason})`);
      }
    }
  }
}
