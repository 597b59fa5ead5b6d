"""A class in Chromium: students join and train, the teacher watches them live, pauses all,
sends a new starting point; the pages at three widths."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import httpx
import pytest

from .conftest import SMALL, LiveServer, wait_for
from .test_browser import shots

NAMES = ("Ana", "Bo", "Cy")
CARDS = "document.querySelectorAll('.student-card')"


def make_class(server: LiveServer, **body: Any) -> dict[str, Any]:
    r = httpx.post(f"{server.http}/api/classes", json=body or {"config": SMALL, "name": "3B"})
    assert r.status_code == 201, r.text
    return r.json()


class Student:
    """A student in a browser of their own (own storage: as on their own laptop)."""

    def __init__(self, browser: Any, server: LiveServer, class_id: str, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 850})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server.http}/c/{class_id}")
        self.page.fill("#name", name)
        self.page.click("#join-button")
        self.page.wait_for_url("**/?e=*")
        wait_for(self.page, "window.playground && window.playground.frame && "
                            "window.playground.socket")
        self.id = self.page.evaluate("window.playground.id")

    def close(self) -> None:
        self.context.close()


def teacher_page(browser: Any, server: LiveServer, cls: dict[str, Any],
                 width: int = 1400, height: int = 900) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    page.errors = []  # uncaught errors, and console errors (a refused script or style, say)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.goto(f"{server.http}{cls['teacher_url']}")
    return page


def card_epochs(page: Any) -> dict[str, int]:
    return page.evaluate(f"Object.fromEntries([...{CARDS}].map((c) => "
                         "[c.querySelector('.student-name').textContent, "
                         "Number(c.dataset.epoch)]))")


def painted(page: Any) -> list[int]:
    """Distinct colours on each card's thumbnail (1: blank)."""
    return page.evaluate(f"""[...{CARDS}].map((c) => {{
        const canvas = c.querySelector('canvas');
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const seen = new Set();
        for (let i = 0; i < px.length; i += 4) seen.add((px[i] << 16) | (px[i+1] << 8) | px[i+2]);
        return seen.size;
    }})""")


def view(server: LiveServer, cls: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"{server.http}/api/classes/{cls['id']}",
                     headers={"Authorization": f"Bearer {cls['teacher_token']}"}).json()


def test_three_students_train_and_the_teacher_pauses_them_all(
        browser: Any, server: LiveServer) -> None:
    cls = make_class(server)
    students = [Student(browser, server, cls["id"], name) for name in NAMES]
    try:
        for s in students:
            s.page.click("#play")
            wait_for(s.page, "window.playground.status === 'running'")
        teacher = teacher_page(browser, server, cls)
        # the token left the address at once (the page may be on a projector)
        assert "token" not in teacher.url and teacher.url.endswith("/teacher")
        wait_for(teacher, f"{CARDS}.length === 3 && [...{CARDS}]"
                          ".every((c) => c.dataset.painted === 'true')")
        assert all(colours > 8 for colours in painted(teacher)), painted(teacher)
        first = card_epochs(teacher)
        assert set(first) == set(NAMES)
        wait_for(teacher, " && ".join(
            f"Number(document.querySelector('[data-experiment=\"{s.id}\"]').dataset.epoch) > "
            f"{first[name]}" for s, name in zip(students, NAMES, strict=True)))
        assert teacher.text_content("#count") == "3"
        assert teacher.text_content("#running-count") == "3"
        assert teacher.text_content(".join-link").endswith(f"/c/{cls['id']}")
        # one click opens a student's playground, in a new tab
        link = teacher.locator(f"[data-experiment='{students[0].id}'] a")
        assert link.get_attribute("href") == f"/?e={students[0].id}"
        assert link.get_attribute("target") == "_blank"

        teacher.click("#pause-all")  # pause all, and lock
        wait_for(teacher, "document.getElementById('class-status').textContent"
                          ".includes('Paused 3 students')")
        teacher.click("#unlock")
        wait_for(teacher, "document.getElementById('lock-banner').hidden")
        for student in view(server, cls)["students"]:
            assert student["status"] == "paused" and student["running"] is False, student
        for s in students:
            r = httpx.get(f"{server.http}/api/experiments/{s.id}").json()
            assert r["status"] == "paused" and r["running"] is False
            wait_for(s.page, "window.playground.status === 'paused'")
        wait_for(teacher, f"[...{CARDS}].every((c) => c.dataset.status === 'paused')")
        assert teacher.text_content("#running-count") == "0"

        # sorted as the teacher chooses
        epochs = card_epochs(teacher)
        by_epoch = json.dumps(sorted(NAMES, key=lambda n: (-epochs[n], n)), separators=(",", ":"))
        teacher.select_option("#sort", "epoch")
        wait_for(teacher, f"JSON.stringify([...{CARDS}].map((c) => c.querySelector("
                          f"'.student-name').textContent)) === '{by_epoch}'")
        teacher.select_option("#sort", "name")
        names = teacher.evaluate(f"[...{CARDS}].map((c) => "
                                 "c.querySelector('.student-name').textContent)")
        assert names == sorted(NAMES)
        assert teacher.errors == [] and all(s.errors == [] for s in students)
        teacher.close()
    finally:
        for s in students:
            s.close()


