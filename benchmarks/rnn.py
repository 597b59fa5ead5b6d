"""Recurrent layers benchmark: ours beside torch.nn.RNN / GRU / LSTM on the CPU, in one run.

One training step is a forward pass of the recurrent layer over the batch, a dense output
on the last step, a mean squared error, the backward pass and an Adam step (ours: the
project's Adam over the layer's and the dense layer's parameters; theirs: torch.optim.Adam),
float32, batch 32, one input per step, one thread on both sides (the BLAS thread variables
are set before numpy is imported; torch.set_num_threads(1)). Neither side computes a
gradient for the data. Time is the thread's CPU time (time.thread_time), so that waiting
for a core on a shared machine counts for neither side; the two sides run in alternating
rounds and each figure is the median of the rounds' milliseconds per step. PyTorch is
not a dependency of the project: install it to run this (`pip install torch`); without
it the script says so and exits with status 2.

    python benchmarks/rnn.py [--rounds 15] [--cells rnn,gru,lstm] [--no-onednn] [--json]

PyTorch's LSTM on the CPU runs oneDNN's fused LSTM (its RNN and GRU do not);
--no-onednn turns oneDNN off for the comparison (torch.backends.mkldnn).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.engine import INITIALIZERS, OPTIMIZERS  # noqa: E402
from backend.engine.layers import Dense  # noqa: E402
from backend.engine.recurrent import make_recurrent  # noqa: E402

BATCH = 32
SIZES = ((40, 32), (100, 64))  # (T, H)
CELLS = ("rnn", "gru", "lstm")
LR = 1e-3


def ours(cell: str, T: int, H: int, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    layer = make_recurrent(np, cell, rng, INITIALIZERS.get("glorot"), 0.0, (T, 1), H,
                           np.float32)
    layer.input_grad = False  # the data needs no gradient (as the model's first layer)
    dense = Dense(np, INITIALIZERS.get("glorot")(rng, H, 1, 0.0).astype(np.float32),
                  np.zeros(1, np.float32))
    params = layer.params() + dense.params()
    adam = OPTIMIZERS.get("adam")()
    adam.bind(np, params)
    scale = np.float32(2.0 / y.size)

    def step() -> None:
        z = dense.forward(layer.forward(x, True), True)
        layer.backward(dense.backward((z - y) * scale))
        grads = [layer.grads[n] for n in layer.param_names] + \
            [dense.grads[n] for n in dense.param_names]
        adam.step(np, params, grads, LR)

    return step


def theirs(torch: object, cell: str, T: int, H: int, x: np.ndarray,
           y: np.ndarray) -> Callable[[], None]:
    nn = torch.nn  # type: ignore[attr-defined]
    torch.manual_seed(0)  # type: ignore[attr-defined]
    net = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](1, H, batch_first=True)
    out = nn.Linear(H, 1)
    opt = torch.optim.Adam(list(net.parameters()) + list(out.parameters()), lr=LR)  # type: ignore[attr-defined]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)  # type: ignore[attr-defined]

    def step() -> None:
        opt.zero_grad()
        seq, _ = net(xt)
        loss = ((out(seq[:, -1]) - yt) ** 2).mean()
        loss.backward()
        opt.step()

    return step


def ms_per_step(step: Callable[[], None], seconds: float = 0.1) -> float:
    """Milliseconds of this thread's CPU time per step, over rounds of about `seconds`."""
    n, start = 0, time.thread_time()
    while True:
        step()
        n += 1
        elapsed = time.thread_time() - start
        if elapsed >= seconds:
            return 1e3 * elapsed / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--no-onednn", action="store_true",
                        help="PyTorch without oneDNN (its own LSTM loop)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is needed for this benchmark's comparison and is not a dependency of "
              "the project: install it in this environment, e.g. `pip install torch` (the "
              "CPU wheel is enough), then run it again.", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    if args.no_onednn:
        torch.backends.mkldnn.enabled = False
    rows = []
    for T, H in SIZES:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(BATCH, T, 1)).astype(np.float32)
        y = rng.normal(size=(BATCH, 1)).astype(np.float32)
        for cell in args.cells.split(","):
            a, b = ours(cell, T, H, x, y), theirs(torch, cell, T, H, x, y)
            for step in (a, b):
                ms_per_step(step, 0.2)  # warm up
            ta, tb = [], []
            for _ in range(args.rounds):
                ta.append(ms_per_step(a))
                tb.append(ms_per_step(b))
            ma, mb = statistics.median(ta), statistics.median(tb)
            rows.append({"cell": cell, "T": T, "H": H, "ours_ms": round(ma, 3),
                         "torch_ms": round(mb, 3), "ratio": round(mb / ma, 2)})
    if args.json:
        print(json.dumps({"torch": torch.__version__, "numpy": np.__version__,
                          "machine": platform.processor() or platform.machine(),
                          "rows": rows}, indent=1))
        return 0
    print(f"numpy {np.__version__}, torch {torch.__version__}, one thread, batch {BATCH}, "
          f"input 1, forward + backward + Adam, median of {args.rounds} rounds"
          + (", PyTorch without oneDNN" if args.no_onednn else ""))
    print(f"{'cell':<5} {'T':>4} {'H':>4} {'ours ms':>9} {'torch ms':>9} {'torch/ours':>10}")
    for r in rows:
        print(f"{r['cell']:<5} {r['T']:>4} {r['H']:>4} {r['ours_ms']:>9.3f} "
              f"{r['torch_ms']:>9.3f} {r['ratio']:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
