// The teacher's page: every student's network, live, from one class websocket (see
// backend/experiments/classfeed.py for why one socket and not one per student), sorted as
// the teacher chooses; pause all and lock, unlock; a new starting point for all; the
// results (frontend/results.js); the join link, big, with its QR code, and a warning when
// no student's device can reach it.
// The teacher token comes in the address's #fragment (never sent to a server), moves to
// this tab's sessionStorage, and leaves the address at once: the page may be projected.

import { ClassSocket, classes } from "./classapi.js";
import { paintGrid } from "./heatmap.js";
import { ResultsView } from "./results.js";
import { StartPicker } from "./startpicker.js";

const classId = document.body.dataset.class;
const TOKEN = `playground-class-token:${classId}`;
const SORT = "playground-class-sort";
const $ = (id) => document.getElementById(id);

const page = {
  token: null, rows: [], cards: new Map(), order: "", sort: "name", socket: null,
  locked: false, results: null,
  messages: 0, // class messages drawn, for the curious and the tests
};
window.playgroundClass = page;

function takeToken() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN, given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN);
}

function notice(text) {
  $("class-notice-text").textContent = text;
  $("class-notice").hidden = !text;
}

function say(text) { $("class-status").textContent = text; }

// the join link ------------------------------------------------------------------------------
const joinUrl = `${location.origin}/c/${classId}`;
$("join-link").textContent = joinUrl.replace(/^https?:\/\//, "");
$("join-link").href = joinUrl;

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Not a secure context (a school server on http://10.x): select, and copy the old way.
    const box = input || Object.assign(document.createElement("textarea"), { value: text });
    if (!input) document.body.appendChild(box);
    box.select();
    document.execCommand("copy");
    if (!input) box.remove();
  }
}

// 127.0.0.1, localhost and ::1 are, on a student's device, that device itself
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

function showReach(listening) {
  const bound = listening.loopback_only;
  const named = LOOPBACK.test(location.hostname);
  const warn = bound || named;
  $("reach-warning").hidden = !warn;
  $("join-box").classList.toggle("unreachable", warn);
  if (!warn) return;
  $("reach-why").textContent = bound
    ? `The server listens on this computer only (${listening.host}): other devices cannot ` +
      "reach it, whatever address they try."
    : `It names ${location.hostname}, which on a student's device is that device itself.`;
  $("reach-serve").hidden = !bound;
  $("reach-host").textContent = location.hostname;
  for (const el of document.querySelectorAll(".reach-port")) {
    el.textContent = location.port || (location.protocol === "https:" ? "443" : "80");
  }
}

// the QR code, as big as the screen, for the back of the room
$("qr-big-link").textContent = $("join-link").textContent;
$("qr-open").addEventListener("click", () => $("qr-big").showModal());
$("qr-close").addEventListener("click", () => $("qr-big").close());
$("qr-big").addEventListener("click", (e) => { if (e.target === $("qr-big")) $("qr-big").close(); });

$("copy-join").addEventListener("click", async () => {
  await copy(joinUrl);
  $("copied").textContent = "Copied";
  setTimeout(() => { $("copied").textContent = ""; }, 2000);
});
$("copy-teacher").addEventListener("click", () => copy($("teacher-link").value, $("teacher-link")));

// cards ----------------------------------------------------------------------------------------
function fmt(v) { return v == null || !Number.isFinite(v) ? "–" : v.toFixed(3); }

function makeCard(row) {
  const card = document.createElement("article");
  card.className = "student-card";
  card.dataset.experiment = row.experiment_id;
  const link = document.createElement("a");
  link.target = "_blank";
  link.rel = "noopener";
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 128;
  canvas.className = "student-thumb";
  const name = document.createElement("span");
  name.className = "student-name";
  const stats = document.createElement("span");
  stats.className = "student-stats";
  const epoch = document.createElement("span");
  epoch.className = "student-epoch";
  const loss = document.createElement("span");
  loss.className = "student-loss";
  const seed = document.createElement("span");
  seed.className = "student-seed";
  stats.append(epoch, loss, seed);
  const status = document.createElement("span");
  status.className = "student-status";
  link.append(canvas, name, stats, status);
  const remove = document.createElement("button");
  remove.className = "student-remove";
  remove.type = "button";
  remove.textContent = "×";
  remove.addEventListener("click", () => removeStudent(entry, remove));
  card.append(link, remove);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#eee";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const entry = { card, link, ctx, name, epoch, loss, seed, status, remove, row, painted: false };
  return entry;
}