def test_a_new_starting_point_reaches_every_student(browser: Any, server: LiveServer) -> None:
    cls = make_class(server)
    students = [Student(browser, server, cls["id"], name) for name in NAMES[:2]]
    try:
        other = httpx.post(f"{server.http}/api/experiments", json={
            **SMALL, "dataset": {"name": "xor"}}).json()
        auth = {"Authorization": f"Bearer {other['edit_token']}"}
        httpx.post(f"{server.http}/api/experiments/{other['id']}/train",
                   json={"epochs": 5, "wait": True}, headers=auth)
        share = httpx.post(f"{server.http}/api/experiments/{other['id']}/share",
                           headers=auth).json()
        teacher = teacher_page(browser, server, cls)
        wait_for(teacher, f"{CARDS}.length === 2")
        teacher.click("#new-start-toggle")
        teacher.fill("#start-link", f"{server.http}{share['url']}")
        teacher.click("#send-start")
        wait_for(teacher, "document.getElementById('class-status').textContent"
                          ".includes('2 students reset')")
        assert "shared network" in teacher.text_content("#start-label")
        for s in students:  # their own pages follow, in place
            wait_for(s.page, "window.playground.config.dataset.name === 'xor' && "
                             "window.playground.epoch === 5")
            assert s.page.evaluate("window.playground.id") == s.id
        # a bad link says why and changes nothing
        teacher.click("#new-start-toggle")
        teacher.fill("#start-link", "/s/nope")
        teacher.click("#send-start")
        wait_for(teacher, "document.getElementById('start-error').textContent"
                          ".includes('no share')")
        assert httpx.get(f"{server.http}/api/experiments/{students[0].id}").json()["epoch"] == 5
        assert [e for e in teacher.errors if "status of 422" not in e] == []  # that one, only
        teacher.close()
    finally:
        for s in students:
            s.close()


def test_joining_again_and_a_taken_name(browser: Any, server: LiveServer) -> None:
    cls = make_class(server)
    ana = Student(browser, server, cls["id"], "Ana")
    try:
        ana.page.keyboard.press("s")
        wait_for(ana.page, "window.playground.epoch === 1")
        # The same browser, the join link again: back to the same network, still hers.
        ana.page.goto(f"{server.http}/c/{cls['id']}")
        ana.page.wait_for_selector("#again:not([hidden])")
        assert ana.page.text_content("#again-name") == "Ana"
        ana.page.click("#continue")
        ana.page.wait_for_url(f"**/?e={ana.id}*")
        wait_for(ana.page, f"window.playground.id === '{ana.id}' && window.playground.frame")
        ana.page.keyboard.press("s")
        wait_for(ana.page, "window.playground.epoch === 2")  # it can still edit
        # Someone else, on another computer, with the same name (any case): told why.
        other = browser.new_context().new_page()
        other.goto(f"{server.http}/c/{cls['id']}")
        other.fill("#name", "  ANA ")
        other.click("#join-button")
        wait_for(other, "document.getElementById('join-error').textContent.includes('taken')")
        assert other.url.endswith(f"/c/{cls['id']}")
        other.fill("#name", "")
        other.click("#join-button")
        assert "Type your name" in other.text_content("#join-error")
        other.context.close()
        assert ana.errors == []
    finally:
        ana.close()


