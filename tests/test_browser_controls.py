"""The controls in Chromium: what is typed, what the address asks, what a control can do."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from .conftest import LiveServer, Page, wait_for


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
    page.settled()  # what was sent, if anything, is applied by now
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
    p.wait("!document.getElementById('paint-class').checkVisibility()")
    p.page.click("#add-layer")
    p.wait("window.playground.config.hidden_layers.length === 1")
    p.wait("!document.getElementById('activation').disabled")  # after the next render
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


# The control sweep: every control, in each state, then the page and the server must agree.
PAINTED = """Array.from(document.querySelectorAll('.neuron .thumb')).every((t) => {
    const c = document.getElementById('thumbs'), a = c.getBoundingClientRect();
    const r = t.getBoundingClientRect(), k = c.width / a.width;
    const x = Math.ceil((r.left - a.left + t.clientLeft) * k);
    const y = Math.ceil((r.top - a.top + t.clientTop) * k);
    return Array.from(c.getContext('2d').getImageData(x, y, Math.floor(t.clientWidth * k) - 1,
        Math.floor(t.clientHeight * k) - 1).data).every((v, i) => i % 4 !== 3 || v === 255); })"""
SAME = ("JSON.stringify(window.playground.config) === JSON.stringify(({config}))")


def agree(p: Page, what: str) -> None:
    """The page's config is the server's, every thumbnail painted, no error on the way."""
    deadline = time.monotonic() + 10
    while True:
        server = p.server_view()["config"]
        if p.js(SAME.format(config=json.dumps(server))):
            break
        assert time.monotonic() < deadline, f"after {what}: {p.config} != {server}"
        time.sleep(0.05)
    try:
        p.wait(PAINTED, 10_000)
    except TimeoutError as error:
        raise AssertionError(f"a thumbnail is blank after {what}") from error
    assert p.errors == [], what


def other_option(p: Page, select: str) -> str:
    """A value of the menu other than the one chosen (and not the "(per layer)" entry)."""
    return p.js(f"""(() => {{ const s = document.querySelector('{select}');
        return Array.from(s.options).map((o) => o.value).find((v) => v && v !== s.value); }})()""")


def sweep(p: Page, state: str) -> None:
    for select in ["#learning_rate", "#activation", "#optimizer", "#decay", "#regularization",
                   "#regularization_rate", "#init", "#dropout", "#speed"]:
        p.page.select_option(select, other_option(p, select))
        agree(p, f"{select} while {state}")
    for action in ["#batch_norm", "#show-test", "#discretize", "#add-layer", "#remove-layer",
                   ".dataset[data-name='xor']", "#regenerate", ".feature >> nth=2"]:
        p.page.click(action)
        agree(p, f"{action} while {state}")
        # xor after the circle (paused) is a new data set; xor again (running) is not, and
        # says nothing (the notice's text read here was the paused sweep's, left hidden)
        if action.startswith(".dataset") and state == "paused":
            assert p.page.is_visible("#notice")
            assert "fresh run" in p.page.text_content("#notice")
            p.wait("window.playground.epoch === 0")
    for slider, value in [("#train_fraction", "70"), ("#noise", "20"), ("#batch_size", "5")]:
        # dragged: the label follows before anything is sent
        p.js(f"""(() => {{ const s = document.querySelector('{slider}');
            s.value = '{value}'; s.dispatchEvent(new Event('input')); }})()""")
        assert value in p.page.text_content(f"label:has({slider}) b"), slider
        p.page.fill(slider, value)
        agree(p, f"{slider} while {state}")
    p.page.click(".layer-head button >> nth=0")  # a neuron more in the first layer
    agree(p, f"neurons while {state}")
    data = p.config["dataset"]
    assert (data["train_fraction"], data["noise"], p.config["batch_size"]) == (0.7, 0.2, 5)


def test_every_control_while_paused_then_running(page: Page) -> None:
    # every setting says in one sentence what it does (its label's title)
    assert page.js("""Array.from(document.querySelectorAll(
        '.controls > .field, .column.data .slider')).every((e) => e.title)""")
    sweep(page, "paused")
    page.page.fill("#train-epochs", "7")
    page.page.click("#train-n")
    page.wait("window.playground.epoch === 7 && window.playground.status === 'paused'")
    page.page.click("#play")
    page.wait("window.playground.status === 'running'")
    sweep(page, "running")
    assert page.js("window.playground.status") == "running"
    page.page.click("#step")  # refused while running: said, and it stays said
    page.wait("document.getElementById('notice-text').textContent.includes('pause it "
              "before stepping') && !document.getElementById('notice').hidden")
    page.page.click("#reset")
    agree(page, "reset while running")
    # as a person sees it: the reset's epoch 0 (a busy machine showed, for a moment, the
    # stopped run's frame, whose epoch past "train exactly 7" made play unbounded)
    page.wait("window.playground.epoch === 0 && window.playground.status === 'paused'")
    page.page.click("#play")
    page.wait("window.playground.status === 'paused'")
    agree(page, "pause after the running sweep")
    page.page.select_option("#problem", "regression")
    agree(page, "problem")
    assert "Regression" in page.page.text_content("#colorbar-text")


def test_controls_when_diverged_shared_and_embedded(browser: Any, server: LiveServer) -> None:
    p = Page(browser, server, "#problem=regression&dataset=reg-plane&lr=10&batch=1"
                              "&init=normal&initScale=10")
    p.page.click("#play")
    p.wait("window.playground.status === 'diverged'")
    p.page.click("#step")
    p.page.click("#play")
    assert p.js("window.playground.status") == "diverged"
    p.page.select_option("#learning_rate", "0.01")
    agree(p, "learning rate while diverged")
    p.page.click("#reset")
    p.wait("window.playground.status === 'paused'")
    agree(p, "reset after diverging")
    # the shared view: every control is off, nothing changes the snapshot
    p.page.click("#step")
    p.wait("window.playground.epoch === 1")
    p.page.click("#share")
    url = p.page.locator("#share-url").get_attribute("href")
    shared = browser.new_page()
    errors: list[str] = []
    shared.on("pageerror", lambda e: errors.append(str(e)))
    shared.on("console", lambda m: m.type == "error" and errors.append(m.text))
    shared.goto(url)
    wait_for(shared, "window.playground && window.playground.frame")
    for control in ["#play", "#step", "#reset", "#train-n", "#speed", "#learning_rate",
                    "#noise", "#add-layer"]:
        assert shared.is_disabled(control) or not shared.is_visible(control), control
    wait_for(shared, PAINTED)
    assert errors == []
    shared.close()
    # embed: only the network and the output, run / pause still there, within 1280 x 720
    embed = Page(browser, server, "")
    embed.page.set_viewport_size({"width": 1280, "height": 720})
    embed.page.goto(f"{server.http}/?embed=1#dataset=xor")
    embed.wait("window.playground.frame")
    assert not embed.page.is_visible(".column.data") and not embed.page.is_visible(".about")
    assert embed.page.is_visible("#network") and embed.page.is_visible("#heatmap")
    box = embed.page.locator("#heatmap").bounding_box()
    assert box["y"] + box["height"] <= 720
    assert embed.js("document.documentElement.scrollWidth") <= 1280
    embed.page.click("#play")
    embed.wait("window.playground.status === 'running'")
    embed.page.click("#play")
    agree(embed, "play in embed")
    # on a phone, one column: the output and the network do not lie over each other
    embed.page.set_viewport_size({"width": 390, "height": 844})
    embed.page.wait_for_timeout(200)
    out = embed.page.locator(".column.output").bounding_box()
    net = embed.page.locator("#network").bounding_box()
    assert out["y"] + out["height"] <= net["y"] or net["y"] + net["height"] <= out["y"]
    assert embed.js("document.documentElement.scrollWidth") <= 390


def test_slow_speed_paces_the_training(page: Page) -> None:
    page.page.select_option("#speed", "2")  # at most 2 epochs a second
    started = time.monotonic()
    page.page.click("#play")
    page.wait("window.playground.epoch >= 2")
    took = time.monotonic() - started
    page.page.click("#play")
    page.wait("window.playground.status === 'paused'")
    epoch = page.js("window.playground.epoch")
    # the pace's ceiling only (measured to the pause): a busy machine trains slower
    assert epoch <= 2 * (time.monotonic() - started) + 1, (epoch, took)
    assert page.errors == []


def test_the_network_fits_a_projector_and_a_desk(browser: Any, server: LiveServer) -> None:
    """On a 1024 px projector four hidden layers of 8 show whole, the output included (it
    was cut off behind a scrollbar from three); on 1400 px the Playground's six."""
    for width, layers in [(1024, 4), (1400, 6)]:
        p = Page(browser, server, "#dataset=spiral&layers=" + ",".join(["8:leaky_relu"] * layers))
        p.page.set_viewport_size({"width": width, "height": 768})
        p.wait(f"document.querySelectorAll('.layer-activation').length === {layers}")
        p.wait(PAINTED)
        scroll, client = p.js("(() => { const e = document.getElementById('network');"
                              " return [e.scrollWidth, e.clientWidth]; })()")
        assert scroll <= client, (width, layers, scroll, client)
        out = p.page.locator(".output-node").bounding_box()
        net = p.page.locator("#network").bounding_box()
        assert out["x"] + out["width"] <= net["x"] + net["width"], width
        assert p.errors == []
        p.page.close()


