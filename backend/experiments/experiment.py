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
from collections.abc import Callable
from typing import Any

import numpy as np

from backend.data import UserData, apply_features
from backend.engine import Backend, Model, SpecError, get_backend
from backend.engine.layertypes import RECURRENT_BLOCKS
from backend.engine.model import Epoch, ModelState

from .config import ExperimentConfig
from .dataset import PLANE, ExperimentData, Upload, build_data, plane_points
from .history import History

STATUSES = ("paused", "running", "diverged")
MAX_WEIGHT = 1e6
N_EXAMPLES = 16  # test images whose class probabilities every image frame carries
HOLD = 0.002  # seconds of mini-batches trained under one hold of the lock, at most

Persist = Callable[["Experiment"], None]  # saves the experiment as it is now, or raises


class ExperimentError(ValueError):
    """A request the experiment cannot carry out; the message says why."""


class Deleted(LookupError):
    """The experiment was deleted while the request was under way."""


class Conflict(Exception):
    """The request clashes with the state another request left (a change made first, a
    name taken in a class, a full class); the message says what to do (409)."""


VIEW_VALUES = 500_000  # numbers of states and gates in a /sequence answer (4 MB of JSON)
FRAME_VALUES = 60_000  # ... and in a frame's, which goes out many times a second


def _listed(a: np.ndarray, digits: int = 4) -> Any:
    """An array as JSON's lists, rounded (a view draws them; 4 decimals is a pixel's
    worth), with NaN and infinities as null."""
    a = np.round(np.asarray(a, dtype=np.float64), digits)
    if np.isfinite(a).all():
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()


def _significant(a: np.ndarray, digits: int = 3) -> list[float | None]:
    """Numbers as JSON, rounded to `digits` significant digits, NaN and infinities as
    null: the gradient through time, drawn on a log scale, where a vanishing 1e-9 must
    not round to 0 as with fixed decimals."""
    return [float(f"{v:.{digits}g}") if np.isfinite(v) else None
            for v in np.asarray(a, dtype=np.float64).ravel()]


def _layer_key(entry: Any) -> Any:
    """What of an entry shapes its weights: all but its activation (a dense entry's
    units alone, as they always were compared)."""
    if entry.type == "dense":
        return entry.units
    return (entry.type, *(v for k, v in entry.spec_entry().items()
                          if k not in ("type", "activation")))


def _structure(config: ExperimentConfig) -> tuple[Any, ...]:
    """What needs fresh weights when it changes; everything else keeps them."""
    return (config.problem, tuple(config.features),
            tuple(_layer_key(h) for h in config.hidden_layers), config.batch_norm,
            config.output_activation, config.loss, config.dataset.name,
            config.dataset.classes, config.dataset.id, config.dataset.side,
            config.dataset.length)


def build_model(config: ExperimentConfig, data: ExperimentData, backend: Backend) -> Model:
    """The config's network for this data; images of an upload are only now known, so
    a network that does not fit them is refused here, with the engine's reason."""
    try:
        spec = config.to_spec(data.n_classes, input_shape=data.input_shape,
                              per_step=data.per_step)
    except SpecError as exc:
        raise ExperimentError(f"hidden_layers: {exc}") from None
    return Model(spec, backend)


def _evaluate(model: Model, data: ExperimentData, x_train: np.ndarray,
              x_test: np.ndarray) -> dict[str, float]:
    return _measure(model, data, x_train, x_test)[0]


Scores = dict[str, dict[str, float]]  # part ("train", "test") -> Model.evaluate's answer


def _measure(model: Model, data: ExperimentData, x_train: np.ndarray, x_test: np.ndarray,
             known: Scores | None = None) -> tuple[dict[str, float], np.ndarray | None]:
    """The metrics; for images also the test set's confusion matrix, from the same pass.
    `known`: the scores of some parts, worked out already (by a group, in one pass)."""
    out: dict[str, float] = {"epoch": model.epoch}
    confusion = None
    for part, x, y in (("train", x_train, data.y_train), ("test", x_test, data.y_test)):
        if not len(y):
            continue
        if known is not None and part in known:
            scores = known[part]
        elif part == "test" and data.kind != "points" and not data.per_step and \
                model.head.problem == "classification":
            scores, confusion = _scores(model, x, y, data.n_classes)
        else:
            scores = model.evaluate(x, y)
        for key, value in scores.items():
            out[f"{part}_{key}"] = value
    out["learning_rate"] = model.learning_rate
    return out, confusion


