"""The page on a sequence experiment in a real Chromium, against a live server: the wave,
each recurrent layer's states and gates as heatmaps, the gradient through time redrawn
while it trains, another test sequence picked, a wave drawn with the mouse and read by
the network, the confusion matrix; each compared with what the server answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import LiveServer, Page
from .test_browser import shots
from .test_browser_sequences_view import INKED, drag

WAVES = {"dataset": {"name": "waves", "n_samples": 200, "noise": 0.02},
         "hidden_layers": [{"type": "lstm", "units": 8}],
         "optimizer": {"name": "adam", "learning_rate": 0.02}, "batch_size": 20}
GRADIENT = "document.querySelector('#seq-gradient').toDataURL()"


def open_experiment(browser: Any, server: LiveServer, config: dict[str, Any]) -> Page:
    """A page on a new experiment of `config`, editable: its token in this tab's storage,
    as the page keeps it."""
    exp = httpx.post(f"{server.http}/api/experiments", json=config).json()
    page = Page(browser, server)
    page.js(f"sessionStorage.setItem('playground-token:{exp['id']}', '{exp['edit_token']}')")
    page.page.goto(f"{server.http}/?e={exp['id']}")
    page.wait(f"window.playground.id === '{exp['id']}' && window.playground.editable && "
              "window.playground.frame && window.playground.sequence")
    return page


def inked(page: Page, selector: str) -> list[int]:
    return page.js(f"({INKED})({selector!r})")


def test_a_sequence_experiment_on_the_page(browser: Any, server: LiveServer,
                                           tmp_path: Path) -> None:
    page = open_experiment(browser, server, WAVES)
    url = f"{server.http}/api/experiments/{page.js('window.playground.id')}/sequence"
    assert page.js("document.body.classList.contains('sequences')")
    assert page.page.is_visible("#seq-wave") and page.page.is_visible("#seq-layers")
    assert not page.page.is_visible("#heatmap")  # no plane
    # the page's "What is this?" explains sequences, not images
    assert page.page.is_visible(".seq-about") and not page.page.is_visible(".image-about")

    # it trains: the heatmaps of the state and the LSTM's four gates are painted, and the
    # gradient bars are drawn again as frames come
    page.page.click("#play")
    page.wait("window.playground.epoch >= 1", timeout=30_000)
    before = page.js(GRADIENT)
    page.wait(f"{GRADIENT} !== {before!r}", timeout=30_000)
    page.page.click("#play")
    page.wait("window.playground.status === 'paused'")
    names = page.js("Array.from(document.querySelectorAll('.seq-map')).map((f) => f.dataset.map)")
    assert names == ["states", "input", "forget", "output", "candidate"]
    assert page.page.text_content("#input-shape") == "40 steps × 1 channel"
    assert not page.page.is_visible(".image-only")  # no maps to speak of
    assert all(n > 300 for n in inked(page, ".seq-heatmap")), inked(page, ".seq-heatmap")
    assert inked(page, "#seq-gradient")[0] > 100
    assert page.page.text_content("#seq-gradient-text").startswith("Test sequence 1.")

    # a step ends at an epoch's end: the confusion matrix counts every test sequence, its
    # diagonal the server's test accuracy
    paused = page.epoch()
    page.page.keyboard.press("s")
    page.wait(f"window.playground.epoch === {paused + 1}")
    view = page.server_view()
    page.wait(f"window.playground.frame.header.epoch === {view['epoch']}")
    matrix = page.js("Array.from(document.querySelectorAll('#seq-confusion tr')).slice(1)"
                     ".map((r) => Array.from(r.querySelectorAll('td')).map((c) => "
                     "Number(c.textContent)))")
    n_test = httpx.get(f"{url}?example=0").json()["n_examples"]
    assert sum(map(sum, matrix)) == n_test
    trace = sum(matrix[i][i] for i in range(len(matrix)))
    assert abs(trace / n_test - view["metrics"]["test_accuracy"]) < 1e-6

    # another test sequence: as GET /sequence answers it, and the frames carry it from now
    page.page.click("#seq-next")
    page.wait("window.playground.sequence.example === 1")
    answer = httpx.get(f"{url}?example=1").json()
    assert page.js("window.playground.sequence.input") == answer["input"]
    label = answer["labels"][answer["target"]]
    assert page.page.text_content("#seq-verdict").startswith(f"Test sequence 2, a {label}")
    page.page.keyboard.press("s")
    page.wait("window.playground.frame.header.sequence.example === 1")

    # a drawn wave: POSTed as the data's shape, the network's answer shown, and a different
    # wave answered differently
    page.page.click("#seq-draw")
    drag(page.page, [(0.12, 0.15), (0.5, 0.8), (0.98, 0.15)])
    page.wait("window.playground.sequenceDrawn !== null")
    first = page.js("window.playground.sequenceDrawn")
    assert first["example"] is None and len(first["input"]) == len(answer["input"])
    again = httpx.post(url, json={"input": first["input"]}).json()
    # the same wave read alike (the step pressed before may still land between the two,
    # moving the weights by an epoch: a hair, not a different answer)
    assert again["output"] == pytest.approx(first["output"], abs=0.01)
    assert page.page.text_content("#seq-verdict").startswith("Your wave: the network says")
    drag(page.page, [(0.12, 0.5), (0.3, 0.1), (0.5, 0.9), (0.7, 0.1), (0.98, 0.9)])
    shown = json.dumps(first["output"], separators=(",", ":"))
    page.wait(f"JSON.stringify(window.playground.sequenceDrawn.output) !== {shown!r}")
    assert page.js("window.playground.sequenceDrawn.input") != first["input"]

    out = shots(tmp_path)
    for width, height in [(1400, 900), (1024, 768), (390, 844)]:
        page.page.set_viewport_size({"width": width, "height": height})
        page.wait("document.querySelector('#seq-wave').clientWidth > 0")
        assert page.js("document.documentElement.scrollWidth") <= width, width
        page.page.screenshot(path=str(out / f"sequences-{width}.png"), full_page=True)
    assert page.errors == []
    page.page.close()


def test_every_viewer_follows_the_sequence_picked(browser: Any, server: LiveServer) -> None:
    """The frames trace one test sequence for all the experiment's viewers: one picked on
    the owner's page is the one a watcher (a projector, a class) sees too."""
    owner = open_experiment(browser, server, WAVES)
    watcher = Page(browser, server)
    watcher.page.goto(f"{server.http}/?e={owner.js('window.playground.id')}")
    watcher.wait("window.playground.mode === 'watch' && window.playground.sequence")
    owner.page.fill("#seq-example", "4")
    owner.page.press("#seq-example", "Enter")
    owner.wait("window.playground.sequence.example === 3")
    watcher.wait("window.playground.sequence.example === 3")
    assert watcher.page.input_value("#seq-example") == "4"
    # one more viewer opening the page joins at that sequence: it does not send everyone
    # back to the first
    late = Page(browser, server)
    late.page.goto(f"{server.http}/?e={owner.js('window.playground.id')}")
    late.wait("window.playground.mode === 'watch' && window.playground.sequence && "
              "window.playground.sequence.example === 3")
    late.settled()
    assert watcher.js("window.playground.sequence.input") == \
        owner.js("window.playground.sequence.input")
    # and it stays there as it trains, on both
    owner.page.click("#step")
    owner.wait("window.playground.frame.header.sequence.example === 3 && "
               "window.playground.epoch >= 1")
    assert owner.js("window.playground.sequenceExample") == 3
    assert late.js("window.playground.frame.header.sequence.example") == 3
    assert owner.errors == [] and watcher.errors == [] and late.errors == []
    for page in (owner, watcher, late):
        page.page.close()


