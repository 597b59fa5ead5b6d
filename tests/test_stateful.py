"""A stateful test: random sessions of REST calls and websocket commands against the real app.

A hypothesis state machine creates, edits (valid and invalid edits), trains, steps, pauses,
resets, predicts with, edits weights of, shares, forks, exports, imports (real and tampered
exports), deletes and restarts experiments, also over the websocket, and drives some runs
into divergence. After every step it checks the public contracts (DESIGN.md, docs/):

- no answer is a 5xx and no server exception escapes;
- every JSON answer and every frame header is strict JSON (no NaN or Infinity);
- a refused change to an experiment that is not running leaves its export byte-identical;
- a paused experiment predicts what a model rebuilt from its export predicts, and its
  weights are the exported ones;
- the config the server reports is the config it exports; an accepted edit is applied as
  merged and keeps the weights exactly when docs/config.md says it does;
- right after a change that evaluates anew (an edit, a step, a wait, a reset), the metrics
  reported are the exported model's on the experiment's points;
- a restart on the same data directory loses nothing that was acknowledged.

PLAYGROUND_STATEFUL_EXAMPLES (default 20) and PLAYGROUND_STATEFUL_STEPS (default 40) scale
the run; PLAYGROUND_STATEFUL_SHRINK=1 shrinks a failure to a minimal sequence (minutes:
every attempt starts apps), otherwise the failing sequence is printed as it was found;
PLAYGROUND_STATEFUL_DB names a directory for hypothesis' example database (default none).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from backend.api.app import create_app
from backend.data import apply_features
from backend.engine import Model
from backend.experiments.config import ExperimentConfig
from backend.experiments.frames import decode_frame

from .conftest import make_settings

EXAMPLES = int(os.environ.get("PLAYGROUND_STATEFUL_EXAMPLES", "20"))
STEPS = int(os.environ.get("PLAYGROUND_STATEFUL_STEPS", "40"))
DB = os.environ.get("PLAYGROUND_STATEFUL_DB")
SHRINK = os.environ.get("PLAYGROUND_STATEFUL_SHRINK", "") not in ("", "0")
# 0: training in a thread (fast to start); N: N worker processes, as a server runs
WORKERS = int(os.environ.get("PLAYGROUND_STATEFUL_WORKERS", "0"))
LIMITS: dict[str, Any] = {"max_samples": 300, "max_units": 8, "max_layers": 4,
                          "max_wait_epochs": 40, "max_epochs_per_call": 5000,
                          "max_predict_points": 64, "workers": WORKERS}
MAX_LIVE = 6  # experiments alive at once
MAX_RUNNING = 2  # experiments training in the background at once
MAX_SOCKETS = 2  # websockets held open across steps
WS_TIMEOUT = 20.0  # seconds to wait for a websocket reply or frame
POINTS = [[0.0, 0.0], [1.0, -2.0], [-3.5, 4.0], [5.9, -5.9], [2.5, 2.5], [-1.0, 0.3]]

# The options (docs/config.md) ------------------------------------------------------------
PROBLEM_OF = {"circle": "classification", "xor": "classification", "gauss": "classification",
              "spiral": "classification", "moons": "classification",
              "flower": "classification", "blobs": "classification",
              "gaussian_quantiles": "classification", "reg-plane": "regression",
              "reg-gauss": "regression"}
MULTI = {"spiral", "blobs", "gaussian_quantiles"}  # 2..10 classes; the others exactly 2
CLASSIFIERS = ["circle", "xor", "gauss", "spiral", "blobs"]
REGRESSORS = ["reg-plane", "reg-gauss"]
FEATURES = ["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2", "cos_x1",
            "cos_x2"]
ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus", "gelu",
               "swish"]
OPTIMIZER_PARAMS = ("momentum", "ema", "beta1", "beta2", "epsilon", "rho")
OPTIMIZERS: dict[str, dict[str, list[float]]] = {
    "sgd": {},
    "momentum": {"momentum": [0.0, 0.5, 0.9], "ema": [0.0, 1.0]},
    "nesterov": {"momentum": [0.5, 0.9]},
    "adagrad": {"epsilon": [1e-8, 1e-3]},
    "adadelta": {"rho": [0.9, 0.5], "epsilon": [1e-6]},
    "rmsprop": {"rho": [0.9, 0.0], "epsilon": [1e-8]},
    "adam": {"beta1": [0.9, 0.0], "beta2": [0.999, 0.5], "epsilon": [1e-8]},
    "nadam": {"beta1": [0.9], "beta2": [0.999], "epsilon": [1e-7]},
}
# Output activation, loss, loss_params, and where the head is allowed: reg(ression),
# bin(ary) or multi(class) classification (checked against the engine's resolve_head).
HEADS: list[tuple[str, str, dict[str, float], frozenset[str]]] = [
    ("auto", "auto", {}, frozenset({"reg", "bin", "multi"})),
    ("sigmoid", "binary_cross_entropy", {}, frozenset({"bin"})),
    ("tanh", "mse", {}, frozenset({"reg", "bin"})),
    ("tanh", "hinge", {}, frozenset({"bin"})),
    ("softmax", "cross_entropy", {}, frozenset({"bin", "multi"})),
    ("softmax", "auto", {}, frozenset({"bin", "multi"})),
    ("linear", "mse", {}, frozenset({"reg", "bin"})),
    ("linear", "mae", {}, frozenset({"reg", "bin"})),
    ("linear", "huber", {"delta": 0.5}, frozenset({"reg", "bin"})),
    ("relu", "mse", {}, frozenset({"reg"})),
    ("auto", "cross_entropy", {}, frozenset({"multi"})),
    ("sigmoid", "hinge", {}, frozenset()),
]


def context_of(problem: str, classes: int) -> str:
    return "reg" if problem == "regression" else "bin" if classes == 2 else "multi"


def context_ok(cfg: dict[str, Any]) -> bool:
    """Whether the data set, the problem and the head of a merged config fit together."""
    ds = cfg["dataset"]
    name, classes = ds.get("name"), ds.get("classes")
    if name not in PROBLEM_OF or PROBLEM_OF[name] != cfg.get("problem"):
        return False
    if not isinstance(classes, int) or not 2 <= classes <= (10 if name in MULTI else 2):
        return False
    where = context_of(cfg["problem"], classes)
    params = cfg.get("loss_params") or {}
    for out, loss, _, allowed in HEADS:
        if (out, loss) == (cfg.get("output_activation"), cfg.get("loss")):
            if params and (loss != "huber" or set(params) != {"delta"}):
                return False
            return where in allowed
    return False


def structure(cfg: dict[str, Any]) -> tuple[Any, ...]:
    """What needs fresh weights when it changes (docs/config.md, What a change keeps)."""
    return (cfg["problem"], tuple(cfg["features"]),
            tuple(h["units"] for h in cfg["hidden_layers"]), cfg["batch_norm"],
            cfg["output_activation"], cfg["loss"], cfg["dataset"]["name"],
            cfg["dataset"]["classes"], cfg["dataset"].get("id"))


def merge(base: Any, patch: Any) -> Any:
    """PATCH semantics: nested objects merge, everything else replaces."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        out[key] = merge(out[key], value) if isinstance(out.get(key), dict) and \
            isinstance(value, dict) else copy.deepcopy(value)
    return out


DEFAULT_CONFIG = ExperimentConfig().model_dump(mode="json")
KEPT_ACROSS_DATASETS = ("n_samples", "noise", "train_fraction", "seed")


