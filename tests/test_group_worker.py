"""Experiments of one shape train as one group on a worker: every job is answered with
what it would have been alone (weights, rows of the curve, metrics, status, frame), as
groups form, split and merge; and through the server, several running experiments of
one shape train grouped and end as they would alone."""

from __future__ import annotations

import itertools
import pickle
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.engine.group import Group
from backend.experiments.config import ExperimentConfig, parse_config
from backend.experiments.experiment import Experiment
from backend.experiments.frames import decode_frame
from backend.experiments.workers import InlineEngine, Job, Result, Worker

from .conftest import create, make_settings

SHAPE = {
    "dataset": {"name": "spiral", "n_samples": 120, "train_fraction": 0.5},
    "features": ["x1", "x2", "sin_x1", "sin_x2"],
    "hidden_layers": [{"units": 6, "activation": "tanh"}] * 3,
    "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 6,
}


def config(**over: Any) -> ExperimentConfig:
    return parse_config({**SHAPE, **over})


MEMBERS = [  # one shape: each with its own rate, seed, penalty, dropout
    config(),
    config(optimizer={"name": "adam", "learning_rate": 0.05, "decay": 0.2}, seed=3),
    config(regularization={"name": "l2", "rate": 0.003}, dropout=0.2, seed=5),
    config(optimizer={"name": "adam", "learning_rate": 0.002, "beta1": 0.8},
           dataset={"name": "xor", "n_samples": 120, "train_fraction": 0.5}),
]
ALONE = [  # another shape, and batch norm: these train alone
    config(hidden_layers=[{"units": 6, "activation": "relu"}] * 3),
    config(batch_norm=True),
]


STEPPED: Counter[int] = Counter()  # group size -> steps, while `counted` is on


@pytest.fixture(autouse=True)
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups from 2 members: the mechanics are the same, the cases smaller (in use,
    fewer than MIN_GROUP train faster alone)."""
    import backend.experiments.workers as workers

    monkeypatch.setattr(workers, "MIN_GROUP", 2)


@pytest.fixture(autouse=True)
def counted(monkeypatch: pytest.MonkeyPatch) -> None:
    step = Group.step

    def counting(self: Group, epochs: Any) -> None:
        STEPPED[self.K] += 1
        step(self, epochs)

    monkeypatch.setattr(Group, "step", counting)
    STEPPED.clear()


class Pair:
    """The same experiments on two workers: one handles the jobs of a round together,
    the other one by one. Each round's answers must agree."""

    def __init__(self, configs: dict[str, ExperimentConfig]) -> None:
        self.together, self.alone = Worker(), Worker()
        self.engine = InlineEngine()
        self.exps = {name: Experiment(name, c) for name, c in configs.items()}
        self.calls: Counter[int] = Counter()
        self.ids = itertools.count(1)

    def change(self, name: str, c: ExperimentConfig) -> None:
        """A person changed it: the next job carries the new state."""
        self.exps[name].apply_config(c, None)

    def round(self, jobs: dict[str, dict[str, Any]],
              stops: dict[str, int] | None = None) -> dict[str, tuple[Result, Result]]:
        """One job per named experiment (Job fields); `stops`: the job is cancelled after
        that many mini-batches (the worker asks after each)."""
        sent = []
        for name, fields in jobs.items():
            job = Job(name, **{"seconds": 1e9, **fields})
            self.engine._prepare(self.exps[name], job, self.engine._place(self.exps[name]))
            self.engine._done(self.engine.placed[name])
            job.id = next(self.ids)
            sent.append(job)
        stops = stops or {}

        def stop_after(job: Job) -> bool:
            self.calls[job.id] += 1
            return self.calls[job.id] >= stops.get(job.exp_id, 1 << 30)

        together: list[Result] = []
        STEPPED.clear()
        self.together.handle_all(copies(sent), stop_after, together.append)
        self.calls.clear()
        alone = [self.alone.handle(job, lambda job=job: stop_after(job))
                 for job in copies(sent)]
        self.calls.clear()
        by_id = {r.id: r for r in together}
        assert len(by_id) == len(sent)
        answers = {job.exp_id: (by_id[job.id], a) for job, a in zip(sent, alone, strict=True)}
        for name, (t, a) in answers.items():
            same(t, a, name)
            self.exps[name].model.restore(a.state)  # what the server takes in
        return answers

    def grouped(self) -> int:
        """The most networks stepped as one in the last round."""
        return max(STEPPED, default=0)


