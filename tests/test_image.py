"""The Dockerfile: what a build cannot show here (no container engine in CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, its arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip())
            for ln in joined.splitlines() if ln.strip()]


def test_the_server_is_process_1() -> None:
    """Bug: CMD ["sh", "-c", ...] left sh as process 1, which ignores SIGTERM: docker stop
    waited 10 s and killed the server, which never saved."""
    cmds = [args for kind, args in instructions() if kind == "CMD"]
    assert len(cmds) == 1
    assert json.loads(cmds[0]) == ["playground", "serve"]  # exec form, no shell


def test_the_health_check_asks_the_playground_not_a_fixed_port() -> None:
    check = next(args for kind, args in instructions() if kind == "HEALTHCHECK")
    assert json.loads(check.split("CMD", 1)[1]) == ["playground", "healthcheck"]


def test_a_source_change_does_not_reinstall_the_dependencies() -> None:
    steps = instructions()
    deps = next(i for i, (kind, args) in enumerate(steps)
                if kind == "RUN" and "pip install -r" in args)
    copies = [i for i, (kind, args) in enumerate(steps) if kind == "COPY"]
    sources = [i for i in copies if steps[i][1].split()[0] in
               ("backend", "frontend", "static", "templates", ".")]
    assert steps[copies[0]][1].split()[0] == "pyproject.toml" and copies[0] < deps
    assert sources and min(sources) > deps
    editable = next(args for kind, args in steps if kind == "RUN" and "-e ." in args)
    assert "--no-deps" in editable


def test_a_gpu_build_brings_the_cuda_libraries() -> None:
    """Bug: cupy-cuda12x alone on a slim base has no CUDA libraries to load."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'gpu = \["cupy-cuda12x\[ctk\]', pyproject)
