"""The domain's one door: experiments by id, their tokens, storage, training and frames.

Routes and the websocket call only this: they parse the request, call one method here
and shape the answer. One experiment is one object here, however requests interleave:
loads from the store go through one lock, and a delete closes the object for everybody
still holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

import numpy as np
from pydantic import ValidationError

from backend.data import DATASETS, DataError, UserData, parse_csv, parse_json, read_json
from backend.data.images import IMAGE_SETS, parse_idx, parse_npz
from backend.data.sequences import SEQUENCE_SETS, parse_sequences_npz
from backend.engine import Backend
from backend.settings import Settings

from .config import ExperimentConfig, parse_config
from .dataset import ImageUpload, SequenceUpload, Upload, read_upload
from .experiment import Conflict, Deleted, Experiment, ExperimentError
from .frames import build_maps
from .ownership import Solo
from .runner import Run, Runner, Watch
from .state import check_state, from_state, to_state
from .store import Store, StoreError
from .tokens import hash_token, new_id, new_short_id, new_token, token_matches
from .workers import WorkerError, make_engine


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Busy(RuntimeError):
    """A limit of the server (not of the request) stands in the way; try again later."""


class Locked(Forbidden):
    """The experiment's class is locked by its teacher: no training until unlocked (423)."""


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge a partial config into a full one, as JSON Merge Patch (RFC 7396) does:
    objects merge, lists and scalars replace, and null sets a field back to its default."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# What a data set of another name keeps of the old one whatever it is; its classes, side
# and length only where the new set has them (in range), its upload id never.
KEPT_ACROSS_DATASETS = ("n_samples", "noise", "train_fraction", "seed")


def _carried(old: dict[str, Any], name: Any) -> dict[str, Any]:
    kept = {k: old[k] for k in KEPT_ACROSS_DATASETS if k in old}
    points, images = DATASETS.get(name), IMAGE_SETS.get(name)
    sequences = SEQUENCE_SETS.get(name)
    spec = points or images or sequences
    classes = old.get("classes")
    if spec is not None and getattr(spec, "problem", "classification") == "classification" and \
            isinstance(classes, int) and spec.min_classes <= classes <= spec.max_classes:
        kept["classes"] = classes
    side = old.get("side")
    if images is not None and isinstance(side, int) and \
            images.sides[0] <= side <= images.sides[1]:
        kept["side"] = side
    length = old.get("length")
    if sequences is not None and isinstance(length, int) and \
            sequences.lengths[0] <= length <= sequences.lengths[1]:
        kept["length"] = length
    return kept


