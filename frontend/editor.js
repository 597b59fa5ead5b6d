// The weight and bias editor: a small box where the link or bias was clicked. Enter sends
// a good number; anything else stays in the box with a message; Escape or leaving cancels.

import { numberInput } from "./numbers.js";

export class Editor {
  constructor({ box, label, input, message }, onSet) {
    Object.assign(this, { box, label, input, target: null });
    const submit = numberInput(input, message, () => ({}), (value) => {
      this.close();
      onSet(this.target, value);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
      else if (e.key === "Enter") submit();
    });
    input.addEventListener("blur", () => this.close());
  }

  /** Edit `target` ({layer, source (null: the bias), target}) now at `value`. */
  open(target, value, event) {
    this.target = target;
    this.label.textContent = target.source === null ? "Bias" : "Weight";
    this.input.value = Number(value ?? 0).toFixed(4);
    this.input.dispatchEvent(new Event("input")); // clears an old message
    const box = this.box.parentElement.getBoundingClientRect(); // its positioned column
    // By keyboard (Enter on a bias) there is no pointer: next to the bias, then.
    const at = event.detail === 0 && event.target.getBoundingClientRect
      ? event.target.getBoundingClientRect() : { right: event.clientX, bottom: event.clientY };
    this.box.style.left = `${at.right - box.left + 8}px`;
    this.box.style.top = `${at.bottom - box.top + 8}px`;
    this.box.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close() { this.box.hidden = true; }
}
