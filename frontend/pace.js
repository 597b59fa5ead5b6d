// Run, pause, step, reset, the speed and "train exactly N epochs", their keys, and the
// epoch counter. A lesson's preset (state.stopAt) trains to the epoch its claim names.

import { $ } from "./dom.js";

export function bindPace(store, { command, flash }) {
  /** The pace chosen (epochs a second), or none: as fast as the server goes. */
  const speed = () => {
    const v = Number($("speed").value);
    return v > 0 ? { speed: v } : {};
  };
  const togglePlay = () => {
    const { status, stopAt, epoch } = store.state;
    if (status === "running") { command("pause"); return; }
    const left = stopAt - epoch;
    command("play", left > 0 ? { epochs: left, ...speed() } : speed());
  };
  $("play").addEventListener("click", togglePlay);
  $("step").addEventListener("click", () => command("step"));
  $("reset").addEventListener("click", () => command("reset"));
  $("train-n").addEventListener("click", () => {
    const epochs = Number($("train-epochs").value);
    if (!Number.isInteger(epochs) || epochs < 1) {
      flash("train: a whole number of epochs, 1 or more");
      return;
    }
    command("play", { epochs, ...speed() });
  });
  // A new pace applies at once: a play while running changes only the pace.
  $("speed").addEventListener("change", () => {
    if (store.state.status === "running") command("play", speed());
  });
  // Space is run/pause everywhere but where typing or choosing takes it (a text field, a
  // select, a slider): on a button or checkbox just clicked it would press it again.
  // Some browsers press on keyup even after a prevented keydown: held back there too.
  // Enter still presses the focused button, and Tab still reaches every control.
  const typing = (target) => target.closest("input:not([type=checkbox], [type=radio], " +
    "[type=button], [type=submit], [type=reset], [type=file]), select, textarea, [contenteditable]");
  document.addEventListener("keyup", (e) => {
    if (e.key === " " && !typing(e.target)) e.preventDefault();
  });
  document.addEventListener("keydown", (e) => {
    if (typing(e.target)) return;
    if (e.key === " ") { e.preventDefault(); if (!e.repeat) togglePlay(); }
    else if (e.key === "s") command("step");
    else if (e.key === "r") command("reset");
  });

  store.watch(["status"], ({ status }) => {
    $("play").classList.toggle("playing", status === "running");
    $("play").setAttribute("aria-label", status === "running" ? "Pause" : "Run");
  });
  // a teacher's lock: the server refuses training; the buttons say so before a press
  store.watch(["held"], ({ held }) => {
    for (const id of ["play", "step", "train-n"]) {
      $(id).disabled = Boolean(held);
      $(id).classList.toggle("held", Boolean(held));
    }
    $("play").title = held ? "Your teacher has paused the class" : "Run / pause (space)";
  });
  store.watch(["epoch"], ({ epoch }) => {
    $("epoch").textContent = epoch.toLocaleString("en-US", { minimumIntegerDigits: 6 });
  });
  // no target (a lesson gone): the field's own default again, not the old lesson's
  store.watch(["stopAt"], ({ stopAt }) => {
    $("train-epochs").value = stopAt || $("train-epochs").defaultValue;
  });
}
