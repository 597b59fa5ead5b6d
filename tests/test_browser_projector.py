"""The main page on a projector (1280 x 720) and a phone, in Chromium: what a class sees of
a diverged run, the loss chart, the filters, the legend, the help, and what a change did."""

from __future__ import annotations

import re
from typing import Any

from .conftest import LiveServer, Page
from .test_browser import click_link
from .test_browser_images import choose_digits

DIVERGES = "#problem=regression&dataset=reg-plane&lr=1"  # 1e+34 by epoch 3, NaN at 4
COLUMN_FITS = """Array.from(document.querySelectorAll(
    '.column.output .metrics > div, .column.output .legend > *, .column.output canvas'))
    .filter((e) => {
      const box = e.closest('.column').getBoundingClientRect(), r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > box.right || r.left < box.left); })
    .map((e) => e.id || e.textContent)"""
# The chart's pixels as [x, y, r, g, b] of those that are drawn (not transparent).
CHART_PIXELS = """(() => {
    const c = document.getElementById('chart');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = [];
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200) {
      out.push([(i / 4) % c.width, Math.floor(i / 4 / c.width), d[i], d[i + 1], d[i + 2]]); }
    return {w: c.width, h: c.height, k: c.width / c.clientWidth, px: out}; })()"""


def projector(browser: Any, server: LiveServer, address: str) -> Page:
    p = Page(browser, server, address)
    p.page.set_viewport_size({"width": 1280, "height": 720})
    return p


def diverge(p: Page) -> None:
    p.page.keyboard.press("Space")
    p.wait("window.playground.status === 'diverged' && "
           "document.getElementById('chart').dataset.diverged === 'true'")


def test_a_diverged_loss_is_short_and_stays_in_the_output_column(
        browser: Any, server: LiveServer) -> None:
    """Bug: the test loss read 1.0005906659797844e+32, past the panel's edge."""
    p = projector(browser, server, DIVERGES)
    diverge(p)
    for key in ("test-loss", "train-loss"):
        text = p.page.text_content(f"#{key}") or ""
        assert re.fullmatch(r"\d\.\de\+\d+", text), text  # 3.7e+34
        value = p.js(f"window.playground.frame.header.metrics.{key.replace('-', '_')}")
        assert abs(float(text) - value) <= 0.05 * value
    assert p.js(COLUMN_FITS) == []
    assert p.js("document.documentElement.scrollWidth") <= 1280
    assert p.errors == []


def test_the_chart_has_axes_and_a_blow_up_does_not_flatten_it(
        browser: Any, server: LiveServer) -> None:
    """Bug: no axis, no value, and one epoch at 1e+34 pressed the others flat on the floor."""
    p = projector(browser, server, DIVERGES)
    diverge(p)
    # the chart has drawn the whole curve the page fetched after the run stopped
    p.wait("+document.getElementById('chart').dataset.points === "
           "window.playground.history.length")
    chart = p.js("Object.assign({}, document.getElementById('chart').dataset)")
    history = p.js("window.playground.history")
    assert [r["epoch"] for r in history] == list(range(len(history))) and len(history) >= 3
    first = history[0]["test_loss"]
    # the axis reaches a little above where the curve started, not up to 1e+34; what is
    # above it (the blow-up) is counted and marked
    assert first < float(chart["top"]) < 10 * first
    assert int(chart["clipped"]) >= 2 and int(chart["points"]) == len(history)
    label = p.page.get_attribute("#chart", "aria-label") or ""
    assert f"epochs 0 to {history[-1]['epoch']}" in label and "diverged at epoch" in label
    shot = p.js(CHART_PIXELS)
    k, px = shot["k"], shot["px"]
    # the first epoch's test loss, drawn at the left of the plot, is in its upper part
    # (flattened, it lay on the x axis)
    left = 40 * k  # the y axis
    near_start = [y for x, y, r, g, b in px if left + 2 * k < x < left + 5 * k
                  and max(r, g, b) < 80]
    assert near_start and min(near_start) < 0.5 * shot["h"]
    # values on the y axis and epochs under the x axis: text left of and under the plot
    assert any(x < left - 4 * k and y < 0.8 * shot["h"] for x, y, *_ in px)
    assert any(y > shot["h"] - 12 * k and x > left for x, y, *_ in px)
    # the log scale shows every value: nothing clipped, the top a power of ten past 1e+34
    p.page.check("#log-scale")
    p.wait("document.getElementById('chart').dataset.clipped === '0'")
    assert float(p.page.get_attribute("#chart", "data-top") or 0) >= 1e34
    assert "logScale=true" in p.js("location.hash")
    assert p.errors == []


