"""The gradient through time as /sequence and the frames give it: a vanishing gradient
keeps its size however small (the page draws it on a log scale), where rounding to a
fixed number of decimals made every step below 5e-5 a 0 and the early bars vanished from
the chart along with the gradient."""

from __future__ import annotations

import math

from fastapi.testclient import TestClient

from .test_sequences_api import made

# a tanh RNN with small recurrent weights, classifying whole sequences (the loss is at the
# last step only): the gradient shrinks a little more at each step back
VANISHING = {"dataset": {"name": "waves", "n_samples": 60},
             "hidden_layers": [{"type": "rnn", "units": 8, "activation": "tanh"}],
             "init": {"name": "normal", "scale": 0.2, "recurrent": "init"},
             "optimizer": {"name": "sgd", "learning_rate": 0.01}, "batch_size": 20}


def test_a_vanishing_gradient_keeps_its_size(client: TestClient) -> None:
    exp_id, _ = made(client, VANISHING)
    view = client.get(f"/api/experiments/{exp_id}/sequence?example=0").json()
    g = view["gradient"]
    assert len(g) == len(view["input"])
    # small, never 0: every step's state reaches the last one through the weights
    assert all(v is not None and v > 0 for v in g), g[:5]
    # the early steps are far below the last one's, and each keeps 3 significant digits
    assert g[0] < 1e-4 < g[-1]
    assert all(abs(float(f"{v:.3g}") - v) <= 1e-12 * v for v in g)
    # vanishing, seen: step by step back it shrinks, over many powers of ten in all
    assert math.log10(g[-1]) - math.log10(g[0]) > 5