def test_a_snapshot_shows_and_answers_its_sequences(browser: Any, server: LiveServer) -> None:
    """A shared snapshot has no websocket: its one frame draws the first test sequence,
    and another one, or a drawn wave, is asked of the snapshot's own /sequence."""
    exp = httpx.post(f"{server.http}/api/experiments", json=WAVES).json()
    auth = {"Authorization": f"Bearer {exp['edit_token']}"}
    httpx.post(f"{server.http}/api/experiments/{exp['id']}/train",
               json={"epochs": 2, "wait": True}, headers=auth).raise_for_status()
    share = httpx.post(f"{server.http}/api/experiments/{exp['id']}/share", headers=auth).json()
    page = Page(browser, server)
    page.page.goto(f"{server.http}/s/{share['share_id']}")
    page.wait("window.playground.mode === 'shared' && window.playground.sequence")
    assert page.page.locator(".seq-heatmap").count() == 5
    page.page.click("#seq-next")
    page.wait("window.playground.sequence.example === 1")
    answer = httpx.get(f"{server.http}/api/shares/{share['share_id']}/sequence?example=1").json()
    assert page.js("window.playground.sequence.output") == answer["output"]
    page.page.click("#seq-draw")
    drag(page.page, [(0.12, 0.2), (0.98, 0.7)])
    page.wait("window.playground.sequenceDrawn !== null")
    assert page.page.text_content("#seq-verdict").startswith("Your wave: the network says")
    assert page.errors == []
    page.page.close()
