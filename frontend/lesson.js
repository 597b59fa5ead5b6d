// A lesson's banner over the playground (?lesson=ID&preset=K): its text, back / next links,
// and the epoch its preset trains to, where play stops (the lesson's claim is about it).
// A class's new starting point replaces it: the banner, the target and the address follow.

import { api } from "./api.js";
import { $ } from "./dom.js";
import { lessonLinks } from "./lessonnav.js";

let lessons = null; // GET /api/lessons, once
const allLessons = () => (lessons ??= api.lessons());

/** The lesson and preset the address names ({lessons, lesson, k, preset}), or null. */
export async function lessonOf(params) {
  const id = params.get("lesson");
  if (!id) return null;
  const all = await allLessons();
  const lesson = all.find((l) => l.id === id);
  if (!lesson) return null;
  const k = Number(params.get("preset") || 0);
  return { lessons: all, lesson, k, preset: lesson.presets[k] };
}

/** The banner for a lessonOf() answer; none (null) takes the banner and the target away. */
export function showLesson(store, found) {
  $("banner").querySelector(".lesson-nav")?.remove();
  $("banner").hidden = !found;
  $("banner-text").textContent = "";
  store.set({ stopAt: found?.preset ? found.preset.epochs : 0 });
  if (!found) return;
  const { lessons: all, lesson, preset } = found;
  $("banner-text").textContent = `${lesson.title}${preset ? ` (${preset.label})` : ""}: ` +
    `${lesson.text}`;
  if (preset) $("banner-text").append(` Press play: it trains ${preset.epochs} epochs and stops.`);
  $("banner").append(lessonLinks(all, all.indexOf(lesson), store.state.meta.layer_types));
}

// The server's message on a student's experiment once the teacher sent a new starting
// point; a lesson's label is "<title>: <preset label>" (backend/experiments/classes.py).
const TEACHER_SENT = "Your teacher sent a new starting point: ";

/** A class's new starting point reaches this page as its message: the lesson follows it. */
export function followClass(store) {
  let seen = store.state.message;
  store.watch(["message"], async ({ message }) => {
    if (message === seen || !message?.startsWith(TEACHER_SENT)) return;
    seen = message;
    const label = message.slice(TEACHER_SENT.length);
    const all = await allLessons();
    const params = new URLSearchParams(location.search);
    params.delete("lesson");
    params.delete("preset");
    let found = null;
    for (const lesson of all) {
      const k = lesson.presets.findIndex((p) => `${lesson.title}: ${p.label}` === label);
      if (k >= 0) found = { lessons: all, lesson, k, preset: lesson.presets[k] };
    }
    if (found) { params.set("lesson", found.lesson.id); params.set("preset", found.k); }
    history.replaceState(null, "", `?${params}${location.hash}`);
    showLesson(store, found);
  });
}
