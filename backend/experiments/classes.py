"""A teacher's class: one starting point, a roster of students, an experiment each.

A class is a thin layer over the service. A student's experiment is an ordinary one
(imported from the class's starting point): trained, watched, shared like any other,
with its own edit token that only the student gets. The class remembers who is who and
holds a hash of the teacher's token. Its starting point is kept as an export (config,
weights, curve, uploaded points), so a lesson preset, a share and a teacher's own
experiment all start every student alike, weights included.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from .experiment import Conflict, Experiment, ExperimentError
from .lessons import LESSONS
from .ownership import Moved, class_unit
from .service import Forbidden, NotFound, Service
from .store import StoreError
from .tokens import hash_token, new_id, new_token, token_matches

MAX_NAME = 40  # a student's name, in characters
MAX_TITLE = 80  # a class's name
LOCKED = "your teacher has paused the class: wait until they unlock it"
CURVE_POINTS = 200  # a student's loss curve in the results, at most
SourceKind = Literal["config", "lesson", "share", "experiment"]


@dataclass(frozen=True)
class ClassLimits:
    max_students: int = 300  # per class: a lecture hall
    max_classes: int = 10_000  # stored at once; a create past it answers 507
    concurrency: int = 8  # students paused or restarted at once (each is a save)


@dataclass(frozen=True)
class Source:
    """Where a starting point comes from, as a request names it (exactly one kind)."""

    kind: SourceKind
    config: dict[str, Any] | None = None
    ref: str = ""  # the lesson's, share's or experiment's id
    preset: int = 0  # a lesson's preset


@dataclass
class Class:
    id: str
    token_hash: str
    name: str
    start: dict[str, Any]  # the starting point's summary (see Classes.starting_point)
    created: float
    updated: float
    locked: bool = False  # by the teacher: students may not train (see Classes.lock)
    options: dict[str, Any] = field(default_factory=dict)  # {"seed_per_student": bool}

    @property
    def seed_per_student(self) -> bool:
        return bool(self.options.get("seed_per_student"))

    def seed_of(self, number: int) -> int | None:
        """The seed of the student who joined `number`th: the starting point's seed plus
        that number, when the class gives each their own and the starting point's weights
        are fresh (epoch 0). Weights trained before are the starting point itself: every
        student gets them as they are."""
        if not self.seed_per_student or self.start["epoch"] != 0:
            return None
        return (int(self.start["config"].get("seed", 0)) + number) % 2**32


def check_name(raw: str, limit: int = MAX_NAME, what: str = "name") -> tuple[str, str]:
    """A name as shown (trimmed, inner spaces collapsed) and its key: two names that look
    alike (case, width, composed accents) have the same key, so they cannot both join."""
    shown = " ".join(unicodedata.normalize("NFC", raw).split())
    if not shown:
        raise ExperimentError(f"{what}: type a name (1 to {limit} characters)")
    if len(shown) > limit:
        raise ExperimentError(f"{what}: at most {limit} characters, not {len(shown)}")
    for ch in shown:
        category = unicodedata.category(ch)
        if category in ("Cc", "Co", "Cs", "Cn", "Zl", "Zp") or \
                (category == "Cf" and ch != "\u200d"):  # ZWJ joins emoji; others hide
            raise ExperimentError(f"{what}: only printable characters, not "
                                  f"U+{ord(ch):04X}")
    return shown, unicodedata.normalize("NFKC", shown).casefold()


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a space, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0].rstrip(",:;") + "…"


def output_kind(config: dict[str, Any]) -> str:
    """How the page colours the output grid (as frontend/main.js decides)."""
    if config.get("problem") == "regression":
        return "scale"
    if config.get("dataset", {}).get("classes", 2) > 2 or \
            config.get("output_activation") == "softmax":
        return "classes"
    return "probability" if config.get("output_activation") in ("auto", "sigmoid") else "signed"


def describe(config: dict[str, Any]) -> str:
    """A config in a few words, for the teacher: 'spiral, 8-8 tanh, sgd 0.03'."""
    layers = config.get("hidden_layers") or []
    units = "-".join(str(h.get("units", h.get("filters", "?"))) for h in layers)
    acts = {h.get("activation") for h in layers if h.get("activation")}
    net = f"{units} {'/'.join(sorted(acts))}".strip() if layers else "no hidden layer"
    opt = config.get("optimizer", {})
    return f"{config.get('dataset', {}).get('name', '?')}, {net}, " \
           f"{opt.get('name', '?')} {opt.get('learning_rate', '')}".strip()


class ClassStore(Protocol):
    """What classes keep: their rows and their rosters (the Store's class tables)."""

    def save_class(self, id: str, token_hash: str, name: str, start: dict[str, Any],
                   state: dict[str, Any], options: dict[str, Any] | None = None) -> None: ...
    def load_class(self, id: str) -> dict[str, Any] | None: ...
    def set_class_locked(self, id: str, locked: bool) -> None: ...
    def locked_classes(self, before: float | None = None) -> list[str]: ...
    def load_class_state(self, id: str) -> dict[str, Any] | None: ...
    def set_class_start(self, id: str, start: dict[str, Any],
                        state: dict[str, Any]) -> None: ...
    def count_classes(self) -> int: ...
    def delete_classes_before(self, cutoff: float) -> int: ...
    def add_student(self, class_id: str, name_key: str, name: str, experiment_id: str,
                    limit: int) -> str: ...
    def class_students(self, class_id: str) -> list[dict[str, Any]]: ...
    def remove_student(self, class_id: str, experiment_id: str) -> bool: ...


class Classes:
    """The classes of one server, over its service (one door to the experiments)."""

    def __init__(self, service: Service, store: ClassStore,
                 limits: ClassLimits | None = None) -> None:
        self.service = service
        self.store = store  # the classes' own records; experiments go through the service
        self.limits = limits or ClassLimits()
        self.versions: dict[str, int] = {}  # bumped when a roster or start changes (feeds)
        self._locks: dict[str, asyncio.Lock] = {}  # one new start at a time per class
        self._expired_at = 0.0
        self._kinds: dict[str, tuple[int, str]] = {}  # experiment -> (revision, output kind)
        self._gates: dict[str, asyncio.Lock] = {}  # one lock, unlock or held join at a time
        self.watching: dict[str, int] = {}  # class -> teacher feeds open here
        # A lock outlives the server: its students may not train after a restart either.
        for class_id in self.store.locked_classes():
            service.hold((s["experiment_id"] for s in self.students(class_id)), LOCKED)

    def adopt(self, class_id: str) -> None:
        """Replicas: this one now serves the class; its lock as stored now (another replica
        may have locked or unlocked it since this one started) holds its students here."""
        row = self.store.load_class(class_id)
        if row is None:
            return
        students = [s["experiment_id"] for s in self.students(class_id)]
        if row["locked"]:
            self.service.hold(students, LOCKED)
        else:
            self.service.release(students)

    def watched(self, class_id: str) -> bool:
        return bool(self.watching.get(class_id))

    def changed(self, class_id: str) -> None:
        self.versions[class_id] = self.versions.get(class_id, 0) + 1

    # lookup and auth ----------------------------------------------------------------------
    def get(self, class_id: str) -> Class:
        row = self.store.load_class(class_id) if len(class_id) <= 64 else None
        if row is None:
            raise NotFound(f"no class {class_id!r}: check the link (it is /c/<id>)")
        return Class(**row)

    def authorize(self, cls: Class, token: str | None) -> Class:
        if not token_matches(token, cls.token_hash):
            raise Forbidden("this needs the class's teacher token (Authorization: Bearer "
                            "<teacher_token>), and this one is not it")
        return cls

    def can_teach(self, cls: Class, token: str | None) -> bool:
        return bool(token) and token_matches(token, cls.token_hash)

    # starting points ----------------------------------------------------------------------
    async def starting_point(self, source: Source,
                             generation: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(summary, state): the source as an export, checked and ready to import, and a
        summary of it for the teacher. Nothing is left behind if it fails."""
        s = self.service
        if source.kind in ("config", "lesson"):
            config = source.config if source.kind == "config" else self._preset(source)
            try:
                parsed = s.parse(config)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                msg = str(first["msg"]).removeprefix("Value error, ")
                raise ExperimentError(f"config.{where}: {msg}" if where else
                                      f"config: {msg}") from None
            # The service builds it (seeded weights, as a create would), then it goes.
            exp, _ = await s.create(parsed)
            try:
                state = await s.export(exp)
            finally:
                await s.delete(exp)
        elif source.kind == "share":
            try:
                state = await asyncio.to_thread(s.load_share, source.ref)
            except NotFound:
                raise ExperimentError(f"share_id: no share {source.ref!r} (the last part of "
                                      "a /s/<share_id> link)") from None
            # A share may be older than this server's limits: every join would fail.
            exp, _ = await s.import_(state)
            await s.delete(exp)
        else:
            try:
                try:
                    exp = await asyncio.to_thread(s.get, source.ref)
                except Moved:  # another replica holds it: as it was last saved
                    exp = await asyncio.to_thread(s.peek, source.ref)
            except NotFound:
                raise ExperimentError(f"experiment_id: no experiment {source.ref!r}") from None
            state = await s.export(exp)
        # Students start paused and clean, whatever the source was doing; their
        # experiments are created now, not when the source was.
        state = {k: v for k, v in state.items() if k not in ("created", "updated")}
        state.update(status="paused", message="")
        config = state["config"]
        summary = {"kind": source.kind, "ref": source.ref or None,
                   "preset": source.preset if source.kind == "lesson" else None,
                   "label": self._label(source, config, int(state["model"]["epoch"])),
                   "epoch": int(state["model"]["epoch"]), "config": config,
                   "output_kind": output_kind(config), "generation": generation,
                   "since": time.time()}
        return summary, state

    def _preset(self, source: Source) -> dict[str, Any]:
        lesson = LESSONS.get(source.ref)
        if lesson is None:
            raise ExperimentError(f"lesson: no lesson {source.ref!r}; one of "
                                  f"{', '.join(LESSONS)} (GET /api/lessons)")
        if not 0 <= source.preset < len(lesson.presets):
            raise ExperimentError(f"preset: lesson {lesson.id!r} has presets 0 to "
                                  f"{len(lesson.presets) - 1}")
        return lesson.presets[source.preset].config

    def _label(self, source: Source, config: dict[str, Any], epoch: int) -> str:
        at = f" at epoch {epoch}" if epoch else ""
        if source.kind == "lesson":
            lesson = LESSONS[source.ref]
            return f"{lesson.title}: {lesson.presets[source.preset].label}"
        if source.kind == "share":
            return f"shared network {source.ref}{at} ({describe(config)})"
        if source.kind == "experiment":
            return f"experiment {source.ref[:8]}…{at} ({describe(config)})"
        return describe(config)

    # classes ------------------------------------------------------------------------------
    async def create(self, name: str, source: Source,
                     seed_per_student: bool = True) -> tuple[Class, str]:
        await self._expire()
        stored = await asyncio.to_thread(self.store.count_classes)
        if stored >= self.limits.max_classes:
            raise StoreError(f"the server stores {stored} classes, its limit; try again "
                             "once old ones have expired")
        title = check_name(name, MAX_TITLE, "name")[0] if name.strip() else ""
        summary, state = await self.starting_point(source, 1)
        class_id, token = new_id(), new_token()
        if not title:  # a lesson's title, or what it starts from
            title = LESSONS[source.ref].title if source.kind == "lesson" else \
                shorten(f"Class: {summary['label']}", MAX_TITLE)
        await asyncio.to_thread(self.store.save_class, class_id, hash_token(token), title,
                                summary, state, {"seed_per_student": seed_per_student})
        return self.get(class_id), token

    async def _expire(self) -> None:
        """Classes unchanged for the experiments' retention period go, checked at most
        hourly (on a create: only creates add classes)."""
        days = self.service.settings.retention_days
        if not days or time.time() - self._expired_at < 3600:
            return
        self._expired_at = time.time()
        cutoff = time.time() - days * 86_400
        for class_id in await asyncio.to_thread(self.store.locked_classes, cutoff):
            students = await asyncio.to_thread(self.students, class_id)
            self.service.release(s["experiment_id"] for s in students)
        await asyncio.to_thread(self.store.delete_classes_before, cutoff)

    def students(self, class_id: str) -> list[dict[str, Any]]:
        return self.store.class_students(class_id)

    # students -----------------------------------------------------------------------------
    async def join(self, class_id: str,
                   name: str) -> tuple[dict[str, Any], Experiment, str, dict[str, Any]]:
        """A seat and an experiment of one's own, from the class's starting point:
        (the student, their experiment, its edit token, the class's starting point)."""
        cls = await asyncio.to_thread(self.get, class_id)
        ownership = self.service.ownership
        if ownership.shared:  # the class's owner seats its students (and holds them)
            await asyncio.to_thread(ownership.acquire_unit, class_unit(class_id))
        shown, key = check_name(name)
        seated = await self._free_seat_of_gone(class_id, key)
        self._check_seat(key, shown, seated)  # before building anything
        state = await asyncio.to_thread(self.store.load_class_state, class_id)
        if state is None:
            raise NotFound(f"no class {class_id!r}")
        exp, token = await self.service.import_(state)
        outcome = await asyncio.to_thread(self.store.add_student, class_id, key, shown, exp.id,
                                          self.limits.max_students)
        if outcome != "added":  # someone took the name (or the last seat) meanwhile
            await self.service.delete(exp)
            self._check_seat(key, shown, await asyncio.to_thread(self.students, class_id))
            raise Conflict(f"the name {shown!r} was taken a moment ago; choose another")
        if ownership.shared:
            await asyncio.to_thread(ownership.joined, exp.id, class_id)
        self.changed(class_id)
        student = next(s for s in await asyncio.to_thread(self.students, class_id)
                       if s["key"] == key)
        async with self._gate(class_id):  # a lock or unlock now waits: held as the class is
            now = await asyncio.to_thread(self.get, class_id)
            if now.locked:
                self.service.hold([exp.id], LOCKED)
        seed = now.seed_of(student["number"])
        if now.start["generation"] != cls.start["generation"]:
            # A new starting point came while this student joined, after the teacher's
            # restart listed the roster: follow it.
            state = await asyncio.to_thread(self.store.load_class_state, class_id)
            if state is not None:
                await self._restart_one(exp, now.start, state, seed)
        elif seed is not None:
            await self.service.reset(exp, seed)
        return student, exp, token, now.start

    def _gate(self, class_id: str) -> asyncio.Lock:
        return self._gates.setdefault(class_id, asyncio.Lock())

    async def _free_seat_of_gone(self, class_id: str, key: str) -> list[dict[str, Any]]:
        """The roster, without the seat of this name if its experiment was deleted (by its
        student, or expired): that name may join again."""
        seated = await asyncio.to_thread(self.students, class_id)
        taken = next((s for s in seated if s["key"] == key), None)
        if taken is None or await asyncio.to_thread(self.lookup, taken["experiment_id"]):
            return seated
        await asyncio.to_thread(self.store.remove_student, class_id, taken["experiment_id"])
        self.changed(class_id)
        return [s for s in seated if s is not taken]

    def _check_seat(self, key: str, shown: str, seated: list[dict[str, Any]]) -> None:
        if any(s["key"] == key for s in seated):
            raise Conflict(f"the name {shown!r} is taken in this class; add an initial or a "
                           "number (if it is you, open the link in the browser you joined "
                           "with)")
        if len(seated) >= self.limits.max_students:
            raise Conflict(f"the class is full: {self.limits.max_students} students, the "
                           "limit per class")

    def lookup(self, exp_id: str) -> Experiment | None:
        """A student's experiment, or None once deleted (by its student, or expired)."""
        try:
            exp = self.service.get(exp_id)
        except (NotFound, ExperimentError):
            return None
        return None if exp.closed.is_set() else exp

    def student_row(self, student: dict[str, Any], exp: Experiment | None) -> dict[str, Any]:
        """A student with their experiment as it is now (status "gone" once deleted)."""
        row = {"name": student["name"], "experiment_id": student["experiment_id"],
               "joined": student["joined"], "number": student["number"]}
        if exp is None:
            return {**row, "epoch": None, "status": "gone", "running": False,
                    "message": "the experiment was deleted", "metrics": {},
                    "output_kind": None, "seed": None}
        with exp.lock:
            row.update(epoch=exp.epoch, status=exp.status, message=exp.message,
                       metrics=exp.public_metrics(), seed=exp.config.seed)
            kind = self._kinds.get(exp.id)
            if kind is None or kind[0] != exp.revision:  # a feed asks thrice a second
                kind = (exp.revision, output_kind(exp.config.model_dump(mode="json")))
                self._kinds[exp.id] = kind
        row.update(output_kind=kind[1], running=self.service.running(exp))
        return row

    async def roster(self, class_id: str) -> list[dict[str, Any]]:
        """Every student with their experiment (loaded from the store if need be: off the
        event loop)."""
        def rows() -> list[dict[str, Any]]:
            return [self.student_row(s, self.lookup(s["experiment_id"]))
                    for s in self.students(class_id)]

        return await asyncio.to_thread(rows)

    async def remove(self, cls: Class, experiment_id: str) -> None:
        """Take a student off the roster (their name is free again) and delete their
        experiment: it was made for the class."""
        if not await asyncio.to_thread(self.store.remove_student, cls.id, experiment_id):
            raise NotFound(f"no student of this class has experiment {experiment_id!r}")
        self.changed(cls.id)
        self.service.release([experiment_id])
        try:
            exp = await asyncio.to_thread(self.service.get, experiment_id)
        except (NotFound, ExperimentError):
            return
        await self.service.delete(exp)

    # the whole class ----------------------------------------------------------------------
    async def _each(self, class_id: str,
                    act: Callable[[Experiment, dict[str, Any]], Awaitable[bool]]
                    ) -> tuple[list[str], list[dict[str, Any]]]:
        """`act` on every student's experiment, a few at a time; (names it acted on,
        failures with the reason). A failure for one student never stops the others."""
        gate = asyncio.Semaphore(self.limits.concurrency)
        done: list[str] = []
        failed: list[dict[str, Any]] = []

        async def one(student: dict[str, Any]) -> None:
            async with gate:
                try:
                    exp = await asyncio.to_thread(self.service.get, student["experiment_id"])
                    if await act(exp, student):
                        done.append(student["name"])
                except Exception as exc:  # reported per student, below
                    failed.append({"name": student["name"],
                                   "experiment_id": student["experiment_id"],
                                   "error": str(exc) or type(exc).__name__})

        await asyncio.gather(*(one(s) for s in await asyncio.to_thread(self.students,
                                                                       class_id)))
        return done, failed

    async def pause_all(self, cls: Class) -> tuple[list[str], list[dict[str, Any]]]:
        """Pause every running student (each saved, as a pause is); returns who was."""
        async def pause(exp: Experiment, student: dict[str, Any]) -> bool:
            if not self.service.running(exp):
                return False
            await self.service.pause(exp)
            return True

        return await self._each(cls.id, pause)

    async def lock(self, cls: Class) -> tuple[list[str], list[dict[str, Any]]]:
        """Pause every student and keep them paused: until unlock, the service refuses
        their play, step and train (REST or websocket). Stored with the class, so it
        holds after a restart too. Returns who was paused, as pause_all."""
        async with self._gate(cls.id):
            await asyncio.to_thread(self.store.set_class_locked, cls.id, True)
            students = await asyncio.to_thread(self.students, cls.id)
            self.service.hold((s["experiment_id"] for s in students), LOCKED)
            self.changed(cls.id)
        # Held first, then paused: a play pressed meanwhile is refused, or paused here.
        return await self.pause_all(cls)

    async def unlock(self, cls: Class) -> None:
        async with self._gate(cls.id):
            await asyncio.to_thread(self.store.set_class_locked, cls.id, False)
            students = await asyncio.to_thread(self.students, cls.id)
            self.service.release(s["experiment_id"] for s in students)
            self.changed(cls.id)

    async def restart(self, cls: Class,
                      source: Source) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
        """A new starting point for the class: new joiners get it, and every student's
        experiment is reset to it (config, weights, curve), each whole or not at all."""
        async with self._locks.setdefault(cls.id, asyncio.Lock()):
            current = await asyncio.to_thread(self.get, cls.id)
            summary, state = await self.starting_point(source,
                                                       current.start["generation"] + 1)
            # The class first, then the roster: a student who joins meanwhile is either
            # listed here or sees the new generation after taking the seat (see join).
            await asyncio.to_thread(self.store.set_class_start, cls.id, summary, state)
            self.changed(cls.id)

            now = await asyncio.to_thread(self.get, cls.id)

            async def reset(exp: Experiment, student: dict[str, Any]) -> bool:
                await self._restart_one(exp, summary, state, now.seed_of(student["number"]))
                return True

            done, failed = await self._each(cls.id, reset)
        return summary, done, failed

    async def _restart_one(self, exp: Experiment, summary: dict[str, Any],
                           state: dict[str, Any], seed: int | None = None) -> None:
        if self.service.running(exp):
            await self.service.pause(exp)  # saved as it was, before it changes
        message = f"Your teacher sent a new starting point: {summary['label']}"
        await self.service.replace(exp, state, message)
        if seed is not None:  # their own fresh weights, as when they joined
            await self.service.reset(exp, seed, message)

    # results ------------------------------------------------------------------------------
    async def results(self, cls: Class) -> list[dict[str, Any]]:
        """Every student's row (as in the roster) with their test-loss curve, thinned to
        at most CURVE_POINTS points: [[epoch, loss], ...], the loss null where not finite."""
        def rows() -> list[dict[str, Any]]:
            out = []
            for student in self.students(cls.id):
                exp = self.lookup(student["experiment_id"])
                row = self.student_row(student, exp)
                row["curve"] = [] if exp is None else curve(exp)
                out.append(row)
            return out

        return await asyncio.to_thread(rows)



def curve(exp: Experiment) -> list[list[float | None]]:
    """[epoch, test loss] pairs of an experiment's curve (train loss where no test split),
    every k-th row so that at most CURVE_POINTS remain, the newest always."""
    with exp.lock:
        rows = exp.history.rows
    key = "test_loss" if any("test_loss" in r for r in rows) else "train_loss"
    step = max(1, math.ceil((len(rows) - 1) / (CURVE_POINTS - 1)))
    picked = rows[:-1:step] + rows[-1:]
    out: list[list[float | None]] = []
    for r in picked:
        v = r.get(key)
        out.append([r["epoch"], v if v is not None and math.isfinite(v) else None])
    return out


CSV_COLUMNS = ("name", "number", "joined", "seed", "epoch", "status", "train_loss",
               "test_loss", "train_accuracy", "test_accuracy")


def results_csv(rows: list[dict[str, Any]]) -> str:
    """One line per student. A cell a spreadsheet would run as a formula (a name that
    starts with =, +, - or @) is quoted with an apostrophe: names come from students."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        metrics = row.get("metrics") or {}
        name = row["name"]
        if name[:1] in ("=", "+", "-", "@", "\t", "\r"):
            name = "'" + name
        values = [name, row["number"],
                  time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["joined"])),
                  row["seed"], row["epoch"], row["status"]]
        values += [metrics.get(k) for k in CSV_COLUMNS[6:]]
        writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()
