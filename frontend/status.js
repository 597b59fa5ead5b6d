// The status line (connection, training status, the server's message) and the notice, a
// message that stays until dismissed: the status line is rewritten by every frame.

const $ = (id) => document.getElementById(id);
const STATUS_TEXT = {
  running: "Running", paused: "Paused", diverged: "Diverged", snapshot: "Snapshot (read-only)",
};

function line({ connection, status, message, mode }) {
  if (connection === "lost") return ["Connection lost: reconnecting by itself…", "lost"];
  if (connection === "connecting") return ["Connecting…", "lost"];
  let text = STATUS_TEXT[status] || status;
  if (mode === "watch") text += " (watching, read-only)";
  return [message ? `${text}: ${message}` : text, status];
}

export function bindStatus(store) {
  store.watch(["status", "message", "connection", "mode"], (state) => {
    const [text, kind] = line(state);
    $("status").textContent = text;
    $("status").className = `status ${kind}`;
  });
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  return {
    /** A message in the status line, until the next frame says otherwise. */
    flash: (message) => store.set({ message }),
    notice: (text) => {
      $("notice-text").textContent = text;
      $("notice").hidden = false;
    },
  };
}