def _scores(model: Model, x: np.ndarray, y: np.ndarray,
            k: int) -> tuple[dict[str, float], np.ndarray]:
    """Model.evaluate's loss and accuracy, and the confusion matrix (k, k) int32 (row =
    true class, column = predicted) of the same predictions."""
    xp, head = model.xp, model.head
    with np.errstate(all="ignore"):
        z = model.forward(model.as_x(x))
        a = model.output(z)
        loss = head.loss.value(xp, z, a, model.targets(y), head.activation, **head.loss_params)
        predicted = head.classes(xp, a)
        scores = {"loss": float(loss.mean()),
                  "accuracy": float((predicted == xp.asarray(y)).mean())}
    cells = np.bincount(y.astype(np.int64) * k + model.backend.to_numpy(predicted).astype(
        np.int64), minlength=k * k)
    return scores, cells.reshape(k, k).astype(np.int32)


class Experiment:
    # What a change may replace; a failed change puts the old values back.
    PARTS = ("config", "upload", "data", "x_train", "x_test", "model", "history", "metrics",
             "status", "message", "revision", "updated", "_steps")

    def __init__(self, id: str, config: ExperimentConfig, upload: Upload | None = None,
                 backend: Backend | None = None, measure: bool = True) -> None:
        """A new experiment at epoch 0, measured (its curve's first row); `measure` False
        for one whose weights are restored next: measuring them first is wasted (a big
        conv net took seconds), and their metrics then belong to other weights."""
        self.id = id
        self.token_hash = ""  # set by the service; saved with the experiment
        self.backend = backend or get_backend("cpu")
        self.lock = threading.RLock()
        self.closed = threading.Event()  # set when deleted: all work on it stops
        self.config = config
        self.upload = upload
        self.data: ExperimentData = build_data(config, upload)
        self.x_train, self.x_test = self.data.features(config.features)
        self.model = build_model(config, self.data, self.backend)
        self.status = "paused"
        self.message = ""
        self.held = ""  # why it may not train now (a teacher's lock; set by the service)
        self.revision = 0  # bumped by every change of config or weights made by a person
        self.dirty = True  # changed since it was last saved
        self.created = self.updated = time.time()
        self.touched = time.monotonic()  # last asked for (the service evicts idle ones)
        self.history = History()
        self.metrics: dict[str, float] = {}
        self._good: ModelState | None = None  # the model at the start of the current epoch
        self._steps: Epoch | None = None  # the epoch in progress, batch by batch
        self._grid_cache: dict[int, tuple[Any, np.ndarray]] = {}
        self._answers: tuple[Any, tuple[np.ndarray, np.ndarray]] | None = None
        self._confusion: tuple[Any, np.ndarray] | None = None
        if measure:
            self.record()

    # training ---------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.model.epoch

    def evaluate(self) -> dict[str, float]:
        return _evaluate(self.model, self.data, self.x_train, self.x_test)

    def measure(self, known: Scores | None = None) -> dict[str, float]:
        """The metrics of the weights as they are, and for images the confusion matrix of
        the same pass (`known`: see _measure)."""
        self.metrics, confusion = _measure(self.model, self.data, self.x_train, self.x_test,
                                           known)
        if confusion is not None:
            self._confusion = (self._confusion_key(), confusion)
        return self.metrics

    def record(self, known: Scores | None = None) -> dict[str, float]:
        """Measure, and add the metrics to the curve."""
        self.history.add(self.measure(known))
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
        stopped = (lambda: False) if stop is None else stop.is_set
        with np.errstate(all="ignore"):
            while done < n and not self.closed.is_set():
                target = until() if until is not None else None
                if target is not None and self.epoch >= target and self._steps is None:
                    break
                # Batches under one hold of the lock, for at most HOLD seconds: readers
                # wait no longer, and a small net's batch does not pay for the lock.
                with self.lock:
                    steps = self.epoch_in_progress()
                    release = time.monotonic() + HOLD
                    while True:
                        next(steps)
                        now = time.monotonic()
                        if steps.finished or stopped() or now > release or \
                                (deadline is not None and now > deadline):
                            break
                    if steps.finished:
                        if not self.end_epoch():
                            return done
                        done += 1
                if stopped() or (deadline is not None and time.monotonic() > deadline):
                    break
        return done

    def epoch_in_progress(self) -> Epoch:
        """The epoch under way, begun now if none is (the model as it is then is kept, to
        go back to if this epoch diverges). Under the lock; a training step follows."""
        if self._steps is None:
            self._good = self.model.snapshot()
            self._steps = self.model.epoch_steps(self.x_train, self.data.y_train,
                                                 self.config.batch_size)
        self.dirty = True
        return self._steps

    def end_epoch(self, known: Scores | None = None) -> bool:
        """After an epoch's last batch: its metrics on the curve; False (and 'diverged',
        the model of the last good epoch back) when the loss is NaN or infinite."""
        self._steps = None
        metrics = self.record(known)
        if not all(math.isfinite(v) for v in metrics.values()):
            self._diverge()
            return False
        self.updated = time.time()
        return True

    def _diverge(self) -> None:
        assert self._good is not None
        self.model.restore(self._good)
        self.history.trim(self.epoch)
        self.metrics = self.evaluate()
        self.status = "diverged"
        remedy = ("gradient clipping (optimizer.clip_norm), a smaller learning rate or "
                  "another initialization" if self.model.recurrent_layers else
                  "a smaller learning rate, another initialization or batch norm")
        self.message = (f"the loss became NaN or infinite at epoch {self.epoch + 1}; the "
                        f"weights are those of the last good epoch. Try {remedy}, then "
                        "reset")

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

    def reset(self, persist: Persist | None = None, seed: int | None = None,
              message: str = "") -> None:
        """Fresh weights at epoch 0; with `seed`, drawn from that seed (the config takes
        it; the data stay as they are: their seed is the data set's own)."""
        config = self.config if seed is None else self.config.model_copy(update={"seed": seed})
        model = build_model(config, self.data, self.backend)
        with self.lock:
            history = History()
            metrics = _evaluate(model, self.data, self.x_train, self.x_test)
            history.add(metrics)
            self._commit(persist, config=config, model=model, history=history,
                         metrics=metrics, status="paused", message=message)

    def apply_config(self, config: ExperimentConfig, upload: Upload | None,
                     persist: Persist | None = None) -> bool:
        """Switch to a new (validated) config; returns whether the weights were kept.
        The data, its feature matrices and the model are all rebuilt from the new config,
        so they can never disagree with it."""
        with self.lock:
            old, old_data, old_upload = self.config, self.data, self.upload
            revision = self.revision
        keep = _structure(config) == _structure(old)
        same_data = (config.dataset == old.dataset and config.problem == old.problem
                     and upload is old_upload)
        data = old_data if same_data else build_data(config, upload)
        x_train, x_test = data.features(config.features)
        model = build_model(config, data, self.backend)
        with self.lock:
            if self.revision != revision:  # built against a config that is no more
                raise Conflict("the experiment was changed by another request while this "
                               "change was being made; send it again")
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

    def become(self, other: Experiment, message: str = "",
               persist: Persist | None = None) -> None:
        """Take every part of `other` (built aside, from an export), keeping this one's id,
        token and viewers; paused (or diverged, if it was) with `message`."""
        parts = {name: getattr(other, name) for name in self.PARTS
                 if name not in ("revision", "updated", "_steps")}
        parts["status"] = "diverged" if other.status == "diverged" else "paused"
        self._commit(persist, **{**parts, "message": message})

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
            if not dense:
                raise ExperimentError("this network has no dense layer: a weight edit sets a "
                                      "dense layer's weight or bias")
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

    def require_points(self, what: str) -> None:
        """Views of the plane (grids, points, predict with x) need a point data set."""
        if self.data.images:
            raise ExperimentError(f"{what}: this experiment's data are images, which have no "
                                  "plane; see its frames (docs/protocol.md), and predict "
                                  'with {"images": ...}')
        if self.data.sequences:
            raise ExperimentError(f"{what}: this experiment's data are sequences, which have "
                                  "no plane; see its frames, and GET or POST /sequence for "
                                  "one sequence through the network")

    def require_sequences(self, what: str) -> None:
        if self.data.kind != "sequences":
            raise ExperimentError(f"{what}: this experiment's data are {self.data.kind}, not "
                                  "sequences")

    def require_images(self, what: str) -> None:
        if self.data.sequences:
            raise ExperimentError(f"{what}: this experiment's data are sequences, not images "
                                  "(see GET or POST /sequence for one sequence through the "
                                  "network)")
        if not self.data.images:
            raise ExperimentError(f"{what}: this experiment's data are points; it has no "
                                  "images (see /boundary for its neurons over the plane)")

    def mistakes(self, true: int | None = None, predicted: int | None = None,
                 limit: int = 16) -> dict[str, Any]:
        """Test images the network gets wrong, the most confident first (of the weights as
        they are now); given a true and/or a predicted class, those of that row, column or
        cell of the confusion matrix (the diagonal: the ones it gets right)."""
        self.require_images("mistakes")
        data, (probabilities, guess) = self._test_answers()
        x, y = data.x_test, data.y_test
        mask = guess != y if true is None and predicted is None else np.ones(len(y), bool)
        if true is not None:
            mask &= y == true
        if predicted is not None:
            mask &= guess == predicted
        found = np.nonzero(mask)[0]
        sure = probabilities[found, guess[found]]
        worst = found[np.argsort(-sure, kind="stable")][:limit]
        return {"count": len(found),
                "items": [{"index": int(i), "label": int(y[i]), "predicted": int(guess[i]),
                           "probability": float(probabilities[i, guess[i]]),
                           "image": x[i].tolist()} for i in worst]}

    def _test_answers(self) -> tuple[ExperimentData, tuple[np.ndarray, np.ndarray]]:
        """The test set's class probabilities and guesses, of the weights as they are now:
        worked out on a copy, outside the lock (a big conv net took seconds, and training
        and pausing waited), and kept for the next ask of the same weights (the page asks
        on every epoch, from every viewer)."""
        with self.lock:
            model, data = self.model, self.data
            key = (id(model), id(data), self.revision, model.epoch, model.optimizer.t)
            if self._answers is not None and self._answers[0] == key:
                return data, self._answers[1]
            model = model.copy()
        with np.errstate(all="ignore"):
            x = data.x_test
            a = model.predict(x) if len(x) else model.xp.zeros((0, data.n_classes))
            answers = (self.backend.to_numpy(model.head.probabilities(model.xp, a)),
                       self.backend.to_numpy(model.head.classes(model.xp, a)))
        with self.lock:
            self._answers = (key, answers)
        return data, answers

    def predict(self, points: np.ndarray) -> dict[str, Any]:
        """Outputs at points given in the data's own units (as uploaded)."""
        self.require_points("x")
        with self.lock, np.errstate(all="ignore"):  # overflow: inf, then null in the JSON
            a = self.model.predict(self.features(points * self.data.scale))
            return self._answer(a)

    def predict_images(self, images: np.ndarray) -> dict[str, Any]:
        """Outputs for images (n, C, H, W), pixels in [0, 1], as Service.check_images
        gives them (it refuses them for an experiment on points)."""
        with self.lock, np.errstate(all="ignore"):
            return self._answer(self.model.predict(images))

    def _answer(self, a: Any) -> dict[str, Any]:
        head, xp = self.model.head, self.model.xp
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
        self.require_points("grids")
        with self.lock:
            key = (tuple(self.config.features), resolution, self.extent())
            cached = self._grid_cache.get(resolution)
            if cached is None or cached[0] != key:
                cached = (key, self.features(plane_points(resolution, self.extent())))
                self._grid_cache[resolution] = cached
            return cached[1]

    # images -----------------------------------------------------------------------------
    def image_views(self, example: int = 0) -> dict[str, Any]:
        """What an image frame shows, of the weights as they are now: the first
        N_EXAMPLES test images with their labels and class probabilities, the output of
        every hidden entry for one of them (`example`), every conv layer's filters
        (filters, channels, k, k), and the test set's confusion matrix."""
        with self.lock:
            model, d, xp = self.model, self.data, self.model.xp
            x = d.x_test[:N_EXAMPLES]
            with np.errstate(all="ignore"):
                outs = model.layer_outputs(x) if len(x) else []
                probabilities = (self.backend.to_numpy(model.head.probabilities(
                    xp, xp.asarray(outs[-1]))) if outs else np.zeros((0, d.n_classes)))
            chosen = min(max(example, 0), len(x) - 1)
            return {
                "examples": x, "labels": d.y_test[:N_EXAMPLES],
                "probabilities": probabilities, "example": chosen,
                "outputs": [o[chosen] for o in outs[:-1]] if outs else [],
                "filters": {i: self.backend.to_numpy(layer.W) for i, layer in
                            zip(self._conv_entries(), model.conv_layers, strict=True)},
                "confusion": self.confusion(),
            }

    def image_maps(self, image: np.ndarray | None = None,
                   example: int | None = None) -> dict[str, Any]:
        """One image's way through the network: the output of every hidden entry (feature
        maps (C, H, W) after conv and pool, (units,) after dense) and its class
        probabilities; the image is given (a drawing), or test example `example`."""
        with self.lock:
            d, model = self.data, self.model
            if image is None:
                if example is None or not 0 <= example < len(d.y_test):
                    raise ExperimentError(f"example must be 0..{len(d.y_test) - 1}, an index "
                                          "into the test set")
                image, label = d.x_test[example], int(d.y_test[example])
            else:
                label = None
            with np.errstate(all="ignore"):
                outs = model.layer_outputs(image[None])
                probabilities = self.backend.to_numpy(model.head.probabilities(
                    model.xp, model.xp.asarray(outs[-1])))[0]
            return {"image": image, "label": label, "example": example,
                    "outputs": [o[0] for o in outs[:-1]], "probabilities": probabilities}

    # sequences --------------------------------------------------------------------------
    def check_example(self, example: int | None) -> None:
        """A test sequence's index, or an ExperimentError that says which there are."""
        self.require_sequences("example")
        n = len(self.data.y_test)
        if example is None or not 0 <= example < n:
            raise ExperimentError(f"example must be 0..{n - 1}, an index into the test set")

    def sequence_view(self, example: int | None = None, drawing: np.ndarray | None = None,
                      budget: int = VIEW_VALUES) -> dict[str, Any]:
        """One sequence through time (docs/api.md, "/sequence"), of the weights as they
        are now: test example `example`, or a drawing (T, C) of the data's shape. Each
        recurrent layer's states and gates, and for a test example the gradient through
        time of its loss. Layers whose states and gates would take the answer past
        `budget` numbers come without them (`left_out`): 12 LSTMs of 128 units over 1 000
        steps would be 60 MB of JSON."""
        with self.lock:
            d, model = self.data, self.model
            if drawing is None:
                self.check_example(example)
                x, y = d.x_test[example], d.y_test[example]
            else:
                x, y = drawing, None
            trace = model.sequence_trace(x[None], None if y is None else np.asarray(y)[None])
            classification = model.head.problem == "classification"
            output = trace["output"][0]
            if classification:
                rows = output.reshape(-1, output.shape[-1])
                probs = self.backend.to_numpy(model.head.probabilities(
                    model.xp, model.xp.asarray(rows)))
                output = probs.reshape(*output.shape[:-1], probs.shape[-1])
            entries = [(i + 1, h) for i, h in enumerate(self.config.hidden_layers)
                       if h.type in RECURRENT_BLOCKS]
            layers, room = [], budget
            for (i, h), t in zip(entries, trace["layers"], strict=True):
                size = t["states"][0].size * (1 + len(t["gates"]))
                shown = size <= room
                room -= size if shown else 0
                layers.append({"layer": i, "type": h.type, "units": h.units,
                               "states": _listed(t["states"][0]) if shown else [],
                               "gates": {name: _listed(g[0]) for name, g in t["gates"].items()}
                               if shown else {}, "left_out": not shown})
            per_step = bool(model.spec.per_step)
            if classification:
                target: Any = None if y is None else np.asarray(y).astype(int).tolist()
                last = output if output.ndim == 1 else output[-1]
                predicted: int | None = int(np.argmax(last)) if np.isfinite(last).all() \
                    else None
            else:
                target = None if y is None else _listed(np.asarray(y, dtype=np.float64))
                predicted = None
            gradient = trace["gradient"]
            return {"example": example, "n_examples": len(d.y_test), "per_step": per_step,
                    "input": _listed(np.asarray(x).reshape(x.shape[0], -1)),
                    "target": target,
                    "output": _listed(output), "predicted": predicted, "labels": list(d.labels),
                    "layers": layers,
                    "gradient": None if gradient is None else _significant(gradient[0])}

    def _conv_entries(self) -> list[int]:
        """The hidden entry (from 1) of each conv layer, in order."""
        return [i + 1 for i, h in enumerate(self.config.hidden_layers) if h.type == "conv"]

    def _confusion_key(self) -> tuple[Any, ...]:
        return (id(self.model), self.model.epoch, self.revision)

    def recorded_confusion(self) -> np.ndarray | None:
        """The confusion matrix measured with the current metrics, if it was."""
        with self.lock:
            c = self._confusion
            return c[1] if c is not None and c[0] == self._confusion_key() else None

    def keep_confusion(self, cells: np.ndarray) -> None:
        """A confusion matrix measured elsewhere (a training process) with the metrics it
        sent: a frame built here then agrees with them, mid-epoch too."""
        with self.lock:
            self._confusion = (self._confusion_key(), cells)

    def confusion(self) -> np.ndarray:
        """The test set's confusion matrix, (k, k) int32, row = true class, column =
        predicted, of the weights at the last epoch's end, as the metrics are: measured
        by the same pass (record), or here when the weights came from elsewhere."""
        with self.lock:
            if self._confusion is None or self._confusion[0] != self._confusion_key():
                d = self.data
                if len(d.y_test):
                    _, cells = _scores(self.model, self.x_test, d.y_test, d.n_classes)
                else:
                    cells = np.zeros((d.n_classes, d.n_classes), np.int32)
                self._confusion = (self._confusion_key(), cells)
            return self._confusion[1]

    def unit_grids(self, resolution: int) -> list[np.ndarray]:
        """Every hidden unit's and the output's value over the grid: (units, res, res) each."""
        with self.lock:
            outs = self.model.unit_outputs(self.grid_features(resolution))
        return [o.T.reshape(o.shape[1], resolution, resolution) for o in outs]

    def output_grid(self, resolution: int) -> np.ndarray:
        """The output's value over the grid alone, (outputs, res, res): the boundary at a
        frame's resolution, a teacher's thumbnail, without a hidden unit's kept."""
        with self.lock:
            out = self.backend.to_numpy(self.model.predict(self.grid_features(resolution)))
        return out.T.reshape(out.shape[1], resolution, resolution)

    def input_grids(self, resolution: int) -> np.ndarray:
        """Each input feature over the grid: (features, res, res)."""
        f = self.grid_features(resolution)
        return f.T.reshape(f.shape[1], resolution, resolution)

    def weights(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"layer": i, "W": self.backend.to_numpy(d.W).tolist(),
                     "b": None if d.b is None else self.backend.to_numpy(d.b).tolist()}
                    for i, d in enumerate(self.model.dense_layers)]

    def snapshot(self) -> dict[str, Any]:
        """What an experiment and a share show alike, read under one lock."""
        with self.lock:
            return {"config": self.config.model_dump(mode="json"), "status": self.status,
                    "message": self.message, "epoch": self.epoch,
                    "metrics": self.public_metrics(),
                    "learning_rate": self.model.learning_rate,
                    "n_classes": self.data.n_classes, "extent": self.extent(),
                    "data_scale": self.data.scale}

    def history_view(self) -> dict[str, Any]:
        with self.lock:
            return {"epoch": self.epoch, **self.history.to_dict()}

    def points_view(self) -> dict[str, Any]:
        """The training and test points, raw, with labels."""
        self.require_points("points")
        with self.lock:
            d, extent, upload = self.data, self.extent(), self.upload
        own_split = isinstance(upload, UserData) and upload.x_test is not None
        return {"x_train": d.x_train.tolist(), "y_train": d.y_train.tolist(),
                "x_test": d.x_test.tolist(), "y_test": d.y_test.tolist(),
                "n_classes": d.n_classes, "extent": extent, "scale": d.scale,
                "own_split": own_split}

    def weights_view(self, metrics: bool = False) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"epoch": self.epoch, "layers": self.weights()}
            if metrics:
                out["metrics"] = self.public_metrics()
            return out

    def summary(self) -> dict[str, Any]:
        with self.lock:
            return self.model.summary()

    def grid_count(self, neurons: bool) -> int:
        """Grids a boundary answer holds: the outputs, and every hidden unit's if asked."""
        with self.lock:
            return self.model.head.n_outputs + (
                sum(h.units or 0 for h in self.config.hidden_layers) if neurons else 0)

    def boundary(self, resolution: int, neurons: bool) -> dict[str, Any]:
        """The output (and each neuron) over a grid of the plane."""
        self.require_points("boundary")
        with self.lock:  # the output alone when no neuron is asked for
            grids = self.unit_grids(resolution) if neurons else [self.output_grid(resolution)]
            epoch, extent = self.epoch, self.extent()
        out: dict[str, Any] = {"resolution": resolution, "extent": extent, "epoch": epoch,
                               "order": "rows from y = +extent down, x from -extent right",
                               "output": grids[-1].tolist()}
        if neurons:
            out["layers"] = [g.tolist() for g in grids[:-1]]
        return out

    def public_metrics(self) -> dict[str, float | None]:
        """The latest metrics for JSON: a value that is not finite becomes null."""
        return {k: (v if math.isfinite(v) else None) for k, v in self.metrics.items()}
