// A lesson's banner over the playground (?lesson=ID&preset=K): its text, back / next links,
// and the epoch its preset trains to, where play stops (the lesson's claim is about it).

import { api } from "./api.js";
import { $ } from "./dom.js";
import { lessonLinks } from "./lessonnav.js";

export async function showLesson(store, params) {
  const id = params.get("lesson");
  if (!id) return;
  const lessons = await api.lessons();
  const lesson = lessons.find((l) => l.id === id);
  if (!lesson) return;
  const preset = lesson.presets[Number(params.get("preset") || 0)];
  $("banner-text").textContent = `${lesson.title}${preset ? ` (${preset.label})` : ""}: ` +
    `${lesson.text}`;
  if (preset) {
    store.set({ stopAt: preset.epochs });
    $("banner-text").append(` Press play: it trains ${preset.epochs} epochs and stops.`);
  }
  $("banner").append(lessonLinks(lessons, lessons.indexOf(lesson)));
  $("banner").hidden = false;
}
