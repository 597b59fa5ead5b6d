"""Training on a Ray cluster (cluster=ray): the jobs of workers.py go to Ray actors.

One trainer actor per CPU of each alive node, named `trainer-<node id>-<i>` in the
namespace "playground" and detached, so every API replica finds the same actors by name
and none owns them. An actor is what a worker process is locally: a `Worker` in its own
training thread, hosting many experiments (their copies stay there between jobs; a job
carries the whole state only when the copy is out of date), answering each job as soon as
it is done, grouping the slices that can step together. Ray places the actors (one on each
of a node's CPUs), detects their death and carries the messages; this module only keeps
the list of actors and re-places the experiments of a dead one.

A node that dies takes its actors with it: the job in flight fails (or gets no answer
within its seconds and MARGIN), the actor is dropped from the list, its experiments are
placed again on the live ones with their state sent whole (the server's copy is the
truth, saved every few seconds), and the job is tried again there: the run goes on by
itself, a slice late. Only with no actor left, or after RETRY seconds of failures, does
the run stop with a WorkerError that says so.

Imported only when cluster=ray: the default mode never imports ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import secrets
import socket
import threading
import time
import traceback
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .experiment import Experiment
from .workers import (
    Job,
    Result,
    Worker,
    WorkerError,
    _Base,
    _ids,
    _Placed,
    _settle,
    gather,
    queue_get,
)

log = logging.getLogger("playground.rayengine")
NAMESPACE = "playground"
MARGIN = 10.0  # seconds past a slice's own that its answer may take (turns, a new copy)
RETRY = 20.0  # seconds a job is tried again on other actors before its run stops
REFRESH = 2.0  # seconds between looks at the cluster's nodes
READY = 30.0  # seconds the first look waits for the actors to start (later ones: none)
CONCURRENCY = 10_000  # jobs an actor holds at once (hundreds of runs, several replicas)
CANCELLED = 10_000  # ids of cancelled jobs an actor remembers (cancels can come late)
DEAD = (RayActorError, ActorUnavailableError, TimeoutError)


class Trainer:
    """A trainer actor: a Worker in a training thread, jobs in, results out. Its methods
    run on the actor's event loop; the training thread settles their futures."""

    def __init__(self, device: str = "cpu") -> None:
        self.worker = Worker(device)
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # several replicas share the actor: a set, not the one id of a worker process
        self.cancelled: OrderedDict[int, None] = OrderedDict()
        self.thread = threading.Thread(target=self._serve, name="train", daemon=True)
        self.thread.start()

    async def run(self, job: Job) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.queue.put((job, loop, future))
        return await future

    async def cancel(self, job_id: int) -> None:
        self.cancelled[job_id] = None
        while len(self.cancelled) > CANCELLED:
            self.cancelled.popitem(last=False)

    async def forget(self, exp_id: str) -> None:
        self.queue.put(exp_id)  # in line with the jobs: those sent before still run

    async def ping(self) -> tuple[str, int]:
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def _serve(self) -> None:
        get = queue_get(self.queue)
        while True:
            items = gather(get, self.worker.expected, self.worker.wait,
                           lambda item: item[0] if isinstance(item, tuple) else None)
            messages: list[Job | str] = []
            waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Result]]] = {}
            for item in items:
                if isinstance(item, str):
                    messages.append(item)
                else:
                    job, loop, future = item
                    waiting[job.id] = (loop, future)
                    messages.append(job)

            def answer(outcome: Result | BaseException, job_id: int | None = None,
                       waiting: dict[int, Any] = waiting) -> None:
                key = outcome.id if isinstance(outcome, Result) else job_id
                loop, future = waiting.pop(key)  # type: ignore[arg-type]
                self.cancelled.pop(key, None)  # type: ignore[arg-type]
                with contextlib.suppress(RuntimeError):  # the actor is going away
                    loop.call_soon_threadsafe(_settle, future, outcome)

            try:
                self.worker.serve(messages, lambda job: job.id in self.cancelled, answer)
            except Exception as exc:  # a bug: no job waits for ever
                log.error("training thread:\n%s", traceback.format_exc())
                for job_id in list(waiting):
                    answer(WorkerError(f"the trainer failed ({type(exc).__name__})"), job_id)


_TRAINER = ray.remote(Trainer)


class _Actor:
    """A trainer as this replica knows it."""

    def __init__(self, name: str, node: str, handle: Any) -> None:
        self.name, self.node, self.handle = name, node, handle


