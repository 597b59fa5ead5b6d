"""The page for image experiments in a real Chromium, against a live server: the image data
sets, the strip of test examples, the chosen example's maps, the confusion matrix with the
images of its cells, the worst mistakes, image uploads and the layer editor, each compared
with what the server says."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from backend.experiments.frames import decode_frame

from .conftest import LiveServer, Page, wait_for
from .test_browser import shots

DIGITS = 1797
# Every example's picture has ink: some pixel darker than the paper.
STRIP_PAINTED = """Array.from(document.querySelectorAll('#examples .example canvas')).filter((c) =>
    c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      .some((v, i) => i % 4 !== 3 && v < 200)).length"""
CONFUSION = """Array.from(document.querySelectorAll('#confusion tr')).slice(1)
    .map((r) => Array.from(r.querySelectorAll('td')).map((c) => Number(c.textContent)))"""


def choose_digits(page: Page) -> None:
    page.page.click(".dataset[data-name='digits']")
    page.wait("window.playground.config.dataset.name === 'digits' && "
              "document.body.classList.contains('images') && "
              "window.playground.frame.header.input === 'images'")


def test_digits_train_and_show_examples_maps_and_confusion(page: Page) -> None:
    choose_digits(page)
    config = page.server_view()["config"]
    assert config["features"] == [] and config["hidden_layers"][0]["type"] == "conv"
    # the point view is gone: no features, no plane
    assert not page.page.is_visible("#network")
    assert not page.page.is_visible("#heatmap")
    assert page.page.is_visible("#image-net") and page.page.is_visible("#examples")

    page.page.click("#play")
    page.wait("window.playground.epoch >= 2", timeout=30_000)
    page.page.click("#play")
    page.wait("window.playground.status === 'paused'")
    # A pause stops within an epoch; a step ends at an epoch's end, where the metrics and
    # the confusion matrix come from one evaluation of the same weights.
    paused = page.epoch()
    page.page.keyboard.press("s")
    page.wait(f"window.playground.epoch === {paused + 1}")
    view = page.server_view()
    page.wait(f"window.playground.frame.header.epoch === {view['epoch']}")

    # the strip: 16 test images, painted, each with its prediction marked right or wrong
    assert page.page.locator("#examples .example").count() == 16
    assert page.js(STRIP_PAINTED) == 16
    marked = page.js("document.querySelectorAll('#examples .right, #examples .wrong').length")
    assert marked == 16

    # the confusion matrix: every test image once, its diagonal the server's test accuracy
    matrix = page.js(CONFUSION)
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    total = sum(map(sum, matrix))
    assert total == DIGITS - int(DIGITS * config["dataset"]["train_fraction"])
    trace = sum(matrix[i][i] for i in range(10))
    assert abs(trace / total - view["metrics"]["test_accuracy"]) < 1e-6

    # a chosen example: its maps through every layer and its probabilities, as /maps says
    page.page.click("#examples .example[data-example='5']")
    page.wait("window.playground.maps && window.playground.maps.header.example === 5")
    assert page.page.locator(".image-layer[data-entry='1'] .maps canvas").count() == 8
    assert page.page.locator(".image-layer[data-entry='2'] .maps canvas").count() == 8
    assert page.page.locator(".image-layer[data-entry='1'] .filters canvas").count() == 8
    assert "chosen" in page.page.get_attribute("#examples .example[data-example='5']", "class")
    header, grids = decode_frame(httpx.get(
        f"{page.server.http}/api/experiments/{view['id']}/maps?example=5").content)
    assert header["example"] == 5
    shown = page.js("Array.from(document.querySelectorAll('#probabilities .value'))"
                    ".map((e) => Number(e.textContent.replace('%', '')))")
    assert shown == [round(100 * float(p)) for p in grids["probabilities"]]
    assert page.js("document.querySelector('#probabilities .truth .class-name').textContent") \
        == header["classes"][header["label"]]
    # the curves keep working
    assert page.page.text_content("#test-accuracy") != "-"
    assert page.js("document.getElementById('chart').width") > 0

    # a drawing: read by the server as it is drawn, through the same layers
    box = page.page.locator("#draw").bounding_box()
    assert box is not None
    mouse, x, y, side = page.page.mouse, box["x"], box["y"], box["width"]
    mouse.move(x + 0.3 * side, y + 0.2 * side)
    mouse.down()
    for t in range(11):
        mouse.move(x + side * (0.3 + 0.4 * t / 10), y + 0.2 * side)
    for t in range(11):
        mouse.move(x + side * (0.7 - 0.3 * t / 10), y + side * (0.2 + 0.65 * t / 10))
    mouse.up()
    page.wait("window.playground.source === 'drawing' && window.playground.drawn")
    page.page.wait_for_timeout(300)  # the last reading, after the pen is lifted
    sent = page.js("Array.from(window.playground.drawn.grids.image.data)")
    assert len(sent) == 64 and max(sent) > 200 and min(sent) == 0  # ink and paper, 8 x 8
    image = [[v / 255 for v in sent[r * 8:(r + 1) * 8]] for r in range(8)]
    _, grids = decode_frame(httpx.post(
        f"{page.server.http}/api/experiments/{view['id']}/maps", json={"image": image}).content)
    shown = page.js("Array.from(document.querySelectorAll('#probabilities .value'))"
                    ".map((e) => Number(e.textContent.replace('%', '')))")
    # the page sent floats, /maps answers its pixels as bytes: within a percent
    assert all(abs(a - 100 * float(p)) <= 1 for a, p in zip(shown, grids["probabilities"],
                                                           strict=True))
    assert "your drawing" in page.page.text_content("#input-shape")
    best = max(range(10), key=lambda c: float(grids["probabilities"][c]))
    assert page.page.text_content("#draw-verdict").startswith(f"The network says: {best} (")
    assert page.page.locator("#examples .chosen").count() == 0
    page.page.click("#draw-clear")
    page.wait("window.playground.source === 'example'")
    assert page.errors == []


TILES = """(box) => Array.from(document.querySelectorAll(box + ' .example')).map((e) =>
    [Number(e.dataset.index), e.querySelector('span').textContent])"""


def tiles(answer: dict[str, Any], classes: list[str]) -> list[list[Any]]:
    """What the page should show of a /mistakes answer: index and "true→predicted, p %"."""
    return [[i["index"], f"{classes[i['label']]}\u2192{classes[i['predicted']]}, "
             f"{round(100 * i['probability'])} %"] for i in answer["items"]]


def train_to_epoch_end(page: Page, epochs: int) -> dict[str, Any]:
    """Train exactly `epochs` epochs: the frame's confusion matrix is then of the weights
    /mistakes reads (both of the last epoch's end)."""
    page.page.fill("#train-epochs", str(epochs))
    page.page.click("#train-n")
    page.wait(f"window.playground.epoch === {epochs} && window.playground.status === 'paused'",
              60_000)
    view = page.server_view()
    page.wait(f"window.playground.frame.header.epoch === {view['epoch']} && "
              "window.playground.frame.header.status === 'paused'")
    return view


def test_confusion_cells_and_worst_mistakes_show_the_servers_images(page: Page) -> None:
    choose_digits(page)
    view = train_to_epoch_end(page, 1)
    api = f"{page.server.http}/api/experiments/{view['id']}/mistakes"
    classes = page.js("window.playground.frame.header.classes")

    # the worst mistakes: the server's, in its order, with their labels and probabilities
    page.wait("document.getElementById('mistakes').dataset.epoch === '1' && "
              "document.getElementById('mistakes').dataset.status === 'paused'")
    worst = httpx.get(api, params={"limit": 8}).json()
    assert worst["count"] > 0 and len(worst["items"]) == 8
    assert page.js(f"({TILES})('#mistakes')") == tiles(worst, classes)
    assert page.page.is_hidden("#cell-view")

    # the off-diagonal cell with the most images: exactly the server's, as many as it counts
    matrix = page.js(CONFUSION)
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p),
               key=lambda tp: matrix[tp[0]][tp[1]])
    assert matrix[t][p] > 0
    page.page.locator("#confusion tr").nth(t + 1).locator("td").nth(p).click()
    page.wait("!document.getElementById('cell-view').hidden")
    cell = httpx.get(api, params={"true": t, "predicted": p, "limit": 16}).json()
    assert cell["count"] == matrix[t][p]
    assert page.js("document.getElementById('cell-images').dataset.count") == str(matrix[t][p])
    assert page.js(f"({TILES})('#cell-images')") == tiles(cell, classes)
    assert page.page.text_content("#cell-title").startswith(
        f"{classes[t]} \u2192 {classes[p]}: {matrix[t][p]} test image")
    assert "open" in page.page.locator("#confusion tr").nth(t + 1).locator("td").nth(p) \
        .get_attribute("class")

    # by keyboard: a diagonal cell opens its (right) images with Enter, Close closes them
    page.page.locator("#confusion tr").nth(3).locator("td").nth(2).focus()
    page.page.keyboard.press("Enter")
    page.wait("document.getElementById('cell-title').textContent.includes('(right)')")
    right = httpx.get(api, params={"true": 2, "predicted": 2, "limit": 16}).json()
    assert right["count"] == matrix[2][2]
    assert page.js(f"({TILES})('#cell-images')") == tiles(right, classes)
    page.page.click("#cell-close")
    assert page.page.is_hidden("#cell-view")

    # a mistake clicked goes through the network, even one beyond the strip of 16
    index = worst["items"][0]["index"]
    page.page.click(f"#mistakes .example[data-index='{index}']")
    page.wait(f"window.playground.maps && window.playground.maps.header.example === {index}")
    page.wait(f"document.getElementById('input-shape').textContent.includes("
              f"'test image {index + 1}, a {classes[worst['items'][0]['label']]}')")
    header, grids = decode_frame(httpx.get(
        f"{page.server.http}/api/experiments/{view['id']}/maps?example={index}").content)
    shown = page.js("Array.from(document.querySelectorAll('#probabilities .value'))"
                    ".map((e) => Number(e.textContent.replace('%', '')))")
    assert shown == [round(100 * float(q)) for q in grids["probabilities"]]
    assert page.js("document.querySelector('#probabilities .truth .class-name').textContent") \
        == classes[header["label"]]
    assert page.errors == []


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, as MNIST's."""
    return (struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(np.uint8).tobytes())


