// The lessons gallery: each lesson's text and a link per preset (the config in the address).

import { toHash } from "./url.js";

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
      a.href = `/?lesson=${lesson.id}&preset=${k}${toHash(preset.config)}`;
      a.textContent = preset.label;
      li.appendChild(a);
      li.append(` (about ${preset.epochs} epochs)`);
      links.appendChild(li);
    }
    card.append(h, p, links);
    root.appendChild(card);
  });
}

main();
