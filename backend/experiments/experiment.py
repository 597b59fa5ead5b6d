"""An experiment: its config, data, model, curve and status, safe to use from two threads.

Training runs in a worker thread, epoch by epoch, under the experiment's lock; every
other change (config, weights, reset) takes the same lock, so nobody sees a half-trained
epoch or a half-changed model.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from backend.data import UserData, apply_features
from backend.engine import Backend, Model, get_backend
from backend.engine.layers import BatchNorm, Dense

from .config import ExperimentConfig
from .dataset import ExperimentData, build_data
from .history import History

STATUSES = ("paused", "running", "diverged")
EXTENT = 6.0  # the plane shown: [-6, 6]^2, as in the TensorFlow Playground

class ExperimentError(ValueError):
    """A request the experiment cannot carry out; the message says why."""


def _structure(config: ExperimentConfig) -> tuple[Any, ...]:
    """What needs fresh weights when it changes; everything else keeps them."""
    return (config.problem, tuple(config.features),
            tuple(h.units for h in config.hidden_layers), config.batch_norm,
            config.output_activation, config.loss, config.dataset.name,
            config.dataset.classes, config.dataset.id)


class Experiment:
    def __init__(self, id: str, config: ExperimentConfig, upload: UserData | None = None,
                 backend: Backend | None = None) -> None:
        self.id = id
        self.config = config
        self.upload = upload
        self.backend = backend or get_backend("cpu")
        self.lock = threading.RLock()
        self.status = "paused"
        self.message = ""
        self.revision = 0  # bumped by every change of config or weights made by a person
        self.created = self.updated = time.time()
        self.history = History()
        self.metrics: dict[str, float] = {}
        self._load_data()
        self.model = Model(config.to_spec(self.data.n_classes), self.backend)
        self._good: list[np.ndarray] = []
        self._steps: Iterator[int] | None = None  # the epoch in progress, batch by batch
        self._grid_cache: dict[int, tuple[Any, np.ndarray]] = {}
        self.record()

    # data -------------------------------------------------------------------------------
    def _load_data(self) -> None:
        self.data: ExperimentData = build_data(self.config, self.upload)
        self.x_train, self.x_test = self.data.features(self.config.features)

    def features(self, points: np.ndarray) -> np.ndarray:
        return apply_features(self.config.features, points)

    # training ---------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.model.epoch

    def evaluate(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for part, x, y in (("train", self.x_train, self.data.y_train),
                           ("test", self.x_test, self.data.y_test)):
            if len(y):
                for key, value in self.model.evaluate(x, y).items():
                    out[f"{part}_{key}"] = value
        return out

    def record(self) -> dict[str, float]:
        self.metrics = {"epoch": self.epoch, **self.evaluate(),
                        "learning_rate": self.model.learning_rate}
        self.history.add(self.metrics)
        return self.metrics

    def train_epochs(self, n: int, deadline: float | None = None,
                     stop: threading.Event | None = None) -> int:
        """Train n more epochs, mini-batch by mini-batch, stopping early between two batches
        at the deadline or the stop event (the epoch in progress goes on next time); returns
        the epochs completed. A loss that turns NaN or infinite restores the weights of the
        last good epoch and sets 'diverged'."""
        done = 0
        with np.errstate(all="ignore"):
            while done < n:
                with self.lock:
                    if self._steps is None:
                        self._good = [np.array(a) for a in self._state_arrays()]
                        self._steps = self.model.epoch_steps(self.x_train, self.data.y_train,
                                                             self.config.batch_size)
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

    def _state_arrays(self) -> list[Any]:
        arrays = [a for layer in self.model.layers for a in layer.arrays().values()]
        return arrays + [s for slots in self.model.optimizer.state for s in slots]

    def _diverge(self) -> None:
        for current, good in zip(self._state_arrays(), self._good, strict=True):
            current[...] = self.model.xp.asarray(good)
        self.model.epoch -= 1
        self.history.rows = [r for r in self.history.rows if r["epoch"] <= self.model.epoch]
        self.metrics = {"epoch": self.epoch, **self.evaluate(),
                        "learning_rate": self.model.learning_rate}
        self.status = "diverged"
        self.message = (f"the loss became NaN or infinite at epoch {self.epoch + 1}; the "
                        "weights are those of the last good epoch. Try a smaller learning "
                        "rate, another initialization or batch norm, then reset")

    # changes ----------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.model = Model(self.config.to_spec(self.data.n_classes), self.backend)
            self._steps = None
            self.history = History()
            self.status, self.message = "paused", ""
            self.revision += 1
            self.record()
            self.updated = time.time()

    def apply_config(self, config: ExperimentConfig, upload: UserData | None = None) -> bool:
        """Switch to a new (validated) config; returns whether the weights were kept.

        Everything is built before anything is swapped, so a failure changes nothing."""
        old = self.config
        keep = _structure(config) == _structure(old)
        data_changed = config.dataset != old.dataset or config.problem != old.problem
        new = Experiment.__new__(Experiment)
        new.config, new.upload = config, upload if upload is not None else self.upload
        if data_changed:
            new._load_data()
        else:
            new.data, new.x_train, new.x_test = self.data, self.x_train, self.x_test
        model = Model(config.to_spec(new.data.n_classes), self.backend)
        with self.lock:
            if keep:
                _copy_weights(self.model, model, same_optimizer=(
                    config.optimizer.name == old.optimizer.name))
            self.config, self.upload, self.model = config, new.upload, model
            self._steps = None
            self.data, self.x_train, self.x_test = new.data, new.x_train, new.x_test
            if not keep:
                self.history = History()
            if self.status == "diverged" and keep:
                self.message = "the config changed; press play to try again"
            self.status = "paused" if self.status == "diverged" else self.status
            self.revision += 1
            self.record()
            self.updated = time.time()
        return keep

    def set_weight(self, layer: int, source: int | None, target: int, value: float) -> None:
        """Set W[layer][source, target], or the bias b[layer][target] when source is None.
        Layers count the dense layers from 0 (the first hidden layer) to the output."""
        if not math.isfinite(value) or abs(value) > 1e6:
            raise ExperimentError("a weight must be a finite number with |value| <= 1e6")
        dense = self.model.dense_layers
        if not 0 <= layer < len(dense):
            raise ExperimentError(f"layer must be 0..{len(dense) - 1}")
        d = dense[layer]
        n_in, n_out = d.W.shape
        if not 0 <= target < n_out:
            raise ExperimentError(f"layer {layer} has units 0..{n_out - 1}")
        with self.lock:
            if source is None:
                if d.b is None:
                    raise ExperimentError(f"layer {layer} has no bias (batch norm's beta)")
                d.b[target] = value
            else:
                if not 0 <= source < n_in:
                    raise ExperimentError(f"layer {layer} has inputs 0..{n_in - 1}")
                d.W[source, target] = value
            self.revision += 1
            self.record()
            self.updated = time.time()

    # views ------------------------------------------------------------------------------
    def predict(self, points: np.ndarray) -> dict[str, Any]:
        with self.lock:
            a = self.model.predict(self.features(points))
        head, xp = self.model.head, self.model.xp
        out: dict[str, Any] = {"outputs": self.backend.to_numpy(a).tolist()}
        if head.problem == "classification":
            out["probabilities"] = self.backend.to_numpy(head.probabilities(xp, a)).tolist()
            out["classes"] = self.backend.to_numpy(head.classes(xp, a)).tolist()
        return out

    def extent(self) -> float:
        """Half-width of the square shown: 6, or wide enough for uploaded points."""
        if self.upload is None:
            return EXTENT
        biggest = max(float(np.abs(self.data.x_train).max(initial=0)),
                      float(np.abs(self.data.x_test).max(initial=0)) if len(self.data.x_test)
                      else 0.0)
        return max(EXTENT, math.ceil(biggest * 1.1))

    def grid_points(self, resolution: int) -> np.ndarray:
        """Cell centres, row by row from the top (y = +extent) down, x left to right."""
        e = self.extent()
        step = 2 * e / resolution
        c = -e + step * (np.arange(resolution) + 0.5)
        xs, ys = np.meshgrid(c, c[::-1])
        return np.stack([xs.ravel(), ys.ravel()], axis=1)

    def grid_features(self, resolution: int) -> np.ndarray:
        """The input features at the grid's points, cached: frames ask for them often."""
        key = (tuple(self.config.features), resolution, self.extent())
        cached = self._grid_cache.get(resolution)
        if cached is None or cached[0] != key:
            cached = (key, self.features(self.grid_points(resolution)))
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

    def summary(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "epoch": self.epoch,
                "metrics": self.metrics, "learning_rate": self.model.learning_rate}


def _copy_weights(old: Model, new: Model, same_optimizer: bool) -> None:
    """Carry weights (and batch-norm statistics, and the optimizer's state when it is the
    same optimizer) from old to new; the structure is the same, so shapes match."""
    kinds = (Dense, BatchNorm)
    pairs = zip([layer for layer in old.layers if isinstance(layer, kinds)],
                [layer for layer in new.layers if isinstance(layer, kinds)], strict=True)
    for a, b in pairs:
        for name, arr in b.arrays().items():
            arr[...] = getattr(a, name)
    if same_optimizer:
        new.optimizer.t = old.optimizer.t
        for slots_old, slots_new in zip(old.optimizer.state, new.optimizer.state, strict=True):
            for so, sn in zip(slots_old, slots_new, strict=True):
                sn[...] = so
    new.epoch = old.epoch
    for rng_name in ("shuffle_rng", "dropout_rng"):
        getattr(new, rng_name).bit_generator.state = getattr(old, rng_name).bit_generator.state