def test_space_runs_and_pauses_after_a_click_on_a_button_or_a_checkbox(page: Page) -> None:
    """Bug: after a click on "+" (or Reset, or the Batch norm box) Space pressed that
    control again (another layer, a reset, batch norm off) instead of run/pause."""
    p = page.page
    layers = len(page.config["hidden_layers"])
    p.click("#add-layer")  # a real click still works
    page.wait(f"window.playground.config.hidden_layers.length === {layers + 1}")
    # at once: the refetch after the change once set its paused over the play's running
    p.keyboard.press("Space")
    page.wait("window.playground.status === 'running'")
    p.keyboard.press("Space")
    page.wait("window.playground.status === 'paused'")
    page.settled()  # a second layer, if Space added one, is there by now
    assert len(page.config["hidden_layers"]) == layers + 1
    p.check("#batch_norm")
    page.wait("window.playground.config.batch_norm === true")
    p.keyboard.press("Space")
    page.wait("window.playground.status === 'running'")
    p.keyboard.press("Space")
    page.wait("window.playground.status === 'paused'")
    page.settled()
    assert page.config["batch_norm"] is True and p.is_checked("#batch_norm")
    # In a text field Space is a space; Tab reaches the buttons, and Enter presses them.
    p.click("#train-epochs")
    p.keyboard.press("Space")
    page.settled()
    assert page.js("window.playground.status") == "paused"
    p.click("#reset")
    page.wait("window.playground.epoch === 0")
    p.keyboard.press("s")
    page.wait("window.playground.epoch === 1")
    p.keyboard.press("Space")  # focus on Reset: it runs, it does not reset
    page.wait("window.playground.status === 'running'")
    p.keyboard.press("Space")
    page.wait("window.playground.status === 'paused' && window.playground.epoch > 1")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.id") == "play"
    p.keyboard.press("Enter")
    page.wait("window.playground.status === 'running'")
    p.keyboard.press("Enter")
    page.wait("window.playground.status === 'paused'")
    assert page.errors == []


