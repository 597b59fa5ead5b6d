"""Background training: one asyncio task per running experiment, epochs on the engine.

The event loop never trains: each task hands the engine (workers.py: one process per core)
a slice of epochs at a time, and the frame its viewers will get after it; the task wakes
them and, every few seconds, saves. The experiments on one worker take turns, so each
gets a fair share of it. Frames are paced by the load: with few experiments on a worker,
`frame_rate` a second; with many, fewer (never below `min_frame_rate` while frames take
under FRAME_SHARE of the worker, measured), so that training keeps most of the CPU. A
pause cancels the slice in flight: it takes effect within one mini-batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .experiment import Conflict, Deleted, Experiment
from .frames import FrameCache
from .ownership import Solo
from .store import StoreError
from .workers import Engine, Job, WorkerError

MIN_SLICE = 0.0005  # seconds; a slice always trains at least one mini-batch
TURN = 0.004  # seconds of work a turn should hold to be worth its messages
FRAME_SHARE = 0.25  # of a worker's time, its frames take at most about this


class Watch:
    """Wakes the viewers of one experiment whenever something about it changed, and
    knows what they show: a viewer whose page is hidden wants no frames, one that does
    not show the network no neurons' grids (the websocket's `view` command)."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()
        self.last_viewed = time.monotonic()
        self.views: dict[int, tuple[bool, bool]] = {}  # viewer -> (frames, neurons)
        self.example = 0  # the test sequence the frames trace: the last one a viewer chose

    @property
    def viewers(self) -> int:
        return len(self.views)

    def show(self, viewer: int, frames: bool = True, neurons: bool = True) -> bool:
        """Whether what it shows changed (its sender then sends the frame of now: see
        poke). Nothing about the experiment changed: its version stays."""
        before = self.views.get(viewer)
        self.views[viewer] = (frames, neurons)
        return before is not None and before != (frames, neurons)

    def poke(self) -> None:
        """Wake the waiting viewers without a new version: those with nothing to do
        (none of their own to send) go back to waiting."""
        self._event.set()
        self._event = asyncio.Event()

    def leave(self, viewer: int) -> None:
        self.views.pop(viewer, None)
        self.last_viewed = time.monotonic()

    @property
    def showing(self) -> bool:
        """Whether some viewer draws frames."""
        return any(frames for frames, _ in self.views.values())

    @property
    def neurons(self) -> bool:
        return any(frames and neurons for frames, neurons in self.views.values())

    def bump(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, after: int, timeout: float | None = None) -> int:
        """Until the version passes `after` (or the timeout); returns the version."""
        if self.version == after:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
        return self.version


class Run:
    def __init__(self, exp: Experiment, epochs: int | None, client: str,
                 speed: float | None = None) -> None:
        self.exp = exp
        self.client = client  # the address that started it, for the per-client limit
        self.target = None if epochs is None else exp.epoch + epochs
        self.stop = asyncio.Event()
        self.job: Job | None = None  # the slice in flight
        self.retarget: tuple[int | None] | None = None  # a new count of epochs, from now
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.taken_over = False  # another request gave it a new count of epochs or pace
        self.failure: str | None = None  # why the training process gave up on it
        self.save_error: StoreError | None = None  # its last save failed
        self._waiters: list[tuple[int, asyncio.Event]] = []
        self.pace(speed)

    def reached(self, epoch: int) -> asyncio.Event:
        """Set once the experiment is at `epoch` and saved there, or the run has ended."""
        event = asyncio.Event()
        self._waiters.append((epoch, event))
        return event

    def wake(self, epoch: float) -> None:
        """Wake those waiting for `epoch` or before (infinity: all, at the run's end)."""
        for at, event in self._waiters:
            if at <= epoch:
                event.set()
        self._waiters = [(at, e) for at, e in self._waiters if not e.is_set()]

    def interrupted(self) -> bool:
        """Whether it ended before its count of epochs, other than by diverging."""
        return self.done.is_set() and self.exp.status != "diverged" and \
            (self.target is None or self.exp.epoch < self.target)

    def pace(self, speed: float | None) -> None:
        """At most `speed` epochs a second from now on (None: as fast as it goes), so a
        class can watch a boundary form at the pace of the explanation."""
        self.speed = speed
        self.paced_from = (time.monotonic(), self.exp.epoch)

    def allowed(self) -> float:
        """Epochs the pace allows now (infinite without one)."""
        if self.speed is None:
            return float("inf")
        since, epoch = self.paced_from
        return self.speed * (time.monotonic() - since) - (self.exp.epoch - epoch)


class Check:
    """A gradient check under way: whose, on what, its job in flight, stopped or not."""

    def __init__(self, client: str, exp_id: str) -> None:
        self.client, self.exp_id = client, exp_id
        self.job: Job | None = None
        self.stopped = False


