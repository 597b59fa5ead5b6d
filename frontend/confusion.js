// A test set's confusion matrix as a table: a row per true class, a column per class the
// network said, the diagonal (right) in blue and mistakes in orange, stronger the more
// of the row they are. Images (images.js) and sequences (sequences.js) both show one;
// an image cell opens its images (mistakes.js), a sequence cell opens nothing.

import { DIVERGING_TABLE, divergingIndex } from "./colors.js";

/**
 * Fill `table` with the counts `data` (k x k, row by row) of `classes`. `noun` names what
 * is counted ("test image"); `opens`: a cell with a count is a button (its images).
 */
export function paintConfusion(table, data, classes, { noun = "test example", opens = false } = {}) {
  const k = classes.length;
  if (table.dataset.k !== String(k) || table.dataset.classes !== classes.join("|")) {
    table.dataset.k = String(k);
    table.dataset.classes = classes.join("|");
    table.dataset.counts = "";
    table.replaceChildren();
    const head = table.insertRow();
    head.append(Object.assign(document.createElement("th"), {
      textContent: "", title: "rows: the true class; columns: the class the network said" }));
    // names (the shapes) head the rows; the columns get their number, the name as a tooltip
    const named = classes.some((c) => c.length > 2);
    classes.forEach((name, c) => {
      head.append(Object.assign(document.createElement("th"),
        { textContent: named ? String(c) : name, title: name }));
    });
    classes.forEach((name, t) => {
      const row = table.insertRow();
      row.append(Object.assign(document.createElement("th"),
        { textContent: named ? `${t} ${name}` : name, title: name }));
      for (let c = 0; c < k; c++) row.insertCell();
    });
  }
  const counts = Array.from(data).join(",");
  if (table.dataset.counts === counts) return; // it changes at an epoch's end only
  table.dataset.counts = counts;
  for (let t = 0; t < k; t++) {
    let total = 0;
    for (let c = 0; c < k; c++) total += data[t * k + c];
    const cells = table.rows[t + 1].cells;
    for (let c = 0; c < k; c++) {
      const count = data[t * k + c];
      const cell = cells[c + 1];
      const text = String(count);
      if (cell.textContent !== text) cell.textContent = text;
      const share = total ? count / total : 0;
      const k3 = divergingIndex(t === c ? share : -Math.min(1, 3 * share));
      cell.style.background = count ? `rgb(${DIVERGING_TABLE[k3]},${DIVERGING_TABLE[k3 + 1]},` +
        `${DIVERGING_TABLE[k3 + 2]})` : "";
      cell.style.color = (t === c ? share : 3 * share) > 0.6 ? "#fff" : "";
      cell.classList.toggle("diagonal", t === c);
      const button = opens && count > 0; // by click, Enter or Space (mistakes.js)
      if (button) cell.tabIndex = 0; else cell.removeAttribute("tabindex");
      if (button) cell.setAttribute("role", "button"); else cell.removeAttribute("role");
      cell.setAttribute("aria-label", `${count} ${noun}${count === 1 ? "" : "s"} of ` +
        `${classes[t]} taken for ${classes[c]}${button ? ": show them" : ""}`);
    }
  }
}
