"""An experiment: its config, data, model, curve and status, safe to use from two threads.

Training runs in a worker thread, mini-batch by mini-batch, under the experiment's lock.
Every change made by a person (config, weights, reset, step) is built aside, saved, and
only then swapped in, under the same lock: it is applied whole or not at all, in memory
and on disk, and nobody sees a half-changed experiment.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from backend.data import UserData, apply_features
from backend.engine import Backend, Model, get_backend
from backend.engine.model import ModelState

from .config import ExperimentConfig
from .dataset import PLANE, ExperimentData, build_data, plane_points
from .history import History

STATUSES = ("paused", "running", "diverged")
MAX_WEIGHT = 1e6

Persist = Callable[["Experiment"], None]  # saves the experiment as it is now, or raises


class ExperimentError(ValueError):
    """A request the experiment cannot carry out; the message says why."""


class Deleted(LookupError):
    """The experiment was deleted while the request was under way."""


def _structure(config: ExperimentConfig) -> tuple[Any, ...]:
    """What needs fresh weights when it changes; everything else keeps them."""
    return (config.problem, tuple(config.features),
            tuple(h.units for h in config.hidden_layers), config.batch_norm,
            config.output_activation, config.loss, config.dataset.name,
            config.dataset.classes, config.dataset.id)


def _evaluate(model: Model, data: ExperimentData, x_train: np.ndarray,
              x_test: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {"epoch": model.epoch}
    for part, x, y in (("train", x_train, data.y_train), ("test", x_test, data.y_test)):
        if len(y):
            for key, value in model.evaluate(x, y).items():
                out[f"{part}_{key}"] = value
    out["learning_rate"] = model.learning_rate
    return out


class Experiment:
    # What a change may replace; a failed change puts the old values back.
    PARTS = ("config", "upload", "data", "x_train", "x_test", "model", "history", "metrics",
             "status", "message", "revision", "updated", "_steps")

    def __init__(self, id: str, config: ExperimentConfig, upload: UserData | None = None,
                 backend: Backend | None = None) -> None:
        self.id = id
        self.token_hash = ""  # set by the service; saved with the experiment
        self.backend = backend or get_backend("cpu")
        self.lock = threading.RLock()
        self.closed = threading.Event()  # set when deleted: all work on it stops
        self.config = config
        self.upload = upload
        self.data: ExperimentData = build_data(config, upload)
        self.x_train, self.x_test = self.data.features(config.features)
        self.model = Model(config.to_spec(self.data.n_classes), self.backend)
        self.status = "paused"
        self.message = ""
        self.revision = 0  # bumped by every change of config or weights made by a person
        self.dirty = True  # changed since it was last saved
        self.created = self.updated = time.time()
        self.touched = time.monotonic()  # last asked for (the service evicts idle ones)
        self.history = History()
        self.metrics: dict[str, float] = {}
        self._good: ModelState | None = None  # the model at the start of the current epoch
        self._steps: Iterator[int] | None = None  # the epoch in progress, batch by batch
        self._grid_cache: dict[int, tuple[Any, np.ndarray]] = {}
        self.record()

    # training ---------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.model.epoch

    def evaluate(self) -> dict[str, float]:
        return _evaluate(self.model, self.data, self.x_train, self.x_test)

    def record(self) -> dict[str, float]:
        self.metrics = self.evaluate()
        self.history.add(self.metrics)
        return self.metrics

    def train_epochs(self, n: int, deadline: float | None = None,
                     stop: threading.Event | None = None,
                     until: Callable[[], int | None] | None = None) -> int:
        """Train n more epochs, mini-batch by mini-batch, stopping early between two batches
        at the deadline, the stop event or a delete (the epoch in progress goes on next
        time), and at an epoch's end once the epoch reaches until() (a run's target, which
        may move meanwhile); returns the epochs completed. A loss that turns NaN or infinite
        restores the model of the last good epoch and sets 'diverged'."""
        done = 0
        with np.errstate(all="ignore"):
            while done < n and not self.closed.is_set():
                target = until() if until is not None else None
                if target is not None and self.epoch >= target and self._steps is None:
                    break
                with self.lock:
                    if self._steps is None:
                        self._good = self.model.snapshot()
                        self._steps = self.model.epoch_steps(self.x_train, self.data.y_train,
                                                             self.config.batch_size)
                    self.dirty = True
                    if next(self._steps, None) is None:  # the epoch is complete
                        self._steps = None
                        metrics = self.record()
                        if not all(math.isfinite(v) for v in metrics.values()):
                            self._diverge()
                            return done
                        self.updated = time.time()
                        done += 1
                if (stop is not None and stop.is_set()) or \
                        (deadline is not None and time.monotonic() > deadline):
                    break
        return done

    def _diverge(self) -> None:
        assert self._good is not None
        self.model.restore(self._good)
        self.history.rows = [r for r in self.history.rows if r["epoch"] <= self.epoch]
        self.metrics = self.evaluate()
        self.status = "diverged"
        self.message = (f"the loss became NaN or infinite at epoch {self.epoch + 1}; the "
                        "weights are those of the last good epoch. Try a smaller learning "
                        "rate, another initialization or batch norm, then reset")

    # changes ----------------------------------------------------------------------------
    def _take(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.PARTS}

    def _put(self, parts: dict[str, Any]) -> None:
        for name, value in parts.items():
            setattr(self, name, value)

    def _commit(self, persist: Persist | None, **parts: Any) -> None:
        """Swap in new parts (built aside: nothing shared with the old ones is changed),
        save, and swap the old ones back if the save fails."""
        with self.lock:
            if self.closed.is_set():
                raise Deleted(f"experiment {self.id!r} was deleted")
            before = self._take()
            self._put(parts)
            self.revision += 1
            self.updated = time.time()
            self._steps = None
            self.dirty = True
            try:
                if persist is not None:
                    persist(self)
            except BaseException:
                self._put(before)
                raise

    def reset(self, persist: Persist | None = None) -> None:
        model = Model(self.config.to_spec(self.data.n_classes), self.backend)
        with self.lock:
            history = History()
            metrics = _evaluate(model, self.data, self.x_train, self.x_test)
            history.add(metrics)
            self._commit(persist, model=model, history=history, metrics=metrics,
                         status="paused", message="")

    def apply_config(self, config: ExperimentConfig, upload: UserData | None,
                     persist: Persist | None = None) -> bool:
        """Switch to a new (validated) config; returns whether the weights were kept.
        The data, its feature matrices and the model are all rebuilt from the new config,
        so they can never disagree with it."""
        with self.lock:
            old, old_data, old_upload = self.config, self.data, self.upload
        keep = _structure(config) == _structure(old)
        same_data = (config.dataset == old.dataset and config.problem == old.problem
                     and upload is old_upload)
        data = old_data if same_data else build_data(config, upload)
        x_train, x_test = data.features(config.features)
        model = Model(config.to_spec(data.n_classes), self.backend)
        with self.lock:
            if keep:
                model.carry_from(self.model, optimizer=config.optimizer.name ==
                                 self.config.optimizer.name)
                history = self.history.copy()
            else:
                history = History()
            metrics = _evaluate(model, data, x_train, x_test)
            history.add(metrics)
            status, message = self.status, self.message
            if status == "diverged":
                status = "paused"
                message = "the config changed; press play to try again" if keep else ""
            self._commit(persist, config=config, upload=upload, data=data, x_train=x_train,
                         x_test=x_test, model=model, history=history, metrics=metrics,
                         status=status, message=message)
        return keep

    def set_weight(self, layer: int, source: int | None, target: int, value: float,
                   persist: Persist | None = None) -> None:
        """Set W[layer][source, target], or the bias b[layer][target] when source is None.
        Layers count the dense layers from 0 (the first hidden layer) to the output."""
        if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
            raise ExperimentError(f"a weight must be a finite number with |value| <= "
                                  f"{MAX_WEIGHT:g}")
        with self.lock:
            model = self.model.copy()
            dense = model.dense_layers
            if not 0 <= layer < len(dense):
                raise ExperimentError(f"layer must be 0..{len(dense) - 1}")
            d = dense[layer]
            n_in, n_out = d.W.shape
            if not 0 <= target < n_out:
                raise ExperimentError(f"layer {layer} has units 0..{n_out - 1}")
            if source is None:
                if d.b is None:
                    raise ExperimentError(f"layer {layer} has no bias (batch norm's beta)")
                d.b[target] = value
            else:
                if not 0 <= source < n_in:
                    raise ExperimentError(f"layer {layer} has inputs 0..{n_in - 1}")
                d.W[source, target] = value
            history = self.history.copy()
            metrics = _evaluate(model, self.data, self.x_train, self.x_test)
            history.add(metrics)
            self._commit(persist, model=model, history=history, metrics=metrics)

    # views ------------------------------------------------------------------------------
    def features(self, points: np.ndarray) -> np.ndarray:
        return apply_features(self.config.features, points)

    def predict(self, points: np.ndarray) -> dict[str, Any]:
        """Outputs at points given in the data's own units (as uploaded)."""
        with self.lock, np.errstate(all="ignore"):  # overflow: inf, then null in the JSON
            model, x = self.model, self.features(points * self.data.scale)
            a = model.predict(x)
        head, xp = model.head, model.xp
        out: dict[str, Any] = {"outputs": self.backend.to_numpy(a).tolist()}
        if head.problem == "classification":
            out["probabilities"] = self.backend.to_numpy(head.probabilities(xp, a)).tolist()
            out["classes"] = self.backend.to_numpy(head.classes(xp, a)).tolist()
        return out

    def extent(self) -> float:
        """Half-width of the square shown (uploads are scaled into it: see fit_scale)."""
        return PLANE

    def grid_features(self, resolution: int) -> np.ndarray:
        """The input features at the grid's points, cached: frames ask for them often."""
        with self.lock:
            key = (tuple(self.config.features), resolution, self.extent())
            cached = self._grid_cache.get(resolution)
            if cached is None or cached[0] != key:
                cached = (key, self.features(plane_points(resolution, self.extent())))
                self._grid_cache[resolution] = cached
            return cached[1]

    def unit_grids(self, resolution: int) -> list[np.ndarray]:
        """Every hidden unit's and the output's value over the grid: (units, res, res) each."""
        with self.lock:
            outs = self.model.unit_outputs(self.grid_features(resolution))
        return [o.T.reshape(o.shape[1], resolution, resolution) for o in outs]

    def input_grids(self, resolution: int) -> np.ndarray:
        """Each input feature over the grid: (features, res, res)."""
        f = self.grid_features(resolution)
        return f.T.reshape(f.shape[1], resolution, resolution)

    def weights(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"layer": i, "W": self.backend.to_numpy(d.W).tolist(),
                     "b": None if d.b is None else self.backend.to_numpy(d.b).tolist()}
                    for i, d in enumerate(self.model.dense_layers)]

    def public_metrics(self) -> dict[str, float | None]:
        """The latest metrics for JSON: a value that is not finite becomes null."""
        return {k: (v if math.isfinite(v) else None) for k, v in self.metrics.items()}