class Runner:
    def __init__(self, engine: Engine, save: Callable[[Experiment], Awaitable[None]],
                 save_interval: float, save_rate: float, idle_stop: float, max_running: int,
                 max_running_per_client: int, frame_rate: float, min_frame_rate: float,
                 resolution: int, neuron_resolution: int,
                 ownership: Solo | None = None) -> None:
        self.engine = engine
        # told of each run's start and end: replicas resume the runs of one that died
        self.ownership = ownership or Solo()
        self.max_running_per_client = max_running_per_client
        # frames of experiments that do not train (they change only when a person acts)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="frames")
        self.frames = FrameCache(resolution, neuron_resolution, self.executor)
        self.frame_interval = 1.0 / frame_rate
        self.max_frame_interval = max(self.frame_interval, 1.0 / min_frame_rate)
        self.frame_cost = 0.0  # seconds a frame takes to build, averaged
        self.checks: dict[int, Check] = {}  # gradient checks under way
        self.save = save
        self.save_interval = save_interval
        self.save_rate = save_rate
        self.idle_stop = idle_stop
        self.max_running = max_running
        self.runs: dict[str, Run] = {}
        self.watches: dict[str, Watch] = {}

    def watch(self, exp_id: str) -> Watch:
        return self.watches.setdefault(exp_id, Watch())

    def changed(self, exp: Experiment) -> None:
        if not exp.closed.is_set():
            self.watch(exp.id).bump()

    def forget(self, exp_id: str) -> None:
        """After a delete or an eviction: drop its frames and its worker's copy, and wake
        its viewers (if any) so they see it is gone."""
        self.frames.forget(exp_id)
        self.engine.forget(exp_id)
        watch = self.watches.pop(exp_id, None)
        if watch is not None:
            watch.bump()

    def running(self, exp_id: str) -> bool:
        return exp_id in self.runs

    def busy(self, exp_id: str) -> bool:
        """Running, checking or watched: not to be evicted."""
        watch = self.watches.get(exp_id)
        return exp_id in self.runs or (watch is not None and watch.viewers > 0) or \
            any(c.exp_id == exp_id for c in self.checks.values())

    def start(self, exp: Experiment, epochs: int | None = None, client: str = "",
              speed: float | None = None, elsewhere: int = 0) -> Run:
        """Train in the background (until paused, or for `epochs`, at most `speed` epochs
        a second); a running experiment takes the new count and pace. `elsewhere`: the
        client's runs on other replicas, counted toward its limit."""
        if exp.id in self.runs:
            run = self.runs[exp.id]
            # counted from the epoch the slice in flight stops at, now: cancel it
            run.retarget = (epochs,)
            run.taken_over = True
            run.pace(speed)
            if run.job is not None:
                self.engine.cancel(run.job)
            self.ownership.run_started(exp.id, run.client,
                                       None if epochs is None else exp.epoch + epochs)
            return run
        self._admit(client, elsewhere)
        run = Run(exp, epochs, client, speed)
        self.ownership.run_started(exp.id, client, run.target)
        exp.status, exp.message = "running", ""
        self.runs[exp.id] = run
        self.watch(exp.id).last_viewed = time.monotonic()
        run.task = asyncio.get_running_loop().create_task(self._run(run))
        self.changed(exp)
        return run

    def _admit(self, client: str, elsewhere: int = 0) -> None:
        """Runs and gradient checks count alike toward the server's and each address's limit
        (with its runs on other replicas: `elsewhere`)."""
        if len(self.runs) + len(self.checks) >= self.max_running:
            raise RuntimeError(f"the server is training {self.max_running} experiments, its "
                               "limit; pause one or try again later")
        mine = sum(1 for r in self.runs.values() if r.client == client) + \
            sum(1 for c in self.checks.values() if c.client == client) + elsewhere
        if client and mine >= self.max_running_per_client:
            raise RuntimeError(f"you are training {mine} experiments at once, the limit per "
                               "address; pause one first")

    async def pause(self, exp: Experiment) -> None:
        """Stop its run (the slice in flight is cancelled) and its gradient checks."""
        for check in list(self.checks.values()):
            if check.exp_id == exp.id:
                check.stopped = True
                if check.job is not None:
                    self.engine.cancel(check.job)
        run = self.runs.get(exp.id)
        if run is not None:
            await self.stop(run)

    async def stop(self, run: Run) -> None:
        """Stop this run (not another that has followed it) and wait until it has saved."""
        run.stop.set()
        if run.job is not None:
            self.engine.cancel(run.job)
        await run.done.wait()

    async def gradient_check(self, exp: Experiment, points: int, seconds: float,
                             client: str = "", elsewhere: int = 0) -> dict[str, Any]:
        """A gradient check on the engine, counted as a run, in turns beside the training
        of others; a pause, reset or delete stops it, and so does `seconds`."""
        self._admit(client, elsewhere)
        check = Check(client, exp.id)
        self.checks[id(check)] = check
        deadline = time.monotonic() + seconds
        revision = exp.revision
        try:
            while True:
                _, turn, _ = self._turn(exp.id)
                check.job = Job(exp.id, check_points=points, check=id(check), seconds=turn)
                result = await self.engine.run(exp, check.job)
                if exp.closed.is_set():
                    raise Deleted(f"experiment {exp.id!r} was deleted during the gradient "
                                  "check")
                if check.stopped or exp.revision != revision or \
                        (result is not None and result.revision != revision):
                    # a report on weights that are no more, or half on the old ones
                    raise Conflict("the gradient check stopped: another request paused, "
                                   "reset or changed the experiment meanwhile; ask again")
                if result is not None and result.check is not None:
                    return result.check
                if time.monotonic() > deadline:
                    raise WorkerError(f"the gradient check took over {seconds:g} s, the limit; "
                                      "try fewer points")
        finally:
            del self.checks[id(check)]

    async def pause_all(self) -> None:
        for run in list(self.runs.values()):
            await self.pause(run.exp)

    def _turn(self, exp_id: str) -> tuple[float, float, int]:
        """(seconds between frames, seconds of training per slice, experiments at work on
        its worker). A round of the worker gives each of them a slice and a frame: as
        often as frame_rate asks while turns are worth their messages (TURN each; those
        that step together take one), at least min_frame_rate, unless frames would then
        take over FRAME_SHARE of the worker: a slower machine gets fewer frames, not less
        training."""
        n, turns = self.engine.load(exp_id)
        interval = min(self.max_frame_interval, max(self.frame_interval, turns * TURN))
        interval = max(interval, n * self.frame_cost / FRAME_SHARE)
        return interval, max(MIN_SLICE, 0.7 * interval / n - self.frame_cost), n

    async def _run(self, run: Run) -> None:
        exp, watch = run.exp, self.watch(run.exp.id)
        last_save = time.monotonic()
        last_frame = 0.0
        try:
            while not run.stop.is_set() and not exp.closed.is_set():
                if run.retarget is not None:
                    (more,), run.retarget = run.retarget, None
                    run.target = None if more is None else exp.epoch + more
                left = None if run.target is None else run.target - exp.epoch
                if left is not None and left <= 0:
                    break
                if watch.viewers == 0 and run.target is None and \
                        time.monotonic() - watch.last_viewed > self.idle_stop:
                    exp.message = "paused: nobody watched for a while"
                    break
                allowed = run.allowed()
                if allowed < 1:  # paced: wait for the next epoch's turn
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(run.stop.wait(),
                                               min(0.25, (1 - allowed) / (run.speed or 1)))
                    continue
                interval, seconds, n = self._turn(exp.id)
                frame = None
                # A frame after this slice if it ends at least half an interval after the
                # last. It ends after the others' turns too: judged by `seconds` alone, every
                # other slice of a shared worker came without one.
                if watch.showing and time.monotonic() + n * seconds - last_frame >= interval / 2:
                    resolution = self.frames.resolution_for(n)
                    frame = (watch.version + 1, resolution, self.frames.neuron_resolution,
                             watch.neurons, watch.example)
                run.job = Job(exp.id, epochs=min(left or 1_000_000, int(min(allowed, 1e6))),
                              seconds=seconds, target=run.target, frame=frame)
                try:
                    result = await self.engine.run(exp, run.job)
                except WorkerError as exc:
                    run.failure = str(exc)
                    exp.message = f"training stopped: {exc}"
                    break
                finally:
                    run.job = None
                if result is None:  # a person changed it meanwhile: train the new state
                    continue
                if result.frame is not None and frame is not None:
                    # viewers wake for the worker's frame, never to build one here
                    last_frame = time.monotonic()
                    self.frames.put(exp.id, frame[0], result.frame, frame[3])
                    self.frame_cost = 0.8 * self.frame_cost + 0.2 * result.frame_seconds
                    self.frames.record(result.frame_seconds)
                    self.changed(exp)
                elif not watch.showing:
                    self.changed(exp)
                if exp.status == "diverged":
                    break
                # A whole state a save: a lecture hall's 300 runs every 3 s were 100 a
                # second, the most of the server's time; past save_rate they space out.
                every = max(self.save_interval, len(self.runs) / self.save_rate)
                if time.monotonic() - last_save > every:
                    run.save_error = await self._save(exp)
                    last_save = time.monotonic()
                if run.target is None or exp.epoch < run.target:  # it goes on past them
                    run.wake(exp.epoch)
        finally:
            if exp.status == "running":
                exp.status = "paused"
            del self.runs[exp.id]
            self.ownership.run_ended(exp.id)
            # before done: what a train with wait answers is saved, or says it is not
            run.save_error = await self._save(exp)
            run.done.set()
            run.wake(float("inf"))
            self.changed(exp)

    async def _save(self, exp: Experiment) -> StoreError | None:
        """Save in the background; a failure is shown to the viewers, never swallowed."""
        try:
            await self.save(exp)
        except StoreError as exc:
            exp.message = f"not saved: {exc}"
            self.changed(exp)
            return exc
        return None