def test_a_teacher_makes_a_class_from_a_lesson(browser: Any, server: LiveServer) -> None:
    page = browser.new_page()
    page.goto(f"{server.http}/classes/new?lesson=xor&preset=2")
    wait_for(page, "document.getElementById('start-lesson').value === 'xor/2'")
    page.fill("#class-title", "Period 4")
    assert page.is_checked("#seed-per-student")  # a seed each, unless unticked
    page.uncheck("#seed-per-student")
    page.click("#make-class")
    page.wait_for_url("**/teacher")
    wait_for(page, "document.getElementById('start-label').textContent.includes('XOR')")
    assert page.text_content("#class-name") == "Period 4"
    assert not page.is_hidden("#empty")
    assert "#token=" in page.input_value("#teacher-link")
    wait_for(page, "document.getElementById('seeds').textContent.includes('same for everyone')")
    teacher_url = page.url
    page.close()
    # a tab without the token says what it needs; an unknown class, that it is unknown
    page = browser.new_page()
    page.goto(teacher_url)
    wait_for(page, "!document.getElementById('class-notice').hidden")
    assert "teacher link" in page.text_content("#class-notice")
    page.goto(f"{server.http}/c/nope/teacher")
    assert "does not exist" in page.text_content("main")
    page.close()


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (1024, 768), (390, 844),
                                               (1280, 720)])  # the last: a projector
def test_the_teacher_page_at_three_widths(browser: Any, server: LiveServer, tmp_path: Any,
                                          width: int, height: int) -> None:
    cls = make_class(server, lesson="xor", preset=2, name="Year 10 · Neural networks")
    ids = []
    for i, name in enumerate(["Ana", "Bo", "Cy", "Dee", "Eli", "Fatima", "Gus", "Hana"]):
        joined = httpx.post(f"{server.http}/api/classes/{cls['id']}/join",
                            json={"name": name}).json()
        ids.append(joined["experiment_id"])
        auth = {"Authorization": f"Bearer {joined['edit_token']}"}
        httpx.post(f"{server.http}/api/experiments/{joined['experiment_id']}/train",
                   json={"epochs": 20 + 40 * i, "wait": True}, headers=auth)
    teacher = teacher_page(browser, server, cls, width, height)
    wait_for(teacher, f"{CARDS}.length === 8 && [...{CARDS}]"
                      ".every((c) => c.dataset.painted === 'true')")
    time.sleep(0.3)
    assert teacher.evaluate("document.documentElement.scrollWidth") <= width
    teacher.screenshot(path=str(shots(tmp_path) / f"class-{width}.png"), full_page=True)
    teacher.click("#show-results")
    wait_for(teacher, "window.playgroundClass.results.drawn && "
                      "window.playgroundClass.results.drawn.lines === 8")
    assert teacher.evaluate("document.documentElement.scrollWidth") <= width
    teacher.screenshot(path=str(shots(tmp_path) / f"class-results-{width}.png"),
                       full_page=True)
    assert teacher.errors == []
    teacher.close()