class _Attempt:
    """One try of a job on an actor. Its answer is taken into the experiment in the thread
    Ray settles it in; once the try is given up (no answer in time), a late answer is not
    taken in (its retry's is)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[tuple[Result, bool]] = loop.create_future()
        self.take: Any = None  # Result -> whether it was taken in
        self.guard = threading.Lock()
        self.late = False

    def answered(self, done: Any) -> None:
        try:
            result: Result = done.result()
            with self.guard:
                if self.late:
                    return
                outcome: Any = (result, self.take(result))
        except BaseException as exc:  # an actor that died, or taking it in failed
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            self.loop.call_soon_threadsafe(_settle, self.future, outcome)

    def give_up(self) -> None:
        with self.guard:
            self.late = True


def connect(address: str) -> bool:
    """Join the cluster (quietly: no dashboard, no usage stats, no actor logs here);
    returns whether this call connected (and close should disconnect)."""
    if ray.is_initialized():
        return False
    host, _, port = (address or "").rpartition(":")
    if port.isdigit():
        # ray.init retries an address where nothing answers for minutes: ask once first
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        except OSError as exc:
            raise WorkerError(f"no Ray cluster answers at {address} (ray_address): {exc}") \
                from exc
    if host in ("127.0.0.1", "localhost", "[::1]", "::1"):
        # A cluster on this machine's loopback (tests; one machine): Ray would turn the
        # address into the machine's outward IP, where nothing of it listens. Its own
        # loopback mode (what RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 sets) keeps it.
        ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address=address or "auto", namespace=NAMESPACE, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True)
    except ConnectionError as exc:
        raise WorkerError(f"no Ray cluster at {address!r} (ray_address): {exc}") from exc
    return True


class RayEngine(_Base):
    """Jobs to trainer actors of a Ray cluster. Slots are indexes into `actors` (the live
    ones this replica knows, refreshed every REFRESH seconds), so _Base's placement and
    load work unchanged; a dead actor leaves the list and its experiments lose their slot."""

    def __init__(self, address: str, device: str = "cpu") -> None:
        super().__init__(0)
        self.device = device
        self.connected = connect(address)
        self.actors: list[_Actor] = []
        self.shunned: dict[str, float] = {}  # actors that did not answer: not before then
        # name -> (node, handle, its ping): actors not ready yet, until the ping answers
        self.pending: dict[str, tuple[str, Any, Any]] = {}
        self.cancelled: set[int] = set()  # ids of jobs in flight a runner cancelled
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="ray-send")
        # A gradient check's steps wait on the actor under the check's number, which the
        # runner takes from id(): unique in this process only. Salted, one replica's
        # check never continues another's on a shared actor.
        self.salt = secrets.randbits(62)
        self.closing = threading.Event()
        self.refresh(READY)
        self.refresher = threading.Thread(target=self._refreshing, name="ray-refresh",
                                          daemon=True)
        self.refresher.start()

    # the actors ------------------------------------------------------------------------
    def refresh(self, wait: float = 0.0) -> None:
        """New nodes get their actors, dead nodes' actors leave. Creating is getting when
        another replica made the actor already (get_if_exists); a new one joins the list
        once it answers a ping (waited for up to `wait` seconds; else a later look)."""
        nodes = {n["NodeID"]: int(n.get("Resources", {}).get("CPU", 0))
                 for n in ray.nodes() if n.get("Alive")}
        now = time.monotonic()
        with self.lock:
            known = {a.name for a in self.actors}
            gone = {i for i, a in enumerate(self.actors) if a.node not in nodes}
            if gone:
                self._remove(gone)
        for name, (node, _, _) in list(self.pending.items()):
            if node not in nodes:
                del self.pending[name]
        for node, cpus in nodes.items():
            for i in range(cpus):
                name = f"trainer-{node}-{i}"
                if name in known or name in self.pending or self.shunned.get(name, 0) > now:
                    continue
                try:
                    handle = _TRAINER.options(
                        name=name, namespace=NAMESPACE, lifetime="detached",
                        get_if_exists=True, num_cpus=1, max_concurrency=CONCURRENCY,
                        max_restarts=0,
                        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                    ).remote(self.device)
                    self.pending[name] = node, handle, handle.ping.remote()
                except Exception as exc:  # a node going away meanwhile: the next look
                    log.warning("could not get trainer %s: %s", name, exc)
        if not self.pending:
            return
        pings = {ping: name for name, (_, _, ping) in self.pending.items()}
        ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=wait)
        for ref in ready:
            name = pings[ref]
            _, handle, _ = self.pending.pop(name)
            try:
                node, _ = ray.get(ref)
            except Exception as exc:
                log.warning("trainer %s did not start: %s", name, exc)
                continue
            with self.lock:
                self.actors.append(_Actor(name, node, handle))
                self.workers = len(self.actors)

    def _refreshing(self) -> None:
        while not self.closing.wait(REFRESH) and ray.is_initialized():
            try:
                self.refresh()
            except Exception:  # the cluster unreachable for a while: the next look
                log.warning("looking at the Ray cluster failed:\n%s", traceback.format_exc())

    def _remove(self, gone: set[int]) -> None:
        """(Under the lock.) Drop these slots; the experiments placed there lose theirs
        (the next job places them anew and sends their state whole)."""
        keep = [i for i in range(len(self.actors)) if i not in gone]
        index = {old: new for new, old in enumerate(keep)}
        self.actors = [self.actors[i] for i in keep]
        self.workers = len(self.actors)
        for place in self.placed.values():
            if place.slot in gone:
                place.slot, place.revision = -1, None
            elif place.slot >= 0:
                place.slot = index[place.slot]

    def _drop(self, actor: _Actor, why: BaseException) -> None:
        with self.lock:
            if actor not in self.actors:
                return  # dropped already, by another run's failure
            log.warning("trainer %s dropped (%s: %s); its experiments move", actor.name,
                        type(why).__name__, why)
            self._remove({self.actors.index(actor)})
        if isinstance(why, TimeoutError):  # alive to Ray, perhaps, but not answering
            self.shunned[actor.name] = time.monotonic() + 30

    def _slot(self, exp: Experiment) -> tuple[_Placed, _Actor]:
        """Its place and the actor there (placed again if that actor left meanwhile)."""
        while True:
            with self.lock:
                if not self.actors:
                    raise WorkerError("no Ray trainer is alive (every node of the cluster "
                                      "is gone); press play once nodes are back")
            try:
                place = self._place(exp)
            except ValueError:  # the last actor left meanwhile: said above, next time
                continue
            with self.lock:
                if 0 <= place.slot < len(self.actors):
                    return place, self.actors[place.slot]
            self._done(place)

    # the jobs --------------------------------------------------------------------------
    async def run(self, exp: Experiment, job: Job) -> Result | None:
        loop = asyncio.get_running_loop()
        until = time.monotonic() + RETRY
        failures = 0
        if job.check_points:
            job.check ^= self.salt
        cancelled = False  # the runner cancelled the job (carried to its retries)
        while True:
            job.id = next(_ids)  # a retry is a new job: the dead actor's may still be queued
            if cancelled:
                self.cancelled.add(job.id)
            place, actor = self._slot(exp)

            attempt = _Attempt(loop)

            def send(place: _Placed = place, actor: _Actor = actor,
                     attempt: _Attempt = attempt) -> None:
                self._prepare(exp, job, place)  # the state whole if the copy is not there
                if job.id in self.cancelled:
                    actor.handle.cancel.remote(job.id)  # before the job: in order
                # The answer is taken in where Ray hands it over, as the local engines
                # take theirs in their receiving threads: one hop fewer between a slice's
                # end and the next slice's start, for which the trainer waits.
                attempt.take = lambda answer: self._absorb(exp, job, answer, place)
                actor.handle.run.remote(job).future().add_done_callback(attempt.answered)

            try:
                try:
                    await loop.run_in_executor(self.executor, send)
                    result, taken = await asyncio.wait_for(attempt.future,
                                                           job.seconds + MARGIN)
                except DEAD as exc:
                    attempt.give_up()
                    place.revision = None
                    self._drop(actor, exc)
                    failures += 1
                    if time.monotonic() > until:
                        raise WorkerError(f"the Ray trainers failed for {RETRY:g} s ({exc}); "
                                          "press play to try again") from exc
                    await asyncio.sleep(min(1.0, 0.1 * failures))
                    continue
            finally:
                self._done(place)
                cancelled = job.id in self.cancelled
                self.cancelled.discard(job.id)
            if result.error:
                raise WorkerError(result.error)
            return result if taken else None

    def cancel(self, job: Job) -> None:
        with self.lock:
            place = self.placed.get(job.exp_id)
            actor = self.actors[place.slot] if place is not None and \
                0 <= place.slot < len(self.actors) else None
        if not job.id:
            return
        self.cancelled.add(job.id)
        if actor is not None:
            actor.handle.cancel.remote(job.id)

    def _forget(self, slot: int, exp_id: str) -> None:
        with self.lock:
            actor = self.actors[slot] if 0 <= slot < len(self.actors) else None
        if actor is not None:
            actor.handle.forget.remote(exp_id)

    async def close(self) -> None:
        """Stop looking at the cluster and disconnect (the actors stay: they are the
        cluster's, shared by the replicas; a stopped cluster takes them)."""
        self.closing.set()
        await asyncio.to_thread(self.refresher.join, REFRESH + 1)
        self.executor.shutdown(wait=False)
        if self.connected:
            with contextlib.suppress(Exception):
                ray.shutdown()


