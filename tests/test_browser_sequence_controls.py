"""The page's data and training controls for sequences, in Chromium against a live server: the
sequence sets in the picker with their length and classes, the network each kind of data
brings along, gradient clipping and the recurrent weights' init as settings, and the address
that carries them. Every assertion reads what the server holds after the page's change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np

from .conftest import LiveServer, Page

SINE_NET = [{"type": "lstm", "units": 16, "return_sequences": True}]
GRU_NET = [{"type": "gru", "units": 16, "return_sequences": False}]
POINT_NET = [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}]
ADDRESS = "window.location.hash"


def pick(page: Page, name: str) -> dict[str, Any]:
    """Click a data set's button; the server's config once the page holds the change (a
    refused change would leave the old set: this would time out)."""
    page.page.click(f".dataset[data-name='{name}']")
    page.wait(f"window.playground.config.dataset.name === '{name}'")
    page.settled()
    return page.server_view()["config"]


def slide(page: Page, slider: str, value: int) -> None:
    """Let a slider go at `value`, as a drag does: its change event sends it."""
    page.js(f"(() => {{ const s = document.getElementById('{slider}'); s.value = '{value}'; "
            "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); })()")


def test_sine_is_picked_trains_and_its_loss_falls(page: Page) -> None:
    page.page.select_option("#optimizer", "adam")
    page.wait("window.playground.config.optimizer.name === 'adam'")
    lr = page.server_view()["config"]["optimizer"]["learning_rate"]
    assert page.page.is_visible(".datasets-group[data-kind='sequences']")
    config = pick(page, "sine")
    assert config["hidden_layers"] == SINE_NET
    assert (config["problem"], config["features"]) == ("regression", [])
    # the learner's optimizer stays: only the layers, the features and the problem change
    assert (config["optimizer"]["name"], config["optimizer"]["learning_rate"]) == ("adam", lr)
    assert page.page.is_visible("#length-row") and not page.page.is_visible("#classes-row")
    assert page.page.text_content("#length-value") == "40 steps"
    assert page.page.is_visible("#recurrent-field")
    # an LSTM has its activations built in: the menu says so, not "no hidden layer"
    assert page.page.is_disabled("#activation")
    assert page.js("document.getElementById('activation').selectedOptions[0].textContent") \
        == "(built in)"

    page.page.click("#play")
    page.wait("window.playground.epoch >= 4", timeout=60_000)
    page.page.click("#play")
    page.wait("window.playground.status === 'paused'")
    exp = page.js("window.playground.id")
    rows = httpx.get(f"{page.server.http}/api/experiments/{exp}/history").json()["rows"]
    losses = [r["test_loss"] for r in rows if r.get("test_loss") is not None]
    assert len(losses) >= 2 and losses[-1] < losses[0], losses
    assert page.errors == []


def test_every_switch_sends_a_network_that_fits(page: Page) -> None:
    """Each kind of data to each other, both ways; none refused (a refusal leaves the old
    set, and pick() waits for the new one)."""
    steps = [("sine", SINE_NET, "regression"), ("waves", GRU_NET, "classification"),
             ("sine", SINE_NET, "regression"), ("mnist1d", GRU_NET, "classification"),
             ("waves", GRU_NET, "classification"), ("circle", POINT_NET, "classification"),
             ("mnist1d", GRU_NET, "classification"), ("digits", None, "classification"),
             ("waves", GRU_NET, "classification"), ("digits", None, "classification"),
             ("sine", SINE_NET, "regression")]
    for name, net, problem in steps:
        config = pick(page, name)
        assert config["problem"] == problem, name
        if net is None:  # images: the small conv net
            assert [layer["type"] for layer in config["hidden_layers"]] == ["conv", "pool"]
            assert config["features"] == []
        else:
            assert config["hidden_layers"] == net, name
            assert config["features"] == ([] if net is not POINT_NET else ["x1", "x2"]), name
    # from sine (regression) to classification by the problem menu: the point net returns
    page.page.select_option("#problem", "classification")
    page.wait("window.playground.config.features.length === 2")
    config = page.server_view()["config"]
    assert (config["dataset"]["name"], config["hidden_layers"]) == ("circle", POINT_NET)
    # from waves (classification) to regression by the problem menu: a point set, point net
    pick(page, "waves")
    page.page.select_option("#problem", "regression")
    page.wait("window.playground.config.features.length === 2")
    config = page.server_view()["config"]
    assert (config["problem"], config["hidden_layers"]) == ("regression", POINT_NET)
    # from a sequence set to a regression point set
    pick(page, "sine")
    config = pick(page, "reg-plane")
    assert (config["problem"], config["hidden_layers"]) == ("regression", POINT_NET)
    assert config["features"] == ["x1", "x2"] and config["dataset"]["length"] is None
    # the picker shows each sequence set whatever the problem; point sets of that problem
    visible = page.js("Array.from(document.querySelectorAll('.dataset'))"
                      ".filter((d) => !d.hidden).map((d) => d.dataset.name)")
    assert {"sine", "waves", "mnist1d", "reg-plane"} <= set(visible) and "circle" not in visible
    assert page.errors == []


def test_waves_length_and_classes_and_mnist1d_fixed(page: Page) -> None:
    config = pick(page, "waves")
    assert page.page.is_visible("#classes-row") and page.page.is_visible("#length-row")
    assert [page.js("document.getElementById('classes').min"),
            page.js("document.getElementById('classes').max")] == ["2", "4"]
    slide(page, "length", 80)
    page.wait("window.playground.config.dataset.length === 80")
    slide(page, "classes", 3)
    page.wait("window.playground.config.dataset.classes === 3")
    config = page.server_view()["config"]
    assert (config["dataset"]["length"], config["dataset"]["classes"]) == (80, 3)
    assert page.page.text_content("#length-value") == "80 steps"
    assert "length=80" in page.js(ADDRESS) and "classes=3" in page.js(ADDRESS)
    # the GRU reads the last step: waves keep it at any length
    assert config["hidden_layers"] == GRU_NET

    # MNIST-1D is 40 steps, always: said, not offered; its ten classes are not a choice
    config = pick(page, "mnist1d")
    assert config["dataset"]["length"] is None and config["dataset"]["classes"] == 10
    assert config["dataset"]["train_fraction"] == 0.8  # the paper's 4 000 / 1 000
    assert page.page.is_visible("#length-row") and page.page.is_disabled("#length")
    assert page.page.text_content("#length-value") == "40 steps (fixed)"
    assert not page.page.is_visible("#classes-row")
    assert page.page.is_disabled("#noise")
    assert "length=" not in page.js(ADDRESS)

    # back to the circle: the point net, no length
    config = pick(page, "circle")
    assert config["hidden_layers"] == POINT_NET and config["features"] == ["x1", "x2"]
    assert config["dataset"]["length"] is None and config["dataset"]["classes"] == 2
    assert not page.page.is_visible("#length-row")
    assert page.errors == []


def test_gradient_clipping_and_recurrent_init_controls(page: Page) -> None:
    # the recurrent weights' init is offered only where there is a recurrent layer
    assert not page.page.is_visible("#recurrent-field")
    page.page.select_option("#clip_norm", "1")
    page.wait("window.playground.config.optimizer.clip_norm === 1")
    assert page.server_view()["config"]["optimizer"]["clip_norm"] == 1
    assert "clipNorm=1" in page.js(ADDRESS)
    # its "?" says what it does in words
    help_button = page.page.locator("button.help[aria-label='Help: Clip gradients']")
    help_button.click()
    text = page.page.text_content(f"#{help_button.get_attribute('aria-controls')}")
    assert "longer than this" in text and "scaled down" in text

    pick(page, "waves")
    assert page.server_view()["config"]["optimizer"]["clip_norm"] == 1  # kept across data
    assert page.page.is_visible("#recurrent-field")
    page.page.select_option("#init_recurrent", "init")
    page.wait("window.playground.config.init.recurrent === 'init'")
    assert page.server_view()["config"]["init"]["recurrent"] == "init"
    assert "initRecurrent=init" in page.js(ADDRESS)
    page.page.select_option("#clip_norm", "")
    page.wait("window.playground.config.optimizer.clip_norm === null")
    assert page.server_view()["config"]["optimizer"]["clip_norm"] is None
    assert "clipNorm" not in page.js(ADDRESS)
    assert page.errors == []


def test_an_address_with_length_clipping_and_recurrent_init(browser: Any,
                                                            server: LiveServer) -> None:
    hash_ = ("#problem=classification&dataset=waves&classes=3&length=60&features="
             "&layers=gru:8&initRecurrent=init&clipNorm=2.5&optimizer=adam&lr=0.01")
    p = Page(browser, server, hash_)
    config = p.server_view()["config"]
    assert config["dataset"]["name"] == "waves"
    assert (config["dataset"]["length"], config["dataset"]["classes"]) == (60, 3)
    assert config["hidden_layers"] == [{"type": "gru", "units": 8, "return_sequences": False}]
    assert config["init"]["recurrent"] == "init" and config["optimizer"]["clip_norm"] == 2.5
    # the controls show it as it is: 2.5 is no step of the menu, and is not rounded
    assert p.page.input_value("#clip_norm") == "2.5"
    assert p.page.input_value("#init_recurrent") == "init"
    assert p.page.text_content("#length-value") == "60 steps"
    assert all(part in p.js(ADDRESS) for part in ("length=60", "clipNorm=2.5",
                                                  "initRecurrent=init"))
    assert p.errors == []
    p.page.close()

    # an address of before reads as before: no length, no clipping, orthogonal
    old = Page(browser, server, "#problem=classification&dataset=xor&layers=3:relu&lr=0.1")
    config = old.server_view()["config"]
    assert config["dataset"]["name"] == "xor" and config["dataset"]["length"] is None
    assert config["optimizer"]["clip_norm"] is None and config["init"]["recurrent"] == "orthogonal"
    assert config["hidden_layers"] == [{"units": 3, "activation": "relu"}]
    assert old.errors == []
    old.page.close()


def test_a_csv_uploaded_on_a_sequence_set_brings_the_point_net(page: Page,
                                                               tmp_path: Path) -> None:
    """Points need x1, x2 and dense layers: an upload of points while a recurrent net
    trains on sequences brings the point net along, rather than be refused."""
    pick(page, "waves")
    csv = tmp_path / "mine.csv"
    csv.write_text("x1,x2,y\n" + "".join(f"{(i % 9) - 4},{(i % 7) - 3},{int(i % 9 > 4)}\n"
                                         for i in range(80)))
    page.page.set_input_files("#upload", str(csv))
    page.wait("window.playground.config.dataset.name === 'custom'")
    config = page.server_view()["config"]
    assert config["features"] == ["x1", "x2"] and config["hidden_layers"] == POINT_NET
    # and from the upload to a sequence set again: the GRU returns
    assert pick(page, "waves")["hidden_layers"] == GRU_NET
    assert page.errors == []


def test_the_docs_list_every_address_key() -> None:
    """docs/config.md's table of the address holds every key of url.js's FIELDS, each beside
    its config field."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    fields = re.findall(r'\["(\w+)", "([\w.]+)", \w+\]',
                        (root / "frontend" / "url.js").read_text(encoding="utf-8"))
    assert ("clipNorm", "optimizer.clip_norm") in fields and len(fields) > 30
    doc = (root / "docs" / "config.md").read_text(encoding="utf-8")
    section = doc[doc.index("## The page's address"):]
    section = section[:section.index("\n## ")] if "\n## " in section else section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for key, path in fields:
        row = next((r for r in rows if f"`{key}=`" in r), None)
        assert row is not None, f"docs/config.md's address table lacks {key}="
        last = path.split(".")[-1]
        assert f"`{path}`" in row or f"`.{last}`" in row, (key, path, row)


