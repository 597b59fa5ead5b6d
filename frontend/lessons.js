// The lessons gallery: each lesson's text, a link per preset (the config in the address) and
// back / next links to its neighbours.

import { lessonLinks, presetHref } from "./lessonnav.js";

async function main() {
  const [lessons, meta] = await Promise.all(["/api/lessons", "/api/meta"].map(
    async (path) => (await fetch(path)).json()));
  const types = meta.layer_types;
  const root = document.getElementById("lessons");
  lessons.forEach((lesson, i) => {
    const card = document.createElement("article");
    card.className = "lesson";
    card.id = lesson.id;
    const h = document.createElement("h2");
    h.textContent = `${i + 1}. ${lesson.title}`;
    const p = document.createElement("p");
    p.textContent = lesson.text;
    const links = document.createElement("ul");
    for (const [k, preset] of lesson.presets.entries()) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.className = "preset";
      a.href = presetHref(lesson, k, types);
      a.textContent = preset.label;
      li.appendChild(a);
      const teach = document.createElement("a");
      teach.href = `/classes/new?lesson=${encodeURIComponent(lesson.id)}&preset=${k}`;
      teach.className = "teach";
      teach.textContent = "make a class";
      li.append(` (trains ${preset.epochs} epochs, then stops; `, teach, ")");
      links.appendChild(li);
    }
    card.append(h, p, links, lessonLinks(lessons, i, types));
    root.appendChild(card);
  });
}

main();