def copies(jobs: list[Job]) -> list[Job]:
    return pickle.loads(pickle.dumps(jobs))


def same_frame(t: bytes | None, a: bytes | None, name: str) -> None:
    """Frames of a group are built in one batched pass: the same but for rounding, one
    step of a quantized grid at most."""
    assert (t is None) == (a is None), name
    if t is None or a is None:
        return
    (th, tg), (ah, ag) = decode_frame(t), decode_frame(a)
    for h in (th, ah):
        h.pop("time")
        for g in h.pop("grids"):
            g.pop("low", None), g.pop("high", None)
    assert th == ah and set(tg) == set(ag), name
    for key, grid in ag.items():
        step = (grid.max() - grid.min()) / 255 if key.startswith(("layer", "inputs")) else 0
        np.testing.assert_allclose(tg[key].astype(float), grid.astype(float),
                                   atol=step + 2e-3, rtol=1e-3, err_msg=f"{name} {key}")


def same(t: Result, a: Result, name: str) -> None:
    """A job answered from a group as it was answered alone."""
    assert t.error is None and a.error is None, (name, t.error, a.error)
    assert (t.epochs, t.status, t.message, t.rows, t.metrics) == \
        (a.epochs, a.status, a.message, a.rows, a.metrics), name
    assert t.state is not None and a.state is not None
    assert (t.state.t, t.state.epoch, t.state.rng) == (a.state.t, a.state.epoch, a.state.rng)
    for x, y in zip(t.state.arrays, a.state.arrays, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7, err_msg=name)
    same_frame(t.frame, a.frame, name)


def test_jobs_handled_together_answer_as_one_by_one() -> None:
    """Four experiments of one shape (own rates, seeds, penalty, dropout, data) and two
    that cannot join them: their slices handled as one round give every job the answer
    it gets alone, over rounds that end at a count of epochs, at a target, mid-epoch by
    a pause, and from different places in their epochs; with a frame after the slice."""
    names = [f"m{i}" for i in range(len(MEMBERS))] + [f"x{i}" for i in range(len(ALONE))]
    pair = Pair(dict(zip(names, MEMBERS + ALONE, strict=True)))
    frame = (1, 12, 5, True)
    pair.round({n: {"epochs": 1 + i % 3, "frame": frame if i == 1 else None}
                for i, n in enumerate(names)})
    assert pair.grouped() == 4
    # paused mid-epoch, each after its own number of batches
    pair.round({n: {"epochs": 5} for n in names}, stops={"m0": 3, "m1": 7, "m2": 11, "x0": 4})
    places = {pair.together.copies[n]._steps.start for n in ("m0", "m1", "m2")}
    assert len(places) == 3
    # from different places in their epochs, to a target, with frames
    target = pair.together.copies["m3"].epoch + 2
    answers = pair.round({n: {"epochs": 4, "target": target if n == "m3" else None,
                              "frame": frame} for n in names})
    assert answers["m3"][0].epochs == 2 and answers["m0"][0].epochs == 4
    assert pair.grouped() == 4


def test_groups_split_and_merge_as_experiments_change_pause_join_and_leave() -> None:
    pair = Pair({f"m{i}": c for i, c in enumerate(MEMBERS)})
    pair.round({"m0": {"epochs": 2}, "m1": {"epochs": 2}, "m2": {"epochs": 2}})
    assert pair.grouped() == 3
    # m3 joins, m1 is paused (no job this round): m0, m2, m3 train together
    pair.round({"m0": {"epochs": 1}, "m2": {"epochs": 3}, "m3": {"epochs": 2}})
    assert pair.grouped() == 3
    # m2 changes its shape: it leaves; m1 comes back
    pair.change("m2", config(hidden_layers=[{"units": 5, "activation": "tanh"}] * 3,
                             seed=5, dropout=0.2))
    pair.round({n: {"epochs": 2} for n in ("m0", "m1", "m2", "m3")})
    assert pair.grouped() == 3
    # m2 back to the shape with new weights, m0 changes only its rate (same shape: stays)
    pair.change("m2", MEMBERS[2])
    pair.change("m0", config(optimizer={"name": "adam", "learning_rate": 0.03}))
    pair.round({n: {"epochs": 2} for n in ("m0", "m1", "m2", "m3")})
    assert pair.grouped() == 4
    # one alone: no group needed
    pair.round({"m1": {"epochs": 1}})
    assert pair.grouped() == 0


