"""Grouped training benchmark: K networks of one shape stepped as one program, beside
the same K trained one by one, and beside R, a bare hand-written NumPy loop for one net.

The net is issue 18's: the 7-feature spiral (250 training points), 6 hidden layers of 8
tanh, sigmoid + binary cross-entropy, SGD, batch 10, float32. Every figure is epochs a
second in all (K networks' epochs together), also as a multiple of R measured in the
same run, so the table holds on any machine:

- R: the bare loop (forward, backward, SGD written out, one net);
- one by one: K models, each an epoch of Model.epoch_steps in turn;
- grouped: the K in one Group (backend/engine/group.py), one step per mini-batch;
- worker, solo / grouped: K experiments' slices of 5 epochs through a training
  process's Worker, one job at a time / all at once (what a class gets: the epochs'
  metrics, the state sent back), without frames.

    OPENBLAS_NUM_THREADS=1 python benchmarks/group.py [--ks 1,10,30,100] [--seconds 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.engine import Model, ModelSpec
from backend.engine.group import Group
from backend.experiments.config import parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.workers import InlineEngine, Job, Result, Worker
from benchmarks.engine import PLAYGROUND_FEATURES, playground

HIDDEN = [{"units": 8, "activation": "tanh"}] * 6
BATCH, LR = 10, 0.03
SLICE_EPOCHS = 5


def rate(run: Callable[[], int], seconds: float) -> float:
    """Epochs a second: `run` does some and says how many; once to warm up."""
    run()
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or done == 0:
        done += run()
    return done / elapsed


def bare(x: np.ndarray, y: np.ndarray) -> Callable[[], int]:
    """R: one net's epoch written out in NumPy, nothing else."""
    rng = np.random.default_rng(0)
    sizes = [x.shape[1]] + [h["units"] for h in HIDDEN] + [1]
    Ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
          for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    t = y.astype(np.float32).reshape(-1, 1)
    lr = np.float32(LR)

    def epoch() -> int:
        perm = rng.permutation(len(x))
        xs, ts = x[perm], t[perm]
        for s in range(0, len(x), BATCH):
            acts = [xs[s:s + BATCH]]
            for W, b in zip(Ws[:-1], bs[:-1], strict=True):
                acts.append(np.tanh(acts[-1] @ W + b))
            z = acts[-1] @ Ws[-1] + bs[-1]
            dz = (0.5 * (1 + np.tanh(0.5 * z)) - ts[s:s + BATCH]) / len(z)
            for i in range(len(Ws) - 1, -1, -1):
                gW, gb = acts[i].T @ dz, dz.sum(axis=0)
                if i:
                    dz = (dz @ Ws[i].T) * (1 - acts[i] * acts[i])
                Ws[i] -= lr * gW
                bs[i] -= lr * gb
        return 1

    return epoch


def models(x: np.ndarray, k: int) -> list[Model]:
    return [Model(ModelSpec(n_inputs=x.shape[1], hidden=list(HIDDEN), optimizer="sgd",
                            learning_rate=LR * (1 + i % 3), seed=i)) for i in range(k)]


def one_by_one(x: np.ndarray, y: np.ndarray, k: int) -> Callable[[], int]:
    nets = models(x, k)

    def epochs() -> int:
        with np.errstate(all="ignore"):
            for m in nets:
                for _ in m.epoch_steps(x, y, BATCH):
                    pass
        return k

    return epochs


def grouped(x: np.ndarray, y: np.ndarray, k: int) -> Callable[[], int]:
    nets = models(x, k)
    group = Group(nets)

    def epochs() -> int:
        runs = [m.epoch_steps(x, y, BATCH) for m in nets]
        with np.errstate(all="ignore"):
            while not runs[0].finished:
                group.step(runs)
        return k

    return epochs


def through_worker(k: int, together: bool) -> Callable[[], int]:
    config = parse_config({
        "dataset": {"name": "spiral", "n_samples": 500, "train_fraction": 0.5},
        "features": PLAYGROUND_FEATURES, "hidden_layers": HIDDEN,
        "optimizer": {"name": "sgd", "learning_rate": LR}, "batch_size": BATCH})
    exps = [Experiment(f"e{i}", config.model_copy(update={"seed": i})) for i in range(k)]
    engine, worker, ids = InlineEngine(), Worker(), itertools.count(1)
    synced = False

    def epochs() -> int:
        nonlocal synced
        jobs = []
        for exp in exps:
            job = Job(exp.id, epochs=SLICE_EPOCHS, seconds=1e9, id=next(ids))
            if not synced:
                engine._prepare(exp, job, engine._place(exp))
            jobs.append(job)
        synced = True
        answers: list[Result] = []
        if together:
            worker.handle_all(jobs, lambda job: False, answers.append)
        else:
            answers = [worker.handle(job, lambda: False) for job in jobs]
        return sum(a.epochs for a in answers)

    return epochs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ks", default="1,10,30,100")
    p.add_argument("--seconds", type=float, default=1.0, help="per figure and try")
    p.add_argument("--tries", type=int, default=3, help="each figure is the best of these")
    args = p.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    x, y, _ = playground("spiral", PLAYGROUND_FEATURES)()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(f"grouped training: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={threads}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}; {len(x)} points, 6 x 8 tanh, batch "
          f"{BATCH}, SGD, float32; each figure the best of {args.tries} tries of "
          f"{args.seconds:g} s, R measured in the same tries")
    print("\n| K | R | one by one | grouped | worker, one job at a time | worker, grouped |")
    print("|---|---|---|---|---|---|")
    for k in ks:
        runs = [bare(x, y), one_by_one(x, y, k), grouped(x, y, k), through_worker(k, False),
                through_worker(k, True)]
        best = [0.0] * len(runs)
        for _ in range(args.tries):  # interleaved: a load that comes and goes hits all
            best = [max(b, rate(run, args.seconds)) for b, run in zip(best, runs, strict=True)]
        r = best[0]
        print(f"| {k} | {r:.0f} | " + " | ".join(f"{c:.0f} ({c / r:.2f} R)" for c in best[1:])
              + " |", flush=True)
    print("\nepochs/s of all K networks together (each gets 1/K of it); R: one net's bare "
          f"loop. Load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
