"""Shares, forks, model files, lessons, embed mode and the gradient check, in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from backend.experiments.lessons import LESSONS

from .conftest import LiveServer, Page, wait_for


def train(p: Page, epochs: int) -> None:
    target = p.js("window.playground.epoch") + epochs
    for _ in range(epochs):
        p.page.keyboard.press("s")
    p.wait(f"window.playground.epoch === {target}")


def test_a_share_shows_the_network_as_it_was_and_forks(browser: Any, page: Page) -> None:
    train(page, 5)
    page.page.click("#share")
    link = page.page.locator("#share-url")
    link.wait_for()
    url = link.get_attribute("href")
    share_id = url.rsplit("/", 1)[1]
    assert page.page.locator("#share-class").get_attribute("href") == \
        f"/classes/new?share={share_id}"
    weights = page.js("window.playground.frame.header.weights")
    output = page.js("Array.from(window.playground.frame.grids.output.data)")
    train(page, 8)  # the original goes on; the snapshot must not
    shared = Page(browser, page.server, "")
    shared.page.goto(url)
    shared.wait("window.playground.shared && window.playground.frame")
    assert shared.js("window.playground.frame.header.epoch") == 5
    assert shared.page.text_content("#epoch").replace(",", "") == "000005"
    assert shared.js("window.playground.frame.header.weights") == weights
    assert shared.js("Array.from(window.playground.frame.grids.output.data)") == output
    assert "epoch 5" in shared.page.text_content("#banner")
    # Read-only: no tools that would change or fetch the experiment, no editor.
    for tool in ["#share", "#download", "#load-model", "#gradcheck", "#add-layer", "#play"]:
        assert not shared.page.is_visible(tool) or shared.page.is_disabled(tool), tool
    shared.page.locator(".neuron .bias").first.click()
    shared.page.locator("#links").click(position={"x": 120, "y": 120}, force=True)
    assert not shared.page.is_visible("#link-editor")
    assert shared.errors == []
    shared.page.click("#fork")
    shared.page.wait_for_url("**/?e=*")
    shared.wait("window.playground.frame && window.playground.socket")
    assert shared.js("window.playground.frame.header.epoch") == 5
    assert shared.js("window.playground.frame.header.weights") == weights
    shared.page.keyboard.press("s")
    shared.wait("window.playground.epoch === 6")  # it trains on from the shared weights
    assert shared.errors == [] and page.errors == []


def test_model_file_round_trip(page: Page, tmp_path: Path) -> None:
    train(page, 3)
    with page.page.expect_download() as info:
        page.page.click("#download")
    path = tmp_path / "model.json"
    info.value.save_as(path)
    saved = json.loads(path.read_text())
    assert saved["model"]["epoch"] == 3
    weights = page.js("window.playground.frame.header.weights")
    old_id = page.js("window.playground.id")
    page.page.set_input_files("#load-model", str(path))
    page.page.wait_for_url(lambda url: "?e=" in url and old_id not in url)  # a new experiment
    page.wait(f"window.playground && window.playground.id && window.playground.id !== '{old_id}' "
              "&& window.playground.frame")
    assert page.js("window.playground.frame.header.epoch") == 3
    assert page.js("window.playground.frame.header.weights") == weights
    assert page.errors == []


def test_lessons_gallery_opens_each_preset(browser: Any, server: LiveServer) -> None:
    p = browser.new_page()
    p.goto(f"{server.http}/lessons")
    p.wait_for_selector(".lesson")
    assert p.locator(".lesson").count() == len(LESSONS)
    links = p.locator(".lesson li a.preset")
    assert links.count() == sum(len(lesson.presets) for lesson in LESSONS.values())
    assert p.locator(".lesson li a.teach").count() == links.count()
    href = p.locator("#xor li a.teach >> nth=1").get_attribute("href")
    assert href == "/classes/new?lesson=xor&preset=1"
    # back / next: none before the first lesson, none after the last
    assert p.locator(".lesson .lesson-nav a").count() == 2 * len(LESSONS) - 2
    p.click("#xor li a.preset >> nth=1")
    wait_for(p, "window.playground && window.playground.frame")
    config = p.evaluate("window.playground.config")
    assert config["features"] == ["x1", "x2", "x1_x2"] and config["hidden_layers"] == []
    assert "XOR" in p.text_content("#banner")
    assert p.locator("#banner .lesson-nav a").count() >= 1
    # Play trains to the preset's epochs and stops there, where the lesson's claim is.
    epochs = LESSONS["xor"].presets[1].epochs
    p.click("#play")
    wait_for(p, f"window.playground.epoch === {epochs} && window.playground.status === 'paused'")
    p.close()


def test_a_lesson_link_without_a_config_starts_the_presets_own(
        browser: Any, server: LiveServer) -> None:
    """Bug: /?lesson=xor&preset=0 with no #config showed the lesson's text over the default
    network (circle, 4-2 tanh). A config in the address still wins."""
    p = Page(browser, server, "?lesson=xor&preset=0")
    config = p.config
    assert config["dataset"]["name"] == "xor" and config["hidden_layers"] == []
    assert config["optimizer"]["learning_rate"] == 0.1
    assert "no hidden layer" in p.page.text_content("#banner-text")
    assert "dataset=xor" in p.page.url and "lesson=xor&preset=0" in p.page.url
    p.page.goto(f"{server.http}/?lesson=xor&preset=0#dataset=circle&layers=3:tanh")
    p.wait("window.playground && window.playground.frame")
    config = p.config
    assert config["dataset"]["name"] == "circle" and len(config["hidden_layers"]) == 1
    assert p.errors == []
    p.page.close()


def test_embed_mode_is_just_the_playground(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server, "")
    p.page.goto(f"{server.http}/?embed=1#dataset=xor")
    p.wait("window.playground.frame")
    assert not p.page.is_visible("header.top")
    assert p.page.is_visible("#heatmap") and p.page.is_visible("#play")
    assert p.errors == []


def test_gradient_check_view(page: Page) -> None:
    page.page.click("#gradcheck")
    page.page.wait_for_selector(".gradcheck")
    rows = page.page.locator(".gradcheck tr")
    assert rows.count() == 1 + 3 + 1  # header, three dense layers, all
    assert "right" in page.page.text_content(".gradcheck")


def test_an_unknown_share_is_a_page_that_says_so(browser: Any, server: LiveServer) -> None:
    r = httpx.get(f"{server.http}/s/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    p = browser.new_page()
    p.goto(f"{server.http}/s/nope")
    assert "does not exist" in p.text_content("main")
    assert p.locator("a[href='/']").count() >= 1
    p.close()
