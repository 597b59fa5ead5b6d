"""The page's websocket: what it does when the server closes it for good, and when not."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .conftest import Page


def test_a_deleted_experiment_stops_the_page_reconnecting_and_says_why(page: Page) -> None:
    """It reconnected forever to an experiment that no longer exists (close code 4404),
    while the class page stopped: both follow one rule now."""
    opened: list[str] = []
    page.page.on("websocket", lambda ws: opened.append(ws.url))
    state: dict[str, Any] = page.js("({id: window.playground.id, token: window.playground.token})")
    r = httpx.delete(f"{page.server.http}/api/experiments/{state['id']}",
                     headers={"Authorization": f"Bearer {state['token']}"})
    assert r.status_code == 204
    page.wait("document.getElementById('status').textContent.includes('deleted')")
    assert page.page.text_content("#status").startswith("Not connected:")
    # A lost connection is retried within 5 s; one closed for good is not.
    page.page.wait_for_timeout(6000)
    assert opened == [], f"the page opened {len(opened)} sockets to a deleted experiment"
    assert page.errors == []


def test_a_server_restart_is_reconnected_by_itself(page: Page) -> None:
    opened: list[str] = []
    page.page.on("websocket", lambda ws: opened.append(ws.url))
    page.js("window.playground.socket.ws.close()")  # as a lost network does (code 1005)
    # "open" still holds until the close is seen: wait for the new socket itself
    deadline = time.monotonic() + 10
    while not opened and time.monotonic() < deadline:
        page.page.wait_for_timeout(50)
    page.wait("window.playground.connection === 'open' && "
              "window.playground.socket.ws.readyState === WebSocket.OPEN", timeout=10_000)
    page.settled()
    assert len(opened) == 1


def test_a_refetch_under_way_does_not_undo_a_change_answered_meanwhile(page: Page) -> None:
    """A refetch that started before a change came back with the config before it and
    put it over the change on the page (the server had the change; the page showed the
    old value, and the next edit went out from it)."""
    p = page.page
    held: list[tuple[Any, Any]] = []  # views fetched from the server, handed over later
    url = f"**/api/experiments/{page.js('window.playground.id')}"
    p.route(url, lambda route: held.append((route, route.fetch())) if not held
            else route.continue_())
    p.click("#add-layer")  # fresh weights: the page fetches the view again
    page.wait("window.playground.config.hidden_layers.length === 3")
    while not held:
        p.wait_for_timeout(50)
    p.select_option("#learning_rate", "0.3")  # answered while that view is on its way
    page.wait("window.playground.config.optimizer.learning_rate === 0.3")
    for route, response in held:  # the view from before the change arrives now
        route.fulfill(response=response)
    page.wait("window.playground.history.length === 1")  # the refetch has landed
    page.settled()
    assert page.config["optimizer"]["learning_rate"] == 0.3
    assert p.input_value("#learning_rate") == "0.3"
    assert page.server_view()["config"]["optimizer"]["learning_rate"] == 0.3
