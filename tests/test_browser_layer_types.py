"""The page's layer editor and address read /api/meta's layer_types (docs/api.md): each type
the data takes is a button, each field a control, each token a part of the address. Checked
in Chromium against a live server, the meta read from the server, not copied here."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .conftest import LiveServer, Page
from .test_browser_images import choose_digits

# url.js itself, in the page (there is no node here): fromHash/toHash with the given types.
URL_JS = """async ([hash, types]) => {
  const url = await import('/frontend/url.js');
  const read = url.fromHash(hash, types);
  return {config: read.config, refused: read.refused,
          back: read.refused.length ? null : url.toHash(read.config, types)};
}"""

# A recurrent entry written as docs/api.md's contract gives it, for the parser on its own.
LSTM = {"type": "lstm", "label": "LSTM", "description": "a long short-term memory",
        "inputs": ["sequences"], "token": ["lstm", "units", "return_sequences"],
        "fields": {"units": {"default": 16, "min": 1, "max": 64},
                   "return_sequences": {"default": False, "choices": [False, True]}}}


def meta(server: LiveServer) -> dict[str, Any]:
    return httpx.get(f"{server.http}/api/meta").json()


def for_images(server: LiveServer) -> list[dict[str, Any]]:
    return [t for t in meta(server)["layer_types"] if "images" in t["inputs"]]


def kind_of(entry: dict[str, Any]) -> str:
    return entry.get("type", "dense")


def test_each_image_type_is_added_through_the_editor(page: Page, server: LiveServer) -> None:
    types = for_images(server)
    assert {t["type"] for t in types} >= {"dense", "conv", "pool"}
    choose_digits(page)
    buttons = page.js("Array.from(document.querySelectorAll('#image-add button'))"
                      ".map((b) => [b.id, b.textContent, b.title])")
    assert sorted(buttons) == sorted([f"add-{t['type']}", f"+ {t['label']}", t["description"]]
                                     for t in types)
    for t in types:
        before = page.server_view()["config"]["hidden_layers"]
        page.page.click(f"#add-{t['type']}")
        page.wait(f"window.playground.config.hidden_layers.length === {len(before) + 1}")
        after = page.server_view()["config"]["hidden_layers"]
        at = next((i for i, e in enumerate(before) if after[i] != e), len(before))
        assert after[:at] + after[at + 1:] == before  # one layer inserted, the rest kept
        assert kind_of(after[at]) == t["type"]
        for name, f in t["fields"].items():
            assert name in after[at], (t["type"], name)
            if f["default"] is not None:
                assert after[at][name] == f["default"], (t["type"], name)
        # its card: the type's label, a control per field of the kind the field asks for
        card = f".image-layer[data-entry='{at + 1}']"
        page.wait(f"document.querySelector(\"{card} b\")?.textContent === "
                  f"'{at + 1}. {t['label']}'")
        assert page.js(f"document.querySelector(\"{card} b\").title") == t["description"]
        for name, f in t["fields"].items():
            control = page.js(f"document.querySelector(\"{card} [data-field='{name}']\").type")
            choices = f.get("choices")
            if choices and all(isinstance(c, bool) for c in choices):
                assert control == "checkbox", (t["type"], name)
            elif choices:
                assert control == "select-one", (t["type"], name)
            else:  # a number: a box, or a menu of a short range
                assert control in ("number", "select-one"), (t["type"], name)
    # dense reads flat vectors, so it went last; the others before the first dense
    kinds = [kind_of(e) for e in page.server_view()["config"]["hidden_layers"]]
    first_dense = kinds.index("dense")
    assert all(k == "dense" for k in kinds[first_dense:]), kinds

    # one activation for every layer that has one: a pool layer has none
    page.page.select_option("#activation", "elu")
    page.wait("window.playground.config.hidden_layers.filter((l) => l.type === 'conv')"
              ".every((l) => l.activation === 'elu')")
    by_type = {t["type"]: t for t in types}
    for entry in page.server_view()["config"]["hidden_layers"]:
        has = "activation" in by_type[kind_of(entry)]["fields"]
        assert (entry.get("activation") == "elu") if has else "activation" not in entry
    assert page.page.input_value("#activation") == "elu"
    assert page.errors == []


def token_value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, bool) else str(v)


def test_an_address_with_every_image_type_round_trips(browser: Any, server: LiveServer) -> None:
    # the address as it was before layer types came from the server, read as before
    layers = "conv:6:5:2:valid:tanh,pool:avg:2,conv:4:1:1:same:relu,12:relu,5"
    p = Page(browser, server, f"#dataset=digits&features=&classes=10&layers={layers}")
    assert p.server_view()["config"]["hidden_layers"] == [
        {"type": "conv", "filters": 6, "kernel": 5, "stride": 2, "padding": "valid",
         "activation": "tanh"},
        {"type": "pool", "kind": "avg", "size": 2},
        {"type": "conv", "filters": 4, "kernel": 1, "stride": 1, "padding": "same",
         "activation": "relu"},
        {"units": 12, "activation": "relu"},
        {"units": 5, "activation": "tanh"}]  # the activation left out: the server's default
    written = p.js("new URLSearchParams(location.hash.slice(1)).get('layers')")
    assert written == layers.replace(",5", ",5:tanh")
    assert p.errors == []
    p.page.close()

    # every type the server offers for images, one layer of each, written from its token
    parts, expected = [], []
    types = sorted(for_images(server), key=lambda t: "points" in t["inputs"])  # dense last
    for t in types:
        literal = t["token"][0] not in t["fields"]
        layer = {"type": t["type"]} if literal else {}
        for name, f in t["fields"].items():
            layer[name] = f["default"] if f["default"] is not None else min(f["max"], 4)
        values = [token_value(layer[name]) for name in t["token"][1 if literal else 0:]]
        parts.append(":".join([t["token"][0]] * literal + values))
        expected.append(layer)
    layers = ",".join(parts)
    p = Page(browser, server, f"#dataset=digits&features=&classes=10&layers={layers}")
    assert p.server_view()["config"]["hidden_layers"] == expected
    assert p.js("new URLSearchParams(location.hash.slice(1)).get('layers')") == layers
    assert p.errors == []
    p.page.close()


def test_url_js_reads_and_writes_each_token(page: Page, server: LiveServer) -> None:
    types = meta(server)["layer_types"]
    read = page.page.evaluate(URL_JS, ["#layers=conv:8:3:1:same:relu,pool:max:2,8:tanh,3", types])
    assert read["refused"] == []
    assert read["config"]["hidden_layers"] == [
        {"type": "conv", "filters": 8, "kernel": 3, "stride": 1, "padding": "same",
         "activation": "relu"},
        {"type": "pool", "kind": "max", "size": 2}, {"units": 8, "activation": "tanh"},
        {"units": 3}]
    assert "layers=conv:8:3:1:same:relu,pool:max:2,8:tanh,3&" in read["back"] + "&"
    assert page.page.evaluate(URL_JS, ["#layers=none", types])["config"]["hidden_layers"] == []

    # a type the server describes is read with no change of the page: booleans as true/false
    with_lstm = [t for t in types if t["type"] != "lstm"] + [LSTM]
    read = page.page.evaluate(URL_JS, ["#layers=lstm:16:true,lstm:8,4:relu", with_lstm])
    assert read["config"]["hidden_layers"] == [
        {"type": "lstm", "units": 16, "return_sequences": True},
        {"type": "lstm", "units": 8}, {"units": 4, "activation": "relu"}]
    assert "layers=lstm:16:true,lstm:8,4:relu&" in read["back"] + "&"

    # what cannot be read is refused with the reason, and only the layers are left out
    for hash_, reason in [("lstm:16:yes", "true or false"),
                          ("lstm:16:true:3", "takes units:return_sequences"),
                          ("pool:max:two", "not a whole number"),
                          ("lstmm:4", "neither a layer type"),
                          ("8:tanh:3", "takes units:activation")]:
        read = page.page.evaluate(URL_JS, [f"#lr=0.1&layers={hash_}", with_lstm])
        assert [r["key"] for r in read["refused"]] == ["layers"], hash_
        assert reason in read["refused"][0]["reason"], (hash_, read["refused"])
        assert read["config"] == {"optimizer": {"learning_rate": 0.1}}
    assert page.errors == []


def test_meta_layer_types_are_what_the_page_reads(server: LiveServer) -> None:
    """Each entry has what the page asks of it: a token of its own fields (and one literal
    word at most, first), the kinds of data it takes, a label and a description."""
    types = meta(server)["layer_types"]
    assert [t["type"] for t in types][:3] == ["dense", "conv", "pool"]
    untyped = [t for t in types if t["token"][0] in t["fields"]]
    assert [t["type"] for t in untyped] == ["dense"]  # the one written without a type
    for t in types:
        names = t["token"][1:] if t["token"][0] not in t["fields"] else t["token"]
        assert sorted(names) == sorted(t["fields"]), t["type"]
        assert set(t["inputs"]) <= {"points", "images", "sequences"} and t["inputs"]
        assert t["label"] and t["description"]


class SequencePage(Page):
    """A page of sequence data: its experiment made, whether or not frames come for it
    (the sequence views are another part's); what is checked here is the editor."""

    def __init__(self, browser: Any, server: LiveServer, hash_: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 950})
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.server = server
        self.page.goto(f"{server.http}/{hash_}")
        self.wait("window.playground && window.playground.id && window.playground.config")


