// A student joins a class: a name, then a network of their own (the playground at /?e=ID,
// its edit token handed over in this tab's sessionStorage, as the playground keeps it).
// This browser remembers the seat (localStorage), so the link leads back to the same
// network next time.

import { classes } from "./classapi.js";

const classId = document.body.dataset.class;
const SEAT = `playground-class:${classId}`;
const TOKENS = "playground-token:"; // frontend/address.js's key: the playground reads it
const $ = (id) => document.getElementById(id);

function remembered() {
  try { return JSON.parse(localStorage.getItem(SEAT) || "null"); } catch { return null; }
}

let info = null; // GET /api/classes/{id}/join: name, seats, the lesson it starts from

function go(seat, url) {
  sessionStorage.setItem(TOKENS + seat.experiment_id, seat.edit_token);
  location.href = url;
}

/** The playground of a seat; with the lesson the class starts from now, if any. */
function playgroundOf(seat) {
  const lesson = info && info.lesson ? `&lesson=${info.lesson}&preset=${info.preset}` : "";
  return `/?e=${encodeURIComponent(seat.experiment_id)}${lesson}`;
}

async function offerSeat() {
  const seat = remembered();
  if (!seat || !seat.experiment_id) return;
  try {
    await classes.experiment(seat.experiment_id);
  } catch (error) {
    if (error.status === 404) { localStorage.removeItem(SEAT); return; } // deleted
  }
  $("again-name").textContent = seat.name;
  $("again").hidden = false;
  $("join").hidden = true;
  $("continue").addEventListener("click", () => go(seat, playgroundOf(seat)));
  $("other").addEventListener("click", () => {
    $("again").hidden = true;
    $("join").hidden = false;
    $("name").focus();
  });
}

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  const error = $("join-error");
  error.textContent = "";
  $("name").removeAttribute("aria-invalid");
  if (!name) {
    error.textContent = "Type your name first.";
    $("name").setAttribute("aria-invalid", "true");
    return;
  }
  $("join-button").disabled = true;
  try {
    const seat = await classes.join(classId, name);
    localStorage.setItem(SEAT, JSON.stringify(seat));
    go(seat, seat.playground_url);
  } catch (e) {
    error.textContent = e.message.charAt(0).toUpperCase() + e.message.slice(1) + ".";
    $("name").setAttribute("aria-invalid", "true");
    $("join-button").disabled = false;
  }
});

async function start() {
  try {
    info = await classes.info(classId);
    if (info.full) $("join-error").textContent = "This class is full: ask your teacher.";
  } catch { /* the form still works; a join says what is wrong */ }
  await offerSeat();
}

start();