function fillCard(entry, row) {
  entry.row = row;
  entry.name.textContent = row.name;
  entry.link.title = `Open ${row.name}'s network in a new tab (read-only)`;
  entry.remove.title = `Take ${row.name} off the class (their network is deleted)`;
  entry.remove.setAttribute("aria-label", entry.remove.title);
  entry.epoch.textContent = row.epoch == null ? "" : `epoch ${row.epoch.toLocaleString("en-US")}`;
  entry.loss.textContent = row.epoch == null ? "" : `test loss ${fmt(row.metrics.test_loss)}`;
  entry.seed.textContent = row.seed == null ? "" : `seed ${row.seed}`;
  entry.status.textContent = row.status;
  entry.status.className = `student-status ${row.status}`;
  entry.card.dataset.epoch = row.epoch ?? "";
  entry.card.dataset.status = row.status;
  entry.card.classList.toggle("gone", row.status === "gone");
  // a deleted network has no page to open
  if (row.status === "gone") entry.link.removeAttribute("href");
  else entry.link.href = `/?e=${encodeURIComponent(row.experiment_id)}`;
}

function paintThumb(entry, grid) {
  const kind = entry.row.output_kind || "probability";
  let scale = 1;
  if (kind === "scale") { // regression: colour by the thumbnail's own largest value
    scale = 1e-6;
    for (const v of grid.data) if (Math.abs(v) > scale) scale = Math.abs(v);
  }
  paintGrid(entry.ctx, grid, { kind, scale });
  entry.painted = true;
  entry.card.dataset.painted = "true";
}

const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base", numeric: true }),
  epoch: (a, b) => (b.epoch ?? -1) - (a.epoch ?? -1) || SORTS.name(a, b),
  loss: (a, b) => loss(a) - loss(b) || SORTS.name(a, b),
  joined: (a, b) => a.joined - b.joined,
};
function loss(row) {
  const v = row.metrics && row.metrics.test_loss;
  return v == null || !Number.isFinite(v) ? Infinity : v;
}

function render(rows, grids = {}) {
  page.rows = rows;
  const seen = new Set();
  for (const row of rows) {
    seen.add(row.experiment_id);
    let entry = page.cards.get(row.experiment_id);
    if (!entry) {
      entry = makeCard(row);
      page.cards.set(row.experiment_id, entry);
    }
    fillCard(entry, row);
    const grid = grids[row.experiment_id];
    if (grid) paintThumb(entry, grid);
  }
  for (const [id, entry] of page.cards) {
    if (!seen.has(id)) { entry.card.remove(); page.cards.delete(id); }
  }
  const sorted = [...rows].sort(SORTS[page.sort] || SORTS.name);
  const order = sorted.map((r) => r.experiment_id).join(" ");
  if (order !== page.order) { // move cards only when the order changed
    page.order = order;
    const grid = $("students");
    for (const row of sorted) grid.appendChild(page.cards.get(row.experiment_id).card);
  }
  $("empty").hidden = rows.length > 0 || !$("results").hidden;
  $("count").textContent = rows.length;
  $("running-count").textContent = rows.filter((r) => r.status === "running").length;
}

function showStart(start) {
  $("start-label").textContent = start.label +
    (start.generation > 1 ? ` (starting point ${start.generation})` : "");
  page.start = start;
  showSeeds();
}

function showSeeds() {
  if (!page.start || page.seedPerStudent == null) return;
  $("seeds").textContent = !page.seedPerStudent ? "the same for everyone"
    : page.start.epoch > 0 ? "the same for everyone: the starting point's weights were trained"
      : "one each: the starting point's seed plus the student's number";
}

function showLock(locked) {
  page.locked = locked;
  document.body.classList.toggle("locked", locked);
  $("lock-banner").hidden = !locked;
  $("pause-all").hidden = locked;
  $("unlock").hidden = !locked;
}

// actions ------------------------------------------------------------------------------------
function failures(failed) {
  return failed.length ? ` Not done for ${failed.map((f) => `${f.name} (${f.error})`).join("; ")}.`
    : "";
}

$("pause-all").addEventListener("click", async () => {
  $("pause-all").disabled = true;
  try {
    const result = await classes.lock(classId, page.token);
    render(result.students);
    showLock(result.locked);
    const n = result.paused.length;
    say(`${n ? `Paused ${n} student${n === 1 ? "" : "s"}` : "Nobody was training"}; the ` +
      "class is locked: nobody can train until you unlock." + failures(result.failed));
  } catch (e) {
    say(`Pause all failed: ${e.message}`);
  } finally {
    $("pause-all").disabled = false;
  }
});

