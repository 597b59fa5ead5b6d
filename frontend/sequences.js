// What a sequence experiment shows (docs/api.md, "One sequence through time"): the chosen
// test sequence as a wave with the target and the network's prediction, or a wave drawn
// with the mouse or a finger; each recurrent layer unrolled (its states and gates as
// units x time heatmaps); the gradient through time as bars on a log scale; and the test
// set's confusion matrix. All from one JSON object: the frame's `sequence` (of the example
// chosen with the `view` command's `example`), GET /sequence?example=K when another is
// picked (at once, before the next frame), POST /sequence for a drawing.

import { api, gate } from "./api.js";
import { paintConfusion } from "./confusion.js";
import { $, dataKind, probabilityBars } from "./dom.js";
import { addHelp } from "./help.js";
import { paintGradient, paintHeatmap, paintWave, power, rows } from "./seqcharts.js";

const READ_EVERY = 300; // ms between two readings of a drawing while frames come

/** Sequence data: what the frames say (an upload too), else the config's data kind. */
export function isSequences(config, meta, frame = null) {
  if (frame?.header?.input) return frame.header.input === "sequences";
  return Boolean(config && meta) && dataKind(meta, config) === "sequences";
}

/** The sequence a frame carries (the contract's `frame.sequence`, in its JSON header). */
export const sequenceOf = (frame) => frame?.sequence ?? frame?.header?.sequence ?? null;

/** The test set's confusion matrix of a frame, as flat counts, or null. */
function confusionOf(frame) {
  const grid = frame?.grids?.confusion;
  if (grid) return grid.data;
  const nested = frame?.header?.confusion ?? sequenceOf(frame)?.confusion;
  return nested ? nested.flat() : null;
}

/** What each heatmap is, in a sentence for its "?". */
const MEANING = {
  states: "The hidden state h\u209c: what the layer carries from one step to the next and " +
    "outputs. A row per unit, a column per time step; orange negative, blue positive.",
  input: "Input gate: how much of the candidate is written into the cell at this step " +
    "(1: all of it, 0: none).",
  forget: "Forget gate: how much of the old cell state is kept from the step before (1: " +
    "keeps it all, 0: forgets it). Its bias starts at 1, so a new LSTM remembers.",
  output: "Output gate: how much of the cell state is shown as the hidden state h\u209c.",
  update: "Update gate z: how much of the old state is kept, h\u209c = (1 \u2212 z) \u00b7 " +
    "candidate + z \u00b7 h\u209c\u208b\u2081. Near 1 the unit remembers; near 0 it takes the " +
    "candidate.",
  reset: "Reset gate r: how much of the old state the candidate may look at. Near 0 the " +
    "candidate ignores the past and reads only this step's input.",
  candidate: "Candidate: the new content proposed at this step, tanh of the input and the " +
    "last state (\u22121 to 1); the gates decide how much of it gets in.",
};
const NAMES = { states: "Hidden state", input: "Input gate", forget: "Forget gate",
  output: "Output gate", update: "Update gate", reset: "Reset gate", candidate: "Candidate" };
const TYPES = { rnn: "Simple RNN", lstm: "LSTM", gru: "GRU" };

const argmax = (p) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);
const percent = (p) => `${Math.round(100 * p)} %`;
const fmt = (v) => (Math.abs(v) >= 100 || (v !== 0 && Math.abs(v) < 0.01)
  ? v.toExponential(1) : v.toFixed(2));

/** The largest absolute value of a [T][units] matrix. */
function largest(matrix) {
  let hi = 0;
  for (const step of matrix) for (const v of step) if (Math.abs(v) > hi) hi = Math.abs(v);
  return hi;
}

