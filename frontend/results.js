// The teacher's results view: every student's test loss and accuracy in a table sorted by
// any column, their loss curves on one chart (frontend/curves.js), and the table as a CSV
// file. Read from GET /api/classes/{id}/results every few seconds while it is on show.

import { colourOf, drawCurves } from "./curves.js";

const EVERY = 3000; // ms between two reads while the view is open
const NUMERIC = new Set(["number", "seed", "epoch", "test_loss", "test_accuracy"]);

function value(row, key) {
  if (key === "test_loss" || key === "test_accuracy") {
    const v = row.metrics ? row.metrics[key] : null;
    return v == null || !Number.isFinite(v) ? null : v;
  }
  return row[key];
}

function fmt(v, digits = 3) { return v == null ? "–" : v.toFixed(digits); }

export class ResultsView {
  /** root: the #results section; load(): the results; csv(): a Response of the CSV. */
  constructor(root, { load, csv, say }) {
    Object.assign(this, { root, load, csv, say });
    this.rows = [];
    this.sort = { key: "test_loss", descending: false }; // best first
    this.focus = null;
    this.timer = null;
    this.drawn = null; // what the chart drew last (for the tests)
    this.chart = root.querySelector("#results-chart");
    this.body = root.querySelector("tbody");
    for (const button of root.querySelectorAll("th button")) {
      button.addEventListener("click", () => this.sortBy(button.dataset.key));
    }
    root.querySelector("#download-csv").addEventListener("click", () => this.download());
    this.body.addEventListener("mouseover", (e) => this.hover(e.target.closest("tr")));
    this.body.addEventListener("focusin", (e) => this.hover(e.target.closest("tr")));
    this.body.addEventListener("mouseleave", () => this.hover(null));
    new ResizeObserver(() => { if (!this.root.hidden) this.draw(); }).observe(this.chart);
  }

  show(on) {
    this.root.hidden = !on;
    clearInterval(this.timer);
    this.timer = null;
    if (on) {
      this.refresh();
      this.timer = setInterval(() => this.refresh(), EVERY);
    }
  }

  async refresh() {
    try {
      const results = await this.load();
      this.rows = results.students;
      this.render();
      this.root.dataset.loaded = "true";
    } catch (e) {
      this.say(`The results could not be read: ${e.message}`);
    }
  }

  sortBy(key) {
    this.sort = this.sort.key === key ? { key, descending: !this.sort.descending }
      // numbers: a loss is best low, the others read highest first; words A to Z
      : { key, descending: NUMERIC.has(key) && key !== "test_loss" && key !== "number" };
    this.render();
  }

  sorted() {
    const { key, descending } = this.sort;
    const sign = descending ? -1 : 1;
    return [...this.rows].sort((a, b) => {
      const va = value(a, key);
      const vb = value(b, key);
      if (va == null || vb == null) return (va == null) - (vb == null) || a.number - b.number;
      const order = typeof va === "string" ? va.localeCompare(vb, undefined, { numeric: true })
        : va - vb;
      return sign * order || a.number - b.number;
    });
  }

  render() {
    for (const th of this.root.querySelectorAll("th")) {
      const key = th.querySelector("button").dataset.key;
      th.setAttribute("aria-sort", key !== this.sort.key ? "none"
        : this.sort.descending ? "descending" : "ascending");
    }
    const trs = this.sorted().map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.name = row.name;
      tr.dataset.status = row.status;
      tr.tabIndex = 0;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colourOf(row.number - 1);
      const cells = [String(row.number), row.name, row.seed ?? "–",
        row.epoch == null ? "–" : row.epoch.toLocaleString("en-US"),
        fmt(value(row, "test_loss")), fmt(value(row, "test_accuracy"), 2), row.status];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 1) td.append(swatch, text); else td.textContent = text;
        if (i !== 1 && i !== 6) td.className = "num";
        tr.append(td);
      });
      return tr;
    });
    this.body.replaceChildren(...trs);
    const empty = !this.rows.length;
    this.root.querySelector("#results-note").textContent = empty ? "No student yet." : "";
    this.draw();
  }

  hover(tr) {
    const name = tr ? tr.dataset.name : null;
    if (name === this.focus) return;
    this.focus = name;
    for (const row of this.body.rows) row.classList.toggle("focus", row.dataset.name === name);
    this.draw();
  }

  draw() {
    const lines = this.rows.filter((r) => r.curve.length)
      .map((r) => ({ name: r.name, colour: colourOf(r.number - 1), points: r.curve }));
    this.drawn = drawCurves(this.chart, lines, { focus: this.focus });
  }

  /** The CSV, fetched with the teacher's token (a plain link could not send it). */
  async download() {
    try {
      const response = await this.csv();
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const name = (/filename="([^"]+)"/.exec(disposition) || [])[1] || "class-results.csv";
      const url = URL.createObjectURL(blob);
      const a = Object.assign(document.createElement("a"), { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.say(`The CSV could not be made: ${e.message}`);
    }
  }
}
