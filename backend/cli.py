"""`playground train | serve | healthcheck | bench`."""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import runpy
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]],
                                   Callable[[argparse.Namespace], int]]:
    def add(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return add


def _error(message: str) -> int:
    print(f"playground: {message}", file=sys.stderr)
    return 2


def format_validation_error(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                     for e in exc.errors())


@command("train")
def train(args: argparse.Namespace) -> int:
    from backend.data import DataError, load_user_data
    from backend.engine import DeviceError, Model, get_backend
    from backend.experiments.config import parse_config
    from backend.experiments.dataset import build_data

    try:
        config = parse_config(json.loads(Path(args.config).read_text(encoding="utf-8")))
        upload = None
        if config.dataset.name == "custom":
            if not args.data:
                return _error("a custom data set needs --data FILE (.csv or .json)")
            upload = load_user_data(Path(args.data), config.problem)
        data = build_data(config, upload)
        backend = get_backend(args.device)
        model = Model(config.to_spec(data.n_classes, input_shape=data.input_shape,
                              per_step=data.per_step), backend)
    except OSError as exc:
        return _error(str(exc))
    except json.JSONDecodeError as exc:
        return _error(f"{args.config} is not JSON: {exc}")
    except ValidationError as exc:
        return _error(f"bad config: {format_validation_error(exc)}")
    except (DataError, DeviceError, ValueError) as exc:
        return _error(str(exc))
    if backend.note and not args.json:
        print(backend.note, file=sys.stderr)
    x_train, x_test = data.features(config.features)
    batch = config.batch_size
    every = max(1, args.epochs // 10)
    start = time.perf_counter()
    status = "trained"
    metrics: dict[str, Any] = {}
    for epoch in range(1, args.epochs + 1):
        model.fit_epoch(x_train, data.y_train, batch)
        if epoch % every == 0 or epoch == args.epochs:
            metrics = _metrics(model, x_train, data.y_train, x_test, data.y_test)
            if not all(map(math.isfinite, metrics.values())):
                status = "diverged"
                break
            if not args.json:
                print(f"epoch {epoch:>6}  " + "  ".join(f"{k} {v:.4f}"
                                                       for k, v in metrics.items()))
    result = {"status": status, "epoch": model.epoch,
              "seconds": round(time.perf_counter() - start, 3), "metrics": metrics}
    if args.json:
        print(json.dumps(result))
    elif status == "diverged":
        print("diverged: the loss became NaN or infinite; try a smaller learning rate")
    return 0 if status == "trained" else 1


def _metrics(model: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for key, value in model.evaluate(x, y).items():
            out[f"{part}_{key}"] = value
    return out


@command("serve")
def serve(args: argparse.Namespace) -> int:
    # As a container's process 1, a SIGTERM with no handler is ignored: one that came while
    # the server started (before uvicorn's handler) was lost, and `docker stop` killed the
    # server 10 s later. Until uvicorn takes over, it ends the start (nothing runs yet).
    signal.signal(signal.SIGTERM, _stop_starting)
    # Playground networks are small: BLAS threads would only spin against the training
    # processes (one per core already), which inherit this. The environment can still say
    # otherwise.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # The threads that talk to the training processes (and, with workers=0, the training
    # thread) hold the GIL between calls; hand it to the event loop more often than every
    # 5 ms so that frames and answers go out on time.
    sys.setswitchinterval(0.0005)
    import uvicorn

    from backend.api.app import create_app
    from backend.engine import DeviceError
    from backend.experiments.store import StoreError
    from backend.settings import Settings

    try:
        settings = Settings(**_serve_overrides(args))
        app = create_app(settings)
    except ValidationError as exc:
        return _error(f"bad setting: {format_validation_error(exc)}")
    except (DeviceError, StoreError) as exc:
        return _error(str(exc))
    print(f"Neural Playground on http://{settings.host}:{settings.port}  "
          f"(data in {settings.data_dir.resolve()}, device {settings.device})", flush=True)
    # What the imports and the app made lives as long as the process: out of the cyclic
    # collector's way, whose full passes over it stopped every thread for up to 90 ms
    # under a class of 300.
    gc.freeze()
    uvicorn.run(app, log_level=args.log_level, **settings.server_options())
    return 0


def _stop_starting(signum: int, frame: object) -> None:
    raise SystemExit(0)  # a stop asked for, and nothing to save yet


def _serve_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that serve's flags give (the rest come from PLAYGROUND_*)."""
    return {k: v for k, v in (("host", args.host), ("port", args.port),
                              ("data_dir", args.data_dir), ("device", args.device))
            if v is not None}


def serve_arguments(cmdline: Sequence[str]) -> list[str] | None:
    """The flags a `playground serve` command line (or `python -m backend.cli serve`)
    gives after `serve`; None for any other command."""
    for i, word in enumerate(cmdline[:-1]):
        if (Path(word).name == "playground" or word == "backend.cli") \
                and cmdline[i + 1] == "serve":
            return list(cmdline[i + 2:])
    return None


@command("healthcheck")
def healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the server answers /healthz (the container's HEALTHCHECK). It reads the
    settings as serve did: PLAYGROUND_*, then the flags of the server process `--pid`
    (process 1 in a container) when that is `playground serve`, so a port given either
    way is the one asked."""
    import urllib.error
    import urllib.request

    from backend.settings import Settings

    try:
        raw = Path(f"/proc/{args.pid}/cmdline").read_bytes()
    except OSError:
        raw = b""
    flags = serve_arguments([w.decode(errors="replace") for w in raw.split(b"\0") if w])
    try:
        served = parser().parse_args(["serve", *(flags or [])])
        settings = Settings(**_serve_overrides(served))
    except (SystemExit, ValidationError):
        print(f"playground: process {args.pid} has settings that serve refuses",
              file=sys.stderr)
        return 1  # a health check's "unhealthy" (2 is reserved)
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(settings.host,
                                                                     settings.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout):
            return 0  # any other status than 2xx raises
    except (urllib.error.URLError, OSError) as exc:
        print(f"playground: no answer from {url}: {exc}", file=sys.stderr)
        return 1


@command("bench")
def bench(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{args.name}.py"
    if not script.is_file():
        return _error(f"no benchmark {args.name!r} here: benchmarks/ ships with the sources")
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="playground", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an experiment config without a server")
    t.add_argument("--config", required=True, help="experiment config (JSON file)")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--data", help="points for a custom data set (.csv or .json)")
    t.add_argument("--device", choices=("cpu", "gpu", "auto"), default="cpu")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    s = sub.add_parser("serve", help="start the server (settings also from PLAYGROUND_*)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--data-dir", dest="data_dir")
    s.add_argument("--device", choices=("cpu", "gpu", "auto"))
    s.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    h = sub.add_parser("healthcheck", help="exit 0 when the server answers /healthz (the "
                       "container's HEALTHCHECK; reads the settings as serve does)")
    h.add_argument("--pid", type=int, default=1, help="the server's process, whose serve "
                   "flags count (default 1: a container's)")
    h.add_argument("--timeout", type=float, default=4.0, help="seconds to wait for the answer")
    b = sub.add_parser("bench", help="run a benchmark of benchmarks/ (arguments pass through)")
    b.add_argument("name", nargs="?", default="engine", help="engine (default) or server")
    b.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        return _error("--epochs must be at least 1")
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
