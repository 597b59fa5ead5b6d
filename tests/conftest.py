"""Shared fixtures: an app on a temporary data directory, a client, a created experiment.

With PLAYGROUND_TEST_DATABASE_URL set (postgresql://..., as scripts/test.sh does), the
modules in BOTH_STORES run each test twice: on SQLite ([sqlite]) and on PostgreSQL
([postgresql]), each PostgreSQL test in a schema of its own, dropped after it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright import sync_api

from backend.api.app import create_app
from backend.settings import Settings

SMALL = {
    "dataset": {"name": "circle", "n_samples": 200, "noise": 0.0, "train_fraction": 0.5},
    "features": ["x1", "x2"],
    "hidden_layers": [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}],
    "optimizer": {"name": "sgd", "learning_rate": 0.03},
    "batch_size": 10,
}


# The store ---------------------------------------------------------------------------------
TEST_DATABASE_URL = os.environ.get("PLAYGROUND_TEST_DATABASE_URL", "")
STORES = ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]
# The modules whose every test runs on both stores: the REST and websocket contract (api,
# websocket, classes), retention and the save paths (hardening), and the store's own. The
# PostgreSQL half costs what the SQLite half does plus ~65 ms a test (a schema made,
# migrated and dropped): measured on 2 busy cores, api 17 s, websocket 30 s, classes 20 s,
# hardening 10 s; consistency (13 s) and concurrency (23 s) would pass too, but exercise
# the store no differently and would take the suite past its 10 minutes.
BOTH_STORES = {"test_api", "test_websocket", "test_classes", "test_hardening", "test_store"}
_database_url = ""  # the store of the test running now: "" is SQLite in its data_dir


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if "database" in metafunc.fixturenames and len(STORES) > 1 and module in BOTH_STORES:
        metafunc.parametrize("database", STORES, indirect=True)


@contextlib.contextmanager
def postgres_schema(url: str = TEST_DATABASE_URL, prefix: str = "test") -> Iterator[str]:
    """A schema of its own in the test database, dropped after: answers the URL whose
    connections see it (and only it) as their search path."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    import psycopg

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={name}")]
    try:
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(autouse=True)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which store this test's apps use (make_settings reads it): SQLite unless the module
    runs on both and this is its PostgreSQL half."""
    global _database_url
    if getattr(request, "param", "sqlite") == "sqlite":
        yield ""
        return
    with postgres_schema() as url:
        _database_url = url
        try:
            yield url
        finally:
            _database_url = ""


def make_settings(tmp: Path, **over: Any) -> Settings:
    # workers=0: training in a thread (jobs pickled all the same); test_workers.py runs the
    # worker processes themselves.
    base: dict[str, Any] = {"save_interval": 0.5, "grid_resolution": 40, "neuron_resolution": 10,
                            "workers": 0, "database_url": _database_url}
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
        options = {**settings.server_options(), "host": "127.0.0.1", "port": self.port}
        config = uvicorn.Config(self.app, log_level="warning", **options)
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


# The browser: Debian's Chromium driven by Playwright ----------------------------------
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(browser_settings(tmp_path))
    yield live
    live.stop()


def browser_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, grid_resolution=100, neuron_resolution=25)


def wait_for(page: Any, expression: str, timeout: float = 15_000) -> None:
    """Poll until the expression is truthy. Playwright's wait_for_function evaluates its
    predicate with eval(), which our content security policy rightly forbids."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout / 1000:g} s: {expression}")
        time.sleep(0.05)


class Page:
    """A page with its console errors collected."""

    def __init__(self, browser: Any, server: LiveServer, hash_: str = "") -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 950})
        self.errors: list[str] = []
        # a failed fetch's message names no URL; its location does
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"{m.text} ({m.location.get('url', '')})"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.server = server
        self.page.goto(f"{server.http}/{hash_}")
        self.wait("window.playground && window.playground.frame")

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    @property
    def config(self) -> dict[str, Any]:
        return self.js("window.playground.config")

    def epoch(self) -> int:
        return int(self.page.text_content("#epoch").replace(",", ""))

    def wait(self, expression: str, timeout: float = 15_000) -> None:
        wait_for(self.page, expression, timeout)

    def settled(self) -> None:
        """Wait until the server has answered everything this page sent before: its
        commands go over one websocket, answered in order, so a ping's answer comes after
        theirs. "Nothing happened" is then a fact, not a guess after a sleep."""
        assert self.js("window.playground.socket.send({type: 'ping'}).then(r => r.type)") \
            == "ack"

    def server_view(self) -> dict[str, Any]:
        # a busy machine may take seconds to answer after a change of data (MNIST-1D's
        # 5 000 sequences measured): wait as a person would, not httpx's 5 s
        return httpx.get(f"{self.server.http}/api/experiments/{self.js('window.playground.id')}",
                         timeout=60).json()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Page]:
    p = Page(browser, server)
    yield p
    p.page.close()


