// The lessons gallery: each lesson's text, a link per preset (the config in the address) and
// back / next links to its neighbours.

import { lessonLinks, presetHref } from "./lessonnav.js";

async function main() {
  const lessons = await (await fetch("/api/lessons")).json();
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
      a.href = presetHref(lesson, k);
      a.textContent = preset.label;
      li.appendChild(a);
      const teach = document.createElement("a");
      teach.href = `/classes/new?lesson=${encodeURIComponent(lesson.id)}&preset=${k}`;
      teach.className = "teach";
      teach.textContent = "make a class";
      li.append(` (trains ${preset.epochs} epochs, then stops; `, teach, ")");
      links.appendChild(li);
    }
    card.append(h, p, links, lessonLinks(lessons, i));
    root.appendChild(card);
  });
}

main();
