"""The page's sequence views (frontend/sequences.js, seqcharts.js) in a real Chromium, fed
by the harness (tests/harness/) with answers in the contract's shape: the heatmaps and
gates drawn, the gradient bars live from every frame, the example picker within
n_examples, a wave drawn with the mouse POSTed with the data's T and channels, the
confusion matrix. test_browser_sequences.py runs the same page against the real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import wait_for
from .harness.shoot import serve

# Pixels of a canvas that are neither background (white, transparent) nor axis grey:
# the cells, bars and lines drawn.
INKED = """(sel) => Array.from(document.querySelectorAll(sel)).map((c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
    if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 40) n++;  // a colour, not grey
  }
  return n;
})"""


def drag(page: Any, points: list[tuple[float, float]]) -> None:
    """A drag across the wave chart of a Playwright page through points given as shares
    of its box."""
    box = page.locator("#seq-wave").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


@pytest.fixture(scope="module")
def harness() -> Iterator[str]:
    httpd, base = serve()
    yield f"{base}/tests/harness/sequences.html"
    httpd.shutdown()


class View:
    def __init__(self, browser: Any, url: str, width: int = 1400) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.wait("document.querySelectorAll('.seq-heatmap').length > 0")

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def wait(self, expression: str) -> None:
        wait_for(self.page, expression)

    def inked(self, selector: str) -> list[int]:
        return self.js(INKED, selector)

    def drag(self, points: list[tuple[float, float]]) -> None:
        drag(self.page, points)


def test_lstm_classification_heatmaps_gradient_picker(browser: Any, harness: str) -> None:
    v = View(browser, f"{harness}?problem=classification&cell=lstm&T=40&units=16&n=1000")
    # one layer: its state and its four gates, each titled, each painted in colour
    heads = v.js("Array.from(document.querySelectorAll('.seq-map-head > span:first-child'))"
                 ".map((s) => s.textContent)")
    assert heads == ["Hidden state", "Input gate", "Forget gate", "Output gate", "Candidate"]
    assert all(n > 500 for n in v.inked(".seq-heatmap")), v.inked(".seq-heatmap")
    # each gate says what it does behind its "?"
    forget = v.page.locator(".seq-map[data-map='forget'] .help")
    forget.click()
    text = v.page.locator(".seq-map[data-map='forget'] .help-text")
    assert text.is_visible() and "old cell state is kept" in text.text_content()

    # the gradient: a bar per step, growing toward the last, and the caption says vanishing
    assert v.inked("#seq-gradient")[0] > 500
    assert "vanishes" in v.page.text_content("#seq-gradient-text")
    # live: every frame repaints the bars (the harness's next frame explodes a little more)
    before = v.js("document.querySelector('#seq-gradient').toDataURL()")
    v.js("window.harness.options.decay = 1.5; window.harness.step()")
    assert v.js("document.querySelector('#seq-gradient').toDataURL()") != before
    assert "explodes" in v.page.text_content("#seq-gradient-text")

    # the verdict and the class bars; the confusion matrix of 4 classes
    assert v.page.text_content("#seq-verdict").startswith("Test sequence 1, a sine")
    assert v.page.locator("#seq-probabilities .probability").count() == 4
    assert len(v.js("Array.from(document.querySelectorAll('#seq-confusion td'))")) == 16
    assert v.page.text_content("#seq-confusion tr:nth-child(2) td") == "201"

    # the picker: next asks GET for example 1 and tells the socket; the number goes to any
    # example, clamped to n_examples
    v.page.click("#seq-next")
    v.wait("window.playground.sequence.example === 1")
    assert v.js("window.harness.gets.at(-1)") == 1
    assert v.js("window.harness.views.at(-1)") == {"example": 1}
    assert v.page.input_value("#seq-example") == "2"
    assert v.page.text_content("#seq-verdict").startswith("Test sequence 2, a triangle")
    v.page.fill("#seq-example", "5000")
    v.page.press("#seq-example", "Enter")
    v.wait("window.playground.sequence.example === 999")
    assert v.page.input_value("#seq-example") == "1000"
    assert v.page.is_disabled("#seq-next") and not v.page.is_disabled("#seq-prev")
    assert v.errors == []
    v.page.close()


def test_drawing_a_wave_posts_it_and_shows_the_answer(browser: Any, harness: str) -> None:
    v = View(browser, f"{harness}?problem=classification&cell=gru&T=40&C=3", width=390)
    assert [h for h in v.js("Array.from(document.querySelectorAll('.seq-map'))"
                            ".map((f) => f.dataset.map)")] == ["states", "update", "reset",
                                                               "candidate"]
    v.page.click("#seq-draw")
    assert v.page.get_attribute("#seq-draw", "aria-pressed") == "true"
    hint = v.page.text_content("#seq-draw-hint")
    assert "you draw the first" in hint and "3 channels" in hint
    example = v.js("window.playground.sequence.input")
    # a drag from high on the left to low on the right: a falling line of T steps
    v.drag([(0.15, 0.1), (0.5, 0.45), (0.98, 0.75)])
    v.wait("window.playground.sequenceDrawn !== null")
    drawn = v.js("window.harness.posts.at(-1)")
    assert len(drawn) == 40 and all(len(step) == 3 for step in drawn)
    first = [step[0] for step in drawn]
    assert first[10] > first[20] > first[39]  # it falls as drawn, every step set on the way
    # the other channels are the example's, as the hint said
    assert [step[1:] for step in drawn] == [step[1:] for step in example]
    assert v.page.text_content("#seq-verdict").startswith("Your wave: the network says")
    assert v.inked(".seq-heatmap")[0] > 300  # the drawing's states
    # a frame while drawing reads the drawing again with the newer weights
    posts = v.js("window.harness.posts.length")
    v.js("window.harness.options.epoch = 30; window.harness.step()")
    v.wait(f"window.harness.posts.length > {posts}")
    # back to the test sequences: the example again
    v.page.click("#seq-draw")
    v.wait("window.playground.sequenceDrawing === false")
    assert v.page.text_content("#seq-verdict").startswith("Test sequence 1")
    assert v.js("document.documentElement.scrollWidth") <= 390
    assert v.errors == []
    v.page.close()


def test_regression_per_step_shows_target_and_prediction(browser: Any, harness: str) -> None:
    v = View(browser, f"{harness}?problem=regression&cell=rnn&T=50&units=8")
    legend = v.page.text_content("#seq-legend")
    assert "target" in legend and "prediction" in legend
    assert v.page.is_hidden("#seq-probabilities") and v.page.is_hidden("#seq-confusion-box")
    # a simple RNN has its state and no gates
    assert v.js("Array.from(document.querySelectorAll('.seq-map')).map((f) => f.dataset.map)") \
        == ["states"]
    # the prediction (blue) and the target (green) are on the wave
    blue = v.js("""(() => { const c = document.querySelector('#seq-wave');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 150 && d[i] < 60) n++; return n; })()""")
    assert blue > 100
    # a target at every step: early bars hold every later step's loss too, so a gradient
    # 900 times larger at step 1 of 50 is that sum, not an explosion
    v.js("window.harness.options.decay = 1.15; window.harness.frame()")
    text = v.page.text_content("#seq-gradient-text")
    assert "Every step has a target" in text and "explodes" not in text, text
    v.js("window.harness.options.decay = 1.4; window.harness.frame()")
    assert "explodes" in v.page.text_content("#seq-gradient-text")
    assert v.errors == []
    v.page.close()


def test_a_layer_left_out_says_so(browser: Any, harness: str) -> None:
    """A layer too large for the answer (left_out) is named with a sentence, not drawn
    as empty heatmaps; the layer before it is drawn as ever."""
    v = View(browser, f"{harness}?problem=classification&cell=lstm&left_out=1")
    layers = v.page.locator(".seq-layer")
    assert layers.count() == 2
    assert layers.nth(0).locator(".seq-heatmap").count() == 5
    assert layers.nth(1).locator(".seq-heatmap").count() == 0
    assert "Too large to draw here" in layers.nth(1).text_content()
    assert v.errors == []
    v.page.close()