def test_a_sequence_set_offers_the_recurrent_types(browser: Any, server: LiveServer) -> None:
    m = meta(server)
    assert "waves" in [d["name"] for d in m["sequence_datasets"]]
    offered = [t for t in m["layer_types"] if "sequences" in t["inputs"]]
    assert {"rnn", "lstm", "gru"} <= {t["type"] for t in offered}

    # an address with every recurrent token round-trips
    layers = "conv:4:3:1:same:relu,gru:8:true,lstm:6:true,rnn:5:relu:false,4:tanh"
    p = SequencePage(browser, server, f"#dataset=waves&features=&classes=2&layers={layers}")
    assert p.server_view()["config"]["hidden_layers"][1:] == [
        {"type": "gru", "units": 8, "return_sequences": True},
        {"type": "lstm", "units": 6, "return_sequences": True},
        {"type": "rnn", "units": 5, "activation": "relu", "return_sequences": False},
        {"units": 4, "activation": "tanh"}]
    assert p.js("new URLSearchParams(location.hash.slice(1)).get('layers')") == layers
    # the editor: a button per type that takes sequences, a box to tick per boolean
    p.wait("document.querySelectorAll('#image-layers .image-layer').length === 5")
    ids = p.js("Array.from(document.querySelectorAll('#image-add button')).map((b) => b.id)")
    assert sorted(ids) == sorted(f"add-{t['type']}" for t in offered)
    ticks = p.js("Array.from(document.querySelectorAll('#image-layers [data-field="
                 "\"return_sequences\"]')).map((c) => [c.type, c.checked])")
    assert ticks == [["checkbox", True], ["checkbox", True], ["checkbox", False]]
    assert p.errors == []
    p.page.close()

    p = SequencePage(browser, server, "#dataset=waves&features=&classes=2&layers=8:tanh")
    p.wait("document.getElementById('add-rnn')")
    p.page.click("#add-rnn")  # before the dense layer, which reads its last step
    p.wait("window.playground.config.hidden_layers.length === 2")
    rnn = next(t for t in offered if t["type"] == "rnn")
    added = p.server_view()["config"]["hidden_layers"][0]
    assert added["type"] == "rnn" and added["return_sequences"] is False
    assert added["activation"] == rnn["fields"]["activation"]["default"]
    p.wait("document.querySelector(\".image-layer[data-entry='1'] b\")?.textContent === "
           f"'1. {rnn['label']}'")
    # ticked, it is sent; the server refuses it (one target per sequence) and says why, and
    # the box shows what holds again
    before = p.server_view()["config"]
    box = "[aria-label='return_sequences of layer 1']"
    # a click, not Playwright's check(): the refusal may untick the box before check()
    # looks at it, which check() takes for a click that did nothing
    p.page.click(box)
    p.wait("!document.getElementById('layers-error').hidden")
    assert "return_sequences" in p.page.text_content("#layers-error")
    p.wait(f"!document.querySelector(\"{box}\").checked")
    assert p.server_view()["config"] == before
    # a GRU added after the RNN: the RNN now gives every step for it, the GRU its last
    p.page.click("#add-gru")
    p.wait("window.playground.config.hidden_layers.length === 3")
    assert [layer.get("return_sequences") for layer in
            p.server_view()["config"]["hidden_layers"]] == [True, False, None]
    assert p.errors == []
    p.page.close()