def test_a_students_lesson_banner_follows_a_new_starting_point(
        browser: Any, server: LiveServer) -> None:
    """Bug: the banner, "train exactly N epochs" and the address kept the class's first
    lesson preset after the teacher sent another one (and a reload showed it again)."""
    cls = make_class(server, lesson="xor", preset=2)
    ana = Student(browser, server, cls["id"], "Ana")
    page = ana.page
    try:
        assert "hidden layer of 6" in page.text_content("#banner-text")
        assert page.input_value("#train-epochs") == "300"
        teacher = teacher_page(browser, server, cls)
        wait_for(teacher, f"{CARDS}.length === 1")
        teacher.click("#new-start-toggle")
        teacher.select_option("#start-lesson", "xor/0")
        teacher.click("#send-start")
        wait_for(page, "window.playground.config.hidden_layers.length === 0")
        wait_for(page, "document.getElementById('banner-text').textContent"
                       ".includes('no hidden layer')")
        assert "hidden layer of 6" not in page.text_content("#banner-text")
        assert page.input_value("#train-epochs") == "100"
        assert "lesson=xor&preset=0" in page.url and f"e={ana.id}" in page.url
        assert page.locator("#banner .lesson-nav").count() == 1
        page.reload()
        wait_for(page, "window.playground && window.playground.frame && "
                       "document.getElementById('banner-text').textContent.includes('no hidden')")
        assert page.input_value("#train-epochs") == "100"
        # play stops at the new preset's epoch
        page.click("#play")
        wait_for(page, "window.playground.epoch === 100 && "
                       "window.playground.status === 'paused'", timeout=30_000)

        # a share is no lesson: the banner goes, and the lesson leaves the address
        other = httpx.post(f"{server.http}/api/experiments", json=SMALL).json()
        share = httpx.post(f"{server.http}/api/experiments/{other['id']}/share",
                           headers={"Authorization": f"Bearer {other['edit_token']}"}).json()
        teacher.click("#new-start-toggle")
        teacher.check("input[name=start-kind][value=link]")
        teacher.fill("#start-link", f"{server.http}{share['url']}")
        teacher.click("#send-start")
        wait_for(page, "document.getElementById('banner').hidden")
        assert "lesson=" not in page.url and f"e={ana.id}" in page.url
        assert page.evaluate("window.playground.stopAt") == 0  # play trains on, no target
        assert ana.errors == [] and teacher.errors == []
        teacher.close()
    finally:
        ana.close()


# the lock, the results, the join link --------------------------------------------------------


def test_a_locked_class_refuses_a_students_play_until_unlocked(
        browser: Any, server: LiveServer) -> None:
    cls = make_class(server)
    ana = Student(browser, server, cls["id"], "Ana")
    page = ana.page
    try:
        page.click("#play")
        wait_for(page, "window.playground.status === 'running'")
        teacher = teacher_page(browser, server, cls)
        wait_for(teacher, f"{CARDS}.length === 1")
        assert teacher.is_hidden("#lock-banner") and teacher.is_hidden("#unlock")
        teacher.click("#pause-all")
        wait_for(teacher, "!document.getElementById('lock-banner').hidden")
        assert "locked" in teacher.text_content("#class-status")
        assert teacher.is_hidden("#pause-all") and teacher.is_visible("#unlock")
        # the student's page: paused, says why, its play button off
        wait_for(page, "window.playground.status === 'paused' && window.playground.held")
        assert "teacher has paused the class" in page.text_content("#status")
        assert page.is_disabled("#play") and page.is_disabled("#step")
        epoch = page.evaluate("window.playground.epoch")
        # a play that gets through anyway (the space key) is refused by the server
        page.locator("body").press(" ")
        wait_for(page, "document.getElementById('notice-text').textContent"
                       ".includes('teacher has paused the class')")
        r = httpx.post(f"{server.http}/api/experiments/{ana.id}/step",
                       headers={"Authorization": "Bearer " + page.evaluate(
                           "window.playground.token")})
        assert r.status_code == 423
        assert page.evaluate("window.playground.status") == "paused"
        assert httpx.get(f"{server.http}/api/experiments/{ana.id}").json()["epoch"] == epoch
        # a second teacher tab sees the lock too (it comes with the class's feed)
        other = teacher_page(browser, server, cls)
        wait_for(other, "!document.getElementById('lock-banner').hidden")
        other.close()

        teacher.click("#unlock")
        wait_for(teacher, "document.getElementById('lock-banner').hidden")
        assert "Unlocked" in teacher.text_content("#class-status")
        wait_for(page, "!window.playground.held && "
                       "!document.getElementById('play').disabled")
        page.click("#play")
        wait_for(page, f"window.playground.status === 'running' && "
                       f"window.playground.epoch > {epoch}")
        assert ana.errors == [] and teacher.errors == []
        teacher.close()
    finally:
        ana.close()


