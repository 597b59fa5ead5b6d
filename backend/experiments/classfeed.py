"""What the teacher's page watches: each student's epoch, test loss, status and a small
picture of the output, for the whole class in one binary message a few times a second.

Why one feed for the class, not the page opening each student's experiment websocket:
a student's socket carries up to 30 whole frames a second (the 100 x 100 output, every
neuron's grid, the weights); 60 students would be some 1800 frames and tens of MB a
second into one page that draws 60 thumbnails, and 60 more viewers for the server to
serve. The feed sends at most RATE messages a second, only the thumbnails that changed,
each 32 x 32 bytes: for 60 students all training, about 90 kB a message. A thumbnail is
taken from the frame a student's own page gets anyway (built once per change, cached);
for a student whose page is closed or hidden it is computed from the output alone at
32 x 32 (a tenth of a frame's points, and no neuron grids). That work gets a budget per
message; past it, the others keep their last thumbnail until the next message.

The message is a frame (docs/protocol.md's layout): a JSON header with the rows, and each
new thumbnail as a uint8 grid named by the student's experiment id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from .classes import Class, Classes
from .experiment import Experiment
from .frames import FrameWriter, decode_frame
from .ownership import Moved
from .service import NotFound

log = logging.getLogger("playground.classes")
RATE = 3.0  # messages a second, at most
THUMB = 32  # thumbnail side, in cells (20 past CROWD students)
CROWD = 100
BUILD_BUDGET = 0.1  # seconds a message may wait for frames to be built
QUIET = 5.0  # a message at least this often, changed or not: the page knows it is live


def thumbnail(grid: np.ndarray, size: int) -> np.ndarray:
    """(channels, res, res) -> (channels, n, n), n = min(size, res), sampled at the centres
    of n x n equal cells (the output is smooth: sampling loses nothing one can see)."""
    res = grid.shape[-1]
    n = min(size, res)
    idx = ((np.arange(n) + 0.5) * res / n).astype(int)
    return np.asarray(grid, dtype=np.float32)[:, idx][:, :, idx]


class ClassFeed:
    """One teacher page's view of one class: call next() at RATE."""

    def __init__(self, classes: Classes, class_id: str) -> None:
        self.classes = classes
        self.class_id = class_id
        self.sent: dict[str, tuple[int, int]] = {}  # experiment -> (watch version, revision)
        self.students: list[dict[str, Any]] = []
        self.gone: set[str] = set()  # deleted experiments: not looked up again
        self.roster_version = -1
        self.last_header = ""
        self.last_sent = 0.0
        self.turn = 0
        self.cls: Class | None = None  # read with the roster, off the event loop

    async def stream(self) -> AsyncIterator[bytes]:
        """The messages, at most RATE a second and at most half the time spent making
        them, until the class is gone (NotFound). A message that fails (a store hiccup) is
        logged and skipped: the next one tries again."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                message = await self.next()
            except (NotFound, Moved):  # gone, or taken over by another replica
                raise
            except Exception:
                log.exception("the feed of class %s failed", self.class_id)
                message = None
            if message is not None:
                yield message
            spent = loop.time() - started
            await asyncio.sleep(max(1.0 / RATE - spent, spent))

    async def _roster(self) -> None:
        version = self.classes.versions.get(self.class_id, 0)
        if version != self.roster_version:
            self.roster_version = version
            self.cls = await asyncio.to_thread(self.classes.get, self.class_id)
            self.students = await asyncio.to_thread(self.classes.students, self.class_id)
            self.gone.clear()

    async def _experiment(self, exp_id: str) -> Experiment | None:
        if exp_id in self.gone:
            return None
        exp = self.classes.service.experiments.get(exp_id)
        if exp is None:  # not in memory (or gone): ask the store off the event loop
            exp = await asyncio.to_thread(self.classes.lookup, exp_id)
        if exp is None or exp.closed.is_set():
            self.gone.add(exp_id)
            return None
        return exp

    async def next(self) -> bytes | None:
        """The next message, or None when nothing changed (and one was sent lately)."""
        await self._roster()
        exps = [await self._experiment(s["experiment_id"]) for s in self.students]
        rows = [self.classes.student_row(s, e) for s, e in zip(self.students, exps, strict=True)]
        writer = FrameWriter()
        for k, grid in (await self._thumbnails(exps, THUMB if len(rows) <= CROWD else 20)):
            writer.add_quantized(rows[k]["experiment_id"], grid)
            rows[k]["thumb"] = True
        assert self.cls is not None
        header = {"type": "class", "id": self.class_id, "name": self.cls.name,
                  "start": {k: self.cls.start.get(k) for k in
                            ("kind", "ref", "preset", "label", "epoch", "generation")},
                  "locked": self.cls.locked, "max_students": self.classes.limits.max_students,
                  "students": rows}
        text = repr(header)
        now = time.monotonic()
        if not writer.grids and text == self.last_header and now - self.last_sent < QUIET:
            return None
        self.last_header, self.last_sent = text, now
        return writer.encode({**header, "time": time.time()})

    async def _thumbnails(self, exps: list[Experiment | None],
                          size: int) -> list[tuple[int, np.ndarray]]:
        """(index, thumbnail) of each student whose network changed since the last one
        sent, as many as the budget allows: starting from another student each time, so
        that past the budget nobody waits for ever."""
        service = self.classes.service
        n = len(exps)
        first, self.turn = self.turn % max(1, n), self.turn + 1
        due = []
        for i in range(n):
            k = (first + i) % n
            exp = exps[k]
            # an output over the plane is what a card shows: image networks have none
            if exp is not None and exp.config.input_kind == "points":
                version = (service.watch(exp).version, exp.revision)
                if self.sent.get(exp.id) != version:
                    due.append((k, exp, version))
        deadline = time.monotonic() + BUILD_BUDGET
        out: list[tuple[int, np.ndarray]] = []
        # A student whose page is open has a frame made anyway (cached): take its output.
        for k, exp, version in due:
            if service.watch(exp).showing and time.monotonic() < deadline:
                grid = await self._from_frame(exp, version[0], size)
                if grid is not None:
                    out.append((k, grid))
                    self.sent[exp.id] = version
        # Nobody else watches the others: a small grid straight from the model costs a
        # fraction of a frame (1 024 points, not 10 000 and every neuron's grid).
        rest = [(k, exp, version) for k, exp, version in due
                if not service.watch(exp).showing]
        grids = await asyncio.to_thread(self._from_models, [e for _, e, _ in rest], size,
                                        deadline)
        for k, exp, version in rest:
            if exp.id in grids:
                out.append((k, grids[exp.id]))
                self.sent[exp.id] = version
        return out

    async def _from_frame(self, exp: Experiment, version: int, size: int) -> np.ndarray | None:
        try:
            frame = await self.classes.service.frame(exp, version, neurons=False)
            output = decode_frame(frame)[1]["output"]
            return thumbnail(output, size) if output.ndim == 3 else None
        except Exception:  # one student's frame must not stop the teacher's view
            log.exception("no thumbnail for experiment %s", exp.id)
            return None

    @staticmethod
    def _from_models(exps: list[Experiment], size: int,
                     deadline: float) -> dict[str, np.ndarray]:
        out = {}
        for exp in exps:
            if time.monotonic() > deadline:
                break
            try:
                out[exp.id] = np.asarray(exp.output_grid(size), dtype=np.float32)
            except Exception:  # as above
                log.exception("no thumbnail for experiment %s", exp.id)
        return out
