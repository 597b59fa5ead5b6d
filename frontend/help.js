// Each control's help, for a finger and a keyboard as well as a mouse: the sentence of its
// tooltip (its title, the one place it is written) opens right after the control with a
// small "?" button, and closes with it again.

// The controls that have help: the settings, the data's sliders, the output's options; and
// rows of buttons (uploads, tools), which get one "?" for the row, saying what each does.
const HELPED = "#settings .field[title], #data-controls .slider[title], " +
  ".column.output .legend > [title], .column.output label.check[title]";
const ROWS = "#data-tools, #tools";

let made = 0;

/** The control's name, for the button's label: its text up to a colon. */
function nameOf(control) {
  const text = (control.querySelector("span") || control).textContent;
  return text.split(":")[0].replace(/\s+/g, " ").trim() || "this control";
}

/** A "?" button that shows and hides `text` (an element, hidden at first). */
function toggle(text, name) {
  const id = `help-${++made}`;
  text.classList.add("help-text");
  text.id = id;
  text.hidden = true;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "help";
  button.textContent = "?";
  button.setAttribute("aria-label", `Help: ${name}`);
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", id);
  button.addEventListener("click", (e) => {
    e.preventDefault(); // inside a label: not a click on its control
    text.hidden = !text.hidden;
    button.setAttribute("aria-expanded", String(!text.hidden));
  });
  return button;
}

/** A "?" button for one control, and its sentence, shown right after the control. */
export function addHelp(control) {
  if (control.dataset.help) return; // once
  const text = document.createElement("p");
  text.textContent = control.title;
  const button = toggle(text, nameOf(control));
  control.dataset.help = text.id;
  // after its control, which the label still labels (a button in a label is not its control)
  control.append(button);
  control.after(text);
}

/** One "?" for a row of buttons: what each of them does, a line each, under the row. */
function addRowHelp(row) {
  const titled = [...row.querySelectorAll("[title]")];
  if (!titled.length) return;
  const text = document.createElement("ul");
  text.append(...titled.map((b) => {
    const item = document.createElement("li");
    const name = document.createElement("b");
    name.textContent = b.textContent.trim();
    item.append(name, `: ${b.title}`);
    return item;
  }));
  const button = toggle(text, titled.map((b) => b.textContent.trim()).join(", "));
  row.append(button);
  row.after(text);
}

export function bindHelp() {
  document.querySelectorAll(HELPED).forEach(addHelp);
  document.querySelectorAll(ROWS).forEach(addRowHelp);
}