def test_the_ratio_slider_is_off_for_data_with_its_own_test_points(
        page: Page, tmp_path: Any) -> None:
    """Bug: on an upload that brings its own test points (every clicked point does) the
    ratio slider moved and was stored, and the split stayed as it was."""
    p = page.page
    csv = tmp_path / "mine.csv"
    csv.write_text("x1,x2,y\n" + "".join(f"{(i % 9) - 4},{(i % 7) - 3},{int(i % 9 > 4)}\n"
                                         for i in range(80)))
    p.set_input_files("#upload", str(csv))
    page.wait("window.playground.config.dataset.name === 'custom' && window.playground.points"
              " && window.playground.points.x_train.length === 40")
    assert p.is_enabled("#train_fraction")  # no test points of its own: the ratio splits it
    test = page.js("window.playground.points.x_test.length")
    p.locator("#heatmap").click(position={"x": 150, "y": 150})
    page.wait("window.playground.points.x_train.length === 41")
    assert p.is_disabled("#train_fraction")
    assert "own test points" in p.get_attribute("#train_fraction", "title")
    assert p.text_content("#train-value") == f"its own (41 train, {test} test)"
    p.click(".dataset[data-name='xor']")  # a built-in set again: the slider is back
    page.wait("window.playground.config.dataset.name === 'xor'")
    assert p.is_enabled("#train_fraction") and p.text_content("#train-value") == "50%"
    assert page.errors == []


def test_a_built_in_data_set_after_an_upload_leaves_the_uploads_id_out(page: Page) -> None:
    """Bug: the config kept {"name": "circle", "id": <the upload's>} after the switch."""
    p = page.page
    p.locator("#heatmap").click(position={"x": 150, "y": 150})
    page.wait("window.playground.config.dataset.name === 'custom'")
    assert page.server_view()["config"]["dataset"]["id"]
    p.click(".dataset[data-name='circle']")
    page.wait("window.playground.config.dataset.name === 'circle'")
    assert page.server_view()["config"]["dataset"].get("id") is None
    assert "data=" not in p.url
    assert page.errors == []
