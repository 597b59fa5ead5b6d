"""Screenshots of the sequence views' harness at 1400, 1024 and 390 px, and its console
errors: `python tests/harness/shoot.py OUT [query]`. Serves the repository's root itself."""

from __future__ import annotations

import functools
import http.server
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    """The repository's root over HTTP on a free loopback port, in a thread."""
    handler = functools.partial(Quiet, directory=str(ROOT))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def main() -> int:
    out = Path(sys.argv[1])
    query = sys.argv[2] if len(sys.argv) > 2 else ""
    out.mkdir(parents=True, exist_ok=True)
    httpd, base = serve()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        for w, h in [(1400, 900), (1024, 768), (390, 844)]:
            page = browser.new_page(viewport={"width": w, "height": h})
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/tests/harness/sequences.html?{query}")
            page.wait_for_selector(".seq-heatmap")
            time.sleep(0.5)
            page.screenshot(path=str(out / f"seq-{w}.png"), full_page=True)
            wide = page.evaluate("document.documentElement.scrollWidth")
            print(out / f"seq-{w}.png", "scrollWidth", wide)
            page.close()
    httpd.shutdown()
    for e in errors:
        print("error:", e[:300])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