def bars(n: int, k: int, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """n images of k classes: a bright row at a height that says the class."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % k
    x = rng.random((n, side, side)) * 0.2
    for i, c in enumerate(y):
        x[i, 1 + c * (side - 2) // k] = 1.0
    return x, y


def test_uploading_images_from_the_page(page: Page, tmp_path: Path) -> None:
    before = page.server_view()["config"]
    assert before["features"] == ["x1", "x2"]

    # a bad file: the server's own message where one uploaded, and nothing changes
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    said = httpx.post(f"{page.server.http}/api/datasets?kind=npz", content=bad.read_bytes(),
                      headers={"content-type": "application/octet-stream"})
    assert said.status_code == 422
    page.page.set_input_files("#upload-images", str(bad))
    page.wait("!document.getElementById('upload-error').hidden")
    assert said.json()["error"] in page.page.text_content("#upload-error")
    assert page.page.is_visible("#upload-error")
    assert page.server_view()["config"] == before
    assert not page.js("document.body.classList.contains('images')")

    # an NPZ of 3 classes: the experiment trains on it, in the image view
    x, y = bars(60, 3)
    good = tmp_path / "bars.npz"
    good.write_bytes(npz_bytes(x=x.astype(np.float32), y=y))
    page.page.set_input_files("#upload-images", str(good))
    page.wait("window.playground.config.dataset.name === 'custom' && "
              "document.body.classList.contains('images') && "
              "window.playground.frame.header.input === 'images' && "
              "window.playground.frame.header.classes.length === 3", 30_000)
    config = page.server_view()["config"]
    assert config["features"] == [] and config["dataset"]["name"] == "custom"
    assert page.server_view()["n_classes"] == 3
    assert page.page.is_hidden("#upload-error") and page.page.is_visible("#image-net")
    page.wait(f"({CONFUSION}).length === 3")
    tested = 60 - int(60 * config["dataset"]["train_fraction"])
    assert sum(map(sum, page.js(CONFUSION))) == tested
    assert page.page.locator("#examples .example").count() == min(16, tested)

    # MNIST's two IDX files (the labels gzipped), chosen together in either order
    x, y = bars(80, 4, side=12)
    images, labels = tmp_path / "images-idx3-ubyte", tmp_path / "labels-idx1-ubyte.gz"
    images.write_bytes(idx_bytes(np.round(x * 255)))
    labels.write_bytes(gzip.compress(idx_bytes(y)))
    page.page.set_input_files("#upload-images", [str(labels), str(images)])
    page.wait("window.playground.frame.header.classes.length === 4 && "
              f"window.playground.config.dataset.id !== {config['dataset']['id']!r}", 30_000)
    assert page.js("window.playground.frame.grids.examples.shape.slice(1)") == [1, 12, 12]
    assert page.server_view()["n_classes"] == 4
    assert [e for e in page.errors if "status of 422" not in e] == []  # the bad file's refusal
    assert len(page.errors) == 1


def test_one_idx_file_alone_is_not_sent(page: Page, tmp_path: Path) -> None:
    """MNIST's images without their labels (or the labels alone), plain or gzipped: the page
    says that both are needed, instead of sending one as an NPZ for the server to refuse."""
    sent: list[str] = []
    page.page.on("request", lambda r: r.method == "POST" and "/api/datasets" in r.url
                 and sent.append(r.url))
    x, y = bars(20, 2)
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz"
    images.write_bytes(idx_bytes(np.round(x * 255)))
    labels.write_bytes(gzip.compress(idx_bytes(y)))
    for one in (images, labels):
        page.js("document.getElementById('upload-error').textContent = ''")
        page.page.set_input_files("#upload-images", str(one))
        page.wait("document.getElementById('upload-error').textContent !== ''")
        said = page.page.text_content("#upload-error")
        assert f"{one.name} is an IDX file" in said and "images and labels, together" in said
        assert "NPZ" not in said
    assert sent == []
    assert page.server_view()["config"]["features"] == ["x1", "x2"]  # nothing changed
    assert page.errors == []


# Each caption's words: none cut off (an ellipsis) and none broken across two lines.
BROKEN_WORDS = """(selector) => Array.from(document.querySelectorAll(selector)).flatMap((span) => {
  const bad = span.scrollWidth > span.clientWidth + 1 ? [`cut: ${span.textContent}`] : [];
  for (const node of span.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE) continue;
    for (const m of node.data.matchAll(/[^\\s\u2192]+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      if (range.getClientRects().length > 1) bad.push(`broken: ${m[0]}`);
    }
  }
  return bad;
})"""


def test_the_shapes_names_on_the_bars_and_the_captions(page: Page, tmp_path: Path) -> None:
    page.page.click(".dataset[data-name='shapes']")
    page.wait("window.playground.config.dataset.name === 'shapes' && "
              "document.getElementById('classes').max === '7' && "
              "window.playground.frame.header.input === 'images'")
    page.page.fill("#classes", "7")  # input, then change: one update, as a let-go slider
    page.wait("window.playground.config.dataset.classes === 7")
    page.wait("window.playground.frame.header.classes?.length === 7")
    names = page.js("window.playground.frame.header.classes")
    assert names[0] == "horizontal line"
    bar_names = ("Array.from(document.querySelectorAll('#probabilities .class-name'))"
                 ".map((e) => e.textContent)")
    assert page.js(bar_names) == names

    # the captions of the strip and of the mistakes: whole names, wrapped at spaces
    page.wait("document.querySelectorAll('#mistakes .example').length === 8")
    for width, height in [(1400, 900), (1024, 768), (390, 844)]:
        page.page.set_viewport_size({"width": width, "height": height})
        page.page.wait_for_timeout(200)
        for box in ("#examples", "#mistakes"):
            assert page.js(f"({BROKEN_WORDS})('{box} .example span')") == [], (width, box)
    captions = page.js("Array.from(document.querySelectorAll('#examples .example span'))"
                       ".map((e) => e.textContent)")
    assert all(c.startswith("\u2713") or "\u2192" in c for c in captions)
    assert any(name in c for c in captions for name in names if " " in name)

    # as many classes, other names (images of 7 numbered classes): the bars take the new ones
    x, y = bars(70, 7)
    seven = tmp_path / "seven.npz"
    seven.write_bytes(npz_bytes(x=x.astype(np.float32), y=y))
    page.page.set_input_files("#upload-images", str(seven))
    page.wait("window.playground.config.dataset.name === 'custom' && "
              "window.playground.frame.header.classes[0] === '0'", 30_000)
    assert page.js(bar_names) == [str(c) for c in range(7)]
    assert page.errors == []


def test_lenet5_fits_a_phone(browser: Any, server: LiveServer) -> None:
    """The lesson's network (a dense layer of 120 units) at 390 px: nothing sticks out."""
    p = browser.new_page(viewport={"width": 390, "height": 844})
    p.goto(f"{server.http}/lessons")
    p.click("#lenet-5 li a.preset")
    wait_for(p, "window.playground && window.playground.frame && "
                "document.querySelector(\".image-layer[data-entry='5'] .maps canvas\")", 30_000)
    assert p.evaluate("document.querySelector(\".image-layer[data-entry='5'] .maps canvas\")"
                      ".width") == 120
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    assert p.evaluate("""Array.from(document.querySelectorAll('body *')).filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > innerWidth + 0.5; }).map((e) => e.className)""") == []
    p.close()


def test_a_notice_about_a_change_goes_at_the_next_action(page: Page) -> None:
    notice = "!document.getElementById('notice').hidden"
    choose_digits(page)
    page.wait(notice)
    assert page.page.text_content("#notice-text").startswith("New data set (Digits)")
    page.page.click("#step")  # something else: the news is old
    page.wait("document.getElementById('notice').hidden")
    page.page.click(".dataset[data-name='shapes']")
    page.wait(f"{notice} && document.getElementById('notice-text').textContent"
              ".startsWith('New data set (Shapes)')")
    page.page.select_option("#learning_rate", "0.1")  # the next change
    page.wait("document.getElementById('notice').hidden")
    page.page.click("#play")
    page.wait("window.playground.status === 'running'")
    page.page.click("#play")
    # a refusal stays until read and dismissed, whatever one does meanwhile
    page.js("location.hash = location.hash.replace(/([#&])lr=[^&]*/, '$1lr=banana')")
    page.wait(f"{notice} && document.getElementById('notice-text').textContent"
              ".includes('refused')")
    page.wait("window.playground.status === 'paused'")
    page.page.click("#step")
    page.wait("window.playground.epoch >= 1")
    page.page.wait_for_timeout(300)
    assert page.page.is_visible("#notice")
    page.page.click("#notice-close")
    assert page.page.is_hidden("#notice")
    assert page.errors == []


def summary(page: Page) -> dict[str, Any]:
    return httpx.get(f"{page.server.http}/api/experiments/{page.js('window.playground.id')}"
                     "/summary").json()


def test_layer_editor_changes_the_server_and_shows_its_summary(page: Page) -> None:
    choose_digits(page)
    page.wait("document.getElementById('total-params').textContent !== '-'")
    assert page.page.text_content("#total-params") == f"{summary(page)['total_params']:,}"

    page.page.click("#add-conv")
    page.wait("window.playground.config.hidden_layers.length === 3")
    layers = page.server_view()["config"]["hidden_layers"]
    assert [layer["type"] for layer in layers] == ["conv", "pool", "conv"]
    expected = f"{summary(page)['total_params']:,}"
    page.wait(f"document.getElementById('total-params').textContent === '{expected}'")
    shape = page.page.text_content(".image-layer[data-entry='3'] .layer-shape")
    assert shape.startswith("8 × 4 × 4")

    page.page.click("#add-dense")
    page.wait("window.playground.config.hidden_layers.length === 4")
    page.page.fill("[aria-label='units of layer 4']", "24")
    page.page.press("[aria-label='units of layer 4']", "Enter")
    page.wait("window.playground.config.hidden_layers[3].units === 24")
    assert page.server_view()["config"]["hidden_layers"][3] == {"units": 24, "activation": "tanh"}
    expected = f"{summary(page)['total_params']:,}"
    page.wait(f"document.getElementById('total-params').textContent === '{expected}'")

    # a refused change: the server's reason, and nothing changes
    before = page.server_view()["config"]
    page.page.select_option("[aria-label='kernel of layer 1']", "4")
    page.wait("!document.getElementById('layers-error').hidden")
    assert "odd kernel" in page.page.text_content("#layers-error")
    assert page.server_view()["config"] == before
    page.wait("document.querySelector(\"[aria-label='kernel of layer 1']\").value === '3'")

    page.page.click("[aria-label='Remove layer 3']")
    page.wait("window.playground.config.hidden_layers.length === 3")
    assert [layer.get("type", "dense") for layer in page.server_view()["config"]["hidden_layers"]] \
        == ["conv", "pool", "dense"]
    page.page.keyboard.press("s")
    page.wait("window.playground.epoch === 1")

    # back to points: the plane and a dense network, as before
    page.page.click(".dataset[data-name='circle']")
    page.wait("window.playground.config.features.length === 2 && "
              "!document.body.classList.contains('images')")
    page.wait("document.querySelectorAll('.neuron').length === 4 + 2 + 1")
    assert page.page.is_visible("#heatmap") and not page.page.is_visible("#image-net")
    assert page.errors == []


def test_the_image_size_resizes_the_digits_and_stays_with_images(page: Page) -> None:
    assert not page.page.is_visible("#side-row")  # points have no pixels
    choose_digits(page)
    assert page.page.text_content("#side-value") == "8 × 8"
    page.page.fill("#side", "32")
    page.wait("window.playground.config.dataset.side === 32")
    assert page.server_view()["config"]["dataset"]["side"] == 32
    page.wait("window.playground.frame.grids.examples.shape[2] === 32")
    page.wait("document.querySelector(\".image-layer[data-entry='1'] .layer-shape\")"
              ".textContent.startsWith('8 × 32 × 32')")
    assert page.page.text_content("#side-value") == "32 × 32"
    assert "side=32" in page.page.evaluate("location.hash")
    # the shapes take the same side; points let it go
    page.page.click(".dataset[data-name='shapes']")
    page.wait("window.playground.config.dataset.name === 'shapes'")
    assert page.server_view()["config"]["dataset"]["side"] == 32
    page.page.click(".dataset[data-name='circle']")
    page.wait("window.playground.config.dataset.name === 'circle'")
    assert page.server_view()["config"]["dataset"]["side"] is None
    assert not page.page.is_visible("#side-row")
    assert page.errors == []


def test_image_view_screenshots(page: Page, server: LiveServer, tmp_path: Path) -> None:
    choose_digits(page)
    page.page.select_option("#optimizer", "adam")
    page.page.select_option("#learning_rate", "0.01")
    page.page.click("#add-dense")
    page.wait("window.playground.config.hidden_layers.length === 3")
    page.page.fill("#train-epochs", "8")
    page.page.click("#train-n")
    page.wait("window.playground.epoch === 8 && window.playground.status === 'paused'", 60_000)
    page.page.click("#examples .example[data-example='3']")
    page.wait("window.playground.maps && window.playground.maps.header.example === 3")
    # the worst mistakes, and the images of the confusion cell with the most mistakes
    page.wait("document.getElementById('mistakes').dataset.epoch === '8' && "
              "document.getElementById('mistakes').dataset.status === 'paused'")
    matrix = page.js(CONFUSION)
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p),
               key=lambda tp: matrix[tp[0]][tp[1]])
    if matrix[t][p]:
        page.page.locator("#confusion tr").nth(t + 1).locator("td").nth(p).click()
        page.wait("!document.getElementById('cell-view').hidden")
    out = shots(tmp_path)
    for width, height in [(1400, 900), (1024, 768), (390, 844)]:
        page.page.set_viewport_size({"width": width, "height": height})
        page.page.wait_for_timeout(300)
        assert page.js("document.documentElement.scrollWidth") <= width, width
        page.page.screenshot(path=str(out / f"images-{width}.png"), full_page=True)
    assert page.errors == []


