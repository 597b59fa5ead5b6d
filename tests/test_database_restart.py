"""PostgreSQL restarted under a running server: the calls while it is away answer 503
with a message (never a 500), and the server recovers by itself once it is back.

A throwaway PostgreSQL of its own (scripts/postgres.sh on another port and directory):
the shared test database is never stopped. Skipped only where PostgreSQL is not
installed and no test database was asked for (CI sets PLAYGROUND_TEST_DATABASE_URL, and
postgres.sh installs the server)."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.experiments.store import Store, StoreUnavailable

from .conftest import ROOT, SMALL, TEST_DATABASE_URL, make_settings

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL and not glob.glob("/usr/lib/postgresql/*/bin/initdb"),
    reason="PostgreSQL is not installed (and PLAYGROUND_TEST_DATABASE_URL is not set)")


class Postgres:
    """scripts/postgres.sh's private server, on a port and in a directory of its own."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # straight under /tmp: the postgres user must reach it (pytest's tmp_path is root's)
        self.dir = f"/tmp/playground-pg-restart-{secrets.token_hex(4)}"
        self.env = {**os.environ, "PLAYGROUND_PG_PORT": str(port), "PLAYGROUND_PG_DIR": self.dir}
        self.url = self.script("start")

    def script(self, action: str) -> str:
        done = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), action], env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def remove(self) -> None:
        self.script("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    yield server
    server.remove()


def test_a_restart_while_nobody_called_goes_unnoticed(postgres: Postgres) -> None:
    store = Store(postgres.url)
    try:
        store.save_experiment("e1", "h", {"epoch": 1})
        postgres.script("stop")
        postgres.script("start")
        assert store.load_experiment("e1") == ("h", {"epoch": 1})
    finally:
        store.close()


def test_the_api_answers_503_while_the_database_is_away(postgres: Postgres,
                                                        tmp_path: Path) -> None:
    """The first call waits for the database as long as a restart takes (a few seconds),
    then says so; the next ones fail at once, until it is back; then all works."""
    with TestClient(create_app(make_settings(tmp_path, database_url=postgres.url))) as client:
        made = client.post("/api/experiments", json=SMALL)
        assert made.status_code == 201, made.text
        postgres.script("stop")
        try:
            for _ in range(2):
                r = client.post("/api/experiments", json=SMALL)
                assert r.status_code == 503, r.text
                assert "cannot be reached" in r.json()["error"]
            with pytest.raises(StoreUnavailable):
                client.app.state.service.store.load_experiment(made.json()["id"])  # type: ignore[attr-defined]
        finally:
            postgres.script("start")
        again = client.post("/api/experiments", json=SMALL)
        assert again.status_code == 201, again.text
        exp_id = again.json()["id"]
        assert client.get(f"/api/experiments/{exp_id}").status_code == 200