def patched(old: dict[str, Any], changes: Any) -> Any:
    """A PATCH as docs/config.md says: JSON Merge Patch (objects merge, null sets a field
    back to its default), and a data set of another name keeps the old one's size, noise,
    split and seed, and its classes only where the new set can have as many."""
    if not isinstance(changes, dict):
        return changes
    ds, new_ds = old.get("dataset"), changes.get("dataset")
    if isinstance(new_ds, dict) and isinstance(ds, dict) and \
            new_ds.get("name", ds.get("name")) != ds.get("name"):
        name, classes = new_ds.get("name"), ds.get("classes")
        kept = {k: ds[k] for k in KEPT_ACROSS_DATASETS if k in ds}
        if PROBLEM_OF.get(name) == "classification" and isinstance(classes, int) and \
                2 <= classes <= (10 if name in MULTI else 2):
            kept["classes"] = classes  # the new set has as many
        old = {**old, "dataset": kept}
    return _defaults(_merge_patch(old, changes), DEFAULT_CONFIG)


def _merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value) if isinstance(out.get(key), dict) \
                else copy.deepcopy(value)
    return out


def _defaults(cfg: Any, defaults: Any) -> Any:
    if not isinstance(cfg, dict) or not isinstance(defaults, dict):
        return cfg
    return {**{k: v for k, v in defaults.items() if k not in cfg},
            **{k: _defaults(v, defaults.get(k)) for k, v in cfg.items()}}


def contains(full: Any, part: Any) -> bool:
    """Whether every field given in `part` has that value in `full` (lists whole)."""
    if isinstance(part, dict):
        return isinstance(full, dict) and all(k in full and contains(full[k], v)
                                              for k, v in part.items())
    if isinstance(part, list):
        return isinstance(full, list) and len(full) == len(part) and \
            all(contains(a, b) for a, b in zip(full, part, strict=True))
    return bool(full == part)


# Strict JSON and frames -----------------------------------------------------------------
def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON: a number that is not finite must be null")


def strict(text: str | bytes) -> Any:
    """Parse JSON as a browser would: NaN and Infinity are errors."""
    return json.loads(text, parse_constant=_constant)


def check_frame(data: bytes, exp_id: str | None = None) -> tuple[dict[str, Any], dict]:
    """A binary frame: its header is strict JSON, its grids decode; header and grids."""
    (n,) = struct.unpack_from("<I", data)
    assert n % 4 == 0 and 4 + n <= len(data), f"frame header length {n} of {len(data)}"
    header = strict(data[4:4 + n])
    assert header["type"] == "frame" and header["status"] in ("paused", "running", "diverged")
    if exp_id is not None:
        assert header["id"] == exp_id
    grids = decode_frame(data)[1]
    assert "output" in grids and "weights0" in grids
    # the neurons' grids all or none (none for a viewer whose view said neurons false)
    assert "inputs" in grids or not any(name.startswith("layer") for name in grids), \
        sorted(grids)
    return header, grids


# Strategies -----------------------------------------------------------------------------
PICK = st.integers(0, 15)  # an experiment, socket or share, by index modulo their number
layers_st = st.lists(st.fixed_dictionaries({"units": st.integers(1, 6),
                                            "activation": st.sampled_from(ACTIVATIONS)}),
                     max_size=3)
features_st = st.lists(st.sampled_from(FEATURES), min_size=1, max_size=4, unique=True)
learning_rates = st.sampled_from([0.03, 0.0, 0.001, 0.1, 0.3, 1.0])


@st.composite
def optimizers(draw: st.DrawFn) -> dict[str, Any]:
    """An optimizer with its own parameters given and every other one null, so that the
    object is valid whatever it is merged into."""
    name = draw(st.sampled_from(list(OPTIMIZERS)))
    out: dict[str, Any] = {"name": name, "learning_rate": draw(learning_rates),
                           "decay": draw(st.sampled_from([0.0, 0.01, 1.0]))}
    for param in OPTIMIZER_PARAMS:
        choices = OPTIMIZERS[name].get(param)
        out[param] = draw(st.one_of(st.none(), st.sampled_from(choices))) if choices else None
    return out


regularizations = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["none", "l1", "l2"]),
                           "rate": st.sampled_from([0.0, 0.001, 0.1]), "l1_ratio": st.none()}),
    st.fixed_dictionaries({"name": st.just("elastic_net"), "rate": st.sampled_from([0.0, 0.01]),
                           "l1_ratio": st.sampled_from([0.0, 0.5, 1.0])}))
inits = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["zeros", "xavier", "glorot", "he"]),
                           "scale": st.none()}),
    st.fixed_dictionaries({"name": st.sampled_from(["uniform", "normal"]),
                           "scale": st.sampled_from([None, 0.01, 0.5, 2.0])}))
