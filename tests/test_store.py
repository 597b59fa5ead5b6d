"""The Store on each database (conftest's `database`: SQLite, and PostgreSQL when
PLAYGROUND_TEST_DATABASE_URL is set): every method means the same on both, the schema
migrates, and what replicas coordinate through holds when they race."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.experiments.migrations import LATEST
from backend.experiments.store import Fenced, Store, StoreError, open_store

from .conftest import make_settings


@pytest.fixture
def location(database: str, tmp_path: Path) -> str:
    return database or str(tmp_path / "playground.sqlite3")


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    s = Store(location)
    yield s
    s.close()


def at_once(n: int, call: Callable[[int], Any]) -> list[Any]:
    """n calls started together on n threads (each with its own Store where the caller
    passes one): what each answered."""
    answers: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


def test_open_store_follows_the_settings(tmp_path: Path, database: str) -> None:
    store = open_store(make_settings(tmp_path))
    try:
        assert store.db.dialect == ("postgresql" if database else "sqlite")
        if not database:
            assert (tmp_path / "playground.sqlite3").exists()
    finally:
        store.close()
    other = tmp_path / "elsewhere" / "my.sqlite3"
    store = open_store(make_settings(tmp_path, database_url=f"sqlite:///{other}"))
    store.close()
    assert other.exists()


def test_experiments_datasets_and_shares(store: Store) -> None:
    state = {"config": {"dataset": {"id": "d1"}}, "epoch": 3, "text": "50% ünïcode?"}
    store.save_experiment("e1", "hash", state, ("d1", {"x": [1, 2]}))
    assert store.load_experiment("e1") == ("hash", state)
    store.save_experiment("e1", "hash2", {"epoch": 4})  # saved again: replaced
    assert store.load_experiment("e1") == ("hash2", {"epoch": 4})
    assert store.load_experiment("nope") is None
    assert store.experiment_ids() == ["e1"] and store.count_experiments() == 1
    assert store.load_dataset("d1") == {"x": [1, 2]}
    store.save_share("s1", "e1", {"epoch": 4})
    assert store.load_share("s1") == {"epoch": 4} and store.load_share("s2") is None
    assert store.experiments_saved_before(time.time() + 1) == ["e1"]
    assert store.experiments_saved_before(time.time() - 60) == []
    store.delete_experiment("e1")
    assert store.load_experiment("e1") is None and store.count_experiments() == 0


def test_a_failed_save_with_a_dataset_leaves_neither(store: Store) -> None:
    store.save_dataset("d1", {"x": 1})
    with pytest.raises(StoreError):  # the data set's id is taken: the transaction fails
        store.save_experiment("e1", "h", {}, ("d1", {"x": 2}))
    assert store.load_experiment("e1") is None and store.load_dataset("d1") == {"x": 1}
    assert store.count_experiments() == 0  # and the store goes on working


def test_orphan_datasets_are_those_no_experiment_uses(store: Store) -> None:
    store.save_experiment("e1", "h", {"config": {"dataset": {"id": "used"}}}, ("used", {}))
    store.save_dataset("orphan", {})
    store.save_experiment("e2", "h", {"config": {"dataset": {"name": "circle"}}})
    assert store.delete_orphan_datasets(time.time() - 60) == 0  # too young
    assert store.delete_orphan_datasets(time.time() + 1) == 1
    assert store.load_dataset("used") == {} and store.load_dataset("orphan") is None


def test_classes_and_their_rosters(store: Store) -> None:
    store.save_class("c1", "th", "Class", {"summary": 1}, {"state": 2}, {"seed": "one"})
    row = store.load_class("c1")
    assert row is not None and row["name"] == "Class" and row["start"] == {"summary": 1}
    assert row["locked"] is False and row["options"] == {"seed": "one"}
    assert store.load_class_state("c1") == {"state": 2} and store.load_class("c2") is None
    store.set_class_start("c1", {"summary": 3}, {"state": 4})
    assert store.load_class("c1")["start"] == {"summary": 3}  # type: ignore[index]
    assert store.load_class_state("c1") == {"state": 4}
    assert store.locked_classes() == []
    store.set_class_locked("c1", True)
    assert store.locked_classes() == ["c1"] and store.locked_classes(time.time() - 60) == []
    assert [store.add_student("c1", k, k.title(), f"e-{k}", 2) for k in ("al", "al", "bo", "cy")] \
        == ["added", "taken", "added", "full"]
    assert [(s["key"], s["number"]) for s in store.class_students("c1")] == [("al", 1), ("bo", 2)]
    assert store.remove_student("c1", "e-al") and not store.remove_student("c1", "e-al")
    assert store.add_student("c1", "cy", "Cy", "e-cy", 2) == "added"
    # numbers are never reused: a student's seed comes from hers
    assert [s["number"] for s in store.class_students("c1")] == [2, 3]
    assert store.count_classes() == 1
    assert store.delete_classes_before(time.time() - 60) == 0
    assert store.delete_classes_before(time.time() + 1) == 1
    assert store.count_classes() == 0 and store.class_students("c1") == []


def test_joins_at_once_never_overfill_a_class(location: str, store: Store) -> None:
    """Each thread its own Store, as replicas (or processes on one file) are."""
    store.save_class("c1", "th", "Class", {}, {})
    stores = [Store(location) for _ in range(6)]
    try:
        answers = at_once(6, lambda i: stores[i].add_student("c1", f"s{i}", "S", f"e{i}", 4))
    finally:
        for s in stores:
            s.close()
    assert sorted(answers) == ["added"] * 4 + ["full"] * 2
    assert sorted(s["number"] for s in store.class_students("c1")) == [1, 2, 3, 4]


def test_a_sqlite_file_of_the_first_release_migrates_and_loads(tmp_path: Path) -> None:
    """The schema before versions, and before the columns added since (locked, options,
    number): its classes load with their defaults, its rows are all there."""
    path = tmp_path / "playground.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE experiments (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL,
            state TEXT NOT NULL, updated REAL NOT NULL);
        CREATE TABLE datasets (id TEXT PRIMARY KEY, data TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE shares (id TEXT PRIMARY KEY, experiment_id TEXT NOT NULL,
            state TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE classes (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, name TEXT NOT NULL,
            start TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL);
        CREATE TABLE class_students (class_id TEXT NOT NULL, name_key TEXT NOT NULL,
            name TEXT NOT NULL, experiment_id TEXT NOT NULL, joined REAL NOT NULL,
            PRIMARY KEY (class_id, name_key));
        INSERT INTO experiments VALUES ('e1', 'h', '{"epoch": 7}', 1.5);
        INSERT INTO datasets VALUES ('d1', '{"x": 1}', 1.5);
        INSERT INTO shares VALUES ('s1', 'e1', '{"epoch": 7}', 1.5);
        INSERT INTO classes VALUES ('c1', 'th', 'Old', '{}', '{}', 1.0, 2.0);
        INSERT INTO class_students VALUES ('c1', 'al', 'Al', 'e1', 1.0);
    """)
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert store.load_experiment("e1") == ("h", {"epoch": 7})
        assert store.load_dataset("d1") == {"x": 1} and store.load_share("s1") == {"epoch": 7}
        row = store.load_class("c1")
        assert row is not None and row["locked"] is False and row["options"] == {}
        assert store.add_student("c1", "bo", "Bo", "e2", 10) == "added"
        assert [s["number"] for s in store.class_students("c1")] == [1, 2]
        assert store.unit_of("e1") == "class:c1"  # the tables of replicas were added
        assert [v for (v,) in store._read("SELECT version FROM schema_version ORDER BY 1", ())] \
            == list(range(1, LATEST + 1))
    finally:
        store.close()
    Store(path).close()  # opened again: nothing left to run, nothing run twice


