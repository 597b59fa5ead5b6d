// The playground page: one state object (state.js), the modules that render from it and
// send what the user does, and the start: a snapshot (/s/ID), an experiment of the
// address (?e=ID, editable or watched), or a new one from the config in the address.

import { attach, bindAddress } from "./address.js";
import { api } from "./api.js";
import { bindData } from "./datapanel.js";
import { bindDiagram } from "./diagram.js";
import { $ } from "./dom.js";
import { bindDraw } from "./draw.js";
import { bindHelp } from "./help.js";
import { bindImages } from "./images.js";
import { bindLayerList } from "./layerlist.js";
import { followClass, lessonOf, showLesson } from "./lesson.js";
import { bindMistakes } from "./mistakes.js";
import { bindModes } from "./modes.js";
import { bindOutput } from "./output.js";
import { bindPace } from "./pace.js";
import { bindSequences } from "./sequences.js";
import { Session } from "./session.js";
import { bindSettings } from "./settings.js";
import { createStore, initialState } from "./state.js";
import { bindStatus } from "./status.js";
import { bindTools } from "./tools.js";
import { fromHash } from "./url.js";

const store = createStore(initialState());
window.playground = store.state; // for the curious, and for the browser tests
const { flash, notice, acted } = bindStatus(store);
const session = new Session(store, { flash, notice, acted });
const change = (changes) => session.change(changes);
const command = (type, extra) => session.command(type, extra);

function bind() {
  bindAddress(store, { change, notice });
  bindModes(store, flash);
  bindSettings(store, change);
  bindPace(store, { command, flash });
  bindData(store, { change, flash });
  bindDiagram(store, { change, command, flash });
  bindOutput(store);
  bindLayerList(store, { change });
  bindMistakes(store, bindImages(store));
  bindDraw(store);
  bindSequences(store);
  bindTools(store, flash);
  bindHelp();
}

/** A snapshot: drawn once from its REST routes, never changing; no websocket. */
async function startShared(shareId) {
  const snapshot = await api.snapshot(shareId);
  const [points, frame] = await Promise.all([ // images have no points: their frame has it all
    snapshot.config.features.length ? api.snapshotPoints(shareId) : null,
    api.snapshotFrame(shareId)]);
  store.set({
    mode: "shared", shareId, config: snapshot.config, points, extent: points ? points.extent : snapshot.extent,
    nClasses: points ? points.n_classes : snapshot.n_classes, dataScale: snapshot.data_scale, history: snapshot.history.rows,
    connection: "open",
  });
  session.frame(frame);
  // a snapshot of a run that diverged says so: its copy starts diverged too
  const diverged = snapshot.status === "diverged";
  store.set({ status: "snapshot", message: diverged ? `the run had diverged (${snapshot.message})` : "" });
  const epoch = snapshot.epoch ?? snapshot.model?.epoch; // older servers nest it
  $("banner-text").textContent = `A shared snapshot at epoch ${epoch}: the network ` +
    "exactly as it was shared. It never changes; make your own copy to train it further" +
    (diverged ? " (it diverged: change the learning rate or reset it there)." : ".");
  $("banner").hidden = false;
}

async function start() {
  const params = new URLSearchParams(location.search);
  document.body.classList.toggle("embed", params.get("embed") === "1");
  const meta = await api.meta();
  store.set({ meta, view: { ...store.state.view, ...fromHash(location.hash, meta.layer_types).view } });
  bind();
  if (document.body.dataset.share) {
    await startShared(document.body.dataset.share);
    return;
  }
  // A lesson's link without the config in its address starts the preset's own config.
  const lesson = await lessonOf(params);
  const { exp, mode, refused } = await attach(params, meta.layer_types, lesson?.preset?.config);
  if (refused.length) {
    notice(`Parts of the address were refused and use the defaults instead: ${refused.join("; ")}.`);
  }
  document.body.dataset.experiment = exp.id;
  await session.open({ id: exp.id, token: exp.edit_token ?? null, mode });
  showLesson(store, lesson);
  followClass(store);
}

start().catch((error) => notice(`The page could not start: ${error.message}. Reload to try again.`));
