// Choosing a class's starting point: a lesson preset from a menu, or a pasted link to a
// shared network (/s/ID), a playground (/?e=ID, or a setup in the address's #fragment).
// -> the body POST /api/classes and /start take: {lesson, preset} | {share_id} |
// {experiment_id} | {config}.

import { fromHash } from "./url.js";

const ID = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * A pasted link or id -> a starting point, or an Error that says what to paste. types:
 * /api/meta's layer_types, to read a setup's layers.
 */
export function parseLink(text, types) {
  const raw = text.trim();
  if (!raw) throw new Error("paste a link to a shared network (/s/…) or a playground (/?e=…)");
  if (ID.test(raw)) return raw.length <= 16 ? { share_id: raw } : { experiment_id: raw };
  let url;
  try { url = new URL(raw, location.origin); } catch { throw new Error(`not a link: ${raw}`); }
  const share = url.pathname.match(/\/s\/([A-Za-z0-9_-]+)/);
  if (share) return { share_id: share[1] };
  const params = url.searchParams;
  if (params.get("e")) return { experiment_id: params.get("e") };
  if (params.get("lesson")) {
    return { lesson: params.get("lesson"), preset: Number(params.get("preset") || 0) };
  }
  const { config } = fromHash(url.hash, types);
  if (Object.keys(config).length) return { config };
  throw new Error("this link names no network: copy it from the playground's address " +
    "(with ?e=…) or from Share (/s/…)");
}

export class StartPicker {
  constructor(root) {
    this.root = root;
    this.lesson = root.querySelector("#start-lesson");
    this.link = root.querySelector("#start-link");
    this.kinds = root.querySelectorAll("input[name=start-kind]");
    this.types = []; // /api/meta's layer_types, once load() has them
    this.lesson.addEventListener("change", () => this.choose("lesson"));
    this.link.addEventListener("input", () => this.choose("link"));
  }

  async load(api) {
    const [lessons, meta] = await Promise.all([api.lessons(), api.meta()]);
    this.types = meta.layer_types;
    for (const lesson of lessons) {
      const group = document.createElement("optgroup");
      group.label = lesson.title;
      lesson.presets.forEach((preset, k) => {
        const option = document.createElement("option");
        option.value = `${lesson.id}/${k}`;
        option.textContent = preset.label;
        group.appendChild(option);
      });
      this.lesson.appendChild(group);
    }
  }

  choose(kind) { for (const k of this.kinds) k.checked = k.value === kind; }

  /** Preselect from an address: ?lesson=&preset=, ?share=, ?e= (links from elsewhere). */
  preset(params) {
    if (params.get("lesson")) {
      this.lesson.value = `${params.get("lesson")}/${params.get("preset") || 0}`;
      this.choose("lesson");
    } else if (params.get("share") || params.get("e")) {
      this.link.value = params.get("share") ? `/s/${params.get("share")}` : `/?e=${params.get("e")}`;
      this.choose("link");
    }
  }

  /** The chosen starting point, or an Error. */
  read() {
    const kind = [...this.kinds].find((k) => k.checked)?.value;
    if (kind === "link") return parseLink(this.link.value, this.types);
    const [lesson, preset] = (this.lesson.value || "").split("/");
    if (!lesson) throw new Error("choose a lesson preset");
    return { lesson, preset: Number(preset) };
  }
}