def test_the_results_sort_draw_and_download(browser: Any, server: LiveServer,
                                            tmp_path: Any) -> None:
    cls = make_class(server)
    names = ["Ana", "Bo", "Cy", "Dee"]
    for i, name in enumerate(names):
        joined = httpx.post(f"{server.http}/api/classes/{cls['id']}/join",
                            json={"name": name}).json()
        httpx.post(f"{server.http}/api/experiments/{joined['experiment_id']}/train",
                   json={"epochs": 10 + 30 * i, "wait": True},
                   headers={"Authorization": f"Bearer {joined['edit_token']}"})
    rows = {s["name"]: s for s in view(server, cls)["students"]}
    assert len({s["seed"] for s in rows.values()}) == 4  # a seed each, by default
    teacher = teacher_page(browser, server, cls)
    wait_for(teacher, f"{CARDS}.length === 4")
    assert teacher.text_content(f"[data-experiment='{rows['Cy']['experiment_id']}'] "
                                ".student-seed") == f"seed {rows['Cy']['seed']}"
    teacher.click("#show-results")
    wait_for(teacher, "document.querySelectorAll('#results-table tbody tr').length === 4")
    assert teacher.is_hidden("#students")
    drawn = teacher.evaluate("window.playgroundClass.results.drawn")
    assert drawn["lines"] == 4 and len(drawn["yTicks"]) >= 2 and len(drawn["xTicks"]) >= 2

    def column(i: int) -> list[str]:
        return teacher.evaluate(f"[...document.querySelectorAll('#results-table tbody tr')]"
                                f".map((tr) => tr.cells[{i}].textContent)")

    by_loss = sorted(names, key=lambda n: rows[n]["metrics"]["test_loss"])
    assert column(1) == by_loss  # best first, to begin with
    assert teacher.get_attribute("th:nth-child(5)", "aria-sort") == "ascending"
    teacher.click("th button[data-key=test_loss]")
    assert column(1) == by_loss[::-1]
    assert teacher.get_attribute("th:nth-child(5)", "aria-sort") == "descending"
    teacher.click("th button[data-key=epoch]")  # most epochs first
    assert column(1) == ["Dee", "Cy", "Bo", "Ana"] and column(3) == ["100", "70", "40", "10"]
    teacher.click("th button[data-key=name]")
    assert column(1) == names
    assert column(2) == [str(rows[n]["seed"]) for n in names]
    # a row under the pointer: its line is drawn over the others
    teacher.hover("#results-table tbody tr:nth-child(2)")
    wait_for(teacher, "window.playgroundClass.results.focus === 'Bo'")

    with teacher.expect_download() as download:
        teacher.click("#download-csv")
    path = tmp_path / "results.csv"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"class-{cls['id']}-results.csv"
    table = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [t["name"] for t in table] == names
    assert [int(t["epoch"]) for t in table] == [10, 40, 70, 100]
    assert float(table[2]["test_loss"]) == pytest.approx(rows["Cy"]["metrics"]["test_loss"])
    teacher.click("#show-cards")
    assert teacher.is_visible("#students") and teacher.is_hidden("#results")
    assert teacher.errors == []
    teacher.close()


def test_the_join_link_has_a_qr_code_and_says_when_students_cannot_reach_it(
        browser: Any, server: LiveServer) -> None:
    cls = make_class(server)
    teacher = teacher_page(browser, server, cls)
    wait_for(teacher, "document.getElementById('join-qr').complete && "
                      "document.getElementById('join-qr').naturalWidth > 0")
    # the test server listens on 127.0.0.1: the page says so, and what to do
    wait_for(teacher, "!document.getElementById('reach-warning').hidden")
    warning = teacher.text_content("#reach-warning")
    assert "Students cannot open this link" in warning
    assert "./scripts/serve.sh --host 0.0.0.0" in warning and "127.0.0.1" in warning
    assert teacher.is_visible("#reach-serve")
    teacher.click("#qr-open")  # big, for the back of the room
    assert teacher.is_visible("#qr-big img")
    assert teacher.text_content("#qr-big-link").endswith(f"/c/{cls['id']}")
    teacher.click("#qr-close")
    assert teacher.is_hidden("#qr-big")
    assert teacher.errors == []
    teacher.close()
