// The page's one state object. Modules change it with set(partial); each part of the view
// renders from it in a watcher named by the keys it reads. Nothing calls a render by hand.

/**
 * What the page holds. mode: "edit" (this tab has the edit token), "watch" (someone
 * else's experiment, live, read-only) or "shared" (a snapshot, read-only, never changes).
 */
export function initialState() {
  return {
    meta: null, mode: "edit", embed: false, id: null, token: null, shareId: null,
    config: null, points: null, extent: 6, nClasses: 2, dataScale: 1, history: [],
    revision: -1, status: "paused", message: "", connection: "connecting",
    held: "", // why it may not train now (a teacher locked the class), from the frames
    epoch: 0, frame: null, stopAt: 0, hover: null,
    // the kind of data the network takes as the frames say it ("images", "sequences";
    // "points"): what only the server knows of an upload
    input: null,
    // images: the test example chosen, and its maps when not the frame's; or ("drawing")
    // the user's drawing, read by POST /maps
    example: 0, maps: null, source: "example", drawn: null,
    // sequences (sequences.js): the test example chosen, the newest answer about it (a
    // frame's `sequence` or GET /sequence), and a drawn wave's answer while drawing
    sequenceExample: 0, sequence: null, sequenceDrawing: false, sequenceDrawn: null,
    view: { showTest: false, discretize: false, accuracy: false, logScale: false },
    socket: null,
    render: { frames: 0, ms: 0 }, // frames drawn and the milliseconds spent decoding and drawing them
    get shared() { return this.mode === "shared"; },
    /** Where maps, mistakes and summary are read: the snapshot's routes or the experiment's. */
    get reads() {
      return this.shareId ? `/api/shares/${this.shareId}` : this.id && `/api/experiments/${this.id}`;
    },
    get editable() { return this.mode === "edit"; },
  };
}

export function createStore(state) {
  const watchers = [];
  const notify = (changed) => {
    for (const { keys, render } of watchers) {
      if (keys.some((k) => changed.includes(k))) render(state);
    }
  };
  return {
    state,
    /** Change some keys; the watchers of those that changed (by identity) render. */
    set(partial) {
      const changed = Object.keys(partial).filter((k) => state[k] !== partial[k]);
      Object.assign(state, partial);
      if (changed.length) notify(changed);
    },
    /** Render the watchers of these keys again, unchanged (a refused change: snap back). */
    touch(...keys) { notify(keys); },
    /** render(state) whenever one of `keys` changes. */
    watch(keys, render) { watchers.push({ keys, render }); },
  };
}
