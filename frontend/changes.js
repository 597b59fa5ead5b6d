// What a change of the config did, in a sentence for the notice: the server's answer says
// whether the weights were kept (docs/config.md, "What a change keeps"); the page says
// what that means for the run. Changes that only steer the training from here on (the
// learning rate, the optimizer, the noise...) need no word: the curve goes on.

import { datasetLabel } from "./dom.js";
import { activations } from "./layertypes.js";

const FRESH = "a fresh run started, with new weights and a new loss curve from epoch 0.";
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const capital = (s) => s[0].toUpperCase() + s.slice(1);

/**
 * Why a fresh run started, when the data changed: the data column is not where one looks
 * for the epoch. A new shape of network (a neuron, a layer, a feature: clicked where the
 * epoch and the curve are in view, often several times running) goes unsaid: a notice
 * there would move the buttons under the pointer.
 */
function freshBecause(before, after, meta) {
  if (before.dataset.name !== after.dataset.name || before.dataset.id !== after.dataset.id) {
    return `New data set (${datasetLabel(meta, after.dataset.name)})`;
  }
  if (before.problem !== after.problem) return `Now ${after.problem}`;
  if (before.dataset.classes !== after.dataset.classes) return `Now ${after.dataset.classes} classes`;
  if (before.dataset.side !== after.dataset.side) return "New image size";
  return null;
}

/**
 * The notice for a change answered with `kept` (weights_kept), or null when there is
 * nothing to say. `epoch`: where the run stands.
 */
export function changeNotice(before, after, { kept, meta, epoch }) {
  if (!kept) {
    const why = freshBecause(before, after, meta);
    return why && `${why}: ${FRESH}`;
  }
  const at = `the weights and the epoch (${epoch.toLocaleString("en-US")}) were kept`;
  const was = activations(meta.layer_types, before.hidden_layers);
  const now = activations(meta.layer_types, after.hidden_layers);
  if (!same(was, now)) {
    const changed = now.map((a, i) => (a === was[i] ? -1 : i)).filter((i) => i >= 0);
    const which = new Set(now).size === 1 && now.length > 1 ? `Every hidden layer's activation is now ${now[0]}`
      : changed.length === 1 ? `Layer ${changed[0] + 1}'s activation is now ${now[changed[0]]}`
        : `The activations are now ${now.join(", ")}`;
    return `${which}: ${at}, so training goes on from them with the new activation. ` +
      "Reset (r) to start afresh.";
  }
  if (!same(before.init, after.init) || before.seed !== after.seed) {
    const what = !same(before.init, after.init) ? `${capital(after.init.name)} initialization`
      : `Seed ${after.seed}`;
    return `${what} applies at the next reset: ${at}. Reset (r) to start from it.`;
  }
  return null;
}
