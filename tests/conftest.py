"""Shared fixtures: an app on a temporary data directory, a client, a created experiment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.settings import Settings

SMALL = {
    "dataset": {"name": "circle", "n_samples": 200, "noise": 0.0, "train_fraction": 0.5},
    "features": ["x1", "x2"],
    "hidden_layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}],
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
}


def make_settings(tmp: Path, **over: Any) -> Settings:
    base: dict[str, Any] = {"save_interval": 0.5, "grid_resolution": 40, "neuron_resolution": 10}
    return Settings(data_dir=tmp, **{**base, **over})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


class Exp:
    def __init__(self, client: TestClient, body: dict[str, Any]) -> None:
        self.client = client
        self.id = body["id"]
        self.token = body["edit_token"]
        self.body = body

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, tail: str = "") -> str:
        return f"/api/experiments/{self.id}{tail}"

    def post(self, tail: str, json: Any = None) -> Any:
        return self.client.post(self.url(tail), json=json, headers=self.auth)

    def get(self, tail: str = "") -> Any:
        return self.client.get(self.url(tail))


def create(client: TestClient, config: dict[str, Any] | None = None) -> Exp:
    r = client.post("/api/experiments", json=SMALL if config is None else config)
    assert r.status_code == 201, r.text
    return Exp(client, r.json())


@pytest.fixture
def exp(client: TestClient) -> Exp:
    return create(client)


class LiveServer:
    """The app under a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        import socket
        import threading

        import uvicorn

        if port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                ws_max_size=1 << 20)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    yield server
    server.stop()
