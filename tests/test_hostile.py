"""Hostile input, as an attacker sends it: malformed and inflating NPZ headers, JSON that
Python cannot read, forms of thousands of parts. Each is refused with a 4xx that says
what to fix, by what it is (a header, a count), before it costs memory or time; a socket
answers with an error and stays open; the log holds no traceback."""

from __future__ import annotations

import base64
import io
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.formparsers import MultiPartParser
from websockets.sync.client import connect

from backend.data import DataError
from backend.data.images import parse_npz

from .conftest import SMALL, LiveServer, make_settings
from .test_websocket import command, create, open_ws


def npy(descr: str, shape: tuple[int, ...], data: bytes = b"") -> bytes:
    """A .npy file written by hand, so that its header may claim anything."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def npz(**members: bytes | tuple[bytes, int]) -> bytes:
    """A zip of name.npy members: bytes are stored, (bytes, method) compressed so."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, member in members.items():
            raw, method = member if isinstance(member, tuple) else (member, zipfile.ZIP_STORED)
            z.writestr(f"{name}.npy", raw, compress_type=method)
    return out.getvalue()


def deflated_zeros(name: str, header: bytes, zeros: int) -> bytes:
    """A zip whose deflated member unpacks to the header and that many zero bytes:
    a few kB that declare (and would inflate to) far more, written in 1 MB pieces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", X, compress_type=zipfile.ZIP_STORED)
        with z.open(f"{name}.npy", "w") as f:
            f.write(header)
            for _ in range(zeros // 2**20):
                f.write(bytes(2**20))
    return out.getvalue()


X = npy("|u1", (4, 8, 8), bytes(256))
Y = npy("<i8", (4,), np.array([0, 1, 0, 1]).tobytes())
ATTACKS: dict[str, tuple[bytes, str]] = {
    "a negative shape": (npz(x=npy("|u1", (-4, 8, 8)), y=Y),
                         "x.npy: its shape (-4, 8, 8) must be whole numbers, none negative"),
    "a shape past int64": (npz(x=npy("|u1", (2**32, 2**32, 8)), y=Y),
                           "x: 4294967296 x 4294967296 x 8 of uint8 takes "
                           "147573952589676412928 bytes, over the limit"),
    "a 2 GB void dtype": (npz(x=X, y=npy("|V2000000000", (1,))),
                          "y.npy holds |V2000000000; send numbers"),
    "data shorter than the header": (npz(x=npy("|u1", (4, 8, 8), bytes(10)), y=Y),
                                     "x.npy is cut short: its header says 4 x 8 x 8 of uint8 "
                                     "(256 bytes) but holds 10"),
    "a bzip2 member of 400 MB": (npz(x=X, y=(npy("|V400000000", (1,), bytes(4096)),
                                             zipfile.ZIP_BZIP2)),
                                 "y.npy is compressed with bzip2; send it stored or deflated"),
    "a deflated member of 40 MB": (deflated_zeros("y", npy("|V40000000", (1,)), 40 * 2**20),
                                   "y.npy unpacks to 41943168 bytes, over the limit of 80000"),
    "a zip of 100 files": (npz(x=X, y=Y, **{f"m{i}": b"" for i in range(98)}),
                           "the NPZ holds over 64 files"),
    "labels over the limit": (npz(x=X, y=npy("<i8", (20_000,))),
                              "y: 20000 of int64 takes 160000 bytes, over the limit of 80000"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_hostile_npz_is_refused_by_its_headers_before_anything_is_allocated(
        attack: str) -> None:
    """Bug: these answered 500 (a ValueError from numpy), and the 2 GB void dtype and the
    bzip2 member allocated what they claimed (400 MB and 5.6 s for a 747-byte file)."""
    raw, words = ATTACKS[attack]
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as refused:
            parse_npz(raw, max_images=10_000, max_values=8_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert words in str(refused.value)
    assert peak < 200_000, f"{peak} bytes allocated to refuse a {len(raw)}-byte file"


def test_only_the_members_read_are_unpacked_and_a_good_npz_still_reads() -> None:
    good = npz(x=(X, zipfile.ZIP_DEFLATED), y=Y,
               x_test=(npy("|V400000000", (1,), bytes(4096)), zipfile.ZIP_BZIP2))
    images = parse_npz(good)
    assert images.x.shape == (4, 1, 8, 8) and images.classes == ("0", "1")
    colour = np.random.default_rng(0).random((3, 8, 8, 3))  # Fortran order, big-endian
    fortran = io.BytesIO()
    np.save(fortran, np.asfortranarray(colour).astype(">f8"))
    images = parse_npz(npz(x=fortran.getvalue(), y=npy("<i8", (3,), bytes(8) + bytes([1]) +
                                                        bytes(15))))
    np.testing.assert_allclose(images.x[1, 2], colour[1, :, :, 2].astype(np.float32))


def images_export(client: TestClient) -> dict[str, Any]:
    r = client.post("/api/datasets", content=npz(x=X, y=Y))
    assert r.status_code == 201, r.text
    r = client.post("/api/experiments", json={**r.json()["use"],
                                              "hidden_layers": [{"units": 4}]})
    assert r.status_code == 201, r.text
    return client.get(f"/api/experiments/{r.json()['id']}/export").json()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_hostile_npz_upload_or_import_is_a_422_that_says_what_to_fix(
        client: TestClient, attack: str) -> None:
    raw, words = ATTACKS[attack]
    r = client.post("/api/datasets", content=raw,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 422 and words in r.json()["error"], r.text
    state = images_export(client)
    state["data"]["npz"] = base64.b64encode(raw).decode()
    r = client.post("/api/experiments/import", json=state)
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith("the export's data: ") and words in r.json()["error"]


def test_hostile_uploads_leave_no_traceback_in_the_log(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Bug: each malformed NPZ logged an 80-line traceback and dropped the connection."""
    live = LiveServer(make_settings(tmp_path))
    try:
        for raw, words in ATTACKS.values():
            r = httpx.post(f"{live.http}/api/datasets", content=raw)
            assert r.status_code == 422 and words in r.json()["error"]
    finally:
        live.stop()
    logged = capfd.readouterr().err
    assert "Traceback" not in logged and "Exception in ASGI" not in logged


