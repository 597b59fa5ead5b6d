"""The page's websocket: what it does when the server closes it for good, and when not."""

from __future__ import annotations

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
    page.wait("window.playground.connection === 'open'", timeout=10_000)
    assert len(opened) == 1
