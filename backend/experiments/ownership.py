"""Which API replica serves what, when several share one PostgreSQL database.

Every experiment belongs to a unit: "experiment:<id>", or "class:<id>" for a student's
(the class's owner serves the class and all its students' experiments, so that the
teacher's views, holds and resets stay in one process). Each unit has one owner replica
at a time, a lease row in the database; a replica is alive while its heartbeat row is
fresh (settings.replica_ttl). The owner holds the unit's experiments in memory exactly as
one server does, and is their one writer; the others forward to it (backend/api/forward).

`Solo` is the default mode's: one server owns everything and no table is touched.
`Ownership` is the shared mode's: a heartbeat, claims and releases, a sweeper that resumes
the runs of replicas that died, and per-address counts across replicas.

Why a replica steals a lease only once its own heartbeat has landed for replica_ttl: after
a database outage every heartbeat is stale, and the first replica back would otherwise
take every unit from the others, which are alive and about to beat too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from .store import Store, StoreError
from .tokens import new_id

if TYPE_CHECKING:
    from .classes import Classes
    from .service import Service

log = logging.getLogger("playground.replicas")
Owner = tuple[str, str]  # (replica id, its url)
REMOTE_CACHE = 1.0  # seconds a unit's other owner is believed without asking again
SWEEP = 1.5  # seconds between looks for runs of dead replicas


class Moved(RuntimeError):
    """Another live replica serves this (the forwarding middleware sends requests there;
    one that came here meanwhile is answered 503: ask again)."""


def experiment_unit(exp_id: str) -> str:
    return f"experiment:{exp_id}"


def class_unit(class_id: str) -> str:
    return f"class:{class_id}"


class Solo:
    """One server, the default: it owns every unit, and nothing is asked or told."""

    shared = False
    replica = ""
    secret = ""

    async def start(self, service: Service, classes: Classes) -> None:
        pass

    async def stop(self) -> None:
        pass

    def prepare_stop(self) -> None:
        """Before the service pauses its runs for a shutdown."""

    def acquire(self, exp_id: str) -> None:
        """Before an experiment is loaded here: raises Moved if another replica holds it."""

    def acquire_unit(self, unit: str) -> None:
        pass

    def created(self, exp_id: str) -> None:
        """A new experiment here: this replica owns it."""

    def joined(self, exp_id: str, class_id: str) -> None:
        """A new student's experiment: from now on part of the class's unit."""

    def released(self, exp_id: str) -> None:
        """The experiment left memory here (evicted or deleted)."""

    def fence(self, exp_id: str) -> tuple[str, str] | None:
        """What a save must hold to land: nothing, alone."""
        return None

    async def owner(self, unit: str) -> Owner | None:
        """Who serves the unit: None for this replica."""
        return None

    async def unit_of(self, exp_id: str) -> str:
        return experiment_unit(exp_id)

    def run_started(self, exp_id: str, client: str, target: int | None) -> None:
        pass

    def run_ended(self, exp_id: str) -> None:
        pass

    async def flush(self) -> None:
        """Until the runs and counts told so far are in the database."""

    async def running_elsewhere(self, client: str) -> int:
        return 0

    async def used_elsewhere(self, kind: str, client: str) -> int:
        return 0

    def use(self, kind: str, client: str, count: int) -> None:
        pass


class Ownership(Solo):
    """One replica among several on a shared database (settings.shared)."""

    shared = True

    def __init__(self, url: str, ttl: float) -> None:
        self.url = url
        self.ttl = ttl
        self.replica = new_id()  # per process: a restarted replica holds nothing of before
        self.secret = ""
        self.service: Service | None = None
        self.classes: Classes | None = None
        self.held: dict[str, float] = {}  # unit -> when it was claimed
        self.units: dict[str, str] = {}  # experiment id -> its unit (asked once)
        self.remote: dict[str, tuple[Owner, float]] = {}  # unit -> (its owner, believed until)
        self.beat_at = 0.0  # time.time() of the last heartbeat that landed
        self.fresh_since: float | None = None  # heartbeats landing, without a gap, since
        # What the database should say about this replica's runs and clients, and what it
        # says as far as this replica wrote it: a syncer writes the difference, again after
        # a failure (the database restarted), so nothing is lost to an outage.
        self.running: dict[str, tuple[str, int | None]] = {}
        self.written: dict[str, tuple[str, int | None]] = {}
        self.uses: dict[tuple[str, str], int] = {}
        self.written_uses: dict[tuple[str, str], int] = {}
        self._dirty = asyncio.Event()
        self._sync_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._failing = False
        self.handover: dict[str, tuple[str, int | None]] = {}  # runs a shutdown stopped

    @property
    def store(self) -> Store:
        assert self.service is not None
        return self.service.store

    # life ---------------------------------------------------------------------------------
    async def start(self, service: Service, classes: Classes) -> None:
        self.service, self.classes = service, classes
        self.secret = await asyncio.to_thread(self.store.secret)
        await self._beat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._heartbeats()), loop.create_task(self._syncer()),
                       loop.create_task(self._sweeper())]

    async def stop(self) -> None:
        """After the service stopped its runs: leave the database clean (no leases, no
        counts), and hand the runs it stopped to the others, who resume them."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        handed = self.handover
        try:
            await asyncio.to_thread(self.store.forget_replica, self.replica)
            # Rows of a replica that is gone: the others' sweepers resume them.
            for exp_id, (client, target) in handed.items():
                await asyncio.to_thread(self.store.set_running, exp_id, self.replica, client,
                                        target)
        except StoreError as exc:
            log.warning("could not leave the database clean: %s", exc)

    def prepare_stop(self) -> None:
        """Before the service pauses its runs for a shutdown: remember them (to hand over)."""
        self.handover = dict(self.running)

    # heartbeat ----------------------------------------------------------------------------
    def alive_cutoff(self) -> float:
        return time.time() - self.ttl

    def may_steal(self) -> bool:
        """Whether this replica may take units of replicas gone silent: only once its own
        heartbeat has landed for replica_ttl, and lately."""
        now = time.time()
        return self.fresh_since is not None and now - self.fresh_since >= self.ttl and \
            now - self.beat_at < self.ttl

    def fence(self, exp_id: str) -> tuple[str, str] | None:
        """(unit, this replica): a save lands only while no other replica holds the unit."""
        return self._unit_of(exp_id), self.replica

    async def _beat(self) -> None:
        await asyncio.to_thread(self.store.heartbeat, self.replica, self.url)
        now = time.time()
        if self.fresh_since is None or now - self.beat_at >= self.ttl:
            self.fresh_since = now
        self.beat_at = now

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 5)
            try:
                await self._beat()
                await self._check_leases()
                if self._failing:
                    log.warning("the database answers again")
                self._failing = False
            except StoreError as exc:
                if not self._failing:
                    log.warning("heartbeat failed (the others take over after %g s): %s",
                                self.ttl, exc)
                self._failing = True
            except Exception:
                log.exception("heartbeat failed")

    async def _check_leases(self) -> None:
        """Units another replica took (this one was silent too long) leave memory here."""
        asked = time.time()
        mine = set(await asyncio.to_thread(self.store.leases_of, self.replica))
        lost = [u for u, at in self.held.items() if at < asked and u not in mine]
        for unit in lost:
            self.held.pop(unit, None)
            log.warning("lost %s to another replica", unit)
            if self.service is not None:
                await self.service.lose([e for e, u in self.units.items() if u == unit])

    # units --------------------------------------------------------------------------------
    def _unit_of(self, exp_id: str) -> str:
        unit = self.units.get(exp_id)
        if unit is None:
            unit = self.store.unit_of(exp_id)
            if len(self.units) > 100_000:
                self.units.clear()
            self.units[exp_id] = unit
        return unit

    async def unit_of(self, exp_id: str) -> str:
        unit = self.units.get(exp_id)
        return unit if unit is not None else await asyncio.to_thread(self._unit_of, exp_id)

    def _claim(self, unit: str) -> Owner:
        """Take the unit if nobody holds it (or, when allowed, if its holder is gone)."""
        cutoff = self.alive_cutoff() if self.may_steal() else 0.0
        holder, url = self.store.claim(unit, self.replica, cutoff)
        if holder == self.replica:
            self._took(unit)
        return holder, url

    def _took(self, unit: str) -> None:
        if unit in self.held:
            return
        self.held[unit] = time.time()
        self.remote.pop(unit, None)
        if unit.startswith("class:") and self.classes is not None:
            # Another replica may have locked or unlocked it since this one started.
            self.classes.adopt(unit.removeprefix("class:"))

    def acquire(self, exp_id: str) -> None:
        self.acquire_unit(self._unit_of(exp_id))

    def acquire_unit(self, unit: str) -> None:
        if unit in self.held:
            return
        holder, _ = self._claim(unit)
        if holder != self.replica:
            raise Moved(f"another server of this site serves {unit.split(':')[0]} "
                        f"{unit.split(':', 1)[1]!r} now; ask again in a few seconds")

    def created(self, exp_id: str) -> None:
        self.units[exp_id] = experiment_unit(exp_id)
        self.acquire_unit(experiment_unit(exp_id))

    def joined(self, exp_id: str, class_id: str) -> None:
        self.units[exp_id] = class_unit(class_id)
        self.held.pop(experiment_unit(exp_id), None)
        self.store.release(experiment_unit(exp_id), self.replica)

    def released(self, exp_id: str) -> None:
        """Give up the experiment's unit once nothing of it stays in memory here (a class's
        stays while any of its students' experiments, or its teacher's feed, is here)."""
        unit = self.units.get(exp_id)
        if unit is None or unit not in self.held:
            return
        service = self.service
        if service is not None and any(self.units.get(e) == unit for e in service.experiments):
            return
        if unit.startswith("class:") and self.classes is not None and \
                self.classes.watched(unit.removeprefix("class:")):
            return
        self.held.pop(unit, None)
        self.store.release(unit, self.replica)

    async def owner(self, unit: str) -> Owner | None:
        if unit in self.held:
            return None
        cached = self.remote.get(unit)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        row = await asyncio.to_thread(self.store.lease_holder, unit)
        if row is None:
            return None  # nobody holds it: served here (the route claims it on load)
        holder, url, seen = row
        if holder == self.replica:
            self._took(unit)
            return None
        if seen < self.alive_cutoff():  # its holder went silent: take it over if allowed
            holder, url = await asyncio.to_thread(self._claim, unit)
            if holder == self.replica:
                return None
        else:
            self.remote[unit] = ((holder, url), time.monotonic() + REMOTE_CACHE)
        return holder, url

    def forget_owner(self, unit: str) -> None:
        self.remote.pop(unit, None)

    async def holder_gone(self, unit: str, owner: Owner) -> bool:
        """Whether `owner`, which did not answer, is past its heartbeat's ttl."""
        row = await asyncio.to_thread(self.store.lease_holder, unit)
        return row is None or row[0] != owner[0] or row[2] < self.alive_cutoff()

    # runs and counts ----------------------------------------------------------------------
    def run_started(self, exp_id: str, client: str, target: int | None) -> None:
        self.running[exp_id] = (client, target)
        self._dirty.set()

    def run_ended(self, exp_id: str) -> None:
        self.running.pop(exp_id, None)
        self._dirty.set()

    def use(self, kind: str, client: str, count: int) -> None:
        if count:
            self.uses[kind, client] = count
        else:
            self.uses.pop((kind, client), None)
        self._dirty.set()

    async def flush(self) -> None:
        async with self._sync_lock:
            self._dirty.clear()
            for exp_id in set(self.running) | set(self.written):
                want, have = self.running.get(exp_id), self.written.get(exp_id)
                if want == have:
                    continue
                # marked first: a count asked meanwhile errs on the generous side
                if want is None:
                    self.written.pop(exp_id, None)
                else:
                    self.written[exp_id] = want
                try:
                    if want is None:
                        await asyncio.to_thread(self.store.clear_running, exp_id, self.replica)
                    else:
                        await asyncio.to_thread(self.store.set_running, exp_id, self.replica,
                                                *want)
                except BaseException:
                    if have is None:
                        self.written.pop(exp_id, None)
                    else:
                        self.written[exp_id] = have
                    self._dirty.set()
                    raise
            for key in set(self.uses) | set(self.written_uses):
                count = self.uses.get(key, 0)
                if self.written_uses.get(key, 0) == count:
                    continue
                await asyncio.to_thread(self.store.set_client_use, self.replica, *key, count)
                if count:
                    self.written_uses[key] = count
                else:
                    self.written_uses.pop(key, None)

    async def _syncer(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.ttl / 5)
            try:
                await self.flush()
            except StoreError:
                await asyncio.sleep(self.ttl / 5)  # the heartbeat logs the outage
            except Exception:
                log.exception("could not write this replica's runs")
                await asyncio.sleep(self.ttl / 5)

    async def running_elsewhere(self, client: str) -> int:
        """Runs of `client` on the other live replicas (the rows of this one subtracted)."""
        try:
            total = await asyncio.to_thread(self.store.count_running, client,
                                            self.alive_cutoff())
        except StoreError:
            return 0  # a limit's count must not stop training when the database hiccups
        return max(0, total - sum(1 for c, _ in self.written.values() if c == client))

    async def used_elsewhere(self, kind: str, client: str) -> int:
        try:
            return await asyncio.to_thread(self.store.client_use, kind, client,
                                           self.alive_cutoff(), self.replica)
        except StoreError:
            return 0

    # the runs of replicas that died -------------------------------------------------------
    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(SWEEP)
            if not self.may_steal():
                continue
            try:
                await self.sweep()
            except StoreError:
                pass  # the heartbeat logs the outage
            except Exception:
                log.exception("resuming the runs of a replica that stopped failed")

    async def sweep(self) -> int:
        """Resume the runs whose replica is gone, from their last save, where this replica
        now holds their unit; returns how many it resumed."""
        assert self.service is not None
        resumed = 0
        for exp_id, client, target in await asyncio.to_thread(
                self.store.orphaned_runs, self.alive_cutoff(), self.replica):
            unit = await self.unit_of(exp_id)
            holder, _ = await asyncio.to_thread(self._claim, unit)
            if holder != self.replica:
                continue  # its holder resumes it
            try:
                if await self.service.resume(exp_id, client, target):
                    resumed += 1
                    log.info("resumed experiment %s of a replica that stopped", exp_id)
            except RuntimeError as exc:  # at max_running: the next sweep tries again
                log.warning("cannot resume experiment %s yet: %s", exp_id, exc)
                continue
            # Resumed: its row is this replica's now; not resumable: the row goes.
            self.written.pop(exp_id, None)
            self._dirty.set()
            if exp_id not in self.running:
                await asyncio.to_thread(self.store.set_running, exp_id, self.replica, client,
                                        target)
                await asyncio.to_thread(self.store.clear_running, exp_id, self.replica)
        return resumed
