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
