"""?e=ID without this browser's edit token: the page watches that experiment, read-only,
live, and offers a copy of one's own (issue 10: a link opened elsewhere, a teacher looking
at a student's experiment)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .conftest import LiveServer, Page, wait_for


class Elsewhere:
    """The page in another browser (a context of its own: no sessionStorage in common)."""

    def __init__(self, browser: Any, server: LiveServer, address: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 950})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server.http}{address}")
        self.wait("window.playground && window.playground.frame")

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def wait(self, expression: str, timeout: float = 15_000) -> None:
        wait_for(self.page, expression, timeout)


def test_a_link_without_the_token_watches_read_only_and_copies(browser: Any,
                                                                page: Page) -> None:
    owner = page
    for _ in range(3):
        owner.page.keyboard.press("s")
    owner.wait("window.playground.epoch === 3")
    exp_id = owner.js("window.playground.id")
    url = owner.page.url
    watcher = Elsewhere(browser, owner.server, url[url.index("/?"):])
    # the same experiment, not a new one
    assert watcher.js("window.playground.id") == exp_id
    assert watcher.js("window.playground.mode") == "watch"
    assert watcher.js("window.playground.token") is None
    assert watcher.js("window.playground.epoch") == 3
    notice = watcher.page.locator("#watching")
    assert notice.is_visible() and "Watching: read-only" in notice.text_content()
    assert "watching" in watcher.page.text_content("#status")
    for control in ["#play", "#step", "#reset", "#train-n", "#learning_rate", "#activation",
                    "#noise", "#regenerate", ".dataset >> nth=0", "#add-layer", "#share",
                    "#paint-class"]:
        loc = watcher.page.locator(control)
        assert not loc.is_visible() or loc.is_disabled(), control
    assert watcher.page.locator(".layer-head button").count() == 0  # no neuron + / -
    assert watcher.page.locator("button.feature").count() == 0
    # nothing it does reaches the experiment
    watcher.page.locator(".neuron .bias").first.click()
    assert not watcher.page.is_visible("#link-editor")
    watcher.page.keyboard.press("s")
    watcher.page.locator("#heatmap").click(position={"x": 150, "y": 150})
    time.sleep(0.5)
    view = owner.server_view()
    assert view["epoch"] == 3 and view["config"] == owner.config
    # live: the owner's training and changes show up
    owner.page.keyboard.press("s")
    watcher.wait("window.playground.epoch === 4")
    owner.page.select_option("#learning_rate", "0.3")
    watcher.wait("window.playground.config.optimizer.learning_rate === 0.3")
    assert watcher.page.input_value("#learning_rate") == "0.3"
    owner.page.click("#add-layer")
    watcher.wait("document.querySelectorAll('.neuron').length === 4 + 2 + 2 + 1")
    assert watcher.js("window.playground.config") == owner.server_view()["config"]
    # a copy of one's own: the same weights and epoch, and this browser may change it
    weights = httpx.get(f"{owner.server.http}/api/experiments/{exp_id}/weights").json()["layers"]
    epoch = owner.server_view()["epoch"]
    watcher.page.click("#copy")
    watcher.page.wait_for_url(lambda u: "?e=" in u and exp_id not in u)
    watcher.wait("window.playground && window.playground.socket && "
                 "window.playground.connection === 'open'")
    copy_id = watcher.js("window.playground.id")
    assert copy_id != exp_id and watcher.js("window.playground.mode") == "edit"
    assert not watcher.page.is_visible("#watching")
    copied = httpx.get(f"{owner.server.http}/api/experiments/{copy_id}/weights").json()["layers"]
    assert copied == weights and watcher.js("window.playground.epoch") == epoch
    watcher.page.keyboard.press("s")
    watcher.wait(f"window.playground.epoch === {epoch + 1}")
    assert owner.server_view()["epoch"] == epoch  # the original is untouched
    assert watcher.errors == [] and owner.errors == []
    watcher.context.close()


def test_an_id_that_is_gone_starts_anew(browser: Any, server: LiveServer) -> None:
    p = Elsewhere(browser, server, "/?e=nosuchexperiment#dataset=xor")
    assert p.js("window.playground.mode") == "edit"
    assert p.js("window.playground.id") != "nosuchexperiment"
    assert p.js("window.playground.config.dataset.name") == "xor"
    p.page.keyboard.press("s")
    p.wait("window.playground.epoch === 1")
    assert [e for e in p.errors if "404" not in e] == []  # the lookup of the missing id
    p.context.close()


def views(page: Page) -> list[tuple[bool, bool]]:
    """What the server knows this experiment's viewers show: (frames, neurons) each."""
    watch = page.server.app.state.service.runner.watch(page.js("window.playground.id"))
    return list(watch.views.values())


def test_the_page_tells_the_server_what_it_shows(page: Page) -> None:
    """A hidden tab gets no frames, a page scrolled past the network no neurons' grids;
    shown again, it gets them at once (and says so again after a reconnection)."""
    p = page.page
    opened: list[str] = []
    p.on("websocket", lambda ws: opened.append(ws.url))
    wait_for(p, "window.playground.connection === 'open'")
    page.settled()
    assert views(page) == [(True, True)]
    hide = ("hidden => { Object.defineProperty(document, 'hidden', {value: hidden, "
            "configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }")
    p.evaluate(hide, True)
    page.settled()
    assert views(page) == [(False, True)]
    frames = page.js("window.playground.render.frames")
    p.click("#play")  # pressed before the student went to the slides: it trains on
    deadline = time.monotonic() + 10
    while httpx.get(f"{page.server.http}/api/experiments/{page.js('window.playground.id')}"
                    ).json()["epoch"] < 5:
        assert time.monotonic() < deadline
        p.wait_for_timeout(50)
    page.settled()
    assert page.js("window.playground.render.frames") == frames
    p.evaluate(hide, False)
    page.wait(f"window.playground.render.frames > {frames} && window.playground.epoch >= 5")
    assert views(page) == [(True, True)]
    # the network off screen: frames without the neurons
    p.set_viewport_size({"width": 390, "height": 700})
    p.evaluate("document.getElementById('network').scrollIntoView()")
    wait_for(p, "window.playground.socket.view.neurons")
    page.settled()
    assert views(page) == [(True, True)]
    lit = ("(() => { const c = document.getElementById('thumbs'); const d = c.getContext('2d')"
           ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
           " for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()")
    drawn = page.js(lit)
    p.evaluate("window.scrollTo(0, 0)")  # up to the controls: the network a screen away
    wait_for(p, "!window.playground.socket.view.neurons")
    page.settled()
    assert views(page) == [(True, False)]
    page.wait("window.playground.frame.grids.output && !window.playground.frame.grids.layer1")
    frames = page.js("window.playground.render.frames")
    page.wait(f"window.playground.render.frames > {frames + 3}")
    assert page.js(lit) > 0.8 * drawn  # the thumbnails drawn last stay, not blanked
    page.js("window.playground.socket.ws.close()")  # a lost connection: told again
    while not opened:
        p.wait_for_timeout(50)
    page.wait("window.playground.connection === 'open' && "
              "window.playground.socket.ws.readyState === WebSocket.OPEN")
    page.settled()
    assert views(page) == [(True, False)]
    p.evaluate("document.getElementById('network').scrollIntoView()")
    wait_for(p, "window.playground.socket.view.neurons")
    page.settled()
    assert views(page) == [(True, True)]
    assert page.errors == []