def test_a_member_that_diverges_in_a_group_diverges_as_alone() -> None:
    """A rate of 10 on large weights makes one member's loss NaN: it comes back diverged
    with the weights of its last good epoch and the message it gets alone; the others
    train on."""
    plane = {"problem": "regression", "features": ["x1", "x2"],
             "dataset": {"name": "reg-plane", "n_samples": 120, "train_fraction": 0.5}}
    wild = config(**plane, optimizer={"name": "sgd", "learning_rate": 10.0},
                  init={"name": "normal", "scale": 10}, seed=2)
    tame = [config(**plane, optimizer={"name": "sgd", "learning_rate": 0.01 * (i + 1)},
                   seed=i) for i in range(3)]
    pair = Pair({"t0": tame[0], "w": wild, "t1": tame[1], "t2": tame[2]})
    answers = pair.round({n: {"epochs": 6} for n in ("t0", "w", "t1", "t2")})
    result = answers["w"][0]
    assert result.status == "diverged" and "NaN" in result.message and result.epochs < 6
    assert all(np.isfinite(a).all() for a in result.state.arrays)
    for name in ("t0", "t1", "t2"):
        assert answers[name][0].status != "diverged" and answers[name][0].epochs == 6
    assert {4, 3} <= set(STEPPED)  # it diverged in the group, which went on without it


def test_a_group_whose_step_fails_answers_each_member_with_the_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Group, epochs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Group, "step", broken)
    worker, engine = Worker(), InlineEngine()
    exps = [Experiment(f"e{i}", c) for i, c in enumerate(MEMBERS[:3])]
    jobs = []
    for i, exp in enumerate(exps):
        job = Job(exp.id, epochs=1, seconds=1e9, id=i + 1)
        engine._prepare(exp, job, engine._place(exp))
        jobs.append(job)
    answers: list[Result] = []
    worker.handle_all(jobs, lambda job: False, answers.append)
    assert sorted(r.id for r in answers) == [1, 2, 3]
    assert all(r.error and "RuntimeError" in r.error for r in answers)
    assert not worker.copies and not worker.groups  # sent whole next time


