"""Issue 9 in the browser: a diverged run reaches the page, which says so."""

from __future__ import annotations

from typing import Any

from .conftest import LiveServer, Page


def test_the_learning_rate_lessons_third_preset_shows_it_diverged(
        browser: Any, server: LiveServer) -> None:
    """Bug: frame headers held NaN in grad_norms; JSON.parse refused them, so this preset
    showed 'Paused' at epoch 0 instead of 'Diverged'."""
    p = Page(browser, server, "#problem=regression&dataset=reg-plane&layers=4:tanh&lr=3")
    p.page.keyboard.press("Space")
    p.wait("window.playground.status === 'diverged'")
    text = p.page.text_content("#status") or ""
    assert "Diverged" in text and "smaller learning rate" in text
    assert p.errors == []


def test_a_snapshot_of_a_diverged_run_says_so(browser: Any, server: LiveServer) -> None:
    """A newcomer's snapshot of a diverged run said only 'Snapshot (read-only)'; its copy
    then opened diverged, unexplained."""
    p = Page(browser, server, "#problem=regression&dataset=reg-plane&layers=4:tanh&lr=3")
    p.page.keyboard.press("Space")
    p.wait("window.playground.status === 'diverged'")
    p.page.click("#share")
    link = p.page.locator("#share-url")
    link.wait_for()
    shared = Page(browser, server, "")
    shared.page.goto(link.get_attribute("href") or "")
    shared.wait("window.playground.shared && window.playground.frame")
    status = shared.page.text_content("#status") or ""
    assert status.startswith("Snapshot (read-only): the run had diverged (the loss became NaN")
    assert "it diverged" in (shared.page.text_content("#banner") or "")
    assert p.errors == [] and shared.errors == []
