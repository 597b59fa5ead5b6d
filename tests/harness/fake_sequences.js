// Made-up answers of /api/experiments/{id}/sequence in the contract's shape
// (/work/wt/CONTRACT19.md, docs/api.md): a fake recurrent network whose states follow the
// input, whose gates are sigmoids of it, and whose gradient shrinks (or grows) toward the
// early steps by `decay` a step. Only for the harness; nothing here is the model's maths.

const sig = (x) => 1 / (1 + Math.exp(-x));

/** Test example k's input, [T][C]: a wave of a period and phase of its own. */
export function exampleInput(k, T, C) {
  const period = 8 + (k % 7) * 3, phase = k * 0.7;
  return Array.from({ length: T }, (_, t) => Array.from({ length: C }, (_, c) => {
    const x = (2 * Math.PI * (t + phase)) / period + c;
    return k % 2 ? Math.sin(x) : (2 / Math.PI) * Math.asin(Math.sin(x)); // sine or triangle
  }));
}

/** The answer for an input [T][C]: example k's (with its target) or a drawing's (k null). */
export function answer(input, k, { problem, cell, units, labels, n, decay, epoch, leftOut }) {
  const T = input.length;
  const states = [], gates = cell === "lstm" ? { input: [], forget: [], output: [], candidate: [] }
    : cell === "gru" ? { update: [], reset: [], candidate: [] } : {};
  let h = new Array(units).fill(0);
  for (let t = 0; t < T; t++) {
    const x = input[t][0];
    const z = h.map((v, u) => 0.9 * v * Math.cos(u) + x * Math.sin(u + 1) * (1 + epoch / 50));
    h = z.map(Math.tanh);
    states.push(h);
    for (const name of Object.keys(gates)) {
      const shift = { input: 0.3, forget: 1, output: -0.2, update: 0.5, reset: -0.5 }[name] ?? 0;
      gates[name].push(z.map((v, u) => (name === "candidate" ? Math.tanh(v + u / units - 0.5)
        : sig(2 * v + shift + (u % 3) - 1))));
    }
  }
  const last = states[T - 1];
  let output, target = null, predicted = null;
  if (problem === "regression") {
    output = input.map((step, t) => [0.9 * (input[t + 1]?.[0] ?? step[0]) + 0.05 * Math.sin(t)]);
    if (k !== null) target = input.map((step, t) => input[t + 1]?.[0] ?? step[0]);
  } else {
    const logits = labels.map((_, c) => 3 * last[c % units] + (k !== null && c === k % labels.length
      ? 1 + epoch / 20 : 0));
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    output = e.map((v) => v / s);
    predicted = output.indexOf(Math.max(...output));
    if (k !== null) target = k % labels.length;
  }
  const gradient = k === null ? null
    : Array.from({ length: T }, (_, t) => 0.5 * decay ** (T - 1 - t));
  return { example: k, n_examples: n, per_step: problem === "regression", input, target, output,
    predicted, labels: problem === "regression" ? [] : labels,
    layers: cell === "none" ? [] : [{ layer: 1, type: cell, units, states, gates, left_out: false },
      ...(leftOut ? [{ layer: 2, type: cell, units: 128, states: [], gates: {}, left_out: true }]
        : [])],
    gradient };
}
