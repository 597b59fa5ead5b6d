"""Where training happens: worker processes, so that every core trains.

The server process owns every experiment (the truth that is saved, edited and read); a
worker holds a copy of each experiment it trains and runs jobs on it: a slice of epochs
(and, when a viewer waits, the frame after it) or a gradient check. A job carries the
whole state only when the worker's copy is out of date (first time there, or changed by a
person since); the answer carries what training changed (the model's arrays, the new rows
of the curve, the metrics, the status), which the server takes into its experiment unless
a person changed it meanwhile. A worker runs the jobs in the order they came: the
experiments placed on it take turns. Slices of experiments whose networks have the same
shape (backend/engine/group.py) that are waiting at once, MIN_GROUP or more, run as one
group: one program steps them all, and each job is answered with what it would have been
alone. Networks of one shape are placed on one worker, where balance allows.

`Engine` is what the runner needs: `ProcessEngine` (the default: one process per core) and
`InlineEngine` (a thread of the server process: one core, and tests) implement it, and so
does `RayEngine` (rayengine.py, cluster=ray): the same jobs to workers that are Ray actors.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import multiprocessing as mp
import pickle
import queue
import secrets
import threading
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Callable, Generator, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from backend.data import UserData
from backend.engine import get_backend
from backend.engine.gradcheck import gradient_check_steps
from backend.engine.group import Group, group_key
from backend.engine.model import Epoch, Model, ModelState

from .config import ExperimentConfig
from .experiment import Experiment, Scores
from .frames import build_frame, build_frames
from .history import History

if TYPE_CHECKING:
    from backend.settings import Settings

log = logging.getLogger("playground.workers")
CACHED = 512  # experiments a worker keeps (least recently used go first)
CHECKS = 64  # gradient checks under way a worker keeps, as many as runs may be
# Seconds at most a worker waits for the next jobs of the last group's members (each run
# sends its next job when it has its answer), so that the group trains whole again
# rather than in waves; at most half the time the group's slice took.
GATHER = 0.05
RECENT = 0.5  # seconds since its last job within which an experiment counts as at work
# Networks a group must have to step together: fewer train faster alone, on the solo
# path's fast lane (benchmarks/group.py: 2 grouped 1.2 R, alone 1.75 R; 5: 2.2 R, 1.6 R)
MIN_GROUP = 4


class WorkerError(RuntimeError):
    """The worker failed (or died) on a job; the message says what to do."""


# messages --------------------------------------------------------------------------------
@dataclass
class Sync:
    """The whole state a worker needs to train an experiment from where it is."""

    config: ExperimentConfig
    upload: UserData | None
    state: ModelState
    metrics: dict[str, float]  # of the last epoch's end: a slice mid-epoch answers them
    confusion: np.ndarray | None  # measured with them (image networks)


@dataclass
class Job:
    exp_id: str
    revision: int = 0  # the experiment's revision the job started from
    sync: Sync | None = None
    status: str = "running"
    message: str = ""
    id: int = 0
    # a slice: train `epochs` more (stopping at `target`) for at most `seconds`, then
    # build a frame when `frame` = (version, output resolution, neuron resolution, with
    # the neurons' grids or not, the test sequence a sequence frame traces)
    epochs: int = 0
    seconds: float = 0.0
    target: int | None = None
    frame: tuple[int, int, int, bool, int] | None = None
    # a gradient check on the first `check_points` training points, in turns: each job of
    # the chain `check` works on it for `seconds`, and the last one answers the report
    check_points: int = 0
    check: int = 0


@dataclass
class Result:
    id: int
    revision: int
    epochs: int = 0
    state: ModelState | None = None
    rows: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "running"
    message: str = ""
    confusion: np.ndarray | None = None  # image networks: measured with `metrics`
    frame: bytes | None = None
    frame_seconds: float = 0.0
    check: dict[str, Any] | None = None
    error: str | None = None
    stale: bool = False  # the worker had no copy to work on: send the state again


def portable(state: ModelState, to_numpy: Callable[[Any], np.ndarray]) -> ModelState:
    """A model state that pickles: NumPy copies of its arrays (CuPy arrays cannot travel)."""
    return ModelState([np.array(to_numpy(a)) for a in state.arrays], state.t, state.epoch,
                      state.rng)


# the worker's side -----------------------------------------------------------------------
Answer = Callable[[Result], None]
Stop = Callable[[Job], bool]


class Worker:
    """Runs jobs on its copies of experiments. Lives in a worker process (or a thread)."""

    def __init__(self, device: str = "cpu") -> None:
        self.backend = get_backend(device)
        self.copies: OrderedDict[str, Experiment] = OrderedDict()
        self.checks: OrderedDict[int, Generator[None, None, dict[str, Any]]] = OrderedDict()
        self.groups: list[Group] = []  # no model is in two
        self.expected: set[str] = set()  # the last group's members that go on
        self.wait = 0.0  # how long to wait for their next jobs (see GATHER)

    def handle(self, job: Job, stop: Callable[[], bool]) -> Result:
        """One job, alone."""
        answers: list[Result] = []
        self.handle_all([job], lambda _: stop(), answers.append)
        return answers[0]

    def serve(self, messages: list[Job | str], stop: Stop, answer: Answer) -> None:
        """Messages that came together, in their order: jobs (see handle_all) and the ids
        of experiments to forget."""
        jobs: list[Job] = []
        for message in messages:
            if isinstance(message, str):
                self.handle_all(jobs, stop, answer)
                jobs = []
                self.forget(message)
            else:
                jobs.append(message)
        self.handle_all(jobs, stop, answer)

    def handle_all(self, jobs: list[Job], stop: Stop, answer: Answer) -> None:
        """Jobs that came together, each answered through `answer` as soon as it is done.
        Slices of experiments whose networks can step together (group_key) train as one
        group; the others run in turn, in the order they came. An experiment's later jobs
        among them wait for its first."""
        if not jobs:
            return
        turns: list[list[tuple[Job, Experiment | None]]] = []
        grouped: dict[Hashable, list[tuple[Job, Experiment | None]]] = {}
        seen: set[str] = set()
        for job in jobs:
            if job.exp_id in seen:  # its copy is taken when its turn comes
                turns.append([(job, None)])
                continue
            seen.add(job.exp_id)
            exp = self._ready(job, answer)
            if exp is None:
                continue
            key = None if job.check_points else self._key(exp)
            if key is None:
                turns.append([(job, exp)])
            elif key in grouped:
                grouped[key].append((job, exp))
            else:
                turns.append(grouped.setdefault(key, [(job, exp)]))
        expected: set[str] = set()
        for turn in turns:
            if len(turn) >= MIN_GROUP:
                expected |= self._together(turn, stop, answer)  # type: ignore[arg-type]
                continue
            for job, ready in turn:
                exp = ready or self._ready(job, answer)
                if exp is not None:
                    answer(self._alone(exp, job, lambda job=job: stop(job)))
        self.expected = expected

    def forget(self, exp_id: str) -> None:
        self.copies.pop(exp_id, None)

    def _ready(self, job: Job, answer: Answer) -> Experiment | None:
        """The copy the job works on, or None when it has been answered already."""
        if job.sync is None and job.exp_id not in self.copies:
            # dropped meanwhile (a job of it failed, or it was forgotten): not an error
            answer(Result(job.id, job.revision, stale=True))
            return None
        try:
            return self._copy(job)
        except Exception as exc:
            answer(self._failed(job, exc))
            return None

    def _failed(self, job: Job, exc: Exception) -> Result:
        """A bug: logged whole, the run stops and says so."""
        self.copies.pop(job.exp_id, None)
        log.error("job on %s failed:\n%s", job.exp_id, "".join(traceback.format_exception(exc)))
        return Result(job.id, job.revision, error="the training process failed on this "
                      f"experiment ({type(exc).__name__}, logged on the server); press "
                      "play to try again")

    def _alone(self, exp: Experiment, job: Job, stop: Callable[[], bool]) -> Result:
        try:
            if job.check_points:
                return self._check(exp, job, stop)
            return self._slice(exp, job, stop)
        except Exception as exc:
            return self._failed(job, exc)

    def _copy(self, job: Job) -> Experiment:
        if job.sync is not None:
            s = job.sync
            exp = Experiment(job.exp_id, s.config, s.upload, self.backend, measure=False)
            exp.model.restore(ModelState([exp.model.xp.asarray(a) for a in s.state.arrays],
                                         s.state.t, s.state.epoch, s.state.rng))
            exp.metrics = dict(s.metrics)
            self.copies[job.exp_id] = exp
        exp = self.copies[job.exp_id]
        self.copies.move_to_end(job.exp_id)
        while len(self.copies) > CACHED:
            self.copies.popitem(last=False)
        exp.revision, exp.status, exp.message = job.revision, job.status, job.message
        if job.sync is not None and job.sync.confusion is not None:
            exp.keep_confusion(job.sync.confusion)
        exp.history = History()  # collects this job's rows, which go back to the server
        return exp

    def _slice(self, exp: Experiment, job: Job, stop: Callable[[], bool]) -> Result:
        start = time.monotonic()
        done = exp.train_epochs(job.epochs, start + job.seconds, _Flag(stop),
                                until=lambda: job.target)
        return self._sliced(exp, job, done)

    def _sliced(self, exp: Experiment, job: Job, done: int,
                frame: tuple[bytes, float] | None = None) -> Result:
        """A slice's answer: what training changed, and the frame after it if asked
        (`frame`: built already, with its share of the seconds)."""
        result = Result(job.id, job.revision, done,
                        portable(exp.model.snapshot(), self.backend.to_numpy),
                        exp.history.rows, dict(exp.metrics), exp.status, exp.message,
                        exp.recorded_confusion())
        if frame is not None:
            result.frame, result.frame_seconds = frame
        elif job.frame is not None:
            began = time.monotonic()
            result.frame = build_frame(exp, *job.frame)
            result.frame_seconds = time.monotonic() - began
        return result

    @staticmethod
    def _frames(group: Group | None,
                members: list[tuple[Job, Experiment]]) -> dict[str, tuple[bytes, float]]:
        """The frames asked of members of the group, those of one kind built together."""
        if group is None:
            return {}
        kinds: dict[tuple[Any, ...], list[tuple[Job, Experiment]]] = {}
        for job, exp in members:
            if job.frame is not None:
                # resolutions and neurons; the traced example is a sequence frame's, and
                # sequence networks never step in a group
                kinds.setdefault(tuple(job.frame[1:4]), []).append((job, exp))
        out = {}
        for kind, same in kinds.items():
            if len(same) < 2:
                continue
            began = time.monotonic()
            frames = build_frames(group, [exp for _, exp in same],
                                  [job.frame[0] for job, _ in same], *kind)  # type: ignore[index]
            seconds = (time.monotonic() - began) / len(same)
            out.update({exp.id: (f, seconds) for (_, exp), f in zip(same, frames, strict=True)})
        return out

    # slices that train together ---------------------------------------------------------
    @staticmethod
    def _key(exp: Experiment) -> Hashable | None:
        steps = exp._steps
        return group_key(exp.model, len(exp.data.y_train), exp.config.batch_size,
                         steps.start if steps is not None else 0)

    def _together(self, turn: list[tuple[Job, Experiment]], stop: Stop,
                  answer: Answer) -> set[str]:
        """Slices of experiments that step together, mini-batch by mini-batch, as
        Experiment.train_epochs steps each alone: each member stops on its own (its count
        of epochs or target reached, cancelled, diverged, deleted), and all at the
        deadline: the sum of their slices' seconds, the time their turns would have
        taken. Returns the members stopped by the deadline (their next jobs come soon)."""
        began = time.monotonic()
        deadline = began + sum(job.seconds for job, _ in turn)
        going = sorted(turn, key=lambda member: member[1].id)  # the same group next time
        done = {exp.id: 0 for _, exp in turn}  # (one job an experiment in a turn)
        expected: set[str] = set()
        group: Group | None = None  # of the last step, if it was grouped
        unanswered = {exp.id: job for job, exp in turn}

        def over(job: Job, exp: Experiment) -> bool:
            """As train_epochs decides before a batch (only an epoch's end changes it)."""
            target = job.target
            return done[exp.id] >= job.epochs or exp.closed.is_set() or (
                target is not None and exp.epoch >= target and exp._steps is None)

        def finish(leaving: list[tuple[Job, Experiment]]) -> None:
            if group is not None:
                group.lend_grads(range(group.K))
            frames = self._frames(group, leaving)
            for job, exp in leaving:
                del unanswered[exp.id]
                answer(self._sliced(exp, job, done[exp.id], frames.get(exp.id)))

        with contextlib.ExitStack() as locks, np.errstate(all="ignore"):
            for _, exp in going:  # the worker's own copies: nobody else waits on them
                locks.enter_context(exp.lock)
            try:
                ended = going  # members whose epoch ended (all, at first)
                runs: list[Epoch] | None = None  # each member's epoch in progress
                while True:
                    leaving = [m for m in ended if over(*m)]
                    if leaving:
                        finish(leaving)
                        going = [m for m in going if m[1].id in unanswered]
                        runs = None
                    if not going:
                        break
                    if runs is None:
                        runs = [exp.epoch_in_progress() for _, exp in going]
                    else:
                        for k, run in enumerate(runs):
                            if run.finished:
                                runs[k] = going[k][1].epoch_in_progress()
                    if len(going) == 1:
                        next(runs[0])
                        group = None
                    else:
                        if group is None or len(going) != group.K:  # members came or left
                            group = self._group([exp.model for _, exp in going])
                        group.step(runs)
                    late = time.monotonic() > deadline
                    known = self._scores(group, going, runs)
                    ended, leaving = [], []
                    for (job, exp), run in zip(going, runs, strict=True):
                        if run.finished:
                            if not exp.end_epoch(known.get(exp.id)):  # False: diverged
                                leaving.append((job, exp))
                                continue
                            done[exp.id] += 1
                            ended.append((job, exp))
                        if late or stop(job):
                            leaving.append((job, exp))
                            if late:
                                expected.add(exp.id)
                    if leaving:
                        finish(leaving)
                        going = [m for m in going if m[1].id in unanswered]
                        ended = [m for m in ended if m[1].id in unanswered]
                        runs = None
            except Exception as exc:
                for job in unanswered.values():
                    answer(self._failed(job, exc))
                self._ungroup([exp.model for _, exp in turn])
        self.wait = min(GATHER, (time.monotonic() - began) / 2)
        return expected

    @staticmethod
    def _scores(group: Group | None, going: list[tuple[Job, Experiment]],
                epochs: list[Epoch]) -> dict[str, Scores]:
        """The train and test scores of the members whose epoch just ended, in one
        batched pass for those of each size (alone, ~60 array calls each an epoch)."""
        ended = [k for k, epoch in enumerate(epochs) if epoch.finished]
        if group is None or len(ended) < 2:
            return {}
        exps = [going[k][1] for k in ended]
        known: dict[str, Scores] = {exp.id: {} for exp in exps}
        for part in ("train", "test"):
            sizes: dict[int, list[int]] = {}
            for k, exp in zip(ended, exps, strict=True):
                y = exp.data.y_train if part == "train" else exp.data.y_test
                if len(y):
                    sizes.setdefault(len(y), []).append(k)
            for members in sizes.values():
                if len(members) < 2:
                    continue
                who = [going[k][1] for k in members]
                xs = [e.x_train if part == "train" else e.x_test for e in who]
                ys = [e.data.y_train if part == "train" else e.data.y_test for e in who]
                for exp, scores in zip(who, group.evaluate(members, xs, ys), strict=True):
                    known[exp.id][part] = scores
        return known

    def _group(self, models: list[Model]) -> Group:
        """The group of exactly these models: the one they are in, or a new one (the
        groups any of them were in are released first: a model is in one at most)."""
        for group in self.groups:
            if len(group.models) == len(models) and \
                    all(a is b for a, b in zip(group.models, models, strict=True)):
                return group
        self._ungroup(models)
        live = {id(exp.model) for exp in self.copies.values()}
        self.groups = [g for g in self.groups if any(id(m) in live for m in g.models)]
        group = Group(models)
        self.groups.append(group)
        return group

    def _ungroup(self, models: list[Model]) -> None:
        ids = {id(m) for m in models}
        for group in [g for g in self.groups if any(id(m) in ids for m in g.models)]:
            group.release()
            self.groups.remove(group)

    def _check(self, exp: Experiment, job: Job, stop: Callable[[], bool]) -> Result:
        """A turn of a gradient check: `check` None in the answer means not done yet."""
        steps = self.checks.pop(job.check, None)
        if steps is None:
            n = min(job.check_points, len(exp.data.y_train))
            steps = gradient_check_steps(exp.model, exp.x_train[:n], exp.data.y_train[:n])
        deadline = time.monotonic() + job.seconds
        try:
            while time.monotonic() < deadline and not stop():
                next(steps)
        except StopIteration as done:
            return Result(job.id, job.revision, check=done.value)
        self.checks[job.check] = steps
        while len(self.checks) > CHECKS:
            self.checks.popitem(last=False)
        return Result(job.id, job.revision)


class _Flag:
    """A stop callable with the face of a threading.Event, for train_epochs."""

    def __init__(self, stop: Callable[[], bool]) -> None:
        self.is_set = stop


_NOTHING = object()


def gather(get: Callable[[float | None], Any], expected: set[str], wait: float,
           job_of: Callable[[Any], Any] = lambda message: message) -> list[Any]:
    """The messages that came together: the first (waited for), every one already
    there, and, for up to `wait` seconds, those still to come from `expected` (see
    GATHER). `get(timeout)` returns a message or _NOTHING (timeout None: wait for one);
    `job_of(message)` the Job it carries, if any."""
    messages = [get(None)]
    missing = set(expected)
    until = time.monotonic() + wait
    while True:
        last = job_of(messages[-1])
        if isinstance(last, Job):
            missing.discard(last.exp_id)
        left = until - time.monotonic() if missing else 0.0
        message = get(max(0.0, left))
        if message is _NOTHING:
            return messages
        messages.append(message)


def queue_get(source: queue.SimpleQueue[Any]) -> Callable[[float | None], Any]:
    """`gather`'s `get` over a queue of a training thread (here and on a Ray actor)."""
    def get(timeout: float | None) -> Any:
        try:
            return source.get(timeout=timeout)
        except queue.Empty:
            return _NOTHING

    return get


def _worker_main(jobs: Connection, results: Connection, cancelled: Any, device: str) -> None:
    """A worker process: jobs in, results out as each is done, until the pipe closes."""
    worker = Worker(device)

    def get(timeout: float | None) -> Any:
        return jobs.recv() if jobs.poll(timeout) else _NOTHING

    while True:
        try:
            messages = gather(get, worker.expected, worker.wait)
        except (EOFError, OSError, KeyboardInterrupt):
            return
        worker.serve(messages, lambda job: cancelled.value == job.id, results.send)


# the server's side -----------------------------------------------------------------------
class Engine(Protocol):
    workers: int

    async def run(self, exp: Experiment, job: Job) -> Result | None: ...
    def cancel(self, job: Job) -> None: ...
    def forget(self, exp_id: str) -> None: ...
    def load(self, exp_id: str) -> tuple[int, int]: ...
    async def close(self) -> None: ...


# Job ids from a random start: the replicas of a cluster share its trainer actors, which
# tell jobs apart (and cancel them) by id. Below 2**62, so ids fit a worker's int64.
_ids = itertools.count(1 + secrets.randbelow(1 << 61))


class _Placed:
    """Where an experiment's copy lives, and which state of it that copy has."""

    def __init__(self, slot: int, exp: Experiment) -> None:
        self.slot = slot
        self.exp = exp  # the object: a reload of the same id is another one
        self.revision: int | None = None  # None: the copy must be (re)sent
        self.busy = 0  # jobs in flight
        self.last = 0.0  # when it last had a job (monotonic seconds)
        self.key: Hashable | None = None  # what it must share to step with others
        self._keyed = -1  # the revision `key` is of

    def rekey(self) -> Hashable | None:
        """Its group_key, recomputed only when a person changed it."""
        exp = self.exp
        if self._keyed != exp.revision:
            self.key = Worker._key(exp)
            self._keyed = exp.revision
        return self.key


class _Base:
    """Placement (each experiment sticks to one worker, new ones go to the least busy),
    the state sent along when needed, and the answer taken into the experiment."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.placed: dict[str, _Placed] = {}
        self.lock = threading.Lock()

    def load(self, exp_id: str) -> tuple[int, int]:
        """Experiments with work in flight on the worker of `exp_id`, and the turns they
        take there: those that step together (MIN_GROUP or more) take one (both at
        least 1)."""
        with self.lock:
            place = self.placed.get(exp_id)
            slot = place.slot if place else 0
            recent = time.monotonic() - RECENT
            keys = [p.key for p in self.placed.values()
                    if p.slot == slot and (p.busy or p.last > recent)]
        sizes = Counter(k for k in keys if k is not None)
        turns = sum(1 for k in keys if k is None) + \
            sum(1 if size >= MIN_GROUP else size for size in sizes.values())
        return max(1, len(keys)), max(1, turns)

    def _place(self, exp: Experiment) -> _Placed:
        """Its worker: where it is, unless it can move (no job in flight, then its state
        is sent whole) to the least busy, which has 2 fewer experiments at work (and as
        many of its shape: a group is not split for balance), or, alone of its shape where
        it is, to one at most 1 busier than the least where some of its shape are (to step
        with them); a new one goes to one at most 1 busier than the least, the one with
        most of its shape first."""
        moved = None
        with self.lock:
            place = self.placed.get(exp.id)
            if place is None or place.exp is not exp:
                place = self.placed[exp.id] = _Placed(-1, exp)
            key = place.rekey()
            active, placed, mates = [0] * self.workers, [0] * self.workers, [0] * self.workers
            # at work: a job in flight, or one lately (between a run's jobs none is)
            now = time.monotonic()
            recent = now - RECENT
            for p in self.placed.values():
                if p is not place and p.slot >= 0:
                    working = p.busy > 0 or p.last > recent
                    active[p.slot] += working
                    placed[p.slot] += 1
                    mates[p.slot] += working and key is not None and p.key == key
            place.last = now
            workers = range(self.workers)
            least = min(workers, key=lambda i: (active[i], -mates[i], placed[i]))
            low = active[least]

            def join(slack: int) -> int:
                return max((i for i in workers if active[i] <= low + slack),
                           key=lambda i: (mates[i], -active[i], -placed[i]))

            to = None
            if place.slot < 0:
                place.slot = join(1)
            elif place.busy == 0 and active[place.slot] >= low + 2 and \
                    mates[least] >= mates[place.slot]:
                to = least
            elif place.busy == 0 and key is not None and mates[place.slot] == 0 and \
                    mates[join(1)] > 0:
                to = join(1)
            if to is not None and to != place.slot:
                moved, place.slot, place.revision = place.slot, to, None
            place.busy += 1
        if moved is not None:
            self._forget(moved, exp.id)
        return place

    def _done(self, place: _Placed) -> None:
        with self.lock:
            place.busy -= 1

    def _prepare(self, exp: Experiment, job: Job, place: _Placed) -> None:
        """In a thread (it takes the experiment's lock): stamp the job, and add the state
        when the worker's copy is not this experiment as it is now."""
        with exp.lock:
            job.revision, job.status, job.message = exp.revision, exp.status, exp.message
            if place.revision != exp.revision:
                job.sync = Sync(exp.config, exp.upload,
                                portable(exp.model.snapshot(), exp.backend.to_numpy),
                                dict(exp.metrics), exp.recorded_confusion())
                place.revision = exp.revision

    def _absorb(self, exp: Experiment, job: Job, result: Result, place: _Placed) -> bool:
        """Take what the job changed into the experiment, unless it changed meanwhile (then
        the worker's copy is stale: the next job sends the state again)."""
        if result.error is not None or result.stale:
            place.revision = None
            return False
        if job.check_points:
            return True
        with exp.lock:
            if exp.revision != result.revision or exp.closed.is_set():
                place.revision = None
                return False
            assert result.state is not None
            exp.model.restore(ModelState([exp.model.xp.asarray(a) for a in result.state.arrays],
                                         result.state.t, result.state.epoch,
                                         result.state.rng))
            for row in result.rows:
                exp.history.add(row)
            exp.metrics = result.metrics
            if result.confusion is not None:
                exp.keep_confusion(result.confusion)
            if result.status == "diverged" or exp.status == "running":
                exp.status, exp.message = result.status, result.message
            if result.epochs or result.rows:
                exp.updated = time.time()
            exp.dirty = True
        return True

    def forget(self, exp_id: str) -> None:
        with self.lock:
            place = self.placed.pop(exp_id, None)
        if place is not None:
            self._forget(place.slot, exp_id)

    def _forget(self, slot: int, exp_id: str) -> None:
        raise NotImplementedError


class InlineEngine(_Base):
    """One worker in a thread of the server process. Jobs and answers are pickled all
    the same, so that what travels to a process is tested wherever this one runs; the
    jobs waiting when the thread is free are handled together, as a process does."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(1)
        self.worker = Worker(device)
        self.cancelled = 0
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None  # started with the first job
        self.starting = threading.Lock()

    async def run(self, exp: Experiment, job: Job) -> Result | None:
        job.id = next(_ids)
        place = self._place(exp)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result | None] = loop.create_future()

        def answer(outcome: Result | BaseException) -> None:
            """In the training thread: the answer goes into the experiment there."""
            if isinstance(outcome, Result):
                result = pickle.loads(pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL))
                taken = self._absorb(exp, job, result, place)
                outcome = WorkerError(result.error) if result.error else \
                    (result if taken else None)
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

        with self.starting:  # a thread that is ending takes this lock to end
            if self.thread is None:  # the first job, or the first after a close
                self.thread = threading.Thread(target=self._serve, name="train", daemon=True)
                self.thread.start()
            self.queue.put((exp, job, place, answer))
        try:
            return await future
        finally:
            self._done(place)

    def _serve(self) -> None:
        get = queue_get(self.queue)
        closed = False
        while True:
            if closed:
                with self.starting:  # ends only with nothing left waiting in the queue
                    if self.queue.empty():
                        self.thread = None
                        return
                closed = False
            # an item is (experiment, job, place, answer), the close (None) or an id
            items = gather(get, self.worker.expected, self.worker.wait,
                           lambda item: item[1] if isinstance(item, tuple) else None)
            messages: list[Job | str] = []
            answers: dict[int, Callable[[Result | BaseException], None]] = {}
            for item in items:
                if item is None:  # closed: the jobs that came before it are still answered
                    closed = True
                    continue
                if closed:  # after it: back in line, for the round after the close
                    self.queue.put(item)
                    continue
                if isinstance(item, str):
                    messages.append(item)
                    continue
                exp, job, place, answer = item
                try:
                    self._prepare(exp, job, place)
                except Exception as exc:
                    answer(exc)
                    continue
                answers[job.id] = answer
                messages.append(pickle.loads(pickle.dumps(job, pickle.HIGHEST_PROTOCOL)))

            def taken(result: Result, answers: dict[int, Any] = answers) -> None:
                answer = answers.pop(result.id)
                try:
                    answer(result)
                except Exception as exc:  # taking it in failed: its run says so
                    log.error("taking an answer in failed:\n%s", traceback.format_exc())
                    answer(exc)

            try:
                self.worker.serve(messages, lambda job: self.cancelled == job.id, taken)
            except Exception as exc:  # a bug: no run waits for ever
                log.error("training thread:\n%s", traceback.format_exc())
                for answer in answers.values():
                    answer(exc)

    def cancel(self, job: Job) -> None:
        self.cancelled = job.id

    def _forget(self, slot: int, exp_id: str) -> None:
        self.queue.put(exp_id)

    async def close(self) -> None:
        """End the thread (a later job starts another, as a process that died is
        replaced); jobs that came after the close are answered with an error."""
        self.queue.put(None)


PIPE_BYTES = 1 << 20  # Linux's most for an unprivileged process


def _widen(end: Connection) -> None:
    """Room in the pipe for a whole answer (LeNet-5's weights and frame: 290 kB). With
    Linux's 64 kB the worker waited while the server, busy with its other threads, read
    each 64 kB: a fifth of the worker's time went into sending. Elsewhere: as it is."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class _Process:
    """One worker process and the two threads that talk to it: jobs go out as they come
    (the worker queues them), answers come back in the same order."""

    def __init__(self, slot: int, device: str) -> None:
        ctx = mp.get_context("spawn")  # never fork a process with threads and a loop
        self.slot = slot
        self.cancelled = ctx.Value("q", 0, lock=False)
        jobs_out, self.jobs = ctx.Pipe(duplex=False)
        self.results, results_in = ctx.Pipe(duplex=False)
        for end in (self.jobs, self.results):
            _widen(end)
        self.process = ctx.Process(target=_worker_main, name=f"playground-worker-{slot}",
                                   args=(jobs_out, results_in, self.cancelled, device),
                                   daemon=True)
        self.process.start()
        jobs_out.close()
        results_in.close()
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"send-{slot}")
        self.pending: dict[int, Callable[[Result | BaseException], None]] = {}
        self.alive = True
        self.receiver = threading.Thread(target=self._receive, name=f"receive-{slot}",
                                         daemon=True)
        self.receiver.start()

    def send(self, message: Job | str) -> None:
        self.jobs.send(message)

    def _receive(self) -> None:
        while True:
            try:
                result: Result = self.results.recv()
            except (EOFError, OSError):
                break
            answer = self.pending.pop(result.id, None)
            if answer is not None:
                answer(result)
        self.alive = False
        for answer in list(self.pending.values()):
            answer(WorkerError("the training process stopped; press play to go on"))
        self.pending.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.jobs.close()
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.sender.shutdown(wait=False)


class ProcessEngine(_Base):
    """`workers` processes (default: one per core). A process that dies is replaced; the
    jobs it had fail with a message, and its experiments are sent whole to the new one."""

    def __init__(self, workers: int, device: str = "cpu") -> None:
        super().__init__(workers)
        self.device = device
        self.procs = [_Process(i, device) for i in range(workers)]

    def _proc(self, slot: int) -> _Process:
        proc = self.procs[slot]
        if not proc.alive or not proc.process.is_alive():
            log.error("training process %d stopped (exit code %s); starting another",
                      slot, proc.process.exitcode)
            proc.close()
            proc = self.procs[slot] = _Process(slot, self.device)
            with self.lock:
                for place in self.placed.values():
                    if place.slot == slot:
                        place.revision = None
        return proc

    async def run(self, exp: Experiment, job: Job) -> Result | None:
        job.id = next(_ids)
        place = self._place(exp)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result | None] = loop.create_future()
        try:
            proc = self._proc(place.slot)

            def answer(result: Result | BaseException) -> None:
                """In the receiving thread: the state goes into the experiment there, off
                the event loop (it takes the experiment's lock)."""
                if isinstance(result, BaseException):
                    outcome: Result | BaseException | None = result
                else:
                    taken = self._absorb(exp, job, result, place)
                    outcome = WorkerError(result.error) if result.error else \
                        (result if taken else None)
                loop.call_soon_threadsafe(_settle, future, outcome)

            def send() -> None:
                self._prepare(exp, job, place)
                proc.pending[job.id] = answer
                try:
                    proc.send(job)
                except (OSError, ValueError, pickle.PicklingError) as exc:
                    proc.pending.pop(job.id, None)
                    place.revision = None
                    raise WorkerError(f"could not reach the training process: {exc}") from exc

            await loop.run_in_executor(proc.sender, send)
            return await future
        finally:
            self._done(place)

    def cancel(self, job: Job) -> None:
        with self.lock:
            place = self.placed.get(job.exp_id)
        if place is not None and job.id:
            self.procs[place.slot].cancelled.value = job.id

    def _forget(self, slot: int, exp_id: str) -> None:
        proc = self.procs[slot]
        if proc.alive:
            proc.sender.submit(proc.send, exp_id)

    async def close(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.close) for p in self.procs))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def make_engine(settings: Settings) -> Engine:
    """Trainer actors of a Ray cluster (cluster=ray: ray is imported only then), else
    `workers` processes, or 0: train in a thread of this process."""
    if settings.cluster == "ray":
        from .rayengine import RayEngine

        return RayEngine(settings.ray_address, settings.device)
    if settings.workers > 0:
        return ProcessEngine(settings.workers, settings.device)
    return InlineEngine(settings.device)
