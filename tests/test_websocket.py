"""The websocket over a real uvicorn server: frames decode, agree with /boundary, and
commands, errors and several viewers behave as docs/protocol.md says."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from backend.experiments.frames import decode_frame

from .conftest import SMALL, LiveServer


def create(live: LiveServer, config: dict[str, Any] | None = None) -> tuple[str, str]:
    r = httpx.post(f"{live.http}/api/experiments", json=config or SMALL)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["edit_token"]


def open_ws(live: LiveServer, exp_id: str, token: str | None = None) -> ClientConnection:
    """Connect; with a token, authenticate by command (tokens never go in an address)."""
    ws = connect(f"{live.ws}/ws/experiments/{exp_id}", max_size=1 << 24)
    hello = json.loads(ws.recv(timeout=5))
    assert hello["type"] == "hello" and hello["id"] == exp_id and hello["editable"] is False
    if token is not None:
        assert command(ws, {"type": "auth", "token": token})["editable"] is True
    return ws


PENDING: dict[int, list[tuple[dict, dict]]] = {}  # frames that came during a command


def next_frame(ws: ClientConnection, timeout: float = 5) -> tuple[dict, dict]:
    if PENDING.get(id(ws)):
        return PENDING[id(ws)].pop(0)
    deadline = time.monotonic() + timeout
    while True:
        msg = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(msg, bytes):
            return decode_frame(msg)


def command(ws: ClientConnection, message: Any, raw: bool = False) -> dict[str, Any]:
    """Send, and return the reply; frames that arrive meanwhile wait in PENDING."""
    ws.send(message if raw else json.dumps(message))
    while True:
        msg = ws.recv(timeout=5)
        if isinstance(msg, str):
            return json.loads(msg)
        PENDING.setdefault(id(ws), []).append(decode_frame(msg))


def wait_epoch(ws: ClientConnection, epoch: int) -> dict[str, Any]:
    header, _ = next_frame(ws)
    while header["epoch"] < epoch:
        header, _ = next_frame(ws)
    return header


def test_first_frame_decodes_and_agrees_with_boundary(live: LiveServer) -> None:
    exp_id, _ = create(live)
    with open_ws(live, exp_id) as ws:
        header, grids = next_frame(ws)
    assert header["type"] == "frame" and header["epoch"] == 0 and header["status"] == "paused"
    assert set(grids) == {"output", "inputs", "layer1", "layer2", "weights0", "weights1",
                          "weights2", "biases0", "biases1", "biases2"}
    assert grids["output"].shape == (1, 40, 40) and grids["output"].dtype == np.float16
    assert grids["layer1"].shape == (4, 10, 10) and grids["inputs"].shape == (2, 10, 10)
    boundary = httpx.get(f"{live.http}/api/experiments/{exp_id}/boundary",
                         params={"resolution": 40}).json()
    np.testing.assert_allclose(grids["output"].astype(float), boundary["output"], atol=2e-3)
    small = httpx.get(f"{live.http}/api/experiments/{exp_id}/boundary",
                      params={"resolution": 10}).json()
    for i, layer in enumerate(small["layers"]):
        span = np.ptp(layer, axis=(1, 2))[:, None, None] + 1e-12
        assert np.all(np.abs(grids[f"layer{i + 1}"] - layer) <= span / 255 + 1e-6)
    assert [grids[f"weights{i}"].shape for i in range(3)] == [(2, 4), (4, 2), (2, 1)]
    assert [grids[f"biases{i}"].shape for i in range(3)] == [(4,), (2,), (1,)]
    assert header["metrics"]["test_loss"] > 0


def play_then_pause(live: LiveServer) -> None:
    """Play over the websocket: running frames of rising epochs; pause: the run stops (the
    Ray engine's tests run it too)."""
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        next_frame(ws)
        assert command(ws, {"type": "play"}) == {"type": "ack", "command": "play"}
        epochs = [next_frame(ws)[0]["epoch"] for _ in range(10)]
        assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
        header, _ = next_frame(ws)
        assert header["status"] == "running" and header["grad_norms"][0] > 0
        assert command(ws, {"type": "pause"})["type"] == "ack"
        stopped = httpx.get(f"{live.http}/api/experiments/{exp_id}").json()
        assert stopped["status"] == "paused"
        time.sleep(0.3)
        assert httpx.get(f"{live.http}/api/experiments/{exp_id}").json()["epoch"] == \
            stopped["epoch"]


def test_play_streams_rising_epochs_and_pause_stops_them(live: LiveServer) -> None:
    play_then_pause(live)


def test_frame_rate_is_bounded(live: LiveServer) -> None:
    exp_id, token = create(live)
    rate = live.app.state.settings.frame_rate
    with open_ws(live, exp_id, token) as ws:
        command(ws, {"type": "play"})
        start, count = time.monotonic(), 0
        while time.monotonic() - start < 1.5:
            next_frame(ws)
            count += 1
        command(ws, {"type": "pause"})
    fps = count / 1.5
    assert 5 <= fps <= rate * 1.2 + 2


def test_two_viewers_watch_one_run(live: LiveServer) -> None:
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as a, open_ws(live, exp_id) as b:
        next_frame(a)
        next_frame(b)
        command(a, {"type": "step", "epochs": 3})
        for ws in (a, b):
            assert wait_epoch(ws, 3)["epoch"] == 3
        reply = command(b, {"type": "play"})
        assert reply["type"] == "error" and "edit token" in reply["message"]
        assert command(b, {"type": "auth", "token": token}) == {
            "type": "ack", "command": "auth", "editable": True}
        assert command(b, {"type": "step"})["type"] == "ack"


def test_update_and_set_weight_over_the_socket(live: LiveServer) -> None:
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        first, _ = next_frame(ws)
        reply = command(ws, {"type": "update", "config": {"optimizer": {"learning_rate": 0.3}}})
        assert reply["weights_kept"] is True and reply["config"]["optimizer"]["learning_rate"] \
            == 0.3
        reply = command(ws, {"type": "set_weight", "layer": 0, "source": 1, "target": 2,
                             "value": 2.5})
        assert reply == {"type": "ack", "command": "set_weight"}
        header, grids = next_frame(ws)
        while grids["weights0"][1][2] != 2.5:
            header, grids = next_frame(ws)
        assert header["revision"] > first["revision"]
        reply = command(ws, {"type": "update", "config": {"hidden_layers": [{"units": 3}]}})
        assert reply["weights_kept"] is False
        reply = command(ws, {"type": "update", "config": {"dropout": 7}})
        assert reply["type"] == "error" and "dropout" in reply["message"]


@pytest.mark.parametrize(("message", "raw", "words"), [
    ("not json at all", True, "not JSON"),
    ([1, 2, 3], False, "JSON object"),
    ({"type": "explode"}, False, "unknown command"),
    ({"type": "step", "epochs": "many"}, False, "epochs: Input should be a valid integer"),
    ({"type": "step", "epochs": 0}, False, "epochs: Input should be greater than or equal to 1"),
    ({"type": "set_weight", "layer": 0, "target": 0, "value": "x"}, False, "number"),
    (b"\x00\x01binary", True, "binary"),
    ("x" * 70_000, True, "over"),
])
def test_garbage_gets_an_error_and_the_connection_stays(live: LiveServer, message: Any,
                                                        raw: bool, words: str) -> None:
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        reply = command(ws, message, raw=raw)
        assert reply["type"] == "error" and words in reply["message"]
        assert command(ws, {"type": "ping"})["type"] == "ack"


def test_flooding_is_refused_but_the_connection_stays(live: LiveServer) -> None:
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        for _ in range(200):
            ws.send(json.dumps({"type": "ping"}))
        replies = []
        while len(replies) < 200:
            msg = ws.recv(timeout=5)
            if isinstance(msg, str):
                replies.append(json.loads(msg))
        assert any(r["type"] == "error" and "slow down" in r["message"] for r in replies)
        time.sleep(1.1)
        assert command(ws, {"type": "ping"})["type"] == "ack"


def test_unknown_experiment_closes_with_4404(live: LiveServer) -> None:
    with connect(f"{live.ws}/ws/experiments/nope") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "error"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4404


def test_disconnect_leaves_nothing_behind(live: LiveServer) -> None:
    exp_id, _ = create(live)
    watch = live.app.state.service.runner.watch(exp_id)
    for _ in range(3):
        with open_ws(live, exp_id) as ws:
            next_frame(ws)
            assert watch.viewers >= 1
    deadline = time.monotonic() + 30  # a hang guard
    while watch.viewers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watch.viewers == 0


@pytest.mark.parametrize(("setting", "words"), [("max_viewers", "viewers"),
                                                 ("max_sockets_per_client", "your address")])
def test_viewers_per_experiment_and_per_address_are_limited(tmp_path: Any, setting: str,
                                                            words: str) -> None:
    from .conftest import make_settings

    server = LiveServer(make_settings(tmp_path, **{setting: 2}))
    try:
        exp_id, _ = create(server)
        with open_ws(server, exp_id), open_ws(server, exp_id), \
                connect(f"{server.ws}/ws/experiments/{exp_id}") as third:
            reply = json.loads(third.recv(timeout=5))
            assert reply["type"] == "error" and words in reply["message"]
            with pytest.raises(ConnectionClosed):
                third.recv(timeout=5)
            assert third.close_code == 4429
        # The counts go down again when they close: the server counts a viewer out just
        # after it has answered the viewer's close, so a client can be back before that.
        watch = server.app.state.service.runner.watch(exp_id)
        deadline = time.monotonic() + 10
        while (watch.viewers or server.app.state.sockets) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watch.viewers == 0 and not server.app.state.sockets
        with open_ws(server, exp_id):
            pass
    finally:
        server.stop()


def test_a_viewer_that_stops_reading_grows_nothing(tmp_path: Any) -> None:
    import tracemalloc

    from .conftest import make_settings

    live = LiveServer(make_settings(tmp_path, grid_resolution=100, neuron_resolution=25))
    # Long epochs: the loss curve, a row an epoch, must not pass for a frame backlog.
    exp_id, token = create(live, {**SMALL, "dataset": {"name": "circle", "n_samples": 4000},
                                  "batch_size": 1})
    try:
        with connect(f"{live.ws}/ws/experiments/{exp_id}", max_size=1 << 24,
                     max_queue=1) as stalled, open_ws(live, exp_id) as reader:
            frame_bytes = len(reader.recv(timeout=5))
            command(reader, {"type": "auth", "token": token})
            command(reader, {"type": "play"})
            tracemalloc.start()
            for _ in range(30):  # settle: the stalled viewer's buffers are full by now
                next_frame(reader)
            before, _ = tracemalloc.get_traced_memory()
            start, frames = time.monotonic(), 0
            while time.monotonic() - start < 4:  # 'stalled' reads nothing all this time
                next_frame(reader)
                frames += 1
            after, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            command(reader, {"type": "pause"})
            assert stalled.protocol.state.name == "OPEN"
    finally:
        live.stop()
    assert frames >= 40  # the reader is not held back by the stalled viewer
    # Had the stalled viewer's frames queued up, this would be about frames x frame_bytes.
    assert after - before < frames * frame_bytes / 2, (after - before, frames, frame_bytes)


def test_a_hidden_viewer_gets_no_frames_and_none_are_built_for_it(live: LiveServer) -> None:
    """A page in a background tab says so (`view` with frames false): training goes on,
    no frame is built or sent for it, and the frame of now comes once it shows again."""
    exp_id, token = create(live)
    frames = live.app.state.service.runner.frames
    with open_ws(live, exp_id, token) as ws:
        next_frame(ws)
        assert command(ws, {"type": "view", "frames": False})["type"] == "ack"
        built = frames.frames[exp_id][0]
        assert command(ws, {"type": "play", "epochs": 30})["type"] == "ack"
        deadline = time.monotonic() + 20
        while httpx.get(f"{live.http}/api/experiments/{exp_id}").json()["epoch"] < 30:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert command(ws, {"type": "ping"})["type"] == "ack"
        assert not PENDING.get(id(ws))  # nothing came while it was hidden
        assert frames.frames[exp_id][0] == built  # and nothing was built for it
        health = httpx.get(f"{live.http}/healthz").json()
        assert command(ws, {"type": "view", "frames": True})["type"] == "ack"
        header, grids = next_frame(ws)
        assert header["epoch"] == 30 and "layer1" in grids
        after = httpx.get(f"{live.http}/healthz").json()
        assert after["frames_built"] == health["frames_built"] + 1
        assert after["frame_seconds"] > health["frame_seconds"]


def test_a_viewer_without_the_network_gets_frames_without_neurons(live: LiveServer) -> None:
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        next_frame(ws)
        assert command(ws, {"type": "view", "neurons": False})["type"] == "ack"
        assert command(ws, {"type": "play"})["type"] == "ack"
        header, grids = next_frame(ws)
        while header["epoch"] < 2:
            header, grids = next_frame(ws)
        assert set(grids) == {"output", "weights0", "weights1", "weights2", "biases0",
                              "biases1", "biases2"}
        assert grids["output"].shape == (1, 40, 40)
        # another viewer that shows the network gets its neurons, from the same run
        with open_ws(live, exp_id) as other:
            _, theirs = next_frame(other)
            _, theirs = next_frame(other)
            assert {"inputs", "layer1", "layer2"} <= set(theirs)
        assert command(ws, {"type": "view", "neurons": True})["type"] == "ack"
        _, grids = next_frame(ws)
        while "layer1" not in grids:  # a frame built before the view came may come first
            _, grids = next_frame(ws)
        assert grids["layer1"].shape == (4, 10, 10)
        assert command(ws, {"type": "pause"})["type"] == "ack"


def test_view_fields_are_checked(live: LiveServer) -> None:
    exp_id, _ = create(live)
    with open_ws(live, exp_id) as ws:
        reply = command(ws, {"type": "view", "frames": "no"})
        assert reply["type"] == "error" and "frames" in reply["message"]
        reply = command(ws, {"type": "view", "frames": True, "zoom": 2})
        assert reply["type"] == "error" and "zoom" in reply["message"]


def test_a_viewers_view_costs_the_others_nothing(live: LiveServer) -> None:
    """Changing what one viewer shows is not a change of the experiment: no new version,
    no frame built, nothing sent to the others; the one that shows more gets the frame
    of now (from the cache)."""
    exp_id, _ = create(live)
    with open_ws(live, exp_id) as a, open_ws(live, exp_id) as b:
        next_frame(a), next_frame(b)
        built = httpx.get(f"{live.http}/healthz").json()["frames_built"]
        version = live.app.state.service.runner.watch(exp_id).version
        for _ in range(5):
            assert command(a, {"type": "view", "frames": False})["type"] == "ack"
            assert command(a, {"type": "view", "frames": True})["type"] == "ack"
            header, grids = next_frame(a)
            assert header["epoch"] == 0 and "layer1" in grids
        assert command(b, {"type": "ping"})["type"] == "ack"
        assert not PENDING.get(id(b))
        with pytest.raises(TimeoutError):
            b.recv(timeout=0.3)
        assert live.app.state.service.runner.watch(exp_id).version == version
        assert httpx.get(f"{live.http}/healthz").json()["frames_built"] == built
