// The status line (connection, training status, the server's message) and the notice, a
// message that stays until dismissed: the status line is rewritten by every frame. A
// notice about a change the user made ("passing") goes at their next action: it is news
// only until then. Errors and refusals stay.

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = {
  running: "Running", paused: "Paused", diverged: "Diverged", snapshot: "Snapshot (read-only)",
};

function line({ connection, status, message, mode, held }) {
  if (connection === "lost") return ["Connection lost: reconnecting by itself…", "lost"];
  if (connection === "connecting") return ["Connecting…", "lost"];
  if (connection === "refused") return [`Not connected: ${message}`, "lost"];
  if (connection === "limited") return [`Not connected: ${message}`, "lost"];
  if (held && status !== "running") return [held.charAt(0).toUpperCase() + held.slice(1), "held"];
  let text = STATUS_TEXT[status] || status;
  if (mode === "watch") text += " (watching, read-only)";
  return [message ? `${text}: ${message}` : text, status];
}

export function bindStatus(store) {
  store.watch(["status", "message", "connection", "mode", "held"], (state) => {
    const [text, kind] = line(state);
    $("status").textContent = text;
    $("status").className = `status ${kind}`;
  });
  let passing = false; // the notice on show is about the last change
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  return {
    /** A message in the status line, until the next frame says otherwise. */
    flash: (message) => store.set({ message }),
    /** A message that stays until dismissed; with {passing}, until the user's next action. */
    notice: (text, { passing: until = false } = {}) => {
      $("notice-text").textContent = text;
      $("notice").hidden = false;
      passing = until;
    },
    /** The user did something (a change, a command): a passing notice has had its time. */
    acted: () => {
      if (passing) $("notice").hidden = true;
      passing = false;
    },
  };
}
