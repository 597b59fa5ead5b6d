"""Binary frames for the websocket: a JSON header and the grids as raw little-endian bytes.

Layout (docs/protocol.md): uint32 header length H, H bytes of UTF-8 JSON (padded with
spaces to a multiple of 4), then the payload. Each grid in header["grids"] names its
dtype, shape, byte offset and length within the payload; uint8 grids map q to
low + (high - low) * q / 255 with one (low, high) per unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from concurrent.futures import Executor
from typing import Any

import numpy as np

from backend import jsonsafe
from backend.engine.group import Group

from .experiment import FRAME_VALUES, Experiment

BUSY = 4  # experiments on one worker above which frames carry a coarser output grid
CROWD = 40  # ... and above which the output goes at the neurons' resolution
# dtype.name costs microseconds a call, a frame has ~20 grids
_NAMES = {np.dtype(n): n for n in ("float16", "float32", "float64", "uint8", "int32", "int64")}


def _pad4(b: bytes, fill: bytes = b"\0") -> bytes:
    return b + fill * (-len(b) % 4)


class FrameWriter:
    def __init__(self) -> None:
        self.grids: list[dict[str, Any]] = []
        self.blobs: list[bytes] = []
        self.size = 0

    def add(self, name: str, data: np.ndarray, **extra: Any) -> None:
        raw = _pad4(data.tobytes())
        dtype = _NAMES.get(data.dtype) or data.dtype.name
        self.grids.append({"name": name, "dtype": dtype, "shape": list(data.shape),
                           "offset": self.size, "length": data.nbytes, **extra})
        self.blobs.append(raw)
        self.size += len(raw)

    def add_quantized(self, name: str, grids: np.ndarray) -> None:
        """(units, r, r) floats -> uint8 with each unit's own range."""
        self.add_quantized_all([(name, grids)])

    def add_quantized_all(self, named: list[tuple[str, np.ndarray]]) -> None:
        """Several (units, r, r) grids of one r quantized in one pass (a frame's every
        neuron: one set of array calls, not one per layer), each added under its name."""
        if not named:
            return
        # float32: the grids' own precision, half the memory to go through of float64
        flat = np.concatenate([g.reshape(g.shape[0], -1) for _, g in named],
                              dtype=np.float32)
        flat[~np.isfinite(flat)] = 0.0
        low, high = flat.min(axis=1), flat.max(axis=1)
        span = np.where(high > low, high - low, np.float32(1.0))
        flat -= low[:, None]
        flat *= (np.float32(255.0) / span)[:, None]
        q = np.rint(flat).astype(np.uint8)
        low_list, high_list = low.tolist(), high.tolist()
        at = 0
        for name, g in named:
            n = g.shape[0]
            self.add(name, q[at:at + n].reshape(g.shape), low=low_list[at:at + n],
                     high=high_list[at:at + n])
            at += n

    def encode(self, header: dict[str, Any]) -> bytes:
        head = _pad4(jsonsafe.dumps({**header, "grids": self.grids}).encode(), b" ")
        return struct.pack("<I", len(head)) + head + b"".join(self.blobs)


def _header(exp: Experiment, version: int) -> dict[str, Any]:
    return {
        "type": "frame", "version": version, "revision": exp.revision, "id": exp.id,
        "time": time.time(), "status": exp.status, "message": exp.message, "held": exp.held,
        "epoch": exp.epoch, "metrics": exp.public_metrics(),
        "learning_rate": exp.model.learning_rate, "extent": exp.extent(),
        "grad_norms": exp.model.grad_norms(),
    }


def build_frame(exp: Experiment, version: int, resolution: int,
                neuron_resolution: int, neurons: bool = True, example: int = 0) -> bytes:
    """Everything a viewer draws, for the experiment as it is now; without `neurons`,
    no inputs' and hidden units' grids (no viewer shows the network: docs/protocol.md).
    `example`: the test sequence a sequence experiment's frame traces."""
    if exp.data.images:
        return build_image_frame(exp, version)
    if exp.data.kind == "sequences":
        return build_sequence_frame(exp, version, example)
    with exp.lock:
        if neurons and resolution == neuron_resolution:  # one pass gives both
            *neuron_grids, output = exp.unit_grids(resolution)
        else:
            output = exp.output_grid(resolution)
            neuron_grids = exp.unit_grids(neuron_resolution)[:-1] if neurons else []
        inputs = [("inputs", exp.input_grids(neuron_resolution))] if neurons else []
        weights = [(exp.backend.to_numpy(d.W), None if d.b is None else exp.backend.to_numpy(d.b))
                   for d in exp.model.dense_layers]
        header = _header(exp, version)
    w = FrameWriter()
    # float16 holds up to 65504: a huge output (a weight set to 1e6) is drawn at the edge
    # of the scale instead of as infinity.
    half = np.finfo(np.float16).max
    w.add("output", np.clip(np.nan_to_num(output), -half, half).astype(np.float16))
    w.add_quantized_all(inputs + [(f"layer{i + 1}", g) for i, g in enumerate(neuron_grids)])
    # Binary, not JSON: a 12 x 64 network's 45 000 weights as text cost more than training.
    for i, (W, b) in enumerate(weights):
        w.add(f"weights{i}", np.asarray(W, dtype="<f4"))
        if b is not None:
            w.add(f"biases{i}", np.asarray(b, dtype="<f4"))
    return w.encode(header)


