"""Background training: one asyncio task per running experiment, epochs in a worker thread.

The event loop never trains: each task hands the training thread a slice of epochs (one
frame interval, shared among the running experiments), which then builds the frame its
viewers will get; the task wakes them and, every few seconds, saves. One thread does all
training and frame building, round robin, so threads never fight over the GIL. A pause
sets an event that the thread checks after every epoch: it takes effect within one epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from .experiment import Experiment
from .frames import FrameCache
from .store import StoreError

MIN_SLICE = 0.0005  # seconds; a slice always trains at least one mini-batch
BUSY = 8  # running experiments above which frames carry a coarser output grid


class Watch:
    """Wakes the viewers of one experiment whenever something about it changed."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()
        self.viewers = 0
        self.last_viewed = time.monotonic()

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
        self.stop = threading.Event()
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.pace(speed)

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


class Runner:
    def __init__(self, save: Callable[[Experiment], Awaitable[None]], save_interval: float,
                 idle_stop: float, max_running: int, max_running_per_client: int,
                 frame_rate: float, resolution: int, neuron_resolution: int) -> None:
        self.max_running_per_client = max_running_per_client
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="train")
        self.frames = FrameCache(resolution, neuron_resolution, self.executor)
        self.frame_interval = 1.0 / frame_rate
        self.frame_cost = 0.0  # seconds a frame takes to build, averaged
        self.save = save
        self.save_interval = save_interval
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
        """After a delete: drop its frames, and wake its viewers so they see it is gone."""
        self.frames.forget(exp_id)
        watch = self.watches.pop(exp_id, None)
        if watch is not None:
            watch.bump()

    def running(self, exp_id: str) -> bool:
        return exp_id in self.runs

    def start(self, exp: Experiment, epochs: int | None = None, client: str = "",
              speed: float | None = None) -> Run:
        """Train in the background (until paused, or for `epochs`, at most `speed` epochs
        a second); a running experiment takes the new count and pace."""
        if exp.id in self.runs:
            run = self.runs[exp.id]
            run.target = None if epochs is None else exp.epoch + epochs
            run.pace(speed)
            return run
        if len(self.runs) >= self.max_running:
            raise RuntimeError(f"the server is training {self.max_running} experiments, its "
                               "limit; pause one or try again later")
        mine = sum(1 for r in self.runs.values() if r.client == client)
        if client and mine >= self.max_running_per_client:
            raise RuntimeError(f"you are training {mine} experiments at once, the limit per "
                               "address; pause one first")
        run = Run(exp, epochs, client, speed)
        exp.status, exp.message = "running", ""
        self.runs[exp.id] = run
        self.watch(exp.id).last_viewed = time.monotonic()
        run.task = asyncio.get_running_loop().create_task(self._run(run))
        self.changed(exp)
        return run

    async def pause(self, exp: Experiment) -> None:
        run = self.runs.get(exp.id)
        if run is None:
            return
        run.stop.set()
        await run.done.wait()

    async def pause_all(self) -> None:
        for run in list(self.runs.values()):
            await self.pause(run.exp)

    def _slice(self, run: Run, epochs: int, seconds: float, frame: bool) -> bytes | None:
        # The clock starts here, not when the slice was queued behind the others.
        run.exp.train_epochs(epochs, time.monotonic() + seconds, run.stop,
                             until=lambda: run.target)
        if not frame:
            return None
        start = time.monotonic()
        version = self.watch(run.exp.id).version + 1  # the version it will be published as
        built = self.frames.build(run.exp, version, busy=len(self.runs) > BUSY)
        self.frame_cost = 0.8 * self.frame_cost + 0.2 * (time.monotonic() - start)
        return built

    async def _run(self, run: Run) -> None:
        exp, watch = run.exp, self.watch(run.exp.id)
        last_save = time.monotonic()
        try:
            while not run.stop.is_set():
                left = None if run.target is None else run.target - exp.epoch
                if left is not None and left <= 0:
                    break
                if watch.viewers == 0 and run.target is None and \
                        time.monotonic() - watch.last_viewed > self.idle_stop:
                    exp.message = "paused: nobody watched for a while"
                    break
                allowed = run.allowed()
                if allowed < 1:  # paced: wait for the next epoch's turn
                    await asyncio.sleep(min(0.25, (1 - allowed) / (run.speed or 1)))
                    continue
                epochs = min(left or 1_000_000, int(min(allowed, 1_000_000)))
                share = 0.8 * self.frame_interval / len(self.runs)  # a little ahead of viewers
                slice_ = max(MIN_SLICE, share - (self.frame_cost if watch.viewers else 0.0))
                frame = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self._slice, run, epochs, slice_, watch.viewers > 0)
                self.changed(exp)
                if frame is not None:
                    self.frames.put(exp.id, watch.version, frame)
                if exp.status == "diverged":
                    break
                if time.monotonic() - last_save > self.save_interval:
                    await self._save(exp)
                    last_save = time.monotonic()
        finally:
            if exp.status == "running":
                exp.status = "paused"
            del self.runs[exp.id]
            await self._save(exp)  # before done: what a train with wait answers is saved
            run.done.set()
            self.changed(exp)

    async def _save(self, exp: Experiment) -> None:
        """Save in the background; a failure is shown to the viewers, never swallowed."""
        try:
            await self.save(exp)
        except StoreError as exc:
            exp.message = f"not saved: {exc}"
            self.changed(exp)
