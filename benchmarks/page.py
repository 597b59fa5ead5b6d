"""Page benchmark: is rendering the bottleneck? Chromium (headless) watches a 6x8 spiral.

Starts `playground serve`, opens the page, presses play and, for a few seconds, counts
the frames the page drew, the milliseconds it spent drawing each, and the browser's own
animation-frame rate. Run from the repository root:

    python benchmarks/page.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.server import free_port, start_server

SPIRAL = ("#dataset=spiral&features=x1,x2,x1_squared,x2_squared,x1_x2,sin_x1,sin_x2"
          "&layers=8:tanh,8:tanh,8:tanh,8:tanh,8:tanh,8:tanh&lr=0.03&batch=10&showTest=true")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_server(port, data_dir)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 950})
                page.goto(f"http://127.0.0.1:{port}/{SPIRAL}")
                page.wait_for_function("window.playground && window.playground.frame")
                page.click("#play")
                time.sleep(1.0)
                page.evaluate("""window.__raf = 0; (function tick() {
                    window.__raf++; requestAnimationFrame(tick); })();""")
                r0 = page.evaluate("({...window.playground.render})")
                e0 = page.evaluate("window.playground.epoch")
                time.sleep(args.seconds)
                r1 = page.evaluate("({...window.playground.render})")
                e1 = page.evaluate("window.playground.epoch")
                raf = page.evaluate("window.__raf")
                page.click("#play")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    frames = r1["frames"] - r0["frames"]
    ms = (r1["ms"] - r0["ms"]) / max(frames, 1)
    print(f"page benchmark: headless Chromium, spiral, 7 features, 6x8 tanh, batch 10, "
          f"{args.seconds:g} s")
    print("| frames drawn per s | ms per frame drawn | animation frames per s | "
          "epochs per s | target | met |")
    print("|---|---|---|---|---|---|")
    fps = frames / args.seconds
    met = fps >= 27 and ms < 1000 / 30 / 2
    print(f"| {fps:.1f} | {ms:.2f} | {raf / args.seconds:.0f} | {(e1 - e0) / args.seconds:.0f} | "
          f"30 frames/s, drawing < half a frame's time | {'yes' if met else 'no'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