def test_a_run_that_diverges_at_its_first_epoch_shows_it(browser: Any,
                                                         server: LiveServer) -> None:
    """Bug: the learning-rate lesson's lr 3 diverges at epoch 1: one row, an empty chart."""
    p = projector(browser, server, "")
    p.page.goto(f"{server.http}/?lesson=learning-rate&preset=2")
    p.wait("window.playground && window.playground.frame")
    diverge(p)
    assert p.page.get_attribute("#chart", "data-points") == "1"
    px = p.js(CHART_PIXELS)["px"]
    assert any(max(r, g, b) < 80 for *_, r, g, b in px)  # the first epoch's point
    assert any(r > 150 and g < 80 and b < 80 for *_, r, g, b in px)  # the red diverged line
    assert "diverged at epoch 1" in (p.page.get_attribute("#chart", "aria-label") or "")
    assert p.errors == []


def test_filters_are_drawn_large_and_labelled(browser: Any, server: LiveServer) -> None:
    """Bug: a 3 x 3 filter was 20 px, and LeNet's 96 second-layer tiles had no label."""
    p = projector(browser, server, "")
    p.page.goto(f"{server.http}/?lesson=lenet-5")
    layer3 = ".image-layer[data-entry='3'] .filters"
    p.wait(f"document.querySelectorAll(\"{layer3} .filter-tile\").length === 96", 30_000)
    tiles = p.page.locator(f"{layer3} .filter-tile")
    for i in (0, 95):
        box = tiles.nth(i).bounding_box()
        assert box and box["width"] >= 36 and abs(box["width"] - box["height"]) < 1
    assert tiles.nth(95).get_attribute("title").startswith("layer 3, filter 16, input map 6:")
    assert p.js(f"Array.from(document.querySelectorAll(\"{layer3} .filter-row\"))"
                ".map((e) => e.textContent)") == [str(f) for f in range(1, 17)]
    assert p.js(f"Array.from(document.querySelectorAll(\"{layer3} .filter-col\"))"
                ".map((e) => e.textContent)") == [f"map {c}" for c in range(1, 7)]
    assert "layer 3" in (p.page.text_content(f"{layer3} .filters-head") or "")
    # the digits' small conv net: eight 3 x 3 filters, numbered, at least 36 px a side
    p.page.goto(f"{server.http}/#dataset=circle")
    p.wait("window.playground && window.playground.frame")
    choose_digits(p)
    first = ".image-layer[data-entry='1'] .filters"
    p.wait(f"document.querySelectorAll(\"{first} .filter-tile\").length === 8")
    box = p.page.locator(f"{first} .filter-tile").first.bounding_box()
    assert box and box["width"] >= 36
    assert p.js(f"Array.from(document.querySelectorAll(\"{first} figcaption\"))"
                ".map((e) => e.textContent)") == [str(f) for f in range(1, 9)]
    # painted: every tile has colour
    assert p.js(f"""Array.from(document.querySelectorAll("{first} .filter-tile")).every((c) =>
        c.getContext('2d').getImageData(0, 0, 3, 3).data.some((v, i) => i % 4 === 3 && v))""")
    assert p.errors == []


def test_more_than_two_classes_have_a_swatch_each(browser: Any, server: LiveServer) -> None:
    """Bug: four classes had a gradient from 'class 0' to 'class 3', colours between them
    that no class has."""
    p = Page(browser, server, "#dataset=blobs&classes=4&layers=6:tanh")
    p.wait("document.querySelectorAll('#class-legend li').length === 4")
    items = p.js("Array.from(document.querySelectorAll('#class-legend li')).map((li) => "
                 "[li.textContent, getComputedStyle(li.querySelector('.class-swatch'))"
                 ".backgroundColor])")
    assert [text for text, _ in items] == [f"class {k}" for k in range(4)]
    # the colours the points and the output use: the palette's first four
    assert [colour for _, colour in items] == ["rgb(230, 159, 0)", "rgb(0, 114, 178)",
                                               "rgb(0, 158, 115)", "rgb(204, 121, 167)"]
    assert p.page.is_hidden("#colorbar")
    p.page.click(".dataset[data-name='circle']")  # two classes: the scale from 0 to 1 again
    p.wait("document.getElementById('class-legend').hidden")
    assert p.page.is_visible("#colorbar")
    assert p.errors == []