def test_a_database_from_a_newer_version_is_refused(location: str, store: Store) -> None:
    store._write("INSERT INTO schema_version VALUES (?, ?)", (LATEST + 1, time.time()))
    with pytest.raises(StoreError, match="newer"):
        Store(location)


# replicas ---------------------------------------------------------------------------------
def test_heartbeats_say_which_replicas_are_alive(store: Store) -> None:
    store.heartbeat("a", "http://a")
    store.heartbeat("b", "http://b")
    assert store.live_replicas(time.time() - 5) == {"a": "http://a", "b": "http://b"}
    assert store.live_replicas(time.time() + 5) == {}
    store.heartbeat("a", "http://a2")  # a new url is kept
    assert store.live_replicas(time.time() - 5)["a"] == "http://a2"


def test_a_lease_stays_with_a_live_holder_and_passes_from_a_dead_one(store: Store) -> None:
    alive = time.time() - 5
    store.heartbeat("a", "http://a")
    assert store.claim("experiment:e1", "a", alive) == ("a", "http://a")
    assert store.claim("experiment:e1", "b", alive) == ("a", "http://a")  # a is alive
    assert store.lease_holder("experiment:e1")[:2] == ("a", "http://a")  # type: ignore[index]
    assert store.lease_holder("experiment:e2") is None
    # a's heartbeat is older than the cutoff: b takes over (b has no heartbeat: url "")
    assert store.claim("experiment:e1", "b", time.time() + 5) == ("b", "")
    assert store.lease_holder("experiment:e1") == ("b", "", 0.0)
    store.release("experiment:e1", "a")  # not a's: kept
    assert store.leases_of("b") == ["experiment:e1"] and store.leases_of("a") == []
    store.release("experiment:e1", "b")
    assert store.lease_holder("experiment:e1") is None


def test_of_replicas_claiming_at_once_exactly_one_wins(location: str, store: Store) -> None:
    stores = [Store(location) for _ in range(6)]
    try:
        for i, s in enumerate(stores):
            s.heartbeat(f"r{i}", f"http://r{i}")
        answers = at_once(6, lambda i: stores[i].claim("class:c1", f"r{i}", time.time() - 5))
    finally:
        for s in stores:
            s.close()
    assert len(set(answers)) == 1  # all agree on the one winner
    winner = answers[0][0]
    assert answers[0] == (winner, f"http://{winner}")