# multipart forms --------------------------------------------------------------------------


def form(parts: list[bytes], boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    body = b"".join(f"--{boundary}\r\n".encode() + p for p in parts) + f"--{boundary}--\r\n"\
        .encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(("part", "words"), [
    (b'Content-Disposition: form-data; name="a"\r\n\r\n\r\n',
     "(Too many fields. Maximum number of fields is 3.)"),
    (b'Content-Disposition: form-data; name="n"; filename="f"\r\n\r\n\r\n',
     "(Too many files. Maximum number of files is 3.)"),
    (b"\r\n\r\n", 'the Content-Disposition header field "name" must be provided'),
])
def test_a_form_of_30000_empty_parts_is_refused_at_the_first_part_too_many(
        client: TestClient, monkeypatch: pytest.MonkeyPatch, part: bytes, words: str) -> None:
    """Bug: 30 000 empty parts (1.7 MB) took 13 to 20 s of CPU before their 422."""
    begun = []
    begin = MultiPartParser.on_part_begin
    monkeypatch.setattr(MultiPartParser, "on_part_begin",
                        lambda self: (begun.append(1), begin(self))[1])
    body, headers = form([part] * (30_000 if len(part) < 50 else 25_000))  # under 2 MB
    r = client.post("/api/datasets", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"].lower().startswith("the multipart form could not be read")
    assert words.lower() in r.json()["error"].lower()
    assert 1 <= len(begun) <= 4  # the parts read before the refusal, of 30 000


def test_a_form_field_sent_as_text_is_refused_with_how_to_send_it(client: TestClient) -> None:
    r = client.post("/api/datasets", data={"npz": "PK"}, files={"other": ("o", b"")})
    assert r.status_code == 422
    assert "the form field 'npz' came as text: send it as a file" in r.json()["error"]


# JSON that Python cannot read -------------------------------------------------------------

DIGITS = "1" * 4301  # past Python's 4300-digit limit on int("...")
DEEP = "[" * 2000 + "]" * 2000


def test_unreadable_json_on_the_experiment_socket_is_an_error_and_it_stays_open(
        live: LiveServer, capfd: pytest.CaptureFixture[str]) -> None:
    """Bug: a number of 4 301 digits raised an uncaught ValueError: the socket dropped
    (1006) with a 67-line traceback; one of 4 000 digits in a config did the same."""
    exp_id, token = create(live)
    with open_ws(live, exp_id, token) as ws:
        for text, words in [
            ('{"type": "ping", "x": ' + DIGITS + "}", "not JSON that can be read: a number has "
             "over 4300 digits"),
            (DEEP, "not JSON that can be read: lists or objects nest too deeply"),
            ('{"type": "update", "config": {"dataset": {"n_samples": %s}}}' % ("1" * 4000),
             "dataset.n_samples: at most"),
        ]:
            reply = command(ws, text, raw=True)
            assert reply["type"] == "error" and words in reply["message"], reply
        assert command(ws, {"type": "ping"})["type"] == "ack"
    assert "Traceback" not in capfd.readouterr().err


def test_unreadable_json_on_the_class_socket_is_an_error_and_it_stays_open(
        live: LiveServer, capfd: pytest.CaptureFixture[str]) -> None:
    """Bug: 2 000 nested brackets closed the class socket without a word."""
    r = httpx.post(f"{live.http}/api/classes", json={"config": SMALL})
    with connect(f"{live.ws}/ws/classes/{r.json()['id']}") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        for text, words in [(DEEP, "lists or objects nest too deeply"),
                            ('{"type": "ping", "x": ' + DIGITS + "}",
                             "a command is at most 4096 characters")]:
            ws.send(text)
            reply = json.loads(ws.recv(timeout=5))
            assert reply["type"] == "error" and words in reply["message"], reply
            assert 'commands: {"type": "auth"' in reply["message"]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "ack", "command": "ping"}
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(("body", "status", "words"), [
    ('{"dataset": {"n_samples": %s}}' % ("1" * 4000), 422, "dataset.n_samples: at most"),
    ('{"dataset": {"seed": %s}}' % ("1" * 4000), 422, "dataset.seed: Input should be less"),
    ('{"seed": ' + DIGITS + "}", 400, "numbers may have at most 4300 digits"),
    (DEEP, 400, "nest at most 1000 deep"),
])
def test_rest_bodies_python_cannot_read_are_a_4xx(client: TestClient, body: str,
                                                  status: int, words: str) -> None:
    """Bug: a whole number of 4 000 digits where the config has no upper bound
    (n_samples: the server's limit) overflowed pydantic's finiteness check: a 500."""
    r = client.post("/api/experiments", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == status and words in r.json()["error"], r.text
