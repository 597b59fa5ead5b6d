"""The controls in Chromium: what is typed, what the address asks, what a control can do."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .conftest import LiveServer, Page


def server_weights(page: Page) -> Any:
    return httpx.get(f"{page.server.http}/api/experiments/"
                     f"{page.js('window.playground.id')}/weights").json()["layers"]


def test_added_points_keep_the_chosen_class(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server, "#dataset=blobs&classes=3&layers=4:tanh")
    p.page.select_option("#paint-class", "2")
    for i, spot in enumerate([{"x": 40, "y": 40}, {"x": 260, "y": 60}]):
        count = p.js("window.playground.points.x_train.length")
        p.page.locator("#heatmap").click(position=spot)
        p.wait(f"window.playground.points.x_train.length === {count + 1}")
        assert p.page.input_value("#paint-class") == "2", f"after point {i + 1}"
        assert p.js("window.playground.points.y_train.filter((y) => y === 2).length") > 0
    # Clicked points are the user's own data: no generator, so no noise and no Regenerate.
    assert p.config["dataset"]["name"] == "custom"
    assert p.page.is_disabled("#noise") and p.page.is_disabled("#regenerate")
    assert p.page.is_visible("#own-data")
    assert p.errors == []


def test_text_that_is_not_a_number_is_refused_where_it_is_typed(page: Page) -> None:
    before = server_weights(page)
    page.page.locator(".neuron .bias").first.click()
    page.page.keyboard.press("Control+A")
    page.page.keyboard.type("abc")
    page.page.keyboard.press("Enter")
    assert page.page.is_visible("#editor-message")
    assert "not a number" in page.page.text_content("#editor-message")
    assert page.page.is_visible("#link-editor")  # still there, to be corrected
    page.page.keyboard.press("Escape")
    time.sleep(0.3)  # what was sent, if anything, is applied by now
    assert server_weights(page) == before
    page.page.select_option("#optimizer", "adam")
    page.wait("window.playground.config.optimizer.name === 'adam'")
    beta1 = page.config["optimizer"]["beta1"]
    for text in ["1e309", "abc"]:
        page.page.fill("#opt-beta1", text)
        page.page.press("#opt-beta1", "Enter")
        message = page.page.locator("#opt-beta1 ~ .field-error")
        assert message.is_visible() and message.text_content(), text
    page.page.click("#step")  # a round trip: anything sent before is done by its reply
    page.wait("window.playground.epoch === 1")
    assert page.config["optimizer"]["beta1"] == beta1
    assert page.server_view()["config"]["optimizer"]["beta1"] == beta1
    assert page.errors == []


def test_a_refused_address_says_what_and_keeps_the_rest(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server, "#dataset=xor&layers=99999:tanh&lr=abc&batch=5")
    assert p.page.is_visible("#notice")
    text = p.page.text_content("#notice")
    assert "layers=99999:tanh" in text and "lr=abc" in text
    c = p.config
    assert c["dataset"]["name"] == "xor" and c["batch_size"] == 5  # the rest as asked
    assert all(layer["units"] <= 64 for layer in c["hidden_layers"])
    assert [e for e in p.errors if "status of 422" not in e] == []  # the refusal itself


def test_controls_that_do_nothing_are_hidden_or_off(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server, "#layers=none&features=x1,x2")
    assert p.page.is_disabled("#activation")
    assert "no hidden layer" in p.page.text_content("#activation")
    p.page.select_option("#problem", "regression")
    p.wait("window.playground.config.problem === 'regression'")
    p.wait("!document.getElementById('show-accuracy').checkVisibility()")
    assert not p.page.is_visible("#paint-class")
    p.page.click("#add-layer")
    p.wait("window.playground.config.hidden_layers.length === 1")
    assert p.page.is_enabled("#activation")
    assert p.errors == []


def test_labels_show_whole(page: Page) -> None:
    page.page.select_option("#activation", "leaky_relu")
    page.wait("window.playground.config.hidden_layers[0].activation === 'leaky_relu'")
    cut = page.js("""Array.from(document.querySelectorAll('.dataset span'))
        .filter((s) => s.scrollWidth > s.clientWidth || s.scrollHeight > s.clientHeight)
        .map((s) => s.textContent)""")
    assert cut == []
    narrow = page.js("""Array.from(document.querySelectorAll('.layer-activation')).filter((s) => {
        const width = s.offsetWidth;
        s.style.width = 'max-content';
        const needed = s.offsetWidth;
        s.style.width = '';
        return width < needed; }).length""")
    assert narrow == 0


def test_the_edit_token_never_travels_in_an_address(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server)
    token = p.js("window.playground.token")
    sockets: list[str] = []
    p.page.on("websocket", lambda ws: sockets.append(ws.url))
    p.page.reload()
    p.wait("window.playground.frame && window.playground.connection === 'open'")
    p.page.keyboard.press("s")  # still allowed to edit: the token went by the auth command
    p.wait("window.playground.epoch === 1")
    assert sockets and all(token not in url and "token" not in url for url in sockets)
    assert token not in p.page.url
    assert p.errors == []