def test_a_students_experiment_belongs_to_its_class(store: Store) -> None:
    store.save_class("c1", "th", "Class", {}, {})
    store.add_student("c1", "al", "Al", "e1", 10)
    assert store.unit_of("e1") == "class:c1"
    assert store.unit_of("e2") == "experiment:e2"


def test_runs_count_while_their_replica_lives_and_are_orphaned_after(store: Store) -> None:
    store.heartbeat("a", "http://a")
    store.set_running("e1", "a", "10.0.0.1", 500)
    store.set_running("e2", "a", "10.0.0.1", None)
    store.set_running("e3", "gone", "10.0.0.1", 7)  # a replica without a heartbeat
    alive = time.time() - 5
    assert store.count_running("10.0.0.1", alive) == 2
    assert store.count_running("10.0.0.2", alive) == 0
    assert store.orphaned_runs(alive) == [("e3", "10.0.0.1", 7)]
    later = time.time() + 5  # a too is dead now
    assert sorted(store.orphaned_runs(later)) == [("e1", "10.0.0.1", 500),
                                                  ("e2", "10.0.0.1", None),
                                                  ("e3", "10.0.0.1", 7)]
    # a's own heartbeat may lag behind its runs: a never takes its own rows for orphans
    assert store.orphaned_runs(later, "a") == [("e3", "10.0.0.1", 7)]
    store.heartbeat("b", "http://b")
    store.set_running("e3", "b", "10.0.0.1", 7)  # b resumed it: the row is b's now
    assert store.orphaned_runs(alive) == []
    store.clear_running("e3", "a")  # not a's
    assert store.count_running("10.0.0.1", alive) == 3
    store.clear_running("e3", "b")
    assert store.count_running("10.0.0.1", alive) == 2


def test_client_use_sums_the_other_live_replicas(store: Store) -> None:
    for r in ("a", "b", "c"):
        store.heartbeat(r, f"http://{r}")
    store.set_client_use("a", "sockets", "10.0.0.1", 3)
    store.set_client_use("b", "sockets", "10.0.0.1", 4)
    store.set_client_use("b", "sockets", "10.0.0.1", 5)  # replaced, not added
    store.set_client_use("c", "running", "10.0.0.1", 9)
    store.set_client_use("d", "sockets", "10.0.0.1", 100)  # no heartbeat: not counted
    alive = time.time() - 5
    assert store.client_use("sockets", "10.0.0.1", alive, exclude="a") == 5
    assert store.client_use("sockets", "10.0.0.1", alive, exclude="c") == 8
    assert store.client_use("running", "10.0.0.1", alive, exclude="a") == 9
    assert store.client_use("sockets", "10.0.0.2", alive, exclude="a") == 0
    store.set_client_use("b", "sockets", "10.0.0.1", 0)
    assert store.client_use("sockets", "10.0.0.1", alive, exclude="a") == 0


def test_a_replica_forgotten_leaves_nothing_behind(store: Store) -> None:
    for r in ("a", "b"):
        store.heartbeat(r, f"http://{r}")
        store.claim(f"experiment:{r}", r, time.time() - 5)
        store.set_running(f"e-{r}", r, "10.0.0.1", None)
        store.set_client_use(r, "sockets", "10.0.0.1", 1)
    store.forget_replica("a")
    alive = time.time() - 5
    assert store.live_replicas(alive) == {"b": "http://b"}
    assert store.leases_of("a") == [] and store.leases_of("b") == ["experiment:b"]
    assert store.count_running("10.0.0.1", alive) == 1 and store.orphaned_runs(alive) == []
    assert store.client_use("sockets", "10.0.0.1", alive, exclude="x") == 1


def test_one_secret_per_database(location: str, store: Store) -> None:
    others = [Store(location) for _ in range(4)]
    try:
        secrets = at_once(4, lambda i: others[i].secret())
    finally:
        for s in others:
            s.close()
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 32
    assert store.secret() == secrets[0]


def test_a_save_lands_only_while_no_other_replica_holds_the_unit(store: Store) -> None:
    """One writer: a replica that lost an experiment (silent too long) writes nothing over
    the state its new holder saves, and a refused save changes nothing."""
    store.heartbeat("a", "http://a")
    store.save_experiment("e1", "h", {"epoch": 1}, holder=("experiment:e1", "a"))  # new
    assert store.claim("experiment:e1", "a", 0.0)[0] == "a"
    store.save_experiment("e1", "h", {"epoch": 2}, holder=("experiment:e1", "a"))
    store.heartbeat("b", "http://b")
    assert store.claim("experiment:e1", "b", time.time() + 1)[0] == "b"  # a counted gone
    store.save_experiment("e1", "h", {"epoch": 3}, holder=("experiment:e1", "b"))
    with pytest.raises(Fenced):
        store.save_experiment("e1", "h", {"epoch": 99}, holder=("experiment:e1", "a"),
                              dataset=("d1", {"x": [1]}))
    assert store.load_experiment("e1") == ("h", {"epoch": 3})
    assert store.load_dataset("d1") is None  # the whole transaction went back
    store.save_experiment("e1", "h", {"epoch": 4}, holder=("experiment:e1", "b"))
    assert store.load_experiment("e1") == ("h", {"epoch": 4})
