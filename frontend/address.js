// Which experiment the page shows. The address carries its id (?e=ID), so that a reload
// comes back to it; the edit token stays in this tab's sessionStorage, never in an address.
// Without an id this tab can edit, the page makes a new experiment from the config in
// the address; whatever part of it is refused falls back to the default, and is named.

import { api } from "./api.js";
import { dropPath, fieldsFor, fromHash, toHash } from "./url.js";

const TOKENS = "playground-token:";

export function rememberToken(exp) {
  sessionStorage.setItem(TOKENS + exp.id, exp.edit_token);
}

/** Put the experiment's id in the address, keeping what else is there (lesson, embed). */
export function showId(id, config, view) {
  const params = new URLSearchParams(location.search);
  params.set("e", id);
  history.replaceState(null, "", `?${params}${toHash(config, view)}`);
}

/** Go to an experiment just made (a fork or an imported model), with its token. */
export function openExperiment(exp) {
  rememberToken(exp);
  location.href = `/?e=${exp.id}${toHash(exp.config)}`;
}

/** -> {exp (with edit_token), refused: ["key=text (reason)", ...]} */
export async function attachOrCreate(params, defaults) {
  const id = params.get("e");
  const token = id && sessionStorage.getItem(TOKENS + id);
  if (id && token) {
    try { return { exp: { ...(await api.get(id)), edit_token: token }, refused: [] }; }
    catch (error) { if (error.status !== 404) throw error; } // gone: start anew
  }
  const texts = new URLSearchParams(location.hash.replace(/^#/, ""));
  const { config, refused } = fromHash(location.hash);
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
