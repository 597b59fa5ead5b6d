"""Convolution benchmark: time per training batch, ours beside PyTorch on the CPU, in one run.

Each step is a forward pass, a backward pass and a plain SGD update on one batch,
float32, NCHW, the same network, batches and thread count on both sides. The two run in
alternating rounds of about 0.1 s, and each side's figure is its best round (as timeit
does), so that other work on the machine skews neither side more. PyTorch is
not a dependency of the project: install it by hand to get its column
(`pip install torch`); without it the table has ours only. Run from the repository root:

    python benchmarks/conv.py [--quick] [--cases a,b,c] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.engine import Model, ModelSpec

Layer = dict[str, Any]


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    shape: tuple[int, int, int]
    hidden: list[Layer]
    batch: int
    target: float  # ours / PyTorch, examples per second


def conv(filters: int, kernel: int, padding: str, activation: str) -> Layer:
    return {"type": "conv", "filters": filters, "kernel": kernel, "padding": padding,
            "activation": activation}


CASES = {
    "a": Case("a", "LeNet-5 on 32x32 grey (conv 6@5x5, avg pool, conv 16@5x5, avg pool, "
              "dense 120, 84, tanh), batch 64", (1, 32, 32),
              [conv(6, 5, "valid", "tanh"), {"type": "pool", "kind": "avg", "size": 2},
               conv(16, 5, "valid", "tanh"), {"type": "pool", "kind": "avg", "size": 2},
               {"units": 120, "activation": "tanh"}, {"units": 84, "activation": "tanh"}],
              64, 0.5),
    "b": Case("b", "the course's CNN on 28x28 (conv 8@5x5, conv 8@5x5, max pool 2, dense 128, "
              "relu), batch 32", (1, 28, 28),
              [conv(8, 5, "valid", "relu"), conv(8, 5, "valid", "relu"),
               {"type": "pool", "kind": "max", "size": 2}, {"units": 128, "activation": "relu"}],
              32, 0.5),
    "c": Case("c", "8x8 digits size (conv 8@3x3 same relu, max pool 2), batch 32", (1, 8, 8),
              [conv(8, 3, "same", "relu"), {"type": "pool", "kind": "max", "size": 2}],
              32, 2.0),
}
CLASSES = 10
BATCHES = 32  # distinct batches cycled through


def data(case: Case) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = case.batch * BATCHES
    return rng.random((n, *case.shape), dtype=np.float32), rng.integers(0, CLASSES, n)


Step = Callable[[int], None]


def timed(steps: list[Step], seconds: float, round_s: float = 0.1) -> list[float]:
    """Seconds per batch for each stepper: warm up, then alternate rounds of about
    `round_s` for about `seconds` in all; each stepper's best round."""
    for step in steps:
        for i in range(5):
            step(i % BATCHES)
    best = [math.inf] * len(steps)
    counters = [0] * len(steps)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for k, step in enumerate(steps):
            n, start = 0, time.perf_counter()
            while True:
                step(counters[k] % BATCHES)
                counters[k] += 1
                n += 1
                elapsed = time.perf_counter() - start
                if elapsed >= round_s:
                    break
            best[k] = min(best[k], elapsed / n)
    return best


def ours(case: Case, x: np.ndarray, y: np.ndarray) -> Step:
    spec = ModelSpec(n_inputs=math.prod(case.shape), input_shape=case.shape, hidden=case.hidden,
                     n_classes=CLASSES, optimizer="sgd", learning_rate=0.01, init="he", seed=0)
    model = Model(spec)
    xs, ts = model.as_x(x), model.targets(y)
    b = case.batch

    def step(i: int) -> None:
        model.train_batch(xs[i * b:(i + 1) * b], ts[i * b:(i + 1) * b], 0.01)

    return step


def theirs(case: Case, x: np.ndarray, y: np.ndarray) -> Step:
    import torch
    from torch import nn

    torch.manual_seed(0)
    acts = {"tanh": nn.Tanh, "relu": nn.ReLU}
    layers: list[nn.Module] = []
    c, h, w = case.shape
    flat = False
    for entry in case.hidden:
        if entry.get("type") == "conv":
            k = entry["kernel"]
            p = (k - 1) // 2 if entry["padding"] == "same" else 0
            layers += [nn.Conv2d(c, entry["filters"], k, padding=p), acts[entry["activation"]]()]
            c, h, w = entry["filters"], h - k + 2 * p + 1, w - k + 2 * p + 1
        elif entry.get("type") == "pool":
            s = entry["size"]
            layers.append(nn.MaxPool2d(s) if entry["kind"] == "max" else nn.AvgPool2d(s))
            h, w = h // s, w // s
        else:
            if not flat:
                layers.append(nn.Flatten())
                flat, n_in = True, c * h * w
            layers += [nn.Linear(n_in, entry["units"]), acts[entry["activation"]]()]
            n_in = entry["units"]
    if not flat:
        layers.append(nn.Flatten())
        n_in = c * h * w
    layers.append(nn.Linear(n_in, CLASSES))
    net = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    b = case.batch

    def step(i: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xt[i * b:(i + 1) * b]), yt[i * b:(i + 1) * b]).backward()
        opt.step()

    return step


def torch_version(threads: int) -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return str(torch.__version__)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="1 s per case")
    p.add_argument("--seconds", type=float, default=6.0, help="per case, both sides")
    p.add_argument("--cases", default="a,b,c")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
    tv = torch_version(threads)
    print(f"conv benchmark: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {threads} BLAS/torch threads, numpy {np.__version__}, "
          f"torch {tv or 'not installed (not a dependency: pip install torch for its column)'}; "
          f"{seconds:g} s per case, best of alternating 0.1 s rounds, float32, SGD, "
          "one step = forward + backward + update")
    rows: list[dict[str, Any]] = []
    for key in args.cases.split(","):
        case = CASES[key]
        x, y = data(case)
        steps = [ours(case, x, y)] + ([theirs(case, x, y)] if tv else [])
        times = timed(steps, seconds)
        row: dict[str, Any] = {"case": key, "name": case.name, "batch": case.batch,
                               "target": case.target, "ours_ms": 1e3 * times[0]}
        if tv:
            row["torch_ms"] = 1e3 * times[1]
            row["ratio"] = row["torch_ms"] / row["ours_ms"]
            row["met"] = row["ratio"] >= case.target
        rows.append(row)
    print("| case | network | ours (ms/batch) | ours (examples/s) | PyTorch (ms/batch) | "
          "PyTorch (examples/s) | ours / PyTorch | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mine = f"{r['ours_ms']:.3f} | {r['batch'] / r['ours_ms'] * 1e3:,.0f}"
        torch_cols = (f"{r['torch_ms']:.3f} | {r['batch'] / r['torch_ms'] * 1e3:,.0f} | "
                      f"{r['ratio']:.2f}x" if "torch_ms" in r else "- | - | -")
        met = ("yes" if r["met"] else "no") if "met" in r else "-"
        print(f"| ({r['case']}) | {r['name']} | {mine} | {torch_cols} | >= {r['target']:g}x | "
              f"{met} |")
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