def test_a_snapshot_of_an_image_experiment(browser: Any, server: LiveServer) -> None:
    """Read-only, but all there is to look at, read from the snapshot's own routes: any test
    image's maps, the layers' shapes and parameters, the confusion cells, the mistakes and a
    drawing. Only changing it is off."""
    net = {"dataset": {"name": "shapes", "classes": 4}, "features": [],
           "hidden_layers": [{"type": "conv", "filters": 4, "kernel": 3},
                             {"type": "pool", "kind": "max", "size": 2}, {"units": 10}]}
    made = httpx.post(f"{server.http}/api/experiments", json=net).json()
    auth = {"Authorization": f"Bearer {made['edit_token']}"}
    httpx.post(f"{server.http}/api/experiments/{made['id']}/train",
               json={"epochs": 2, "wait": True}, headers=auth, timeout=60)
    share = httpx.post(f"{server.http}/api/experiments/{made['id']}/share", headers=auth).json()
    api = f"{server.http}/api/shares/{share['share_id']}"
    # the original trains on: the snapshot must show its own weights, not these
    httpx.post(f"{server.http}/api/experiments/{made['id']}/train",
               json={"epochs": 2, "wait": True}, headers=auth, timeout=60)
    p = Page(browser, server, share["url"].lstrip("/"))
    p.wait("document.querySelectorAll('#examples .example').length === 16")
    assert p.js("window.playground.mode") == "shared"
    assert p.page.locator(".image-layer[data-entry='1'] .maps canvas").count() == 4
    assert not p.page.is_visible("#image-add")  # nothing to change
    assert p.page.locator(".image-layer select:not([disabled])").count() == 0

    # the layers: shapes and parameters, as the snapshot's summary says
    summary = httpx.get(f"{api}/summary").json()
    p.wait(f"document.getElementById('total-params').textContent === "
           f"'{summary['total_params']:,}'")
    assert p.page.text_content(".image-layer[data-entry='2'] .layer-shape").startswith("4 × 6 × 6")

    # a test image of the strip: its maps through every layer, from the snapshot's /maps
    p.page.click("#examples .example[data-example='5']")
    p.wait("window.playground.maps && window.playground.maps.header.example === 5")
    header, grids = decode_frame(httpx.get(f"{api}/maps?example=5").content)
    assert p.page.text_content("#input-shape").endswith(
        f"test image 6, a {header['classes'][header['label']]}")
    shown = p.js("Array.from(document.querySelectorAll('#probabilities .value'))"
                 ".map((e) => Number(e.textContent.replace('%', '')))")
    assert shown == [round(100 * float(q)) for q in grids["probabilities"]]
    assert p.page.locator(".image-layer[data-entry='3'] .maps canvas").count() == 1  # 10 units

    # the worst mistakes and a confusion cell's images: the snapshot's
    classes = header["classes"]
    worst = httpx.get(f"{api}/mistakes", params={"limit": 8}).json()
    p.wait(f"document.querySelectorAll('#mistakes .example').length === {len(worst['items'])}")
    assert p.js(f"({TILES})('#mistakes')") == tiles(worst, classes)
    matrix = p.js(CONFUSION)
    t, q = max(((t, q) for t in range(4) for q in range(4)), key=lambda c: matrix[c[0]][c[1]])
    p.page.locator("#confusion tr").nth(t + 1).locator("td").nth(q).click()
    p.wait("!document.getElementById('cell-view').hidden")
    cell = httpx.get(f"{api}/mistakes", params={"true": t, "predicted": q, "limit": 16}).json()
    assert cell["count"] == matrix[t][q]
    assert p.js(f"({TILES})('#cell-images')") == tiles(cell, classes)

    # a drawing, read by the snapshot's network
    assert p.page.is_visible("#draw")
    box = p.page.locator("#draw").bounding_box()
    assert box is not None
    p.page.mouse.move(box["x"] + 20, box["y"] + 60)
    p.page.mouse.down()
    p.page.mouse.move(box["x"] + 100, box["y"] + 60, steps=8)
    p.page.mouse.up()
    p.wait("window.playground.source === 'drawing' && window.playground.drawn")
    assert p.page.text_content("#draw-verdict").startswith("The network says: ")
    assert p.js("window.playground.frame.header.epoch") == 2  # and it never changes
    assert p.errors == []
    p.page.close()


def test_a_question_about_images_under_way_is_answered_before_a_change_to_points(
        page: Page) -> None:
    """The page asked for the worst mistakes as the learner chose a point data set: the
    request reached the server after the change and was refused (a 422 in the console)."""
    choose_digits(page)
    held: list[Any] = []
    page.page.route("**/mistakes*", lambda route: held.append(route))
    page.page.click("#step")  # a new epoch: the mistakes are asked again
    while not held:
        page.page.wait_for_timeout(50)
    page.page.click(".dataset[data-name='circle']")
    page.page.wait_for_timeout(300)  # the change, had it gone, would be answered by now
    assert page.server_view()["config"]["dataset"]["name"] == "digits"
    for route in held:
        route.continue_()
    page.page.unroute("**/mistakes*")
    page.wait("window.playground.config.dataset.name === 'circle'")
    page.settled()
    assert page.server_view()["config"]["dataset"]["name"] == "circle"
    assert page.errors == []
