// The link with the experiment on the server: its view fetched over REST, its frames and
// commands over the websocket. Everything it learns goes into the store; it draws nothing.

import { api, decodeFrame, gate, Socket } from "./api.js";
import { changeNotice } from "./changes.js";
import { isImages } from "./dom.js";

export class Session {
  constructor(store, { flash, notice, acted }) {
    Object.assign(this, { store, flash, notice, acted });
    this.refreshing = null; // the refresh under way; a second request runs once it is done
    this.again = false;
    this.frames = 0; // frames taken in: one during a fetch is newer than the fetched status
    this.changes = 0; // changes answered: one during a fetch is newer than the fetched config
    this.shown = { frames: true, neurons: true };
    this.followShown();
  }

  /** Frames cost the server what this page shows: none while the tab is hidden, no
   * neurons' grids while the network is off screen (scrolled away, or images). */
  followShown() {
    const tell = (view) => {
      Object.assign(this.shown, view);
      this.state.socket?.show(this.shown);
    };
    document.addEventListener("visibilitychange", () => tell({ frames: !document.hidden }));
    const network = document.getElementById("network");
    if (network) { // a screen ahead: the neurons are there by the time it scrolls in
      new IntersectionObserver((entries) => tell({ neurons: entries.at(-1).isIntersecting }),
        { rootMargin: "100% 0px" }).observe(network);
    }
    this.shown.frames = !document.hidden;
  }

  get state() { return this.store.state; }

  /** Show an experiment ({id, token, mode}), then watch it (with a token, command it). */
  async open(which) {
    await this.fetch(which);
    this.connect();
  }

  connect() {
    const { id, token } = this.state;
    const socket = new Socket(id, token, {
      onFrame: (buffer) => this.frame(buffer),
      onHello: () => this.store.set({ connection: "open" }),
      onState: (kind, detail) => {
        if (kind === "lost") this.store.set({ connection: "lost" });
        else if (kind === "refused" || kind === "limited") {
          this.store.set({ connection: kind, message: detail });
        }
        else if (kind === "error") this.store.set({ message: detail });
        else this.store.touch("connection");
      },
    });
    socket.show(this.shown);
    this.store.set({ socket });
  }

  /** Send a config change; the reply's config is the page's. */
  async change(changes) {
    const { socket, config: before } = this.state;
    if (!socket || !this.state.editable) return null;
    this.acted();
    const reply = await gate.write(async () => {
      const answer = await socket.send({ type: "update", config: changes });
      if (answer.type !== "error") {
        this.changes += 1;
        this.store.set({ config: answer.config });
      }
      return answer;
    });
    if (reply.type === "error") {
      this.flash(reply.message);
      this.store.touch("config"); // the control shows what holds again
      return reply;
    }
    if (!reply.weights_kept) this.refresh();
    // Fresh weights (a new data set, a new network) or the same ones going on with a new
    // activation: the page says which, as the server's answer says.
    const said = changeNotice(before, reply.config,
      { kept: reply.weights_kept, meta: this.state.meta, epoch: this.state.epoch });
    if (said) this.notice(said, { passing: true });
    return reply;
  }

  /** play, pause, step, reset, set_weight: a refusal is said in the notice. */
  async command(type, extra = {}) {
    const { socket } = this.state;
    if (!socket || !this.state.editable) return;
    this.acted();
    const reply = await socket.send({ type, ...extra });
    // a refusal (a step while it runs) stays until the next action: in the status line,
    // the next frame would overwrite it at once
    if (reply.type === "error") this.notice(reply.message, { passing: true });
  }

  /** Fetch the experiment's view, points and curve again (once at a time, then once more). */
  refresh() {
    if (this.refreshing) { this.again = true; return this.refreshing; }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.fetch();
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  async fetch(which = {}) {
    const id = which.id ?? this.state.id;
    const framesBefore = this.frames, changesBefore = this.changes;
    const exp = await api.get(id);
    // A change sent meanwhile may have made them images: ask again rather than ask for points.
    if ((gate.change || this.changes !== changesBefore) && !which.id) { this.again = true; return; }
    // Images have no plane and no points (their frames carry the examples).
    const [points, history] = await Promise.all([
      isImages(exp.config) ? null : api.points(id), api.history(id)]);
    // A change answered meanwhile: this view is of the config before it, which would undo
    // it on the page. Fetch again (the server has it by now) rather than show the old one.
    if (this.changes !== changesBefore && !which.id) { this.again = true; return; }
    // A frame that came meanwhile (a play just pressed) knows the status better.
    const status = this.frames === framesBefore ? { status: exp.status, message: exp.message } : {};
    this.store.set({
      ...which, config: exp.config, points, extent: points ? points.extent : exp.extent,
      nClasses: points ? points.n_classes : exp.n_classes,
      dataScale: exp.data_scale, revision: exp.revision, ...status, history: history.rows,
    });
  }

  async reloadHistory() {
    const { id } = this.state;
    try {
      const { rows } = await api.history(id);
      if (id === this.state.id) this.store.set({ history: rows });
    } catch { /* the curve keeps the epochs it has */ }
  }

  /** A binary frame: decoded and put in the store, where the view draws it from. */
  frame(buffer) {
    const started = performance.now();
    const frame = decodeFrame(buffer);
    const { header } = frame;
    this.frames += 1;
    // frames skip epochs while it runs: once it stops, the curve gets every one (a run that
    // blew up in three epochs shows all three)
    if (header.status !== this.state.status && header.status !== "running" && !this.state.shared) {
      this.reloadHistory();
    }
    if (!this.state.shared && header.revision !== this.state.revision && this.state.revision >= 0) {
      this.state.revision = header.revision; // set before the refetch, which sets it for good
      this.refresh();
    }
    const input = header.input || "points";
    this.store.set({ frame, epoch: header.epoch, status: header.status, message: header.message,
      held: header.held || "", ...(input === this.state.input ? {} : { input }) });
    const { frames, ms } = this.state.render;
    this.state.render = { frames: frames + 1, ms: ms + performance.now() - started };
  }
}