def merge_config(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A config PATCH: `merge`, except that a data set of another name starts from the
    new set's defaults and what of the old one it also has (`_carried`), so that no field
    of the old set survives into one that does not have it."""
    dataset = patch.get("dataset")
    old = base.get("dataset")
    if isinstance(dataset, dict) and isinstance(old, dict) and \
            dataset.get("name", old.get("name")) != old.get("name"):
        base = {**base, "dataset": _carried(old, dataset.get("name"))}
    return merge(base, patch)


class Service:
    def __init__(self, settings: Settings, store: Store, backend: Backend,
                 ownership: Solo | None = None) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        # Which experiments this server may hold (all of them, but for replicas sharing a
        # database: backend/experiments/ownership.py).
        self.ownership = ownership or Solo()
        self.handed_over: weakref.WeakSet[Experiment] = weakref.WeakSet()
        self.limits = settings.limits
        self.experiments: dict[str, Experiment] = {}
        self._loading = threading.Lock()  # one load (or delete) at a time: one object per id
        self.share_views: dict[str, Experiment] = {}
        # One change of an experiment at a time, from its read of the config to its save:
        # two PATCHes built on the same old config each undid the other's change.
        self._edits: weakref.WeakKeyDictionary[Experiment, asyncio.Lock] = \
            weakref.WeakKeyDictionary()
        self.holds: dict[str, str] = {}  # experiment id -> why it may not train (see hold)
        self.runner = Runner(make_engine(settings), self.save,
                             settings.save_interval, settings.save_rate, settings.idle_stop,
                             settings.max_running, settings.max_running_per_client,
                             settings.frame_rate, settings.min_frame_rate,
                             settings.grid_resolution, settings.neuron_resolution,
                             self.ownership)

    async def shutdown(self) -> None:
        """Stop every run (each saves as it ends) and save what changed since its last
        save: a server with hundreds of experiments loaded stops within seconds."""
        self.ownership.prepare_stop()  # replicas: the others resume these runs
        await self.runner.pause_all()
        changed = [e for e in list(self.experiments.values()) if e.dirty]
        await asyncio.gather(*(self.save(e) for e in changed), return_exceptions=True)
        await self.runner.engine.close()

    async def expire(self) -> int:
        """Delete experiments unchanged for retention_days (running ones save every few
        seconds, so they never qualify), then uploads nothing uses; returns how many."""
        if not self.settings.retention_days:
            return 0
        cutoff = time.time() - self.settings.retention_days * 86_400
        ids = await asyncio.to_thread(self.store.experiments_saved_before, cutoff)
        def drop_unloaded(exp_id: str) -> Experiment | None:
            with self._loading:  # a load of it waits, then finds nothing
                exp = self.experiments.get(exp_id)
                if exp is None:
                    self.store.delete_experiment(exp_id)
                return exp

        for exp_id in ids:
            loaded = await asyncio.to_thread(drop_unloaded, exp_id)
            if loaded is not None:
                await self.delete(loaded)  # its viewers are told, its work stops
        await asyncio.to_thread(self.store.delete_orphan_datasets, cutoff)
        return len(ids)

    async def evict(self) -> int:
        """Let experiments nobody used for evict_after seconds leave memory (saved first if
        changed); the next request loads them again. Requests end long before (request_
        timeout), so nobody still holds an evicted object: there stays one object per id."""
        cutoff = time.monotonic() - self.settings.evict_after
        idle = [e for e in list(self.experiments.values())
                if e.touched < cutoff and not self.runner.busy(e.id)]
        for exp in idle:
            if exp.dirty:
                await self.save(exp)

        def drop(exp: Experiment) -> bool:
            # Starting a run or a viewer goes through get(), which touches it: so a fresh
            # touch here also means "busy again".
            with self._loading, exp.lock:
                if exp.dirty or exp.touched >= cutoff or self.experiments.get(exp.id) is not exp:
                    return False
                del self.experiments[exp.id]
                return True

        gone = [e for e in idle if await asyncio.to_thread(drop, e)]
        for exp in gone:
            self.runner.forget(exp.id)
        if self.ownership.shared and gone:
            await asyncio.to_thread(self._let_go, [e.id for e in gone])
        return len(gone)

    def _let_go(self, exp_ids: list[str]) -> None:
        """Replicas: the leases of what left memory go (under the loading lock, so that no
        load of the same unit slips between)."""
        with self._loading:
            for exp_id in exp_ids:
                self.ownership.released(exp_id)

    async def lose(self, exp_ids: list[str]) -> None:
        """Replicas: another replica took these over (this one was silent too long). They
        leave memory unsaved (the other is their writer now); their pages reconnect."""
        for exp_id in exp_ids:
            exp = self.experiments.get(exp_id)
            if exp is None:
                continue
            self.handed_over.add(exp)
            exp.closed.set()  # its run ends, and saves nothing
            await self.runner.pause(exp)
            with self._loading:
                if self.experiments.get(exp_id) is exp:
                    del self.experiments[exp_id]
            self.runner.forget(exp_id)

    def moved(self, exp: Experiment) -> bool:
        """Whether a closed experiment went to another replica (not deleted)."""
        return exp in self.handed_over

    async def resume(self, exp_id: str, client: str, target: int | None) -> bool:
        """Replicas: go on with a run that a replica which died had, from the last save,
        up to its target epoch; False when there is nothing to go on with."""
        if self.runner.running(exp_id):
            return True
        if exp_id in self.experiments:  # a copy from before the other had it: the save is newer
            await self.lose([exp_id])
        try:
            exp = await asyncio.to_thread(self.get, exp_id)
        except (NotFound, ExperimentError):
            return False
        left = None if target is None else target - exp.epoch
        if exp.closed.is_set() or exp_id in self.holds or exp.status == "diverged" or \
                (left is not None and left <= 0):
            return False
        self.runner.start(exp, left, client)
        return True

    def counts(self) -> dict[str, Any]:
        frames = self.runner.frames
        return {"experiments_loaded": len(self.experiments), "running": len(self.runner.runs),
                "frames_built": frames.built, "frame_seconds": round(frames.seconds, 6)}

    # lookup and auth ----------------------------------------------------------------------
    def parse(self, data: Any) -> ExperimentConfig:
        return parse_config(data, self.limits)

    def get(self, exp_id: str) -> Experiment:
        exp = self.experiments.get(exp_id)
        if exp is not None:
            exp.touched = time.monotonic()
            if self.experiments.get(exp_id) is exp:  # not evicted before it was touched
                return exp
        with self._loading:
            exp = self.experiments.get(exp_id)
            if exp is not None:  # another request loaded it meanwhile
                return exp
            if len(exp_id) > 64:
                raise NotFound(f"no experiment {exp_id!r}")
            self.ownership.acquire(exp_id)  # replicas: another may hold it (Moved)
            loaded = self.store.load_experiment(exp_id)
            if loaded is None:
                self.ownership.released(exp_id)
                raise NotFound(f"no experiment {exp_id!r}")
            token_hash, state = loaded
            exp = from_state(exp_id, state, self._upload_of(state["config"]), self.backend,
                             self.limits)
            exp.token_hash = token_hash
            exp.held = self.holds.get(exp_id, "")
            self.experiments[exp_id] = exp
            return exp

    def peek(self, exp_id: str) -> Experiment:
        """An experiment as last saved, read-only and held nowhere: for reading one that
        another replica holds (a class's starting point)."""
        loaded = self.store.load_experiment(exp_id) if len(exp_id) <= 64 else None
        if loaded is None:
            raise NotFound(f"no experiment {exp_id!r}")
        state = loaded[1]
        return from_state(exp_id, state, self._upload_of(state["config"]), self.backend,
                          self.limits)

    def can_edit(self, exp: Experiment, token: str | None) -> bool:
        return token_matches(token, exp.token_hash)

    def authorize(self, exp_id: str, token: str | None) -> Experiment:
        exp = self.get(exp_id)
        if not self.can_edit(exp, token):
            raise Forbidden("this change needs the experiment's edit token "
                            "(Authorization: Bearer <edit_token>)")
        return exp

    def _upload_of(self, config: dict[str, Any]) -> Upload | None:
        dataset = config.get("dataset", {})
        if dataset.get("name") != "custom":
            return None
        stored = self.store.load_dataset(str(dataset.get("id")))
        if stored is None:
            raise ExperimentError(f"no uploaded data set {dataset.get('id')!r}; upload it "
                                  "with POST /api/datasets first")
        return read_upload(stored)

    async def _with_upload(self,
                           config: ExperimentConfig) -> tuple[ExperimentConfig, Upload | None]:
        """The config's upload, read off the event loop and checked against the layers,
        and the config with the upload's classes."""
        upload = await asyncio.to_thread(self._upload_of, config.model_dump(mode="json"))
        self._fits(config, upload)
        return self._classes_of(config, upload), upload

    @staticmethod
    def _classes_of(config: ExperimentConfig, upload: Upload | None) -> ExperimentConfig:
        """An upload brings its own classes: the config says how many, not the 2 it had."""
        if upload is None or config.problem != "classification" or \
                not 2 <= upload.n_classes != config.dataset.classes:
            return config
        dataset = config.dataset.model_copy(update={"classes": upload.n_classes})
        return config.model_copy(update={"dataset": dataset})

    def _fits(self, config: ExperimentConfig, upload: Upload | None) -> None:
        """Uploaded images' or sequences' shape is known only now: the layers must fit it."""
        try:
            if isinstance(upload, ImageUpload) and config.input_kind == "images":
                config.check_input(upload.images.shape, upload.n_classes,
                                   len(upload.images.y), self.limits)
            elif isinstance(upload, SequenceUpload) and not config.features:
                s = upload.sequences
                config.check_input(s.shape, upload.n_classes, len(s.y), self.limits,
                                   s.per_step)
        except ValueError as exc:
            raise ExperimentError(f"hidden_layers: {exc}") from None

    @contextlib.asynccontextmanager
    async def editing(self, exp: Experiment) -> AsyncIterator[None]:
        """Hold the experiment's changes in line: each one is built on the one before."""
        lock = self._edits.setdefault(exp, asyncio.Lock())
        async with lock:
            self._check_open(exp)
            try:
                yield
            except Deleted as exc:  # deleted while the change was built: it is gone
                raise NotFound(str(exc)) from None

    # saving -------------------------------------------------------------------------------
    def _persist(self, exp: Experiment,
                 dataset: tuple[str, dict[str, Any]] | None = None) -> None:
        """Write the experiment as it is now. State and write happen under its lock, so
        saves land in the order of the changes they carry."""
        with exp.lock:
            if exp.closed.is_set():
                raise Deleted(f"experiment {exp.id!r} was deleted")
            self.store.save_experiment(exp.id, exp.token_hash, to_state(exp), dataset,
                                       self.ownership.fence(exp.id))
            exp.dirty = False

    async def save(self, exp: Experiment) -> None:
        """Save unless deleted (the runner saves after a run, which a delete may end)."""
        if not exp.closed.is_set():
            with contextlib.suppress(Deleted):
                await asyncio.to_thread(self._persist, exp)

    # experiments --------------------------------------------------------------------------
    async def create(self, config: ExperimentConfig) -> tuple[Experiment, str]:
        config, upload = await self._with_upload(config)
        exp = await asyncio.to_thread(Experiment, new_id(), config, upload, self.backend)
        return await self._adopt(exp)

    async def _adopt(self, exp: Experiment,
                     dataset: tuple[str, dict[str, Any]] | None = None) -> tuple[Experiment, str]:
        """Give a new experiment its token and save it; only a saved one becomes reachable."""
        stored = await asyncio.to_thread(self.store.count_experiments)
        if stored >= self.settings.max_experiments:
            raise StoreError(f"the server stores {stored} experiments, its limit "
                             "(max_experiments); try again once old ones have expired")
        token = new_token()
        exp.token_hash = hash_token(token)
        await asyncio.to_thread(self._persist, exp, dataset)
        if self.ownership.shared:  # what a replica creates, it owns
            await asyncio.to_thread(self.ownership.created, exp.id)
        self.experiments[exp.id] = exp
        return exp, token

    async def patch(self, exp: Experiment, changes: dict[str, Any]) -> bool:
        if not isinstance(changes, dict):
            raise ExperimentError("send an object with the config fields to change")
        async with self.editing(exp):
            config = self.parse(merge_config(exp.config.model_dump(mode="json"), changes))
            config, upload = await self._with_upload(config)
            kept = await asyncio.to_thread(exp.apply_config, config, upload, self._persist)
        self.runner.changed(exp)
        return kept

    async def delete(self, exp: Experiment) -> None:
        """Close the experiment first (every run, step and wait on it ends, and says it was
        deleted), then remove it; if the store cannot, it is reopened as it was."""
        exp.closed.set()
        await self.runner.pause(exp)

        def remove() -> None:
            with self._loading, exp.lock:
                self.store.delete_experiment(exp.id)
                self.experiments.pop(exp.id, None)

        try:
            await asyncio.to_thread(remove)
        except BaseException:
            exp.closed.clear()
            raise
        self.runner.forget(exp.id)
        if self.ownership.shared:
            await asyncio.to_thread(self._let_go, [exp.id])

    # training -----------------------------------------------------------------------------
    async def play(self, exp: Experiment, epochs: int | None = None, client: str = "",
                   speed: float | None = None) -> Run:
        self._check_open(exp)
        if exp.id in self.holds:
            raise Locked(self.holds[exp.id])
        if exp.status == "diverged":
            raise ExperimentError("the run diverged: change the config or reset first")
        elsewhere = 0
        if self.ownership.shared and not self.runner.running(exp.id):
            elsewhere = await self.ownership.running_elsewhere(client)
            self._check_open(exp)
        try:
            run = self.runner.start(exp, epochs, client, speed, elsewhere)
        except RuntimeError as exc:
            raise Busy(str(exc)) from None
        if self.ownership.shared:  # acknowledged once another replica would resume it
            await self.ownership.flush()
        return run

    async def train_and_wait(self, exp: Experiment, epochs: int, client: str = "",
                             speed: float | None = None) -> bool:
        """Train `epochs` and answer when done, or at the deadline (max_wait_seconds) with
        the run going on in the background; returns whether it finished."""
        if epochs > self.settings.max_wait_epochs:
            raise ExperimentError(f"wait: true allows at most {self.settings.max_wait_epochs} "
                                  "epochs; use wait: false and watch the progress")
        limit = self.settings.max_wait_seconds
        if speed is not None and epochs / speed > limit:
            raise ExperimentError(f"wait: {epochs} epochs at {speed:g} a second take over "
                                  f"{limit:g} s; use wait: false and watch")
        run = await self.play(exp, epochs, client, speed)
        return await self._finish(exp, run, None, epochs)

    async def _finish(self, exp: Experiment, run: Run, epoch: int | None, asked: int) -> bool:
        """Wait until this run is at `epoch` (None: its end) and saved; False at the deadline.
        A run that another request paused first, that the training process gave up, or
        whose save failed raises: what was asked for was not done, or not kept."""
        done = run.reached(epoch) if epoch is not None else run.done
        try:
            await asyncio.wait_for(done.wait(), self.settings.max_wait_seconds)
        except TimeoutError:
            return False
        self._check_open(exp)
        if run.save_error is not None and run.done.is_set():
            raise StoreError(f"{run.save_error}; the epochs trained are not saved")
        if run.failure is not None:
            raise WorkerError(run.failure)
        short = run.interrupted() if epoch is None else \
            exp.epoch < epoch and exp.status != "diverged"
        if short:
            raise Conflict(f"another request paused, reset or changed the experiment at "
                           f"epoch {exp.epoch}, before the {asked} epochs asked for were "
                           "done; see its state, then ask again")
        return True

    async def pause(self, exp: Experiment) -> None:
        """Stop a run and save; if the save fails the run goes on, as before the pause."""
        run = self.runner.runs.get(exp.id)
        await self.runner.pause(exp)
        try:
            await asyncio.to_thread(self._persist, exp)
        except Deleted as exc:
            raise NotFound(str(exc)) from None
        except Exception:
            if run is not None and exp.status != "diverged":
                left = None if run.target is None else max(1, run.target - exp.epoch)
                self.runner.start(exp, left, run.client)
            raise

    async def step(self, exp: Experiment, epochs: int = 1, client: str = "") -> None:
        """Train `epochs` now and answer when done. A step is a run like any other: it
        counts toward the limits, takes turns on the engine, and stops on pause, reset,
        delete or at the deadline (max_wait_seconds)."""
        if self.runner.running(exp.id):
            raise Conflict("the experiment is running; pause it before stepping")
        until = exp.epoch + epochs  # before play, which may wait (replicas) while it trains
        run = await self.play(exp, epochs, client)
        if not await self._finish(exp, run, until, epochs):
            if run.taken_over:  # another request's run now: it goes on
                return
            await self.runner.stop(run)
            exp.message = (f"the step stopped after {self.settings.max_wait_seconds:g} s, at "
                           f"epoch {exp.epoch}; use play to train longer")
            self.runner.changed(exp)

    async def reset(self, exp: Experiment, seed: int | None = None, message: str = "") -> None:
        async with self.editing(exp):
            await self.runner.pause(exp)
            await asyncio.to_thread(exp.reset, self._persist, seed, message)
        self.runner.changed(exp)

    async def set_weight(self, exp: Experiment, layer: int, source: int | None, target: int,
                         value: float) -> None:
        async with self.editing(exp):
            await asyncio.to_thread(exp.set_weight, layer, source, target, value,
                                    self._persist)
        self.runner.changed(exp)

    def _check_open(self, exp: Experiment) -> None:
        if exp.closed.is_set():
            raise NotFound(f"experiment {exp.id!r} was deleted")

    # holds: a teacher's lock on a class's experiments (backend/experiments/classes.py) ---
    # Kept here, by id, so that every door to training (REST, websocket, a step, a train
    # with wait) refuses alike; the class stores the lock itself and sets the holds again
    # at start. A hold only refuses new runs: the class pauses the running ones after it.
    def hold(self, exp_ids: Iterable[str], reason: str) -> None:
        for exp_id in exp_ids:
            self._set_hold(exp_id, reason)

    def release(self, exp_ids: Iterable[str]) -> None:
        for exp_id in exp_ids:
            self._set_hold(exp_id, "")

    def _set_hold(self, exp_id: str, reason: str) -> None:
        if reason:
            self.holds[exp_id] = reason
        else:
            self.holds.pop(exp_id, None)
        exp = self.experiments.get(exp_id)
        if exp is not None and exp.held != reason:
            exp.held = reason
            self.runner.changed(exp)  # its pages learn it from the next frame

    # watching -----------------------------------------------------------------------------
    def watch(self, exp: Experiment) -> Watch:
        return self.runner.watch(exp.id)

    async def frame(self, exp: Experiment, version: int, neurons: bool = True) -> bytes:
        return await self.runner.frames.get(exp, version, neurons, self.watch(exp).example)

    def running(self, exp: Experiment) -> bool:
        return self.runner.running(exp.id)

    # views --------------------------------------------------------------------------------
    def view(self, exp: Experiment) -> dict[str, Any]:
        return {**exp.snapshot(), "id": exp.id, "revision": exp.revision,
                "running": self.running(exp)}

    def share_view(self, share_id: str) -> dict[str, Any]:
        exp = self.shared(share_id)
        return {**exp.snapshot(), "share_id": share_id, "history": exp.history_view()}

    def boundary(self, exp: Experiment, resolution: int | None,
                 neurons: bool) -> dict[str, Any]:
        """The grids, bounded: their number grows with the network, so the cap on the
        values sent is tied to its size."""
        exp.require_points("boundary")
        res = resolution or self.settings.grid_resolution
        if res > self.settings.max_grid_resolution:
            raise ExperimentError(f"resolution: at most {self.settings.max_grid_resolution}")
        units = exp.grid_count(neurons)
        if res * res * units > self.settings.max_grid_values:
            most = int((self.settings.max_grid_values / units) ** 0.5)
            raise ExperimentError(f"resolution: at most {most} for this network's {units} "
                                  "grids" + (", or ask with neurons=false" if neurons else ""))
        return exp.boundary(res, neurons)

    def predict(self, exp: Experiment, x: Any = None, images: Any = None) -> dict[str, Any]:
        if images is not None:
            return exp.predict_images(self.check_images(exp, images))
        exp.require_points("x")
        return exp.predict(self.check_points(x))

    def maps(self, exp: Experiment, example: int | None = None, image: Any = None) -> bytes:
        """One image's way through the network, in the frame layout: a test example's, or
        a drawing's (checked like a prediction's)."""
        if image is None:
            exp.require_images("maps")
            return build_maps(exp, example=example)
        return build_maps(exp, image=self.check_images(exp, [image], one=True)[0])

    def sequence(self, exp: Experiment, example: int | None = None,
                 drawing: Any = None) -> dict[str, Any]:
        """One sequence through time: a test example's, or a drawing's (T numbers for one
        channel, or T rows of C), of the data's length and channels."""
        exp.require_sequences("sequence")
        if drawing is None:
            return exp.sequence_view(example)
        return exp.sequence_view(drawing=self.check_sequence(exp, drawing))

    def check_sequence(self, exp: Experiment, drawing: Any) -> np.ndarray:
        steps, channels = exp.data.input_shape  # type: ignore[misc]
        want = (f"{steps} numbers or {steps} rows of 1" if channels == 1 else
                f"{steps} rows of {channels} numbers")
        raw, x = _numbers(drawing, f"input must be {want}, every row as long")
        if x.ndim == 1 and channels == 1:
            x = x[:, None]
        if x.shape != (steps, channels):
            raise ExperimentError(f"input must be {want} for this experiment, not an array "
                                  f"of shape {tuple(raw.shape)}")
        if not np.isfinite(x).all() or np.abs(x).max() > 1e6:
            raise ExperimentError("input must be finite numbers of at most 1e6")
        return x

    def check_points(self, points: Any) -> np.ndarray:
        try:
            x = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            raise ExperimentError("x must be a list of [x1, x2] pairs of numbers") from None
        if x.ndim != 2 or x.shape[1] != 2:
            raise ExperimentError("x must be a list of [x1, x2] pairs")
        if not 1 <= len(x) <= self.settings.max_predict_points:
            raise ExperimentError(f"x must hold 1 to {self.settings.max_predict_points} points")
        if not np.isfinite(x).all() or np.abs(x).max() > 1e6:
            raise ExperimentError("every coordinate must be a finite number with |x| <= 1e6")
        return x

    def check_images(self, exp: Experiment, images: Any, one: bool = False) -> np.ndarray:
        """(n, H, W) or (n, C, H, W) pixels in [0, 1], the experiment's image shape; `one`:
        a list of the one image that was sent, (H, W) or (C, H, W), said so if wrong."""
        shape = exp.data.input_shape
        if exp.data.sequences:
            exp.require_images("images")
        if shape is None:
            raise ExperimentError('images: this experiment\'s data are points; send {"x": '
                                  "[[x1, x2], ...]}")
        c, h, w = shape
        n, what = ("", "image") if one else ("n, ", "images")
        want = f"({n}{c}, {h}, {w})" + (f" or ({n}{h}, {w})" if c == 1 else "")
        raw, x = _numbers(images, f"{what} must be {want} (channels first) of numbers, "
                          "every row as long")
        if x.ndim == 3 and c == 1:
            x = x[:, None]
        if x.ndim != 4 or x.shape[1:] != shape:
            got = raw.shape[1:] if one else raw.shape
            raise ExperimentError(f"{what} must be {want} (channels first) for this "
                                  f"experiment, not {tuple(got)}")
        if not 1 <= len(x) <= self.settings.max_predict_points:
            raise ExperimentError(f"images must hold 1 to {self.settings.max_predict_points} "
                                  "images")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ExperimentError("every pixel must be a number in [0, 1] (the data's own "
                                  "scale: 0..255 divided by 255)")
        return x

    async def gradient_check(self, exp: Experiment, n_points: int,
                             client: str = "") -> dict[str, Any]:
        """On the engine, counted as a run; a pause, reset or delete stops it, and so does
        max_wait_seconds."""
        self._check_open(exp)
        elsewhere = await self.ownership.running_elsewhere(client) \
            if self.ownership.shared else 0
        try:
            return await self.runner.gradient_check(exp, n_points,
                                                    self.settings.max_wait_seconds, client,
                                                    elsewhere)
        except WorkerError:
            raise
        except RuntimeError as exc:  # the limits
            raise Busy(str(exc)) from None

    # datasets, exports, shares ------------------------------------------------------------
    async def upload(self, raw: bytes, kind: str,
                     problem: str | None = None) -> tuple[str, UserData]:
        """Parse (off the event loop: 10 000 rows take a while) and store an upload."""
        def parse() -> UserData:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise DataError("the upload is not UTF-8 text") from None
            limits = {"max_rows": self.settings.max_samples}
            if kind in ("text/csv", "text/plain", "application/csv"):
                return parse_csv(text, problem, **limits)
            if kind in ("application/json", ""):
                return parse_json(read_json(text), problem, **limits)
            raise DataError(f"send application/json or text/csv, not {kind!r}")

        data = await asyncio.to_thread(parse)
        ds_id = new_id()
        await asyncio.to_thread(self.store.save_dataset, ds_id, data.to_json())
        return ds_id, data

    async def upload_images(self, npz: bytes | None = None, images: bytes | None = None,
                            labels: bytes | None = None) -> tuple[str, ImageUpload]:
        """Images as an NPZ, or as MNIST's two IDX files; parsed off the event loop and
        stored compactly (an NPZ in base64), never over max_upload_bytes."""
        s = self.settings

        def parse() -> ImageUpload:
            if npz is not None:
                return ImageUpload.of(parse_npz(npz, s.max_images, s.max_image_values), npz)
            if images is None or labels is None:
                raise DataError("send MNIST's two IDX files as the form fields 'images' and "
                                "'labels'")
            return ImageUpload.of(parse_idx(images, labels, s.max_images, s.max_image_values))

        data = await asyncio.to_thread(parse)
        if len(data.npz) > s.max_upload_bytes:
            raise DataError(f"these images take {len(data.npz)} bytes even compressed, over "
                            f"the limit (max_upload_bytes, {s.max_upload_bytes}): send fewer")
        ds_id = new_id()
        await asyncio.to_thread(self.store.save_dataset, ds_id, data.to_json())
        return ds_id, data

    async def upload_sequences(self, npz: bytes,
                               problem: str | None = None) -> tuple[str, SequenceUpload]:
        """Sequences as an NPZ, parsed off the event loop and stored compactly: at most
        max_samples sequences and max_image_values values, never over max_upload_bytes."""
        s = self.settings

        def parse() -> SequenceUpload:
            return SequenceUpload.of(parse_sequences_npz(npz, s.max_samples,
                                                         s.max_image_values, problem), npz)

        data = await asyncio.to_thread(parse)
        if len(data.npz) > s.max_upload_bytes:
            raise DataError(f"these sequences take {len(data.npz)} bytes even compressed, "
                            f"over the limit (max_upload_bytes, {s.max_upload_bytes}): send "
                            "fewer")
        ds_id = new_id()
        await asyncio.to_thread(self.store.save_dataset, ds_id, data.to_json())
        return ds_id, data

    async def export(self, exp: Experiment) -> dict[str, Any]:
        return await asyncio.to_thread(to_state, exp, True)

    async def import_(self, state: Any) -> tuple[Experiment, str]:
        """A new experiment from an export. Everything is checked (the file, its config
        against the limits, its points, its arrays against the model the config builds)
        before anything is stored; its points are stored with it, in one transaction."""
        exp, dataset = await self._from_export(new_id(), state)
        return await self._adopt(exp, dataset)

    async def replace(self, exp: Experiment, state: Any, message: str = "") -> None:
        """Put an export into an experiment in place: same id, same token, its viewers stay
        (a class's new starting point). Config, data, weights, optimizer state and curve
        change whole or not at all; a run on it is paused first."""
        fresh, dataset = await self._from_export(exp.id, state)
        async with self.editing(exp):
            await self.runner.pause(exp)
            await asyncio.to_thread(exp.become, fresh, message,
                                    lambda e: self._persist(e, dataset))
        self.runner.changed(exp)

    async def _from_export(self, exp_id: str,
                           state: Any) -> tuple[Experiment, tuple[str, dict[str, Any]] | None]:
        """An experiment built from an export, checked whole, stored nowhere yet; and the
        points it brought (to store with it), if any."""
        file = check_state(state)
        upload, dataset = None, None
        if file.data is not None:
            try:
                if file.data.get("kind") == "images":
                    upload = await asyncio.to_thread(
                        ImageUpload.from_json, file.data, self.settings.max_images,
                        self.settings.max_image_values)
                elif file.data.get("kind") == "sequences":
                    upload = await asyncio.to_thread(
                        SequenceUpload.from_json, file.data, self.settings.max_samples,
                        self.settings.max_image_values)
                else:
                    upload = parse_json(file.data, file.data.get("problem"),
                                        max_rows=self.settings.max_samples)
            except (DataError, KeyError, TypeError) as exc:
                raise ExperimentError(f"the export's data: {exc}") from None
            dataset = (new_id(), upload.to_json())
            state = merge(state, {"config": {"dataset": {"name": "custom", "id": dataset[0]}}})
        else:
            upload = await asyncio.to_thread(self._upload_of, file.config)
        with contextlib.suppress(ValidationError):  # from_state says what is wrong
            self._fits(parse_config(file.config, self.limits), upload)
        exp = await asyncio.to_thread(from_state, exp_id, state, upload, self.backend,
                                      self.limits)
        return exp, dataset

    async def share(self, exp: Experiment) -> str:
        share_id = new_short_id()
        state = await asyncio.to_thread(to_state, exp, True)
        await asyncio.to_thread(self.store.save_share, share_id, exp.id, state)
        return share_id

    def shared(self, share_id: str) -> Experiment:
        """A snapshot as a read-only experiment (kept for a few, since views ask often)."""
        exp = self.share_views.get(share_id)
        if exp is None:
            state = self.load_share(share_id)
            upload = read_upload(state["data"]) if "data" in state else None
            exp = from_state(share_id, state, upload, self.backend, self.limits)
            exp.status = state.get("status", "paused")
            if len(self.share_views) >= 32:
                self.share_views.pop(next(iter(self.share_views)))
            self.share_views[share_id] = exp
        return exp

    def share_frame(self, share_id: str) -> bytes:
        return self.runner.frames.build(self.shared(share_id), 0)

    def load_share(self, share_id: str) -> dict[str, Any]:
        state = self.store.load_share(share_id) if len(share_id) <= 64 else None
        if state is None:
            raise NotFound(f"no share {share_id!r}")
        return state

    async def fork(self, share_id: str) -> tuple[Experiment, str]:
        return await self.import_(self.load_share(share_id))


def _numbers(value: Any, refusal: str) -> tuple[np.ndarray, np.ndarray]:
    """A request's nested lists as an array (for the shape it came in) and as float32, or
    an ExperimentError saying `refusal` (ragged rows, strings, booleans...)."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":
            raise ValueError
        with np.errstate(over="ignore"):  # past float32: inf, which the caller refuses
            return raw, raw.astype(np.float32)
    except (TypeError, ValueError):
        raise ExperimentError(refusal) from None