def test_running_experiments_train_grouped_and_end_as_alone(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the server (the training thread of workers=0): four running experiments
    of one shape, each with its own rate and seed, train in groups, and each ends with
    the weights and curve of its config trained alone. (The training thread waits until
    all four runs have started, so that a fast machine cannot finish one before the
    next starts.)"""
    from backend.experiments import workers

    started, gather = threading.Event(), workers.gather

    def after_the_start(*args: Any) -> Any:
        assert started.wait(60)
        return gather(*args)

    monkeypatch.setattr(workers, "gather", after_the_start)
    epochs = 12
    bodies = [{**SHAPE, "seed": i, "optimizer": {"name": "adam", "learning_rate": 0.01 * (i + 1)}}
              for i in range(4)]
    with TestClient(create_app(make_settings(tmp_path))) as client:
        exps = [create(client, body) for body in bodies]
        for exp in exps:
            assert exp.post("/train", {"epochs": epochs}).status_code == 202
        started.set()
        deadline = time.monotonic() + 120
        while any(e.get().json()["running"] for e in exps):
            assert time.monotonic() < deadline, "the runs never ended"
            time.sleep(0.05)
        served = [(e.get("/weights").json()["layers"], e.get("/history").json()["rows"],
                   e.get().json()) for e in exps]
    assert max(STEPPED, default=0) > 1, "never trained as a group"
    for (layers, rows, view), body in zip(served, bodies, strict=True):
        assert view["epoch"] == epochs and view["status"] == "paused"
        alone = Experiment("alone", parse_config(body))
        alone.train_epochs(epochs)
        for served_layer, own in zip(layers, alone.weights(), strict=True):
            np.testing.assert_allclose(served_layer["W"], own["W"], rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(served_layer["b"], own["b"], rtol=1e-5, atol=1e-7)
        assert [r["epoch"] for r in rows] == list(range(epochs + 1))
        np.testing.assert_allclose([r["train_loss"] for r in rows],
                                   [r["train_loss"] for r in alone.history.to_dict()["rows"]],
                                   rtol=1e-5)


def test_a_worker_waits_briefly_for_the_rest_of_its_last_group(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a group, its members' next jobs come one by one (each run sends its next
    when it has its answer): the worker takes what is there and waits, up to its wait,
    for the members still missing, so that the group trains whole again. (On a clock of
    the test's own: messages arrive at given times, whatever the machine's speed.)"""
    from backend.experiments import workers

    clock = [0.0]
    monkeypatch.setattr(workers.time, "monotonic", lambda: clock[0])

    def source(arrivals: list[tuple[float, Any]]) -> Any:
        clock[0] = 0.0
        pending = list(arrivals)

        def get(timeout: float | None) -> Any:
            if pending and (timeout is None or pending[0][0] <= clock[0] + timeout):
                at, message = pending.pop(0)
                clock[0] = max(clock[0], at)
                return message
            clock[0] += timeout or 0.0
            return workers._NOTHING

        return get

    jobs = [Job(f"e{i}") for i in range(4)]
    late = [(0.0, jobs[0]), (0.0, "forget-me"), (0.02, jobs[1]), (0.04, jobs[2]),
            (0.5, jobs[3])]
    got = workers.gather(source(late), {"e0", "e1", "e2"}, wait=0.3)
    assert got == [jobs[0], "forget-me", jobs[1], jobs[2]]  # not e3: nobody waited for it
    got = workers.gather(source(late), {"e0", "e1", "e2"}, wait=0.03)
    assert got == [jobs[0], "forget-me", jobs[1]]  # e2 came after the wait
    got = workers.gather(source(late), set(), wait=0.3)
    assert got == [jobs[0], "forget-me"]  # nothing expected: only what is there


def test_an_answer_that_cannot_be_taken_fails_its_run_and_the_thread_goes_on() -> None:
    """The inline engine's thread takes each answer into its experiment: if that fails,
    the run awaiting it gets the error instead of waiting for ever, and the next jobs are
    served."""
    import asyncio

    engine = InlineEngine()
    exps = [Experiment(f"e{i}", c) for i, c in enumerate(MEMBERS[:2])]
    absorb = engine._absorb
    calls = Counter[str]()

    def flaky(exp: Experiment, *args: Any) -> bool:
        calls[exp.id] += 1
        if exp.id == "e0" and calls["e0"] == 1:
            raise RuntimeError("cannot take it")
        return absorb(exp, *args)

    engine._absorb = flaky  # type: ignore[method-assign]

    async def both() -> list[Any]:
        jobs = [engine.run(exp, Job(exp.id, epochs=1, seconds=1e9)) for exp in exps]
        return await asyncio.gather(*jobs, return_exceptions=True)

    first = asyncio.run(asyncio.wait_for(both(), 60))
    assert isinstance(first[0], RuntimeError) and isinstance(first[1], Result)
    again = asyncio.run(asyncio.wait_for(both(), 60))
    assert all(isinstance(r, Result) and r.epochs == 1 for r in again)
    asyncio.run(engine.close())


def grouped_frames(exps: list[Experiment], *args: Any, some: slice = slice(None)
                   ) -> list[bytes]:
    """build_frames of exps[some], members of a group of all of them (released after)."""
    from backend.experiments.frames import build_frames

    group = Group([e.model for e in exps])
    try:
        return build_frames(group, exps[some], *args)
    finally:
        group.release()


def test_a_groups_frames_built_together_are_each_ones_frame() -> None:
    """Members with their own features (of one count) and data, with and without the
    neurons' grids; all of the group's members, or some."""
    from backend.experiments.frames import build_frame

    exps = [Experiment(f"f{i}", c) for i, c in enumerate([
        *MEMBERS, config(features=["sin_x2", "x1", "x2", "sin_x1"], seed=9)])]
    for exp in exps:
        exp.train_epochs(1, time.monotonic() + 60, threading.Event())
    for neurons, some in ((True, slice(None)), (False, slice(None)), (True, slice(1, 4))):
        together = grouped_frames(exps, [7] * len(exps[some]), 12, 5, neurons, some=some)
        for exp, frame in zip(exps[some], together, strict=True):
            same_frame(frame, build_frame(exp, 7, 12, 5, neurons), exp.id)


def test_members_that_end_together_get_frames_built_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import backend.experiments.workers as workers

    sizes: list[int] = []
    batched = workers.build_frames

    def counting(group: Group, exps: list[Experiment], *args: Any) -> list[bytes]:
        sizes.append(len(exps))
        return batched(group, exps, *args)

    monkeypatch.setattr(workers, "build_frames", counting)
    pair = Pair({f"m{i}": c for i, c in enumerate(MEMBERS)})
    pair.round({f"m{i}": {"epochs": 2, "frame": (3, 12, 5, True)} for i in range(4)})
    assert sizes == [4]
    pair.round({f"m{i}": {"epochs": 1, "frame": (4, 12, 5, False)} for i in range(4)})
    assert sizes == [4, 4]


def test_a_groups_frames_run_under_a_strict_cupy_stand_in() -> None:
    """The GPU path where no GPU is lent: one batched pass on arrays that, like CuPy's,
    refuse to mix with NumPy, gives the frames NumPy's does."""
    from backend.engine import Backend

    from .test_engine_conv import strict_module

    device = Backend(strict_module(np, "strictnp"), "gpu")
    configs = MEMBERS[:3]
    on_cpu = [Experiment(f"c{i}", c) for i, c in enumerate(configs)]
    on_gpu = [Experiment(f"c{i}", c, None, device) for i, c in enumerate(configs)]
    for exp in (*on_cpu, *on_gpu):
        exp.train_epochs(1, time.monotonic() + 60, threading.Event())
    for a, b in zip(grouped_frames(on_cpu, [2] * 3, 12, 5),
                    grouped_frames(on_gpu, [2] * 3, 12, 5), strict=True):
        same_frame(b, a, "gpu")


def test_a_crowds_frames_take_the_output_at_the_neurons_resolution_in_one_pass() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from backend.experiments.frames import CROWD, FrameCache, build_frame

    cache = FrameCache(40, 8, ThreadPoolExecutor(1))
    assert [cache.resolution_for(n) for n in (1, 5, CROWD, CROWD + 1)] == [40, 20, 20, 8]
    exps = [Experiment(f"c{i}", c) for i, c in enumerate(MEMBERS)]
    for exp in exps:
        exp.train_epochs(1, time.monotonic() + 60, threading.Event())
    for exp, frame in zip(exps, grouped_frames(exps, [1] * len(exps), 8, 8), strict=True):
        _, grids = decode_frame(frame)
        _, alone = decode_frame(build_frame(exp, 1, 8, 8))
        units = exp.unit_grids(8)
        np.testing.assert_allclose(grids["output"].astype(float), units[-1], atol=2e-3)
        np.testing.assert_allclose(alone["output"].astype(float), units[-1], atol=2e-3)
        for i, layer in enumerate(units[:-1], start=1):
            step = (layer.max() - layer.min()) / 255
            np.testing.assert_allclose(grids[f"layer{i}"], layer, atol=step)
            np.testing.assert_allclose(alone[f"layer{i}"], layer, atol=step)


def test_fewer_than_min_group_train_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below MIN_GROUP networks of one shape train one by one, on the solo path's fast
    lane (faster for so few), and answer as they would grouped; from it, as one group."""
    import backend.experiments.workers as workers

    monkeypatch.setattr(workers, "MIN_GROUP", 4)
    pair = Pair({f"m{i}": c for i, c in enumerate(MEMBERS)})
    pair.round({f"m{i}": {"epochs": 2} for i in range(3)})
    assert pair.grouped() == 0
    pair.round({f"m{i}": {"epochs": 2} for i in range(4)})
    assert pair.grouped() == 4
    engine = workers._Base(1)
    for name in ("a", "b", "c"):
        engine._place(Experiment(name, MEMBERS[0]))
    assert engine.load("a") == (3, 3)  # three turns: they step one by one
    engine._place(Experiment("d", MEMBERS[0]))
    assert engine.load("a") == (4, 1)