batch_sizes = st.one_of(st.just("full"), st.integers(1, 32))
n_samples = st.one_of(st.integers(20, 200), st.sampled_from([2, 3, 10]))


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid config: any data set, features, layers, head and optimizer."""
    problem = draw(st.sampled_from(["classification"] * 3 + ["regression"]))
    name = draw(st.sampled_from(CLASSIFIERS if problem == "classification" else REGRESSORS))
    classes = draw(st.integers(2, 5)) if name in MULTI else 2
    where = context_of(problem, classes)
    out, loss, params, _ = draw(st.sampled_from([h for h in HEADS if where in h[3]]))
    return {
        "problem": problem,
        "dataset": {"name": name, "n_samples": draw(n_samples), "classes": classes,
                    "noise": draw(st.sampled_from([0.0, 0.1, 0.5])),
                    "train_fraction": draw(st.sampled_from([0.5, 0.1, 0.9])),
                    "seed": draw(st.sampled_from([0, 1, 2**32 - 1]))},
        "features": draw(features_st), "hidden_layers": draw(layers_st),
        "output_activation": out, "loss": loss, "loss_params": dict(params),
        "init": draw(inits), "optimizer": draw(optimizers()), "batch_size": draw(batch_sizes),
        "regularization": draw(regularizations),
        "dropout": draw(st.sampled_from([0.0, 0.1, 0.5, 0.9])),
        "batch_norm": draw(st.booleans()), "seed": draw(st.integers(0, 5)),
    }


# An edit is (kind, changes, expectation): "ok" must be applied, "refused" must be refused
# (422), "context" depends on the config it lands on (see context_ok).
Edit = tuple[str, Any, str]
VALID_EDITS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "features": st.builds(lambda f: {"features": f}, features_st),
    "layers": st.builds(lambda h: {"hidden_layers": h}, layers_st),
    "dataset": st.fixed_dictionaries({"dataset": st.fixed_dictionaries({}, optional={
        "noise": st.sampled_from([0.0, 0.2, 0.5]), "seed": st.integers(0, 3),
        "n_samples": n_samples, "train_fraction": st.sampled_from([0.1, 0.5, 0.9])})}),
    "optimizer": st.builds(lambda o: {"optimizer": o}, optimizers()),
    "learning_rate": st.builds(lambda r: {"optimizer": {"learning_rate": r}},
                               st.sampled_from([0.0, 0.01, 1.0, 10.0])),
    "decay": st.builds(lambda d: {"optimizer": {"decay": d}}, st.sampled_from([0.0, 0.5, 10.0])),
    "batch_size": st.builds(lambda b: {"batch_size": b}, batch_sizes),
    "regularization": st.builds(lambda r: {"regularization": r}, regularizations),
    "dropout": st.builds(lambda d: {"dropout": d}, st.sampled_from([0.0, 0.3, 0.9])),
    "batch_norm": st.builds(lambda b: {"batch_norm": b}, st.booleans()),
    "init": st.builds(lambda i: {"init": i}, inits),
    "seed": st.builds(lambda s: {"seed": s}, st.sampled_from([0, 7, 2**32 - 1])),
    "nothing": st.just({}),
}
CONTEXT_EDITS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "dataset_name": st.builds(lambda n: {"dataset": {"name": n}}, st.sampled_from(
        [*PROBLEM_OF])),
    "classes": st.builds(lambda k: {"dataset": {"classes": k}}, st.integers(2, 10)),
    "problem": st.sampled_from([
        {"problem": "regression", "dataset": {"name": "reg-plane", "classes": 2},
         "output_activation": "auto", "loss": "auto"},
        {"problem": "classification", "dataset": {"name": "spiral", "classes": 3},
         "output_activation": "auto", "loss": "auto"},
        {"problem": "classification", "dataset": {"name": "xor", "classes": 2},
         "output_activation": "auto", "loss": "auto"},
        {"problem": "regression"}]),
    "head": st.sampled_from(HEADS).map(
        lambda h: {"output_activation": h[0], "loss": h[1],
                   **({"loss_params": dict(h[2])} if h[2] else {})}),
}
INVALID_EDITS: list[Any] = [
    {"features": []}, {"features": ["x1", "x1"]}, {"features": ["x3"]}, {"features": "x1"},
    {"features": [1]}, {"hidden_layers": [{"units": 0}]}, {"hidden_layers": [{"units": 9}]},
    {"hidden_layers": [{"units": 1}] * 5}, {"hidden_layers": [{"units": 2, "activation":
                                                              "softmax"}]},
    {"hidden_layers": [{"units": 2, "activation": "nope"}]}, {"hidden_layers": [{"units":
                                                                                 "two"}]},
    {"hidden_layers": [{"units": 2.5}]}, {"hidden_layers": [{"units": 2, "kernel": 3}]},
    {"hidden_layers": 3}, {"dataset": {"noise": 0.6}}, {"dataset": {"noise": -0.1}},
    {"dataset": {"n_samples": 1}}, {"dataset": {"n_samples": 301}}, {"dataset": {"seed": -1}},
    {"dataset": {"seed": 2**32}}, {"dataset": {"name": "nope"}}, {"dataset": {"classes": 11}},
    {"dataset": {"classes": 1}}, {"dataset": {"train_fraction": 0.95}},
    {"dataset": {"name": "custom"}}, {"dataset": {"bogus": 1}}, {"dataset": "circle"},
    {"optimizer": {"learning_rate": 11}}, {"optimizer": {"learning_rate": -0.1}},
    {"optimizer": {"learning_rate": "fast"}}, {"optimizer": {"decay": 11}},
    {"optimizer": {"name": "bogus"}},
    {"optimizer": {"name": "sgd", "momentum": 0.9, "ema": None, "beta1": None, "beta2": None,
                   "epsilon": None, "rho": None}},
    {"optimizer": {"name": "adam", "beta1": 1.5, "momentum": None, "ema": None, "rho": None}},
    {"optimizer": {"name": "momentum", "momentum": -0.1, "beta1": None, "beta2": None,
                   "epsilon": None, "rho": None}},
    {"batch_size": 0}, {"batch_size": -3}, {"batch_size": "half"}, {"batch_size": 2.5},
    {"batch_size": [10]}, {"regularization": {"name": "l3"}},
    {"regularization": {"rate": 11}}, {"regularization": {"name": "l2", "l1_ratio": 0.5}},
    {"regularization": {"name": "elastic_net", "l1_ratio": 2}}, {"dropout": 0.95},
    {"dropout": -0.1}, {"dropout": "some"}, {"batch_norm": "maybe"}, {"batch_norm": 2},
    {"init": {"name": "bogus"}}, {"init": {"scale": -1}}, {"init": {"scale": 101}},
    {"seed": -1}, {"seed": 2**32}, {"seed": "s"}, {"seed": 1.5},
    {"output_activation": "bogus"}, {"loss": "bogus"}, {"problem": "clustering"},
    {"loss_params": "x"}, {"bogus": 1}, {"epochs": 5}, [1, 2], "features", None,
]
edits: st.SearchStrategy[Edit] = st.one_of(
    st.one_of(*[st.tuples(st.just(k), v, st.just("ok")) for k, v in VALID_EDITS.items()]),
    st.one_of(*[st.tuples(st.just(k), v, st.just("context")) for k, v in CONTEXT_EDITS.items()]),
    st.tuples(st.just("invalid"), st.sampled_from(INVALID_EDITS), st.just("refused")),
)
WEIGHT_EDITS = ["ok", "bias", "bad_layer", "bad_target", "bad_source", "big", "text",
                "negative", "missing"]
weight_edits = st.tuples(st.sampled_from(WEIGHT_EDITS), st.integers(0, 20), st.integers(0, 20),
                         st.integers(0, 20), st.sampled_from([0.5, -3.0, 0.0, 1e6]))
TAMPERS = ["negative_epoch", "stride_zero", "huge_units", "spec_inputs", "spec_optimizer",
           "spec_problem", "epoch_text", "rows_text", "no_model", "format", "bad_config"]
BAD_BODIES = {
    "train": [{"epochs": 0}, {"epochs": -1}, {"epochs": "x"}, {"wait": True},
              {"epochs": 41, "wait": True}, {"epochs": 1, "bogus": 1}, {"epochs": 10**6}],
    "step": [{"epochs": 0}, {"epochs": 1001}, {"epochs": "x"}, {"bogus": 1}, [1]],
    "predict": [{"x": []}, {"x": [[1.0]]}, {"x": [[1.0, 2.0, 3.0]]}, {"x": "x"},
                {"x": [["a", "b"]]}, {"x": [[1e7, 0.0]]}, {"x": [[0.0, 0.0]] * 65},
                {"x": [[0.0, 0.0]], "extra": 1}, {}],
}
WS_BAD = ["not json", "[1, 2]", '{"type": "fly"}', '{"no": "type"}', '"play"',
          '{"type": "step", "epochs": 0}', '{"type": "step", "epochs": "x"}',
          '{"type": "play", "epochs": -1}', '{"type": "update", "config": 3}',
          '{"type": "set_weight", "layer": "a", "target": 0, "value": 1}']


@dataclass
class Reply:
    """One answer: an HTTP status (a websocket ack counts as 200, an error as 422)."""

    status: int
    data: Any
    text: str

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass
class Socket:
    """A websocket held open across steps."""

    session: Any
    exp_id: str
    editable: bool
    shown: tuple[bool, bool] = (True, True)  # what its `view` said: frames, neurons
    frames_seen: int = 0


def ws_receive(session: Any, timeout: float = WS_TIMEOUT) -> dict[str, Any]:
    """The next ASGI message the server sent, or TimeoutError (TestClient has no timeout of
    its own, so this reads its private stream)."""

    async def get() -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return dict(await session._send_rx.receive())

    return session.portal.call(get)


def close_session(session: Any) -> None:
    """Leave a websocket session (once); a server exception surfaces here."""
    if not getattr(session, "left", False):
        session.left = True
        session.__exit__(None, None, None)


# The machine ----------------------------------------------------------------------------
class Playground(RuleBasedStateMachine):
    """The app on a temporary data directory, and what the test knows about it."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="playground-stateful-"))
        self.client = self._open()
        self.live: dict[str, str] = {}  # experiment id -> edit token
        self.deleted: list[str] = []
        self.shares: dict[str, str] = {}  # share id -> the text of its first GET
        self.snapshots: dict[str, dict[str, Any]] = {}  # share id -> the export it froze
        self.sockets: list[Socket] = []
        self.touched: set[str] = set()  # experiments whose invariants are due
        self.fresh: set[str] = set()  # ... whose metrics were just evaluated anew
        self.steps = self.last_restart = 0
        self.sessions: list[Any] = []  # every websocket opened, to close them all

    # plumbing -------------------------------------------------------------------------
    def _open(self) -> TestClient:
        client = TestClient(create_app(make_settings(self.dir, **LIMITS)))
        client.__enter__()
        return client

    def request(self, method: str, url: str, token: str | None = None, **kw: Any) -> Reply:
        """One HTTP request: never a 5xx, JSON answers strict, errors as docs/api.md says."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.client.request(method, url, headers=headers, **kw)
        assert r.status_code < 500, f"{method} {url} -> {r.status_code}: {r.text[:2000]}"
        data = None
        if "json" in r.headers.get("content-type", ""):
            data = strict(r.text)
        if r.status_code >= 400:
            assert isinstance(data, dict) and isinstance(data.get("error"), str), \
                f"{method} {url} -> {r.status_code}, not an error object: {r.text[:500]}"
        return Reply(r.status_code, data, r.text)

    def pick(self, i: int) -> tuple[str, str]:
        """A live experiment by index (modulo): its id and edit token."""
        ids = list(self.live)
        exp_id = ids[i % len(ids)]
        return exp_id, self.live[exp_id]

    def url(self, exp_id: str, tail: str = "") -> str:
        return f"/api/experiments/{exp_id}{tail}"

    def view(self, exp_id: str) -> dict[str, Any]:
        r = self.request("GET", self.url(exp_id))
        assert r.status == 200, f"GET of a live experiment: {r.status} {r.text}"
        return dict(r.data)

    def export_text(self, exp_id: str) -> str:
        r = self.request("GET", self.url(exp_id, "/export"))
        assert r.status == 200, f"export of a live experiment: {r.status} {r.text}"
        return r.text

    def weights(self, exp_id: str) -> list[dict[str, Any]]:
        r = self.request("GET", self.url(exp_id, "/weights"))
        assert r.status == 200, r.text
        return list(r.data["layers"])

    @staticmethod
    def quiet(view: dict[str, Any]) -> bool:
        """Not training: nothing but our own requests can change it."""
        return not view["running"] and view["status"] != "running"

    def adopt(self, r: Reply, what: str) -> str:
        """A new experiment (created, imported, forked) joins the live ones."""
        assert r.status == 201, f"{what}: {r.status} {r.text}"
        exp_id, token = r.data["id"], r.data["edit_token"]
        assert exp_id not in self.live and exp_id not in self.deleted
        self.live[exp_id] = token
        self.touched.add(exp_id)
        return exp_id

    def attempt(self, exp_id: str, send: Callable[[], Reply], expect: str | None) -> Reply:
        """Send a change. `expect`: "ok" (must be applied), "refused" (must be refused)
        or None. A refused change to an experiment that is not running must leave its
        export byte-identical."""
        before = self.export_text(exp_id) if self.quiet(self.view(exp_id)) else None
        reply = send()
        if expect == "ok":
            assert reply.ok, f"a valid change was refused: {reply.status} {reply.text[:1000]}"
        elif expect == "refused":
            assert reply.status == 422, f"an invalid change got {reply.status}: {reply.text}"
        if not reply.ok and before is not None:
            after = self.export_text(exp_id)
            assert after == before, f"a refused change ({reply.text[:300]}) changed the export"
        self.touched.add(exp_id)
        return reply

    def check_patch(self, exp_id: str, old: dict[str, Any], before: list[dict[str, Any]] | None,
                    changes: Any, answer: dict[str, Any]) -> None:
        """An accepted config change: applied as merged, weights kept exactly when the
        structure is the same (docs/config.md)."""
        new, kept = answer["config"], answer["weights_kept"]
        assert contains(new, changes), f"PATCH {changes} answered config {new}"
        self.fresh.add(exp_id)
        assert kept is (structure(old) == structure(new)), \
            f"weights_kept {kept} for {old} -> {new}"
        if before is None:
            return
        view = self.view(exp_id)
        assert view["config"] == new
        if kept:
            assert self.weights(exp_id) == before, "weights_kept, but the weights changed"
        else:
            assert view["epoch"] == 0, "fresh weights, but the epoch is not 0"

    # invariants -----------------------------------------------------------------------
    @invariant()
    def consistent(self) -> None:
        """For each experiment a step touched: config, export, weights and predictions
        agree."""
        self.steps += 1
        for exp_id in sorted(self.touched | self.fresh):
            if exp_id in self.live:
                self.check_experiment(exp_id, exp_id in self.fresh)
        self.touched.clear()
        self.fresh.clear()

    def check_experiment(self, exp_id: str, fresh: bool) -> None:
        """GET, export, weights and predictions agree; `fresh`: the metrics too."""
        view = self.view(exp_id)
        export = strict(self.export_text(exp_id))
        assert view["config"] == export["config"], "GET and export disagree on the config"
        if not self.quiet(view):
            return
        model_data = export["model"]
        assert view["epoch"] == model_data["epoch"], "GET and export disagree on the epoch"
        model = Model.from_dict(model_data)
        for mine, theirs in zip(model.dense_layers, self.weights(exp_id), strict=True):
            np.testing.assert_array_equal(np.asarray(mine.W), np.asarray(theirs["W"],
                                                                         dtype=np.float32))
            if mine.b is None:
                assert theirs["b"] is None
            else:
                np.testing.assert_array_equal(np.asarray(mine.b),
                                              np.asarray(theirs["b"], dtype=np.float32))
        r = self.request("POST", self.url(exp_id, "/predict"), json={"x": POINTS})
        assert r.status == 200, f"predict: {r.status} {r.text}"
        with np.errstate(all="ignore"):
            expected = np.asarray(model.predict(apply_features(export["config"]["features"],
                                                               np.asarray(POINTS))))
        got = np.asarray([[np.nan if v is None else v for v in row] for row in r.data["outputs"]])
        finite = np.isfinite(expected)
        assert np.array_equal(np.isnan(got), ~finite), \
            f"predict: null exactly where the exported model is not finite: {got} {expected}"
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-5, atol=1e-5,
                                   err_msg="predict disagrees with the exported model")
        if fresh:
            self.check_metrics(view, export["config"]["features"], model)

    def check_metrics(self, view: dict[str, Any], features: list[str], model: Model) -> None:
        """Right after a change that evaluates anew (an edit, a step, a reset): the metrics
        are the exported model's on the experiment's points through its features."""
        points = self.request("GET", self.url(view["id"], "/points"))
        assert points.status == 200, points.text
        for part in ("train", "test"):
            y = np.asarray(points.data[f"y_{part}"])
            if not len(y):
                continue
            x = np.asarray(points.data[f"x_{part}"], dtype=np.float64).reshape(-1, 2)
            with np.errstate(all="ignore"):
                expected = model.evaluate(apply_features(features, x), y)
            for key, value in expected.items():
                got = view["metrics"].get(f"{part}_{key}")
                assert (got is None) if not math.isfinite(value) else \
                    (got is not None and math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-6)), \
                    f"{part}_{key} is {got}; the exported model on the points gives {value}"

    # lifecycle ------------------------------------------------------------------------
    @initialize(config=configs())
    def first(self, config: dict[str, Any]) -> None:
        """Start with one experiment."""
        self.create(config)

    def teardown(self) -> None:
        """Close every websocket and the app; remove the data directory."""
        for session in self.sessions:  # an open one would keep the app from stopping
            with contextlib.suppress(Exception):
                close_session(session)
        with contextlib.suppress(Exception):
            self.client.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def has_live(self) -> bool:
        """Some experiment is alive."""
        return bool(self.live)

    @precondition(lambda self: len(self.live) < MAX_LIVE)
    @rule(config=configs())
    def create(self, config: dict[str, Any]) -> None:
        """A valid config is created as given, paused at epoch 0."""
        r = self.request("POST", "/api/experiments", json=config)
        self.fresh.add(self.adopt(r, f"create {config}"))
        assert contains(r.data["config"], config)
        assert r.data["epoch"] == 0 and r.data["status"] == "paused"

    @rule(config=configs(), edit=st.sampled_from(INVALID_EDITS))
    def create_invalid(self, config: dict[str, Any], edit: Any) -> None:
        """A config spoiled by an invalid edit is refused."""
        r = self.request("POST", "/api/experiments", json=merge(config, edit))
        assert r.status == 422, f"an invalid config got {r.status}: {r.text[:500]}"

    @precondition(has_live)
    @rule(pick=PICK, edit=edits)
    def patch(self, pick: int, edit: Edit) -> None:
        """PATCH a config: valid edits applied, invalid ones refused whole."""
        exp_id, token = self.pick(pick)
        _, changes, expect = edit
        view = self.view(exp_id)
        old = view["config"]
        if expect == "context":
            expect = "ok" if context_ok(patched(old, changes)) else "refused"
        before = self.weights(exp_id) if self.quiet(view) else None
        r = self.attempt(exp_id, lambda: self.request("PATCH", self.url(exp_id), token,
                                                      json=changes), expect)
        if r.ok:
            self.check_patch(exp_id, old, before, changes, r.data)

    @precondition(has_live)
    @rule(pick=PICK, epochs=st.integers(1, 4))
    def train_wait(self, pick: int, epochs: int) -> None:
        """Train a few epochs and wait: the answer is the view after them."""
        exp_id, token = self.pick(pick)
        view = self.view(exp_id)
        expect = "refused" if view["status"] == "diverged" else "ok"
        r = self.attempt(exp_id, lambda: self.request(
            "POST", self.url(exp_id, "/train"), token, json={"epochs": epochs, "wait": True}),
            expect)
        if r.ok:
            assert r.status == 200 and not r.data["running"]
            assert r.data["status"] in ("paused", "diverged")
            if self.quiet(view) and r.data["status"] == "paused":
                assert r.data["epoch"] == view["epoch"] + epochs
            self.fresh.add(exp_id)

    @precondition(has_live)
    @rule(pick=PICK, kind=st.sampled_from(["train", "step", "predict"]), i=st.integers(0, 8))
    def bad_body(self, pick: int, kind: str, i: int) -> None:
        """A malformed train, step or predict body is refused."""
        exp_id, token = self.pick(pick)
        body = BAD_BODIES[kind][i % len(BAD_BODIES[kind])]
        self.attempt(exp_id, lambda: self.request("POST", self.url(exp_id, f"/{kind}"), token,
                                                  json=body), "refused")

    @precondition(has_live)
    @rule(pick=PICK, epochs=st.one_of(st.none(), st.integers(1, 300)), then_pause=st.booleans())
    def play(self, pick: int, epochs: int | None, then_pause: bool) -> None:
        """Train in the background (202), perhaps pausing at once."""
        exp_id, token = self.pick(pick)
        running = [e for e in self.live if self.view(e)["running"]]
        if len(running) >= MAX_RUNNING and exp_id not in running:
            return
        view = self.view(exp_id)
        expect = "refused" if view["status"] == "diverged" else "ok"
        body = {} if epochs is None else {"epochs": epochs}
        r = self.attempt(exp_id, lambda: self.request("POST", self.url(exp_id, "/train"), token,
                                                      json=body), expect)
        if r.ok:
            assert r.status == 202, f"train without wait: {r.status}"
        if then_pause:
            self.pause(pick)

    @precondition(has_live)
    @rule(pick=PICK)
    def pause(self, pick: int) -> None:
        """Pause: nothing runs afterwards."""
        exp_id, token = self.pick(pick)
        r = self.attempt(exp_id, lambda: self.request("POST", self.url(exp_id, "/pause"), token),
                         "ok")
        assert not r.data["running"] and r.data["status"] in ("paused", "diverged")

    @precondition(has_live)
    @rule(pick=PICK, epochs=st.integers(1, 4), with_body=st.booleans())
    def step(self, pick: int, epochs: int, with_body: bool) -> None:
        """Step a paused experiment; refused while running or diverged."""
        exp_id, token = self.pick(pick)
        view = self.view(exp_id)
        n = epochs if with_body else 1
        expect = "refused" if view["status"] == "diverged" else "ok" if self.quiet(view) \
            else None
        r = self.attempt(exp_id, lambda: self.request(
            "POST", self.url(exp_id, "/step"), token,
            **({"json": {"epochs": epochs}} if with_body else {})), expect)
        if r.ok and expect == "ok":
            self.fresh.add(exp_id)
            if r.data["status"] == "paused":
                assert r.data["epoch"] == view["epoch"] + n

    @precondition(has_live)
    @rule(pick=PICK)
    def reset(self, pick: int) -> None:
        """Fresh weights: epoch 0, paused."""
        exp_id, token = self.pick(pick)
        r = self.attempt(exp_id, lambda: self.request("POST", self.url(exp_id, "/reset"), token),
                         "ok")
        assert r.data["epoch"] == 0 and r.data["status"] == "paused" and not r.data["running"]
        self.fresh.add(exp_id)

    @precondition(has_live)
    @rule(pick=PICK, points=st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
                                     min_size=1, max_size=5))
    def predict(self, pick: int, points: list[tuple[float, float]]) -> None:
        """Predict on any points within bounds: one output per point."""
        exp_id, _ = self.pick(pick)
        r = self.request("POST", self.url(exp_id, "/predict"), json={"x": points})
        assert r.status == 200, f"predict {points}: {r.status} {r.text}"
        assert len(r.data["outputs"]) == len(points)
        self.touched.add(exp_id)

    def weight_body(self, exp_id: str, edit: tuple[str, int, int, int, float]
                    ) -> tuple[Any, str]:
        """A weight edit for the experiment's current layers, and whether it is valid."""
        kind, li, si, ti, value = edit
        layers = self.weights(exp_id)
        layer = li % len(layers)
        W, b = layers[layer]["W"], layers[layer]["b"]
        n_in, n_out = len(W), len(W[0])
        body: dict[str, Any] = {"layer": layer, "source": si % n_in, "target": ti % n_out,
                                "value": value}
        expect = "ok"
        if kind == "bias":
            body["source"] = None
            expect = "refused" if b is None else "ok"
        elif kind == "bad_layer":
            body["layer"] = len(layers) + li
            expect = "refused"
        elif kind == "bad_target":
            body["target"] = n_out + ti
            expect = "refused"
        elif kind == "bad_source":
            body["source"] = n_in + si
            expect = "refused"
        elif kind == "big":
            body["value"] = 1e7
            expect = "refused"
        elif kind == "text":
            body["value"] = "heavy"
            expect = "refused"
        elif kind == "negative":
            body["target"] = -1
            expect = "refused"
        elif kind == "missing":
            del body["target"]
            expect = "refused"
        return body, expect

    @precondition(has_live)
    @rule(pick=PICK, edit=weight_edits)
    def set_weight(self, pick: int, edit: tuple[str, int, int, int, float]) -> None:
        """PATCH one weight or bias; out-of-range edits are refused."""
        exp_id, token = self.pick(pick)
        body, expect = self.weight_body(exp_id, edit)
        r = self.attempt(exp_id, lambda: self.request("PATCH", self.url(exp_id, "/weights"),
                                                      token, json=body), expect)
        if r.ok:
            self.check_weight(exp_id, body)

    def check_weight(self, exp_id: str, body: dict[str, Any]) -> None:
        """An accepted weight edit reads back (as float32), and the metrics follow it."""
        if not self.quiet(self.view(exp_id)):
            return
        self.fresh.add(exp_id)
        layer = self.weights(exp_id)[body["layer"]]
        got = layer["b"][body["target"]] if body["source"] is None else \
            layer["W"][body["source"]][body["target"]]
        assert got == float(np.float32(body["value"])), f"weight edit {body} reads back {got}"

    @precondition(has_live)
    @rule(pick=PICK)
    def unauthorized(self, pick: int) -> None:
        """Changes without the right token are refused (403)."""
        exp_id, _ = self.pick(pick)
        self.attempt(exp_id, lambda: self.request("POST", self.url(exp_id, "/reset"),
                                                  "not-the-token"), None)
        r = self.request("PATCH", self.url(exp_id), json={"seed": 1})
        assert r.status == 403, f"a change without a token: {r.status}"

    # sharing, export, import ----------------------------------------------------------
    @precondition(has_live)
    @rule(pick=PICK)
    def share(self, pick: int) -> None:
        """A snapshot: what it shows, its frame and (later) its forks are the experiment
        as it was when shared."""
        exp_id, token = self.pick(pick)
        quiet = self.quiet(self.view(exp_id))
        export = strict(self.export_text(exp_id)) if quiet else None
        weights = self.weights(exp_id) if quiet else None
        r = self.request("POST", self.url(exp_id, "/share"), token)
        assert r.status == 201, f"share: {r.status} {r.text}"
        share_id = r.data["share_id"]
        got = self.request("GET", f"/api/shares/{share_id}")
        assert got.status == 200, f"GET of a new share: {got.status} {got.text}"
        self.shares[share_id] = got.text
        frame = self.client.get(f"/api/shares/{share_id}/frame")
        assert frame.status_code == 200, frame.text
        _, grids = check_frame(frame.content)
        if export is None or weights is None:
            return
        self.snapshots[share_id] = export
        assert got.data["config"] == export["config"]
        assert got.data["epoch"] == export["model"]["epoch"]
        assert got.data["history"]["rows"] == export["history"]["rows"]
        for i, w in enumerate(weights):
            assert np.array_equal(grids[f"weights{i}"], np.float32(w["W"])) and (
                np.array_equal(grids[f"biases{i}"], np.float32(w["b"])) if w["b"] is not None
                else f"biases{i}" not in grids), "the share's frame has other weights"

    @precondition(lambda self: bool(self.shares))
    @rule(pick=PICK)
    def get_share(self, pick: int) -> None:
        """A snapshot never changes."""
        share_id = list(self.shares)[pick % len(self.shares)]
        r = self.request("GET", f"/api/shares/{share_id}")
        assert r.status == 200 and r.text == self.shares[share_id], "a snapshot changed"

    @precondition(lambda self: bool(self.shares) and len(self.live) < MAX_LIVE)
    @rule(pick=PICK)
    def fork(self, pick: int) -> None:
        """A fork continues from the shared state exactly."""
        share_id = list(self.shares)[pick % len(self.shares)]
        shared = strict(self.shares[share_id])
        r = self.request("POST", f"/api/shares/{share_id}/fork")
        exp_id = self.adopt(r, "fork")
        assert r.data["config"] == shared["config"] and r.data["epoch"] == shared["epoch"]
        snapshot = self.snapshots.get(share_id)
        if snapshot is not None:
            export = strict(self.export_text(exp_id))
            for key in ("config", "model", "history"):
                assert export[key] == snapshot[key], f"the fork's {key} is not the share's"

    @precondition(lambda self: self.live and len(self.live) < MAX_LIVE)
    @rule(pick=PICK)
    def export_import(self, pick: int) -> None:
        """Importing a real export gives the same config, model and curve."""
        exp_id, _ = self.pick(pick)
        quiet = self.quiet(self.view(exp_id))
        export = strict(self.export_text(exp_id))
        new_id = self.adopt(self.request("POST", "/api/experiments/import", json=export),
                            "import of a real export")
        if quiet:
            again = strict(self.export_text(new_id))
            for key in ("config", "model", "history"):
                assert again[key] == export[key], f"import changed the export's {key}"

    @precondition(has_live)
    @rule(pick=PICK, kind=st.sampled_from(TAMPERS))
    def import_tampered(self, pick: int, kind: str) -> None:
        """A tampered export is refused (4xx), or accepted only once repaired."""
        exp_id, _ = self.pick(pick)
        state = strict(self.export_text(exp_id))
        model, spec = state["model"], state["model"]["spec"]
        if kind == "negative_epoch":
            model["epoch"] = -5
        elif kind == "stride_zero":
            state["history"]["stride"] = 0
        elif kind == "huge_units":
            spec["hidden"] = [{"units": 100_000, "activation": "tanh"}, *spec["hidden"][1:]]
        elif kind == "spec_inputs":
            spec["n_inputs"] += 1
        elif kind == "spec_optimizer":
            spec["optimizer"] = "adam" if spec["optimizer"] != "adam" else "sgd"
            spec["optimizer_params"] = {}
        elif kind == "spec_problem":
            spec["problem"] = "regression" if spec["problem"] == "classification" \
                else "classification"
        elif kind == "epoch_text":
            model["epoch"] = "ten"
        elif kind == "rows_text":
            state["history"]["rows"] = "many"
        elif kind == "no_model":
            del state["model"]
        elif kind == "format":
            state["format"] = "something-else/9"
        elif kind == "bad_config":
            state["config"]["hidden_layers"] = [{"units": 0}]
        r = self.request("POST", "/api/experiments/import", json=state)
        if r.ok and kind in ("negative_epoch", "stride_zero") and len(self.live) < MAX_LIVE:
            # Accepted only when repaired: then it must behave like any experiment.
            new_id = self.adopt(r, f"import ({kind})")
            again = strict(self.export_text(new_id))
            assert again["model"]["epoch"] >= 0 and again["history"]["stride"] >= 1, \
                f"a tampered import ({kind}) was taken as it was"
        else:
            assert 400 <= r.status < 500, f"a tampered import ({kind}) got {r.status}: {r.text}"

    # delete, restart ------------------------------------------------------------------
    @precondition(has_live)
    @rule(pick=PICK, then=st.sampled_from([None, "pause", "auth", "ping", "update"]))
    def delete(self, pick: int, then: str | None) -> None:
        """Delete; its viewers get an error and close code 4404 (a command sent right after
        the delete gets an error, never an ack of a change)."""
        exp_id, token = self.pick(pick)
        r = self.request("DELETE", self.url(exp_id), token)
        assert r.status == 204, f"delete: {r.status} {r.text}"
        del self.live[exp_id]
        self.deleted.append(exp_id)
        assert self.request("GET", self.url(exp_id)).status == 404
        for sock in [s for s in self.sockets if s.exp_id == exp_id]:
            self.sockets.remove(sock)
            if then is not None:
                message = {"type": then, **({"token": token} if then == "auth" else {}),
                           **({"config": {"seed": 3}} if then == "update" else {})}
                sock.session.send_text(json.dumps(message))
            notified = False
            while True:
                msg = self.ws_next(sock.session, exp_id)
                if isinstance(msg, int):
                    assert msg == 4404, f"a viewer of a deleted experiment: close code {msg}"
                    break
                if isinstance(msg, dict):
                    notified |= msg["type"] == "error" and "deleted" in msg["message"]
                    if msg["type"] == "ack":
                        assert msg["command"] in ("ping", "auth"), f"after delete: {msg}"
                        assert msg.get("editable") in (None, False), f"after delete: {msg}"
            assert notified, "the viewer was not told that the experiment was deleted"
            close_session(sock.session)

    @precondition(lambda self: bool(self.deleted))
    @rule(pick=PICK, what=st.sampled_from(["get", "patch", "train", "pause", "step", "reset",
                                           "predict", "export", "weights", "share",
                                           "delete"]))
    def poke_deleted(self, pick: int, what: str) -> None:
        """Everything about a deleted experiment is 404."""
        exp_id = self.deleted[pick % len(self.deleted)]
        url = self.url(exp_id)
        method, tail, body = {
            "get": ("GET", "", None), "patch": ("PATCH", "", {"seed": 1}),
            "train": ("POST", "/train", {"epochs": 1, "wait": True}),
            "pause": ("POST", "/pause", None), "step": ("POST", "/step", None),
            "reset": ("POST", "/reset", None), "predict": ("POST", "/predict", {"x": POINTS}),
            "export": ("GET", "/export", None), "weights": ("GET", "/weights", None),
            "share": ("POST", "/share", None), "delete": ("DELETE", "", None)}[what]
        r = self.request(method, url + tail, "some-token", json=body)
        assert r.status == 404, f"{what} of a deleted experiment: {r.status} {r.text}"

    @precondition(lambda self: self.steps - self.last_restart >= 4)
    @rule()
    def restart(self) -> None:
        """Stop the app (as a shutdown does) and start a new one on the same directory."""
        self.last_restart = self.steps
        for session in self.sessions:
            close_session(session)
        self.sockets.clear()
        self.sessions.clear()
        before: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        for exp_id in self.live:
            view = self.view(exp_id)
            before[exp_id] = (view, strict(self.export_text(exp_id))
                              if self.quiet(view) else None)
        self.client.__exit__(None, None, None)
        self.client = self._open()
        for exp_id, (view, export) in before.items():
            after = self.view(exp_id)
            assert after["config"] == view["config"], "the config changed across a restart"
            assert not after["running"] and after["status"] != "running"
            if export is None:
                floor = view["epoch"] - (after["status"] == "diverged")
                assert after["epoch"] >= floor, f"epochs lost: {view['epoch']} -> {after}"
                continue
            again = strict(self.export_text(exp_id))
            assert after["epoch"] == view["epoch"] and after["status"] == view["status"]
            for key in ("config", "model", "history"):
                assert again[key] == export[key], f"the {key} changed across a restart"
            self.touched.add(exp_id)
        for exp_id in self.deleted:
            r = self.request("GET", self.url(exp_id))
            assert r.status == 404, f"a deleted experiment came back: {r.status}"
        for share_id, text in self.shares.items():
            assert self.request("GET", f"/api/shares/{share_id}").text == text

    # divergence -----------------------------------------------------------------------
    @precondition(has_live)
    @rule(pick=PICK, problem=st.sampled_from(["regression", "classification"]),
          activation=st.sampled_from(["relu", "linear", "tanh"]))
    def diverge(self, pick: int, problem: str, activation: str) -> None:
        """A learning rate of 10: the run should blow up, and be stopped cleanly."""
        exp_id, token = self.pick(pick)
        self.pause(pick)
        old = self.view(exp_id)["config"]
        changes: dict[str, Any] = {
            "problem": problem,
            "dataset": {"name": "reg-plane" if problem == "regression" else "xor",
                        "classes": 2, "n_samples": 100},
            "hidden_layers": [{"units": 6, "activation": activation}] * 2,
            "output_activation": "linear",
            "loss": "huber" if old["loss_params"] else "mse",
            "optimizer": {"name": "sgd", "learning_rate": 10.0, "decay": 0.0,
                          **dict.fromkeys(OPTIMIZER_PARAMS)},
            "batch_size": 10, "batch_norm": False,
        }
        r = self.attempt(exp_id, lambda: self.request("PATCH", self.url(exp_id), token,
                                                      json=changes), "ok")
        assert r.data["config"]["optimizer"]["learning_rate"] == 10.0
        r = self.request("POST", self.url(exp_id, "/train"), token,
                         json={"epochs": 30, "wait": True})
        assert r.status == 200, f"train: {r.status} {r.text}"
        event(f"diverge: {problem}/{activation} -> {r.data['status']}")
        self.touched.add(exp_id)
        self.peek(pick, False)

    # the websocket --------------------------------------------------------------------
    def ws_open_session(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        session = self.client.websocket_connect(path, headers=headers)
        session.__enter__()
        self.sessions.append(session)
        return session

    def ws_connect(self, exp_id: str, header: str | None = None, query: str | None = None
                   ) -> tuple[Any, dict[str, Any]]:
        """Open a websocket (a token in the handshake's header, or in the address, where it
        must be ignored) and read the hello."""
        path = f"/ws/experiments/{exp_id}" + (f"?token={query}" if query else "")
        session = self.ws_open_session(path, header)
        first = self.ws_next(session, exp_id)
        assert isinstance(first, dict), "the first message is not the hello"
        return session, first

    def ws_next(self, session: Any, exp_id: str, timeout: float = WS_TIMEOUT
                ) -> dict[str, Any] | bytes | int:
        """The next message: a strict-JSON text as a dict, a checked frame as bytes, or the
        close code; a server exception surfaces as itself."""
        try:
            msg = ws_receive(session, timeout)
        except (TimeoutError, anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            close_session(session)  # re-raises what the server raised, if it did
            raise AssertionError(f"the websocket went silent ({exc!r})") from None
        if msg["type"] == "websocket.close":
            return int(msg.get("code", 1000))
        assert msg["type"] == "websocket.send", msg
        if msg.get("bytes") is not None:
            check_frame(msg["bytes"], exp_id)
            return bytes(msg["bytes"])
        data = strict(msg["text"])
        assert isinstance(data, dict) and data.get("type") in ("hello", "ack", "error"), data
        return data

    def ws_first_frame(self, session: Any, exp_id: str) -> None:
        """Read until the first (checked) frame."""
        while not isinstance(self.ws_next(session, exp_id), bytes):
            pass

    @rule(pick=PICK, deleted=st.booleans())
    def peek(self, pick: int, deleted: bool) -> None:
        """Watch an experiment (or a deleted one) without a token: hello, then a frame."""
        if deleted and self.deleted:
            session = self.ws_open_session(
                f"/ws/experiments/{self.deleted[pick % len(self.deleted)]}")
            msg = ws_receive(session)
            assert msg.get("text") and strict(msg["text"])["type"] == "error", msg
            assert ws_receive(session)["code"] == 4404
            with contextlib.suppress(Exception):
                close_session(session)
            return
        if not self.live:
            return
        exp_id, _ = self.pick(pick)
        session, hello = self.ws_connect(exp_id)
        assert hello["type"] == "hello" and hello["editable"] is False
        self.ws_first_frame(session, exp_id)
        close_session(session)

    @precondition(lambda self: self.live and len(self.sockets) < MAX_SOCKETS)
    @rule(pick=PICK, how=st.sampled_from(["header", "auth", "none", "bad", "query"]))
    def ws_open(self, pick: int, how: str) -> None:
        """A viewer held open: editable by the handshake's header or an auth command; a
        token in the address must not count (docs/protocol.md)."""
        exp_id, token = self.pick(pick)
        session, hello = self.ws_connect(exp_id, header=token if how == "header" else None,
                                         query=token if how == "query" else None)
        assert hello["type"] == "hello" and hello["id"] == exp_id
        assert hello["editable"] is (how == "header"), f"hello {hello} with the token in {how}"
        sock = Socket(session, exp_id, how == "header")
        self.sockets.append(sock)
        self.ws_first_frame(session, exp_id)
        if how in ("auth", "bad"):
            reply = self.ws_command(sock, {"type": "auth",
                                           "token": token if how == "auth" else "wrong"})
            assert reply.data["type"] == "ack" and reply.data["editable"] is (how == "auth")
            sock.editable = how == "auth"

    def ws_command(self, sock: Socket, message: dict[str, Any] | str) -> Reply:
        """Send a command; frames that come first are checked; returns the reply."""
        text = message if isinstance(message, str) else json.dumps(message)
        sock.session.send_text(text)
        while True:
            msg = self.ws_next(sock.session, sock.exp_id)
            assert not isinstance(msg, int), f"closed ({msg}) instead of answering {text}"
            sock.frames_seen += isinstance(msg, bytes)
            if isinstance(msg, dict):
                assert msg["type"] in ("ack", "error"), msg
                if isinstance(message, dict):
                    assert msg.get("command") == message.get("type"), (msg, message)
                return Reply(200 if msg["type"] == "ack" else 422, msg, json.dumps(msg))

    def ws_attempt(self, sock: Socket, message: dict[str, Any], expect: str | None) -> Reply:
        """A command that changes the experiment: refused without the token, otherwise as
        `expect` says, with the same checks as REST."""
        if not sock.editable:
            expect = "refused"
        return self.attempt(sock.exp_id, lambda: self.ws_command(sock, message), expect)

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK, command=st.sampled_from(["ping", "play", "play_n", "pause", "step",
                                               "reset", "auth"]), n=st.integers(1, 3))
    def ws_simple(self, which: int, command: str, n: int) -> None:
        """ping, play, pause, step, reset or auth over a held websocket."""
        sock = self.sockets[which % len(self.sockets)]
        if command == "ping":
            reply = self.ws_command(sock, {"type": "ping"})
            assert reply.ok and math.isfinite(reply.data["time"])
            return
        if command == "auth":  # the token again, or a wrong one
            good = n == 1
            token = self.live[sock.exp_id] if good else "wrong"
            reply = self.ws_command(sock, {"type": "auth", "token": token})
            assert reply.ok and reply.data["editable"] is good
            sock.editable = good
            return
        view = self.view(sock.exp_id)
        expect: str | None = "ok"
        message: dict[str, Any] = {"type": command.removesuffix("_n")}
        if command in ("play", "play_n"):
            running = [e for e in self.live if self.view(e)["running"]]
            if len(running) >= MAX_RUNNING and sock.exp_id not in running:
                return
            if command == "play_n":
                message["epochs"] = 50 * n
            expect = "refused" if view["status"] == "diverged" else "ok"
        elif command == "step":
            message["epochs"] = n
            expect = None if not self.quiet(view) else \
                "refused" if view["status"] == "diverged" else "ok"
        reply = self.ws_attempt(sock, message, expect)
        if reply.ok and command == "step" and expect == "ok":
            after = self.view(sock.exp_id)
            assert after["status"] == "diverged" or after["epoch"] == view["epoch"] + n
            self.fresh.add(sock.exp_id)
        if reply.ok and command == "reset":
            self.fresh.add(sock.exp_id)

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK, edit=edits)
    def ws_update(self, which: int, edit: Edit) -> None:
        """The update command: as PATCH."""
        sock = self.sockets[which % len(self.sockets)]
        _, changes, expect = edit
        message = {"type": "update", "config": changes}
        view = self.view(sock.exp_id)
        old = view["config"]
        if expect == "context":
            expect = "ok" if context_ok(patched(old, changes)) else "refused"
        before = self.weights(sock.exp_id) if self.quiet(view) else None
        reply = self.ws_attempt(sock, message, expect)
        if reply.ok:
            self.check_patch(sock.exp_id, old, before, changes, reply.data)

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK, edit=weight_edits)
    def ws_set_weight(self, which: int, edit: tuple[str, int, int, int, float]) -> None:
        """The set_weight command: as PATCH /weights."""
        sock = self.sockets[which % len(self.sockets)]
        body, expect = self.weight_body(sock.exp_id, edit)
        reply = self.ws_attempt(sock, {"type": "set_weight", **body}, expect)
        if reply.ok:
            self.check_weight(sock.exp_id, body)

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK, text=st.sampled_from(WS_BAD))
    def ws_garbage(self, which: int, text: str) -> None:
        """Malformed messages get an error and change nothing."""
        sock = self.sockets[which % len(self.sockets)]
        reply = self.attempt(sock.exp_id, lambda: self.ws_command(sock, text), "refused")
        assert reply.data["type"] == "error"

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK, frames=st.booleans(), neurons=st.booleans())
    def ws_view(self, which: int, frames: bool, neurons: bool) -> None:
        """What a viewer shows (no token needed: it changes only what it is sent); one
        that shows frames again gets the frame of now at once, whatever else happened."""
        sock = self.sockets[which % len(self.sockets)]
        seen = sock.frames_seen
        reply = self.ws_command(sock, {"type": "view", "frames": frames, "neurons": neurons})
        assert reply.ok, reply.data
        more = (frames and not sock.shown[0]) or (frames and neurons and not sock.shown[1])
        sock.shown = (frames, neurons)
        if more and sock.frames_seen == seen:
            self.ws_first_frame(sock.session, sock.exp_id)

    @precondition(lambda self: bool(self.sockets))
    @rule(which=PICK)
    def ws_close(self, which: int) -> None:
        """Leave a held websocket."""
        sock = self.sockets.pop(which % len(self.sockets))
        close_session(sock.session)


Playground.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    phases=list(Phase) if SHRINK else [p for p in Phase if p != Phase.shrink],
    database=DirectoryBasedExampleDatabase(DB) if DB else None,
    suppress_health_check=list(HealthCheck))
TestPlayground = Playground.TestCase