def build_frames(group: Group, exps: list[Experiment], versions: list[int], resolution: int,
                 neuron_resolution: int, neurons: bool = True) -> list[bytes]:
    """The frames of members of a group (backend/engine/group.py), each as build_frame
    makes it, with their grids from the group's one batched pass (Group.forward) and
    all their neurons quantized in one pass. Alone, a frame is ~40 array calls: on a
    GPU, launches that are most of its cost; on the CPU, where a frame is arithmetic
    (mostly tanh), this is about as fast as one by one."""
    members = [next(k for k, m in enumerate(group.models) if m is e.model) for e in exps]
    K = len(exps)
    with contextlib.ExitStack() as locks:
        for exp in exps:
            locks.enter_context(exp.lock)

        def forward(res: int, keep: bool) -> tuple[np.ndarray, list[np.ndarray]]:
            """(K, outputs, res, res) and, if `keep`, each hidden layer's (K, units, res, res)."""
            features = [e.grid_features(res) for e in exps]
            same = all(f is features[0] or np.array_equal(f, features[0]) for f in features)
            x = group.xp.asarray(features[0] if same else np.stack(features), dtype=group.dtype)
            with np.errstate(all="ignore"):
                z, hidden = group.forward(members, x, keep)
                out = group.head.activation.fn(group.xp, z)
            grid = lambda a: group.backend.to_numpy(a).transpose(0, 2, 1).reshape(  # noqa: E731
                K, a.shape[2], res, res)
            return grid(out), [grid(a) for a in hidden]

        if neurons and resolution == neuron_resolution:  # one pass gives both
            outputs, hidden = forward(resolution, True)
        else:
            outputs, _ = forward(resolution, False)
            hidden = forward(neuron_resolution, True)[1] if neurons else []
        inputs = [e.input_grids(neuron_resolution) for e in exps] if neurons else []
        weights = [[(e.backend.to_numpy(d.W), None if d.b is None
                     else e.backend.to_numpy(d.b)) for d in e.model.dense_layers]
                   for e in exps]
        headers = [_header(e, v) for e, v in zip(exps, versions, strict=True)]
    half = np.finfo(np.float16).max
    outputs = np.clip(np.nan_to_num(outputs), -half, half).astype(np.float16)
    writers = [FrameWriter() for _ in exps]
    for k, w in enumerate(writers):
        w.add("output", outputs[k])
    if neurons:  # every member's neurons, quantized in one pass, then dealt out
        named = [(k, name, grids) for k in range(len(exps)) for name, grids in
                 [("inputs", inputs[k])] + [(f"layer{i + 1}", layer[k])
                                            for i, layer in enumerate(hidden)]]
        everyone = FrameWriter()
        everyone.add_quantized_all([(f"{k}", grids) for k, _, grids in named])
        for (k, name, _), grid, blob in zip(named, everyone.grids, everyone.blobs,
                                            strict=True):
            writers[k].grids.append({**grid, "name": name, "offset": writers[k].size})
            writers[k].blobs.append(blob)
            writers[k].size += len(blob)
    frames = []
    for w, ws, header in zip(writers, weights, headers, strict=True):
        for i, (W, b) in enumerate(ws):
            w.add(f"weights{i}", np.asarray(W, dtype="<f4"))
            if b is not None:
                w.add(f"biases{i}", np.asarray(b, dtype="<f4"))
        frames.append(w.encode(header))
    return frames


def build_image_frame(exp: Experiment, version: int) -> bytes:
    """An image experiment's frame (docs/protocol.md, "Image frames"): the header as for
    points plus what the grids hold, then the first test images (uint8, pixel * 255),
    their class probabilities, every hidden entry's output for the chosen one of them,
    every conv layer's filters and the test set's confusion matrix."""
    with exp.lock:
        views = exp.image_views()
        header = _header(exp, version)
        labels = exp.data.labels
        entries = [h.type for h in exp.config.hidden_layers]
    header.update({"input": "images", "classes": list(labels), "layers": entries,
                   "example": views["example"],
                   "example_labels": views["labels"].astype(int).tolist()})
    w = FrameWriter()
    w.add("examples", np.round(views["examples"] * 255).astype(np.uint8))
    w.add("probabilities", views["probabilities"].astype("<f4"))
    _add_outputs(w, views["outputs"])
    for i, filters in views["filters"].items():
        w.add(f"filters{i}", filters.astype("<f4"))
    w.add("confusion", views["confusion"].astype("<i4"))
    return w.encode(header)