def test_every_controls_help_opens_by_tap_and_by_keyboard(browser: Any,
                                                          server: LiveServer) -> None:
    """Bug: help lived in tooltips only, which a touch screen never shows."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.http}/")
    page.wait_for_selector("#settings .help")
    # every setting and slider has its "?", and the sentence is its tooltip's
    helped = page.evaluate("""Array.from(document.querySelectorAll(
        '#settings .field[title], #data-controls .slider[title]')).map((f) => [f.title,
        document.getElementById(f.querySelector(':scope > .help').getAttribute('aria-controls'))
          .textContent])""")
    assert len(helped) >= 15 and all(title == text for title, text in helped)
    button = page.locator("#settings label.field:has(#learning_rate) > .help")
    assert button.get_attribute("aria-label") == "Help: Learning rate"
    text = page.locator(f"#{button.get_attribute('aria-controls')}")
    assert text.is_hidden()
    button.tap()
    assert text.is_visible() and "too large diverges" in (text.text_content() or "")
    assert button.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.id") != "learning_rate"  # not the menu
    button.tap()
    assert text.is_hidden() and button.get_attribute("aria-expanded") == "false"
    # by keyboard: Enter on a slider's "?"
    noise = page.locator("#data-controls .slider:has(#noise) > .help")
    noise.focus()
    page.keyboard.press("Enter")
    noise_text = page.locator(f"#{noise.get_attribute('aria-controls')}")
    assert noise_text.is_visible() and "stray" in (noise_text.text_content() or "")
    # a checkbox's "?" opens its help and leaves the box as it was
    show_test = page.locator("label.check:has(#show-test) > .help")
    show_test.tap()
    assert not page.is_checked("#show-test")
    # a row of buttons: one "?" that says what each does
    tools = page.locator("#tools > .help")
    tools.tap()
    listed = page.locator(f"#{tools.get_attribute('aria-controls')} li")
    assert listed.count() == 4
    assert "Download model: The trained model" in (listed.nth(1).text_content() or "")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
    context.close()


def test_three_hidden_layers_fit_a_phone_output_and_all(browser: Any,
                                                        server: LiveServer) -> None:
    """Bug: at 390 px the third hidden layer pushed the output past the edge, cut off."""
    p = Page(browser, server, "#layers=4:tanh,4:tanh,4:tanh")
    p.page.set_viewport_size({"width": 390, "height": 844})
    p.wait("document.querySelectorAll('.layer-activation').length === 3")
    scroll, client = p.js("(() => { const e = document.getElementById('network');"
                          " return [e.scrollWidth, e.clientWidth]; })()")
    assert scroll <= client
    out = p.page.locator(".output-node").bounding_box()
    net = p.page.locator("#network").bounding_box()
    assert out and net and out["x"] + out["width"] <= net["x"] + net["width"]
    assert p.errors == []


def test_a_changed_activation_says_what_it_kept(page: Page) -> None:
    """Bug: a new activation kept the weights and the epoch and said nothing, while a new
    data set said "fresh run": one could not tell the two apart."""
    page.page.fill("#train-epochs", "5")
    page.page.click("#train-n")
    page.wait("window.playground.epoch === 5 && window.playground.status === 'paused'")
    page.page.select_option("#activation", "relu")
    page.wait("!document.getElementById('notice').hidden")
    text = page.page.text_content("#notice-text") or ""
    assert "activation is now relu" in text and "were kept" in text and "(5)" in text
    assert page.server_view()["epoch"] == 5  # as the server says: kept
    # one layer's own menu: the same, naming the layer
    page.page.select_option("[aria-label='Activation of layer 2']", "sigmoid")
    page.wait("document.getElementById('notice-text').textContent.startsWith("
              "\"Layer 2's activation is now sigmoid\")")
    assert page.errors == []


def test_notices_name_data_sets_as_people_read_them(page: Page) -> None:
    """Bug: notices said "reg-plane" where the page should say "Regression: plane"."""
    page.page.select_option("#problem", "regression")
    page.wait("!document.getElementById('notice').hidden")
    assert (page.page.text_content("#notice-text") or "").startswith(
        "New data set (Regression: plane): a fresh run started")
    assert page.page.text_content(".dataset.selected span") == "Regression: plane"
    assert page.errors == []


def test_the_drawings_verdict_goes_when_another_image_is_chosen(page: Page) -> None:
    choose_digits(page)
    box = page.page.locator("#draw").bounding_box()
    assert box
    page.page.mouse.move(box["x"] + 40, box["y"] + 30)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + 60, box["y"] + 100, steps=5)
    page.page.mouse.up()
    page.wait("document.getElementById('draw-verdict').textContent.startsWith("
              "'The network says')")
    page.page.click("#examples .example[data-example='3']")
    page.wait("window.playground.source === 'example'")
    assert page.page.text_content("#draw-verdict") == ""  # it was the drawing's, still shown
    assert page.errors == []


def test_the_weight_card_shows_the_value_after_an_edit(page: Page) -> None:
    click_link(page, 2, 0, 0)  # the pointer rests on the link: its card is up
    page.wait("!document.getElementById('hovercard').hidden")
    page.page.fill("#editor-value", "2.5")
    page.page.press("#editor-value", "Enter")
    page.wait("window.playground.frame.header.weights[2].W[0][0] === 2.5")
    page.wait("document.getElementById('hovercard').textContent === 'Weight 2.500'")
    assert page.errors == []
