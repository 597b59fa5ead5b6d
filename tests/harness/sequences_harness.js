// The harness's page: the real panels of templates/index.html (#seq-net, #seq-output),
// the real sequences.js on a real store, and fetch answered by fake_sequences.js. Frames
// come every 200 ms while window.harness.playing; the test reads window.harness.
import { createStore, initialState } from "/frontend/state.js";
import { bindSequences } from "/frontend/sequences.js";
import { answer, exampleInput } from "/tests/harness/fake_sequences.js";

const q = new URLSearchParams(location.search);
const options = {
  problem: q.get("problem") || "classification", cell: q.get("cell") || "lstm",
  units: Number(q.get("units") || 16), n: Number(q.get("n") || 1000),
  labels: (q.get("labels") || "sine,triangle,square,sawtooth").split(","),
  decay: Number(q.get("decay") || 0.7), epoch: 0, leftOut: q.get("left_out") === "1",
};
const T = Number(q.get("T") || 40), C = Number(q.get("C") || 1);
const harness = { posts: [], gets: [], views: [], playing: q.get("play") === "1", options };
window.harness = harness;

// fetch: GET/POST .../sequence answered here
window.fetch = async (url, init = {}) => {
  const u = new URL(url, location.href);
  let body;
  if (init.method === "POST") {
    const input = JSON.parse(init.body).input;
    harness.posts.push(input);
    body = answer(input, null, options);
  } else {
    const k = Number(u.searchParams.get("example"));
    harness.gets.push(k);
    body = answer(exampleInput(k, T, C), k, options);
  }
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
};

const template = await fetchText("/templates/index.html");
async function fetchText(path) {
  const xhr = new XMLHttpRequest(); // the real network (fetch is the fake server's)
  xhr.open("GET", path);
  return new Promise((resolve) => { xhr.onload = () => resolve(xhr.responseText); xhr.send(); });
}
const doc = new DOMParser().parseFromString(template, "text/html");
document.getElementById("harness-network").append(doc.getElementById("seq-net"));
document.getElementById("harness-output").append(doc.getElementById("seq-output"));

const store = createStore(initialState());
window.playground = store.state;
let example = 0;
const socket = { show(view) { harness.views.push(view); if ("example" in view) example = view.example; } };
const n = options.problem === "classification" ? options.labels.length : 1;
store.set({ meta: { sequence_datasets: [{ name: "waves" }] }, id: "harness", socket,
  config: { dataset: { name: "waves" }, features: [] } });
bindSequences(store);

function frame() {
  const seq = answer(exampleInput(example, T, C), example, options);
  const counts = Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 200 + options.epoch
    : Math.max(0, 30 - options.epoch + i)));
  store.set({ frame: { header: { input: "sequences", epoch: options.epoch, sequence: seq },
    grids: n > 1 ? { confusion: { shape: [n, n], data: Float32Array.from(counts) } } : {} } });
}
harness.frame = frame;
harness.step = () => { options.epoch += 1; options.decay = Math.min(1.6, options.decay + 0.005); frame(); };
frame();
setInterval(() => { if (harness.playing) harness.step(); }, 200);