def build_sequence_frame(exp: Experiment, version: int, example: int = 0) -> bytes:
    """A sequence experiment's frame (docs/protocol.md, "Sequence frames"): the header as
    for points plus `sequence`, test sequence `example` through time as GET /sequence
    answers it (clamped to the test set), and for classification of whole sequences the
    test set's confusion matrix."""
    with exp.lock:
        header = _header(exp, version)
        n = len(exp.data.y_test)
        sequence = exp.sequence_view(min(max(example, 0), n - 1), budget=FRAME_VALUES) \
            if n else None
        confusion = exp.confusion() if exp.model.head.problem == "classification" and \
            not exp.data.per_step else None
        header.update({"input": "sequences", "classes": list(exp.data.labels),
                       "layers": [h.type for h in exp.config.hidden_layers],
                       "sequence": sequence})
    w = FrameWriter()
    if confusion is not None:
        w.add("confusion", confusion.astype("<i4"))
    return w.encode(header)


def _add_outputs(w: FrameWriter, outputs: list[np.ndarray]) -> None:
    """Each hidden entry's output for one image: mapsN (uint8 per channel) or unitsN."""
    for i, out in enumerate(outputs, start=1):
        if out.ndim == 3:
            w.add_quantized(f"maps{i}", out)
        else:
            w.add(f"units{i}", out.astype("<f4"))


def build_maps(exp: Experiment, image: np.ndarray | None = None,
               example: int | None = None) -> bytes:
    """One image's feature maps and class probabilities (GET or POST .../maps), in the
    frame layout: a test example's, or a drawing's."""
    with exp.lock:
        views = exp.image_maps(image, example)
        header = {"type": "maps", "id": exp.id, "revision": exp.revision,
                  "epoch": exp.epoch, "time": time.time(), "example": views["example"],
                  "label": views["label"], "classes": list(exp.data.labels),
                  "layers": [h.type for h in exp.config.hidden_layers]}
    w = FrameWriter()
    w.add("image", np.round(views["image"] * 255).astype(np.uint8))
    w.add("probabilities", views["probabilities"].astype("<f4"))
    _add_outputs(w, views["outputs"])
    return w.encode(header)


def decode_frame(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The reverse, for tests and Python clients: header and grids (uint8 dequantized)."""
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4:4 + n])
    payload = memoryview(data)[4 + n:]
    grids: dict[str, np.ndarray] = {}
    for g in header["grids"]:
        raw = np.frombuffer(payload[g["offset"]:g["offset"] + g["length"]], dtype=g["dtype"])
        arr = raw.reshape(g["shape"])
        if g["dtype"] == "uint8" and "low" in g:
            low = np.asarray(g["low"])[:, None, None]
            high = np.asarray(g["high"])[:, None, None]
            arr = low + (high - low) * arr / 255.0
        grids[g["name"]] = arr
    return header, grids


class FrameCache:
    """The newest frame of each experiment, built once however many watch it. A running
    experiment's frames are built by its worker right after each training slice; a paused
    one's here, on demand, on one thread. A frame without the neurons' grids serves only
    viewers that do not show them."""

    def __init__(self, resolution: int, neuron_resolution: int, executor: Executor) -> None:
        self.resolution = resolution
        self.neuron_resolution = neuron_resolution
        self.executor = executor
        self.frames: dict[str, tuple[int, bytes, bool]] = {}  # (version, frame, neurons)
        self.locks: dict[str, asyncio.Lock] = {}
        self.built, self.seconds = 0, 0.0  # frames built, here and by workers, and their time

    def record(self, seconds: float) -> None:
        self.built += 1
        self.seconds += seconds

    def resolution_for(self, sharing: int) -> int:
        """The output grid's resolution when `sharing` experiments share a worker: past
        BUSY at half the resolution, past CROWD at the neurons' (one pass over the grid
        then gives both), so every viewer keeps a usable frame rate (clients read the
        shape)."""
        if sharing > CROWD:
            return self.neuron_resolution
        if sharing > BUSY:
            return max(self.neuron_resolution, self.resolution // 2)
        return self.resolution

    def build(self, exp: Experiment, version: int, neurons: bool = True,
              example: int = 0) -> bytes:
        began = time.monotonic()
        frame = build_frame(exp, version, self.resolution, self.neuron_resolution, neurons,
                            example)
        self.record(time.monotonic() - began)
        return frame

    def put(self, exp_id: str, version: int, frame: bytes, neurons: bool = True) -> None:
        cached = self.frames.get(exp_id)
        if cached is None or cached[0] <= version:
            self.frames[exp_id] = (version, frame, neurons)

    def _fresh(self, exp_id: str, version: int, neurons: bool) -> bytes | None:
        cached = self.frames.get(exp_id)
        if cached and cached[0] >= version and (cached[2] or not neurons):
            return cached[1]
        return None

    async def get(self, exp: Experiment, version: int, neurons: bool = True,
                  example: int = 0) -> bytes:
        frame = self._fresh(exp.id, version, neurons)
        if frame is not None:
            return frame
        async with self.locks.setdefault(exp.id, asyncio.Lock()):
            frame = self._fresh(exp.id, version, neurons)
            if frame is not None:
                return frame
            loop = asyncio.get_running_loop()
            frame = await loop.run_in_executor(self.executor, self.build, exp, version,
                                               neurons, example)
            self.put(exp.id, version, frame, neurons)
            return frame

    def forget(self, exp_id: str) -> None:
        self.frames.pop(exp_id, None)
        self.locks.pop(exp_id, None)
