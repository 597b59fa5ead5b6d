"""`playground serve` and `playground healthcheck` as the image runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.cli import main, serve_arguments

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A server started with --port, while PLAYGROUND_PORT says another port."""
    port = free_port()
    env = {**os.environ, "PLAYGROUND_PORT": str(free_port()), "PLAYGROUND_WORKERS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port),
                             "--data-dir", str(tmp_path / "data"), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60  # a hang guard: the server starts
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            assert proc.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.1)
    proc.port = port  # type: ignore[attr-defined]
    yield proc
    proc.kill()
    proc.wait()


def test_the_health_check_finds_a_port_given_by_the_flag(
        server: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Bug: the image's health check read PLAYGROUND_PORT only: `serve --port` broke it."""
    monkeypatch.setenv("PLAYGROUND_PORT", str(free_port()))  # not where it listens
    assert main(["healthcheck", "--pid", str(server.pid)]) == 0
    # from the environment alone (process 1 here is no server), the wrong port: unhealthy
    assert main(["healthcheck", "--pid", str(os.getpid())]) == 1
    assert "no answer from http://127.0.0.1:" in capsys.readouterr().err
    monkeypatch.setenv("PLAYGROUND_PORT", str(server.port))  # type: ignore[attr-defined]
    assert main(["healthcheck", "--pid", str(os.getpid())]) == 0
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    assert main(["healthcheck", "--pid", str(os.getpid())]) == 1


def test_the_serve_flags_are_read_from_either_command_line() -> None:
    assert serve_arguments(["/opt/venv/bin/python3", "/opt/venv/bin/playground", "serve",
                            "--port", "9000"]) == ["--port", "9000"]
    assert serve_arguments(["python", "-m", "backend.cli", "serve"]) == []
    assert serve_arguments(["/sbin/docker-init", "--", "playground", "serve", "--host",
                            "::"]) == ["--host", "::"]
    assert serve_arguments(["python", "-m", "pytest", "serve"]) is None
    assert serve_arguments(["playground", "train"]) is None


def test_a_data_dir_that_cannot_be_written_says_what_to_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bind-mounted /data owned by another user: one line that says how to fix it."""
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["serve", "--data-dir", str(blocked / "data"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"must be a directory that user {os.getuid()} can write" in err
    assert f"chown {os.getuid()} DIR" in err and "PLAYGROUND_DATA_DIR" in err


class Init:
    """`playground serve` as process 1 of its own PID namespace, as in a container: there
    a signal without a handler is ignored, not fatal."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", sys.executable, "-m", "backend.cli", "serve",
             "--port", str(self.port), "--data-dir", str(tmp_path / "data")],
            cwd=ROOT, env={**os.environ, "PLAYGROUND_SAVE_INTERVAL": "60"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20  # a hang guard: unshare forks the server
        while not (children := Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
                   .read_text().split()):
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                self.proc.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.01)
        self.server = int(children[0])  # its pid out here; 1 in there

    def terminate(self) -> int:
        """SIGTERM to the server, as `docker stop` sends; its exit code, or a hang."""
        os.kill(self.server, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)  # a hang guard: without a handler, forever
        finally:
            self.proc.kill()

    def up(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                assert self.proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)


def test_as_process_1_a_stop_with_a_run_going_is_clean_and_saves(tmp_path: Path) -> None:
    """The image's server is process 1 (exec form): SIGTERM pauses the run, saves, exits 0."""
    init = Init(tmp_path)
    init.up()
    r = httpx.post(f"{init.url}/api/experiments", json={"dataset": {"name": "xor"}})
    exp, auth = r.json()["id"], {"Authorization": f"Bearer {r.json()['edit_token']}"}
    httpx.post(f"{init.url}/api/experiments/{exp}/train", json={}, headers=auth)
    while (seen := httpx.get(f"{init.url}/api/experiments/{exp}").json()["epoch"]) < 20:
        time.sleep(0.05)  # the run goes (save_interval is 60 s: only the stop saves it)
    assert init.terminate() == 0
    restarted = Init(tmp_path)
    restarted.up()
    body = httpx.get(f"{restarted.url}/api/experiments/{exp}").json()
    assert restarted.terminate() == 0
    assert body["status"] == "paused" and body["epoch"] >= seen


def test_a_stop_while_it_starts_ends_it(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: as process 1, a SIGTERM that came before uvicorn's handler (imports, opening the
    store) was ignored: the server came up anyway and docker stop killed it 10 s later.
    From the start of `serve`, a SIGTERM ends it (exit 0: nothing runs yet)."""
    import uvicorn

    handlers: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: handlers.append(
        signal.getsignal(signal.SIGTERM)))
    before = signal.getsignal(signal.SIGTERM)
    try:
        assert main(["serve", "--data-dir", str(tmp_path), "--port", "0"]) == 0
    finally:
        signal.signal(signal.SIGTERM, before)
    assert callable(handlers[0])  # in place once the app is built (uvicorn's comes next)
    with pytest.raises(SystemExit) as stopped:
        handlers[0](signal.SIGTERM, None)
    assert stopped.value.code == 0
