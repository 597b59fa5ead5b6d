// The tools under the output: a share link, the model as a file and back, the gradient check.

import { openExperiment } from "./address.js";
import { api } from "./api.js";
import { $ } from "./dom.js";


function gradientTable(report) {
  const rows = report.layers.map((l) => `<tr><td>${l.layer}</td>` +
    `<td>${l.relative_difference.toExponential(2)}</td>` +
    `<td class="${l.verdict === "a bug" ? "bug" : ""}">${l.verdict}</td></tr>`).join("");
  return `<table class="gradcheck"><tr><th>layer</th>` +
    `<th>relative difference</th><th>verdict</th></tr>${rows}<tr><th>all</th>` +
    `<th>${report.relative_difference.toExponential(2)}</th><th>${report.verdict}</th></tr>` +
    `</table><p class="hint">||g - g'|| / (||g|| + ||g'||), two-sided differences, ` +
    `eps ${report.epsilon}, float64, dropout off: below 1e-7 right, above 1e-3 a bug.</p>`;
}

export function bindTools(store, flash) {
  const { state } = store;
  $("share").addEventListener("click", async () => {
    try {
      const { url, share_id: shareId } = await api.share(state.id, state.token);
      const a = document.createElement("a");
      a.id = "share-url";
      a.href = a.textContent = `${location.origin}${url}`;
      const teach = document.createElement("a");
      teach.id = "share-class";
      teach.href = `/classes/new?share=${encodeURIComponent(shareId)}`;
      teach.textContent = "make a class from it";
      $("share-link").replaceChildren("Read-only snapshot: ", a, " (", teach, ")");
    } catch (error) { flash(`no snapshot: ${error.message}`); }
  });
  $("download").addEventListener("click", async () => {
    const data = await api.exportModel(state.id);
    const blob = new Blob([JSON.stringify(data)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `playground-${data.config.dataset.name}-epoch-${data.model.epoch}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  });
  $("load-model").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    try {
      openExperiment(await api.importModel(JSON.parse(await file.text())),
        store.state.meta.layer_types);
    } catch (error) { flash(`that model file was refused: ${error.message}`); }
  });
  $("gradcheck").addEventListener("click", async () => {
    try { $("gradcheck-result").innerHTML = gradientTable(await api.gradientCheck(state.id)); }
    catch (error) { flash(`no gradient check: ${error.message}`); }
  });
}