$("unlock").addEventListener("click", async () => {
  $("unlock").disabled = true;
  try {
    const result = await classes.unlock(classId, page.token);
    showLock(result.locked);
    say("Unlocked: students may train again.");
  } catch (e) {
    say(`Unlock failed: ${e.message}`);
  } finally {
    $("unlock").disabled = false;
  }
});

// networks or results ------------------------------------------------------------------------
function showResults(on) {
  $("show-cards").setAttribute("aria-pressed", String(!on));
  $("show-results").setAttribute("aria-pressed", String(on));
  $("students").hidden = on;
  $("empty").hidden = on || page.rows.length > 0;
  $("sort").closest(".field").hidden = on; // the table sorts by its own columns
  if (page.results) page.results.show(on);
}
$("show-cards").addEventListener("click", () => showResults(false));
$("show-results").addEventListener("click", () => showResults(true));

const picker = new StartPicker($("start-picker"));
function toggleStart(open) {
  $("new-start").hidden = !open;
  $("new-start-toggle").setAttribute("aria-expanded", String(open));
  $("start-error").textContent = "";
}
$("new-start-toggle").addEventListener("click", () => toggleStart($("new-start").hidden));
$("cancel-start").addEventListener("click", () => toggleStart(false));
$("new-start").addEventListener("submit", async (event) => {
  event.preventDefault();
  let source;
  try { source = picker.read(); } catch (e) { $("start-error").textContent = e.message; return; }
  $("send-start").disabled = true;
  $("start-error").textContent = "";
  try {
    const result = await classes.start(classId, page.token, source);
    render(result.students);
    showStart(result.start);
    toggleStart(false);
    const n = result.reset.length;
    say(`New starting point sent: ${n} student${n === 1 ? "" : "s"} reset.` +
      failures(result.failed));
  } catch (e) {
    $("start-error").textContent = `Nothing was changed: ${e.message}.`;
  } finally {
    $("send-start").disabled = false;
  }
});

async function removeStudent(entry, button) {
  if (!button.classList.contains("confirm")) { // a second click within 3 s removes
    button.classList.add("confirm");
    button.textContent = "Remove?";
    setTimeout(() => { button.classList.remove("confirm"); button.textContent = "×"; }, 3000);
    return;
  }
  try {
    await classes.remove(classId, page.token, entry.row.experiment_id);
    render(page.rows.filter((r) => r.experiment_id !== entry.row.experiment_id));
    say(`${entry.row.name} was taken off the class.`);
  } catch (e) {
    say(`${entry.row.name} could not be removed: ${e.message}`);
  }
}

$("sort").addEventListener("change", () => {
  page.sort = $("sort").value;
  localStorage.setItem(SORT, page.sort);
  render(page.rows);
});

// start ----------------------------------------------------------------------------------------
async function start() {
  page.sort = localStorage.getItem(SORT) || "name";
  $("sort").value = page.sort;
  page.token = takeToken();
  if (!page.token) {
    notice("This page needs your teacher link (the one you got when you made the class, " +
      "ending in #token=…). Open it again, or make a new class.");
    $("connection").textContent = "";
    return;
  }
  $("teacher-link").value = `${location.origin}/c/${classId}/teacher#token=${page.token}`;
  let view;
  try {
    view = await classes.get(classId, page.token);
  } catch (e) {
    notice(e.status === 403 ? "This teacher link's token was refused: open the link you got " +
      "when you made the class." : `The class could not be loaded: ${e.message}`);
    $("connection").textContent = "";
    return;
  }
  page.seedPerStudent = view.seed_per_student;
  showStart(view.start);
  showLock(view.locked);
  showReach(view.listening);
  render(view.students);
  page.results = new ResultsView($("results"), {
    load: () => classes.results(classId, page.token),
    csv: () => classes.resultsCsv(classId, page.token),
    say,
  });
  picker.load(classes).catch(() => {});
  page.socket = new ClassSocket(classId, page.token, {
    onMessage: ({ header, grids }) => {
      page.messages += 1;
      $("class-name").textContent = header.name;
      if (header.start) showStart(header.start);
      if (header.locked !== undefined && header.locked !== page.locked) showLock(header.locked);
      render(header.students, grids);
      $("connection").textContent = "live";
      $("connection").className = "class-connection live";
    },
    onState: (state, detail) => {
      const text = { live: "live", lost: "reconnecting…", limited: "waiting…" }[state];
      $("connection").textContent = text ?? "";
      $("connection").className = `class-connection ${state}`;
      if (state === "refused" || state === "error" || state === "limited") notice(detail);
    },
  });
}

start();
