// Who may change what is on show. "edit": this tab holds the edit token. "watch": someone
// else's experiment (a link opened in another browser, a teacher looking at a student's
// work), live over the websocket, read-only. "shared": a snapshot, read-only, frozen.
// Read-only, every control that would change something is off (their fieldsets are
// disabled) or hidden, and a banner says so, with a button to make one's own copy.

import { openExperiment } from "./address.js";
import { api } from "./api.js";
import { $ } from "./dom.js";

/** A copy of a live experiment, weights and curve included: its export, imported. */
async function copyOf(id) {
  return api.importModel(await api.exportModel(id));
}

export function bindModes(store, flash) {
  store.watch(["mode"], ({ mode }) => {
    const readOnly = mode !== "edit";
    for (const id of ["settings", "data-controls"]) $(id).disabled = readOnly;
    for (const id of ["data-tools", "share"]) $(id).hidden = readOnly;
    $("tools").hidden = mode === "shared"; // a snapshot has no experiment to download or check
    document.body.classList.toggle("read-only", readOnly);
    document.body.classList.toggle("shared", mode === "shared");
    $("watching").hidden = mode !== "watch";
    $("fork").hidden = mode !== "shared";
  });
  $("copy").addEventListener("click", async () => {
    try { openExperiment(await copyOf(store.state.id), store.state.meta.layer_types); }
    catch (error) { flash(`no copy: ${error.message}`); }
  });
  $("fork").addEventListener("click", async () => {
    try { openExperiment(await api.fork(store.state.shareId), store.state.meta.layer_types); }
    catch (error) { flash(`no copy: ${error.message}`); }
  });
}