def test_uploaded_sequences_bring_a_recurrent_net_and_its_editor(page: Page,
                                                                 tmp_path: Path) -> None:
    """A learner's own NPZ of sequences, one class per sequence: the page sends the upload
    with a GRU that reads the last step, the editor then offers the recurrent types (the
    frames say the data are sequences: the config alone cannot), and the views draw."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 15)).astype(np.float32)  # (n, T): one channel
    y = (x.sum(axis=1) > 0).astype(np.int64)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y)
    page.page.set_input_files("#upload-sequences", str(path))
    page.wait("window.playground.config.dataset.name === 'custom'")
    page.settled()
    config = page.server_view()["config"]
    assert config["hidden_layers"] == GRU_NET and config["features"] == []
    assert config["problem"] == "classification"
    page.wait("document.getElementById('add-gru') !== null")
    assert page.page.is_visible("#add-lstm") and page.page.is_visible("#add-rnn")
    page.wait("document.querySelector('#seq-layers canvas') !== null")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=x, y=np.arange(59))
    page.page.set_input_files("#upload-sequences", str(bad))
    page.wait("!document.getElementById('upload-error').hidden")
    assert "Sequences refused" in page.page.text_content("#upload-error")
    assert page.server_view()["config"]["dataset"]["id"] == config["dataset"]["id"]
