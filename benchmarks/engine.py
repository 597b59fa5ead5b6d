"""Engine benchmark: epochs per second, ours beside PyTorch on the CPU, in one run.

Same network, same data, same batches (size and count, reshuffled every epoch on both
sides), plain SGD, float32. Run from the repository root:

    python benchmarks/engine.py [--quick] [--cases a,b,c] [--json]
"""

from __future__ import annotations

import argparse
import json
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

from backend.data import apply_features, generate, split
from backend.engine import Model, ModelSpec

PLAYGROUND_FEATURES = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    hidden: list[tuple[int, str]]
    batch: int
    lr: float
    target: float
    data: Callable[[], tuple[np.ndarray, np.ndarray, int]]  # x, y, n_classes


def playground(name: str, features: list[str]) -> Callable[[], tuple[np.ndarray, np.ndarray, int]]:
    def make() -> tuple[np.ndarray, np.ndarray, int]:
        x, y = generate(name, 500, 0.0, seed=0)
        xt, yt, _, _ = split(x, y, 0.5, np.random.default_rng(0))
        return apply_features(features, xt).astype(np.float32), yt, 2

    return make


def mnist_like() -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((10_000, 784), dtype=np.float32), rng.integers(0, 10, 10_000), 10


CASES = {
    "a": Case("a", "circle, x1 x2, 4-2 tanh, batch 10", [(4, "tanh"), (2, "tanh")], 10, 0.03,
              2.0, playground("circle", ["x1", "x2"])),
    "b": Case("b", "spiral, 7 features, 6x8 tanh, batch 10", [(8, "tanh")] * 6, 10, 0.03, 2.0,
              playground("spiral", PLAYGROUND_FEATURES)),
    "c": Case("c", "MLP 784-256-128-10 relu, 10 000 points, batch 128",
              [(256, "relu"), (128, "relu")], 128, 0.01, 0.9, mnist_like),
}


def timed(epoch: Callable[[], None], seconds: float, warmup: int = 2) -> float:
    """Epochs per second: warm up, then run whole epochs for about `seconds`."""
    for _ in range(warmup):
        epoch()
    n, start = 0, time.perf_counter()
    while True:
        epoch()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def ours(case: Case, x: np.ndarray, y: np.ndarray, k: int, seconds: float) -> float:
    spec = ModelSpec(n_inputs=x.shape[1], hidden=[{"units": u, "activation": a}
                                                  for u, a in case.hidden],
                     n_classes=k, optimizer="sgd", learning_rate=case.lr, seed=0)
    model = Model(spec)
    return timed(lambda: model.fit_epoch(x, y, case.batch), seconds)


def theirs(case: Case, x: np.ndarray, y: np.ndarray, k: int, seconds: float) -> float:
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    n_in = x.shape[1]
    for units, act in case.hidden:
        layers += [nn.Linear(n_in, units), nn.Tanh() if act == "tanh" else nn.ReLU()]
        n_in = units
    layers.append(nn.Linear(n_in, 1 if k == 2 else k))
    net = nn.Sequential(*layers)
    loss_fn: nn.Module = nn.BCEWithLogitsLoss() if k == 2 else nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=case.lr)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1) if k == 2 \
        else torch.from_numpy(y.astype(np.int64))
    n = len(xt)

    def epoch() -> None:
        perm = torch.randperm(n)
        xs, ys = xt[perm], yt[perm]
        for start in range(0, n, case.batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xs[start:start + case.batch]), ys[start:start + case.batch])
            loss.backward()
            opt.step()

    return timed(epoch, seconds)


def torch_version(threads: int) -> str | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return str(torch.__version__)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="0.3 s per measurement")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--cases", default="a,b,c")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
    tv = torch_version(threads)
    print(f"engine benchmark: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {threads} BLAS/torch threads, numpy {np.__version__}, "
          f"torch {tv or 'not installed'}; {seconds:g} s per measurement, float32, SGD")
    rows: list[dict[str, Any]] = []
    for key in args.cases.split(","):
        case = CASES[key]
        x, y, k = case.data()
        row: dict[str, Any] = {"case": key, "name": case.name, "target": case.target,
                               "ours": ours(case, x, y, k, seconds)}
        if tv:
            row["torch"] = theirs(case, x, y, k, seconds)
            row["ratio"] = row["ours"] / row["torch"]
            row["met"] = row["ratio"] >= case.target
        rows.append(row)
    print("| case | network | ours (epochs/s) | PyTorch (epochs/s) | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        torch_cols = (f"{r['torch']:.1f} | {r['ratio']:.2f}x" if "torch" in r else "- | -")
        met = ("yes" if r["met"] else "no") if "met" in r else "-"
        print(f"| ({r['case']}) | {r['name']} | {r['ours']:.1f} | {torch_cols} | "
              f">= {r['target']:g}x | {met} |")
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