/** One heatmap: its head (name, what it is, "?") and its canvas; made once, painted often. */
function figure(id, name, help, legend) {
  const box = document.createElement("figure");
  box.className = "seq-map";
  box.dataset.map = id;
  const head = document.createElement("figcaption");
  head.className = "seq-map-head";
  head.title = help;
  const title = document.createElement("span");
  title.textContent = name;
  const key = document.createElement("span");
  key.className = `seq-key ${legend}`;
  key.setAttribute("aria-hidden", "true");
  const scale = document.createElement("span");
  scale.className = "seq-scale";
  head.append(title, key, scale);
  const canvas = document.createElement("canvas");
  canvas.className = "seq-heatmap";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${name}: a row per unit, a column per time step`);
  box.append(head, canvas);
  return box;
}

export function bindSequences(store) {
  const wave = $("seq-wave");
  const number = $("seq-example");
  let axis = null; // the wave's axis as last drawn: where a pointer is, in steps and values
  let layersKey = null; // the layers the heatmaps are made for
  let asking = 0; // the newest GET /sequence asked
  let pending = null; // the example picked here that the frames do not carry yet
  let drawn = null; // the wave being drawn: [T] values of its first channel
  let base = null; // the sequence drawn over: [T][C], its other channels kept
  let range = null; // the wave's y axis, held still while one draws
  let sending = false, again = false, readAt = 0;

  const shown = () => (store.state.sequenceDrawing && store.state.sequenceDrawn) ||
    store.state.sequence;

  /** Pick test example k (0-based): the frames carry it from now, GET brings it at once. */
  async function choose(k) {
    const n = store.state.sequence?.n_examples ?? 1;
    const example = Math.max(0, Math.min(n - 1, k));
    store.set({ sequenceExample: example, sequenceDrawing: false });
    if (store.state.socket) pending = example; // until a frame of it comes
    store.state.socket?.show({ example });
    const asked = ++asking;
    try {
      const answer = await gate.read(() => (store.state.reads
        ? api.sequence(store.state.reads, example) : null));
      if (answer && asked === asking && answer.example === store.state.sequenceExample) {
        store.set({ sequence: answer });
      }
    } catch (error) {
      store.set({ message: `test sequence ${example + 1} could not be read: ${error.message}` });
    }
  }

  /** The drawing as the data's input: [T][C], the first channel drawn, the others kept. */
  const drawingInput = () => base.map((step, t) => [drawn[t], ...step.slice(1)]);

  async function send() {
    if (sending) { again = true; return; }
    sending = true;
    do {
      again = false;
      try {
        const answer = await gate.read(() => (store.state.reads && store.state.sequenceDrawing
          ? api.sequenceOfDrawing(store.state.reads, drawingInput()) : null));
        if (answer && store.state.sequenceDrawing) store.set({ sequenceDrawn: answer });
      } catch (error) {
        store.set({ message: `the drawn wave was not read: ${error.message}` });
      }
    } while (again);
    sending = false;
  }

  function startDrawing() {
    const seq = store.state.sequence;
    if (!seq) return;
    base = rows(seq.input).map((step) => [...step]);
    drawn = base.map((step) => step[0]);
    let lo = Math.min(...drawn), hi = Math.max(...drawn);
    if (!(hi > lo)) { lo -= 1; hi += 1; }
    const pad = 0.25 * (hi - lo);
    range = [lo - pad, hi + pad];
    store.set({ sequenceDrawing: true, sequenceDrawn: null });
    send();
  }

  // ---- drawing on the wave: a drag sets the steps it passes over ----
  let last = null; // [step, value] of the pointer's last place
  const at = (e) => {
    const r = wave.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    const { x0, x1, y0, y1, lo, hi, T } = axis;
    const t = Math.max(0, Math.min(T - 1, Math.round(((x - x0) / (x1 - x0)) * T - 0.5)));
    const v = lo + ((y1 - Math.max(y0, Math.min(y1, y))) / (y1 - y0)) * (hi - lo);
    return [t, v];
  };
  const put = ([t, v]) => {
    const [t0, v0] = last || [t, v];
    const steps = Math.abs(t - t0);
    for (let i = 0; i <= steps; i++) { // every step between two moves, on a straight line
      const s = t0 + Math.sign(t - t0) * i;
      drawn[s] = steps ? v0 + ((v - v0) * i) / steps : v;
    }
    last = [t, v];
    paintWaveAndVerdict(shown()); // the pen at once; the layers when the answer comes
    send();
  };
  wave.addEventListener("pointerdown", (e) => {
    if (!store.state.sequenceDrawing || !axis) return;
    e.preventDefault();
    wave.setPointerCapture(e.pointerId);
    last = null;
    put(at(e));
  });
  wave.addEventListener("pointermove", (e) => {
    if (!store.state.sequenceDrawing || !wave.hasPointerCapture(e.pointerId)) return;
    put(at(e));
  });
  const stop = (e) => {
    if (wave.hasPointerCapture?.(e.pointerId)) wave.releasePointerCapture(e.pointerId);
    last = null;
  };
  wave.addEventListener("pointerup", stop);
  wave.addEventListener("pointercancel", stop);

  // ---- the controls ----
  addHelp(document.querySelector("#seq-gradient-box .seq-map-head"));
  $("seq-prev").addEventListener("click", () => choose(store.state.sequenceExample - 1));
  $("seq-next").addEventListener("click", () => choose(store.state.sequenceExample + 1));
  number.addEventListener("change", () => {
    const k = Number(number.value);
    if (Number.isInteger(k) && k >= 1) choose(k - 1);
    number.value = String(store.state.sequenceExample + 1); // the one chosen: clamped, whole
  });
  $("seq-draw").addEventListener("click", () => {
    if (store.state.sequenceDrawing) choose(store.state.sequenceExample);
    else startDrawing();
  });

  // ---- painting ----
  function paintPicker(seq) {
    const n = seq?.n_examples ?? 0;
    const k = store.state.sequenceExample;
    const drawing = store.state.sequenceDrawing;
    number.max = String(Math.max(1, n));
    if (document.activeElement !== number) number.value = String(k + 1);
    $("seq-count").textContent = `of ${n.toLocaleString("en-US")}`;
    $("seq-prev").disabled = k <= 0;
    $("seq-next").disabled = k >= n - 1;
    const button = $("seq-draw");
    button.setAttribute("aria-pressed", String(drawing));
    button.textContent = drawing ? "Back to the test sequences" : "Draw a wave";
    wave.classList.toggle("drawing", drawing);
    const C = seq ? rows(seq.input)[0].length : 1;
    $("seq-draw-hint").hidden = !drawing;
    $("seq-draw-hint").textContent = "Drag across the chart to draw the wave, left to right " +
      `(${seq ? rows(seq.input).length : "its"} steps); the network reads it as you draw.` +
      (C > 1 ? ` The data has ${C} channels: you draw the first; ` +
        `${C > 2 ? `the other ${C - 1} stay` : "the second stays"} as in test sequence ${k + 1}.`
        : "");
  }

  function paintWaveAndVerdict(seq) {
    const drawing = store.state.sequenceDrawing;
    const perStep = Array.isArray(seq.output[0]);
    const regression = !seq.labels.length;
    const target = !drawing && perStep && Array.isArray(seq.target) ? seq.target : null;
    const output = perStep && regression ? seq.output : null;
    const input = drawing && drawn ? drawingInput() : seq.input;
    axis = paintWave(wave, { input, target, output, range: drawing ? range : null, drawing });
    // the legend: what each line is
    const C = rows(input)[0].length;
    const items = [[drawing ? "drawn" : "input", drawing ? "your wave"
      : C > 1 ? "input, channel 1" : "input"]];
    if (C > 1) items.push(["channels", C > 2 ? `channels 2\u2013${C}` : "channel 2"]);
    if (target) items.push(["target", "target"]);
    if (output) items.push(["output", "the network's prediction"]);
    $("seq-legend").replaceChildren(...items.map(([kind, text]) => {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = `seq-swatch ${kind}`;
      item.append(swatch, text);
      return item;
    }));
    // the verdict: a class and its probabilities, or the value said for the sequence
    const verdict = $("seq-verdict");
    const bars = $("seq-probabilities");
    verdict.classList.remove("wrong");
    const what = drawing ? "Your wave" : `Test sequence ${store.state.sequenceExample + 1}`;
    if (regression) {
      bars.hidden = true;
      if (perStep) {
        verdict.textContent = drawing ? "The network's prediction of your wave's next values:"
          + " the blue line." : `${what}: the blue line is the network's prediction, the ` +
          "dashed green one the target.";
      } else {
        const said = rows(seq.output)[0][0];
        verdict.textContent = `${what}: the network says ${fmt(said)}` +
          (typeof seq.target === "number" ? `, the target is ${fmt(seq.target)}` : "") + ".";
      }
      return;
    }
    // classification: per sequence, or per step (then the last step's)
    const probs = perStep ? seq.output.at(-1) : seq.output;
    const truth = !drawing && typeof seq.target === "number" ? seq.target
      : !drawing && Array.isArray(seq.target) ? seq.target.at(-1) : null;
    if (seq.predicted === null && !probs.every(Number.isFinite)) { // null: not a number
      verdict.textContent = `${what}: the network's output is not a number (it diverged).`;
      bars.hidden = true;
      return;
    }
    const predicted = seq.predicted ?? argmax(probs);
    verdict.textContent = `${what}${truth === null ? "" : `, a ${seq.labels[truth]}`}: the ` +
      `network says ${seq.labels[predicted]} (${percent(probs[predicted])})` +
      (perStep ? " at the last step" : "") +
      (truth === null ? "" : predicted === truth ? ", right" : ", wrong");
    verdict.classList.toggle("wrong", truth !== null && predicted !== truth);
    bars.hidden = false;
    probabilityBars(bars, seq.labels, probs, truth, predicted);
  }

  /** Each recurrent layer: its states, then its gates, each a heatmap under its name. */
  function paintLayers(seq) {
    const box = $("seq-layers");
    const key = seq.layers.map((l) => `${l.layer}:${l.type}:${l.units}:${Boolean(l.left_out)}:` +
      Object.keys(l.gates).join(",")).join("|");
    if (key !== layersKey) {
      layersKey = key;
      box.replaceChildren(...seq.layers.map((l) => {
        const section = document.createElement("section");
        section.className = "seq-layer";
        section.dataset.layer = String(l.layer);
        const head = document.createElement("h3");
        head.textContent = `Layer ${l.layer}: ${TYPES[l.type] || l.type}, ${l.units} units`;
        if (l.left_out) { // too many numbers to send many times a second (docs/api.md)
          const note = document.createElement("p");
          note.className = "hint left-out";
          note.textContent = "Too large to draw here: its states and gates over every step " +
            "would be more numbers than the server sends at once. Fewer units or shorter " +
            "sequences show it.";
          section.append(head, note);
          return section;
        }
        section.append(head, figure("states", NAMES.states, MEANING.states, "signed"));
        for (const name of Object.keys(l.gates)) {
          section.append(figure(name, NAMES[name] || name, MEANING[name] || name,
            name === "candidate" ? "signed" : "unit"));
        }
        return section;
      }));
      box.querySelectorAll(".seq-map-head").forEach(addHelp);
      $("seq-no-layers").hidden = seq.layers.length > 0;
    }
    seq.layers.forEach((l, i) => {
      if (l.left_out) return;
      const section = box.children[i];
      const maps = [["states", l.states], ...Object.entries(l.gates)];
      for (const [name, matrix] of maps) {
        const fig = section.querySelector(`.seq-map[data-map='${name}']`);
        const sigmoid = name !== "states" && name !== "candidate";
        // a tanh state or candidate is in [-1, 1]: that scale, so that a state fading to 0
        // is seen fading; a relu RNN's states may be larger: then their largest
        const scale = sigmoid ? 1 : Math.max(1, largest(matrix));
        paintHeatmap(fig.querySelector("canvas"), matrix, { kind: sigmoid ? "unit" : "signed", scale });
        fig.querySelector(".seq-scale").textContent = sigmoid ? "0 (shut) to 1 (open)"
          : `\u2212${fmt(scale)} to ${fmt(scale)}`;
      }
    });
  }

  /** The gradient through time of the chosen test example, from the newest frame. */
  function paintGradientBars(seq) {
    const box = $("seq-gradient-box");
    const gradient = seq?.gradient;
    box.hidden = !gradient;
    if (!gradient) return;
    paintGradient($("seq-gradient"), gradient);
    const first = gradient[0], lastG = gradient.at(-1);
    const text = $("seq-gradient-text");
    let ratio = "";
    if (Number.isFinite(first) && Number.isFinite(lastG) && lastG > 0 && first > 0) {
      const r = first / lastG;
      const e = Math.round(Math.log10(r));
      // a target at every step: each bar holds its own step's loss and every later one's,
      // so early bars are larger by up to T at no explosion; one target at the end: not
      const T = gradient.length;
      const high = seq.per_step ? 100 * T : 100;
      ratio = `Step 1 gets ${r >= 0.01 && r <= 100 ? r.toPrecision(2) : `about ${power(e)}`} ` +
        `times the gradient of step ${T}` +
        (r < 1e-2 ? ": it vanishes on the way back." : r > high
          ? ": it explodes on the way back." : ".") +
        (seq.per_step ? " Every step has a target here, so each bar also holds the loss of " +
          "its own and every later step." : "");
    } else if (gradient.some((g) => g === null || !Number.isFinite(g))) {
      ratio = "The gradient overflowed (\u221e): it exploded.";
    } else if (first === 0) {
      const k = gradient.findIndex((g) => g > 0);
      ratio = k < 0 ? "It is 0 at every step: nothing flows back."
        : `${k === 1 ? "Step 1 gets" : `Steps 1\u2013${k} get`} none at all (below the ` +
          "smallest 32-bit number): it vanished on the way back.";
    }
    text.textContent = `Test sequence ${seq.example + 1}. ${ratio}`;
  }

  function paint() {
    const seq = shown();
    paintPicker(store.state.sequence);
    if (!seq) return;
    paintWaveAndVerdict(seq);
    paintLayers(seq);
  }

  // ---- from the store ----
  let kind = false; // the page shows sequences
  store.watch(["config", "meta", "frame"], ({ config, meta, frame }) => {
    const now = isSequences(config, meta, frame);
    if (now === kind) return;
    kind = now;
    document.body.classList.toggle("sequences", now);
    if (!now) store.set({ sequence: null, sequenceDrawn: null, sequenceDrawing: false });
  });
  let data = null; // the data set's fields: another test set, no drawing on it
  store.watch(["config"], ({ config }) => {
    const now = config && JSON.stringify(config.dataset);
    if (data !== null && now !== data && kind) {
      // its frames say which test sequence they trace (the server clamps it to the set)
      store.set({ sequenceDrawing: false, sequenceDrawn: null });
      pending = null;
    }
    data = now;
  });
  store.watch(["frame"], ({ frame }) => {
    const seq = sequenceOf(frame);
    if (!seq) return;
    // The frames trace the example the server was last told, by any viewer: after a pick
    // here, frames of the one before are old (GET shows the pick meanwhile); else the page
    // follows them, so that every viewer of an experiment sees the same sequence.
    if (seq.example === pending) pending = null;
    if (pending === null) {
      if (seq.example !== store.state.sequenceExample) {
        store.set({ sequenceExample: seq.example });
        store.state.socket?.show({ example: seq.example }); // what it asks again on reconnecting
      }
      store.set({ sequence: seq });
    } else {
      paintGradientBars(seq); // live all the same: its caption says which example it is of
    }
    const counts = confusionOf(frame);
    $("seq-confusion-box").hidden = !counts || !seq.labels.length;
    if (counts && seq.labels.length) {
      paintConfusion($("seq-confusion"), counts, seq.labels, { noun: "test sequence" });
    }
    // while it trains, a drawing is read again by the newer weights
    if (store.state.sequenceDrawing && performance.now() - readAt > READ_EVERY) {
      readAt = performance.now();
      send();
    }
  });
  store.watch(["sequence", "sequenceDrawn", "sequenceDrawing", "sequenceExample"], () => {
    if (!store.state.sequenceDrawing) { drawn = null; range = null; }
    paint();
    paintGradientBars(store.state.sequence);
  });
  // a chart as wide as its box: drawn again when the box changes (a turned phone)
  let width = 0;
  new ResizeObserver(() => {
    if (wave.clientWidth === width) return;
    width = wave.clientWidth;
    paint();
    paintGradientBars(store.state.sequence);
  }).observe(wave);
  return { choose };
}
