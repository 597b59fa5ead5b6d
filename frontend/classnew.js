// Make a class: a name and a starting point, then the teacher's page (its token in the
// #fragment, which no server sees; the page moves it into sessionStorage at once).

import { classes } from "./classapi.js";
import { StartPicker } from "./startpicker.js";

const $ = (id) => document.getElementById(id);
const picker = new StartPicker($("start-picker"));

$("new-class").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("new-error").textContent = "";
  let source;
  try { source = picker.read(); } catch (e) { $("new-error").textContent = e.message; return; }
  $("make-class").disabled = true;
  try {
    const made = await classes.create({ ...source, name: $("class-title").value,
      seed_per_student: $("seed-per-student").checked });
    location.href = made.teacher_url;
  } catch (e) {
    $("new-error").textContent = `The class was not made: ${e.message}.`;
    $("make-class").disabled = false;
  }
});

picker.load(classes)
  .then(() => picker.preset(new URLSearchParams(location.search)))
  .catch((e) => { $("new-error").textContent = `Lessons could not be loaded: ${e.message}`; });
