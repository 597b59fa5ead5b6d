// The network a data set starts with when the page switches to its kind of data: points
// take 2-D features and dense layers, images a small conv net, sequences a recurrent one.
// Only the layers, the features and the problem come along; the optimizer stays the learner's.

/** The point network the page starts from, and returns to from images and sequences. */
export const POINT_NET = {
  features: ["x1", "x2"],
  hidden_layers: [{ units: 4, activation: "tanh" }, { units: 2, activation: "tanh" }],
};

/** A small conv net for an image set: conv 8@3x3 relu, max pool 2. */
export function imageNet() {
  return {
    problem: "classification", features: [],
    hidden_layers: [
      { type: "conv", filters: 8, kernel: 3, stride: 1, padding: "same", activation: "relu" },
      { type: "pool", kind: "max", size: 2 }],
  };
}

/**
 * A small recurrent net for a sequence set (/api/meta's sequence_datasets entry): a set with
 * a target at every step (sine: the next value) gets an LSTM that answers at every step;
 * one target per sequence (waves, mnist1d) a GRU whose last state is read.
 */
export function sequenceNet(spec) {
  const layer = spec.per_step ? { type: "lstm", units: 16, return_sequences: true }
    : { type: "gru", units: 16 };
  return { problem: spec.problem, features: [], hidden_layers: [layer] };
}
