// The test set's mistakes, from GET /mistakes: a confusion cell opens its images (by click,
// Enter or Space), and a small grid shows the worst mistakes (the surest wrong answers).
// Both are asked again at most every EVERY ms while training, and after each change.
// Clicking an image sends it through the network (images.js shows any test image).
// A snapshot's are asked of its own routes, as an experiment's.

import { api, gate } from "./api.js";
import { $, isImages, takesImages } from "./dom.js";
import { caption, paintInk, pixels } from "./images.js";

const EVERY = 1500; // ms between two requests while frames come
const WORST = 8; // images in the worst-mistakes grid
const CELL = 16; // images shown of one confusion cell

const percent = (p) => `${Math.round(100 * p)} %`;

/** One test image of an answer, as a button: its picture, "true→predicted, 93 %". */
function tile(item, classes, onPick) {
  const [, H, W] = [item.image.length, item.image[0].length, item.image[0][0].length];
  const button = document.createElement("button");
  const right = item.label === item.predicted;
  button.className = `example ${right ? "right" : "wrong"}`;
  button.dataset.index = String(item.index);
  const canvas = pixels(W, H, "example-image");
  paintInk(canvas, item.image[0].flat(), 0);
  const label = document.createElement("span");
  caption(label, `${classes[item.label]}\u2192${classes[item.predicted]}, ` +
    `${percent(item.probability)}`);
  button.append(canvas, label);
  button.title = `test image ${item.index + 1}: a ${classes[item.label]}, the network says ` +
    `${classes[item.predicted]} (${percent(item.probability)}). Click to see it go through ` +
    "the network.";
  button.setAttribute("aria-label", `test image ${item.index + 1}: ${classes[item.label]}, ` +
    `predicted ${classes[item.predicted]}, ${percent(item.probability)}`);
  button.addEventListener("click", () => onPick(item.index));
  return button;
}

export function bindMistakes(store, { choose }) {
  const table = $("confusion");
  const worst = $("mistakes");
  let cell = null; // the open confusion cell: {t, p}
  let key = null; // what the shown answers are of: experiment, revision, epoch, status, cell
  let busy = false, last = 0, timer = null;

  const keyOf = ({ reads, frame }) => `${reads}:${frame.header.revision}:` +
    `${frame.header.epoch}:${frame.header.status}:${cell ? `${cell.t},${cell.p}` : ""}`;

  /** The image going through the network, marked where it is shown here too. */
  function markChosen() {
    const { example, source } = store.state;
    for (const item of document.querySelectorAll(".mistakes .example")) {
      item.classList.toggle("chosen", source !== "drawing" && Number(item.dataset.index) === example);
    }
  }

  function paint(box, answer, classes) {
    box.classList.toggle("named", classes.some((c) => c.length > 2));
    box.replaceChildren(...answer.items.map((item) => tile(item, classes, choose)));
    markChosen();
  }

  function showCell(answer, classes) {
    const { t, p } = cell;
    const n = answer.items.length;
    const what = `${classes[t]} \u2192 ${classes[p]}${t === p ? " (right)" : ""}`;
    const images = `${answer.count} test image${answer.count === 1 ? "" : "s"}`;
    $("cell-title").textContent = `${what}: ${images}` +
      (answer.count > n ? `, the ${n} surest shown` : "");
    $("cell-images").dataset.count = String(answer.count);
    paint($("cell-images"), answer, classes);
    $("cell-view").hidden = false;
  }

  /** Ask again, once the pause since the last request is over; a newer key asks once more. */
  async function refresh() {
    const { reads, frame } = store.state;
    clearTimeout(timer);
    if (!reads || !frame || frame.header.input !== "images" || busy) return;
    const k = keyOf(store.state);
    if (k === key) return;
    const wait = last + EVERY - performance.now();
    if (wait > 0) { timer = setTimeout(refresh, wait); return; }
    busy = true;
    last = performance.now();
    const open = cell;
    try {
      const [answer, ofCell] = await gate.read(() => (takesImages(store.state)
        ? Promise.all([
          api.mistakes(reads, { limit: WORST }),
          open ? api.mistakes(reads, { true: open.t, predicted: open.p, limit: CELL }) : null])
        : [null, null]));
      if (answer && store.state.reads === reads && cell === open) {
        const { classes } = frame.header;
        paint(worst, answer, classes);
        worst.dataset.epoch = String(frame.header.epoch);
        worst.dataset.status = frame.header.status;
        $("no-mistakes").hidden = answer.count > 0;
        if (open) showCell(ofCell, classes);
        key = k;
      }
    } catch { /* the next frame asks again */ }
    busy = false;
    refresh(); // a frame or a cell that came meanwhile
  }

  function mark() {
    for (const td of table.querySelectorAll("td")) {
      const open = cell && td.parentElement.rowIndex - 1 === cell.t && td.cellIndex - 1 === cell.p;
      td.classList.toggle("open", Boolean(open));
      if (open) td.setAttribute("aria-pressed", "true"); else td.removeAttribute("aria-pressed");
    }
  }

  function close() {
    cell = null;
    $("cell-view").hidden = true;
    $("cell-images").replaceChildren();
    mark();
  }

  function open(td) {
    if (!td || td.tagName !== "TD" || !Number(td.textContent)) return;
    const t = td.parentElement.rowIndex - 1, p = td.cellIndex - 1;
    if (cell && cell.t === t && cell.p === p) { close(); return; }
    cell = { t, p };
    mark();
    last = 0; // at once
    refresh();
  }

  table.addEventListener("click", (event) => open(event.target.closest("td")));
  table.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault(); // Space would scroll
    open(event.target.closest("td"));
  });
  $("cell-close").addEventListener("click", close);

  let classes = null;
  store.watch(["frame"], ({ frame }) => {
    if (!frame || frame.header.input !== "images") return;
    const names = frame.header.classes.join("|");
    if (classes !== null && names !== classes) close(); // other classes: the cell is gone
    classes = names;
    mark(); // the table may have been built again
    refresh();
  });
  store.watch(["example", "source"], markChosen);
  store.watch(["config", "mode"], ({ config }) => {
    $("mistakes-box").hidden = !isImages(config);
    if (!isImages(config)) close();
  });
}
