// Back / next between lessons: the same links on the lesson banner and in the gallery.

import { toHash } from "./url.js";

/** The address that opens a lesson's preset k in the playground (types: meta's layer_types). */
export function presetHref(lesson, k, types) {
  return `/?lesson=${lesson.id}&preset=${k}${toHash(lesson.presets[k].config, types)}`;
}

/** A nav with "back" and "next" to the neighbours of lessons[i] (their first preset). */
export function lessonLinks(lessons, i, types) {
  const nav = document.createElement("nav");
  nav.className = "lesson-nav";
  for (const [j, text] of [[i - 1, "← back"], [i + 1, "next →"]]) {
    const lesson = lessons[j];
    if (!lesson) continue;
    const a = document.createElement("a");
    a.href = lesson.presets.length ? presetHref(lesson, 0, types) : `/lessons#${lesson.id}`;
    a.textContent = `${text}: ${lesson.title}`;
    a.className = j < i ? "back" : "next";
    nav.appendChild(a);
  }
  return nav;
}
