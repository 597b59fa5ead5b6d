"""An experiment's data: points (generated or uploaded, split, turned into input features),
images (a built-in set or an upload, split; the pixels are the input) or sequences (a
built-in set or an upload, split; the steps are the input)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Literal

import numpy as np

from backend.data import DataError, UserData, apply_features, generate, split
from backend.data.images import MAX_IMAGES, Images, image_set, parse_npz
from backend.data.sequences import (
    MAX_SEQUENCES,
    Sequences,
    parse_sequences_npz,
    sequence_set,
)

from .config import ExperimentConfig

PLANE = 6.0  # the plane shown is [-6, 6]^2, as in the TensorFlow Playground


@dataclass(frozen=True, eq=False)
class ImageUpload:
    """Uploaded images, checked, with the compact form they are stored in (an NPZ):
    it pickles, so it travels to the training processes as UserData does."""

    images: Images
    npz: bytes

    problem = "classification"

    @property
    def n_classes(self) -> int:
        return len(self.images.classes)

    @classmethod
    def of(cls, images: Images, raw_npz: bytes | None = None) -> ImageUpload:
        """Stored as whole-number pixels when they are (IDX files, 0..255 NPZs), else as
        float32; compressed; or as the uploaded NPZ itself when that is smaller."""
        x = np.moveaxis(images.x, 1, 3)  # (n, H, W, C), as uploads give them
        q = np.round(x * 255).astype(np.uint8)
        exact = np.array_equal(q.astype(np.float32) / 255.0, x)  # as parse_npz reads q back
        buffer = io.BytesIO()
        np.savez_compressed(buffer, x=q if exact else x, y=images.y)
        npz = buffer.getvalue()
        if raw_npz is not None and len(raw_npz) < len(npz):
            npz = raw_npz
        return cls(images, npz)

    def to_json(self) -> dict[str, str]:
        return {"kind": "images", "npz": base64.b64encode(self.npz).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, object], max_images: int = MAX_IMAGES,
                  max_values: int | None = None) -> ImageUpload:
        """Checked again as it is read: an import's data are a stranger's."""
        blob = data.get("npz")
        if not isinstance(blob, str):
            raise DataError("the images' 'npz' must be the NPZ file in base64")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise DataError("the images' 'npz' is not base64") from None
        return cls(parse_npz(raw, max_images, max_values), raw)


@dataclass(frozen=True, eq=False)
class SequenceUpload:
    """Uploaded sequences, checked, with the compact form they are stored in (an NPZ, and
    the problem, which whole-number targets alone do not tell): it pickles, as
    ImageUpload does."""

    sequences: Sequences
    npz: bytes

    @property
    def problem(self) -> str:
        return self.sequences.problem

    @property
    def n_classes(self) -> int:
        return self.sequences.n_classes

    @classmethod
    def of(cls, sequences: Sequences, raw_npz: bytes | None = None) -> SequenceUpload:
        """Stored as float32 (and whole-number classes), compressed; or as the uploaded NPZ
        itself when that is smaller."""
        s = sequences
        arrays = {"x": s.x, "y": s.y}
        if s.x_test is not None and s.y_test is not None:
            arrays |= {"x_test": s.x_test, "y_test": s.y_test}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        npz = buffer.getvalue()
        if raw_npz is not None and len(raw_npz) < len(npz):
            npz = raw_npz
        return cls(sequences, npz)

    def to_json(self) -> dict[str, str]:
        return {"kind": "sequences", "problem": self.problem,
                "npz": base64.b64encode(self.npz).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, object], max_sequences: int = MAX_SEQUENCES,
                  max_values: int | None = None) -> SequenceUpload:
        """Checked again as it is read: an import's data are a stranger's."""
        blob, problem = data.get("npz"), data.get("problem")
        if not isinstance(blob, str):
            raise DataError("the sequences' 'npz' must be the NPZ file in base64")
        if problem not in ("classification", "regression"):
            raise DataError("the sequences' 'problem' must be classification or regression")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise DataError("the sequences' 'npz' is not base64") from None
        return cls(parse_sequences_npz(raw, max_sequences, max_values, str(problem)), raw)


Upload = UserData | ImageUpload | SequenceUpload


def read_upload(data: dict[str, object], max_images: int = MAX_IMAGES,
                max_values: int | None = None,
                max_sequences: int = MAX_SEQUENCES) -> Upload:
    """A stored upload (or an export's data) back: images, sequences or points."""
    if data.get("kind") == "images":
        return ImageUpload.from_json(data, max_images, max_values)
    if data.get("kind") == "sequences":
        return SequenceUpload.from_json(data, max_sequences, max_values)
    return UserData.from_json(data)  # type: ignore[arg-type]


DataKind = Literal["points", "images", "sequences"]


@dataclass(frozen=True)
class ExperimentData:
    """Points (x1, x2) on the plane, for drawing, and feature matrices for the network;
    or images (n, C, H, W), or sequences (n, T, C), which are the network's input as they
    are."""

    x_train: np.ndarray
    y_train: np.ndarray  # sequences: (n,) or (n, T), a target per step
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    scale: float = 1.0  # plane units per unit of the uploaded points; 1: as they came
    input_shape: tuple[int, ...] | None = None  # (C, H, W): images; (T, C): sequences
    labels: tuple[str, ...] = ()  # the classes' names, where the data set has them
    kind: DataKind = "points"

    @property
    def images(self) -> bool:
        return self.kind == "images"

    @property
    def sequences(self) -> bool:
        return self.kind == "sequences"

    @property
    def per_step(self) -> bool:
        """Sequences with a target at every step (y of (n, T))."""
        return self.y_train.ndim == 2

    def features(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.kind != "points":
            return self.x_train, self.x_test
        return apply_features(names, self.x_train), apply_features(names, self.x_test)


def _image_data(config: ExperimentConfig, images: Images,
                rng: np.random.Generator) -> ExperimentData:
    x, y, x_test, y_test = split(images.x, images.y, config.dataset.train_fraction, rng)
    return ExperimentData(x, y, x_test, y_test, len(images.classes),
                          input_shape=images.shape, labels=images.classes, kind="images")


def _sequence_data(config: ExperimentConfig, s: Sequences,
                   rng: np.random.Generator) -> ExperimentData:
    """Split by train_fraction, unless the sequences bring their own test part."""
    if s.x_test is not None and s.y_test is not None:
        x, y, x_test, y_test = s.x, s.y, s.x_test, s.y_test
    else:
        x, y, x_test, y_test = split(s.x, s.y, config.dataset.train_fraction, rng)
    return ExperimentData(x, y, x_test, y_test, s.n_classes, input_shape=s.shape,
                          labels=s.classes, kind="sequences")


def build_data(config: ExperimentConfig, upload: Upload | None = None) -> ExperimentData:
    """Generate the configured data set (or take the upload) and split it."""
    ds = config.dataset
    rng = np.random.default_rng([ds.seed, 1])  # a stream apart from the generator's
    kind = config.input_kind
    if isinstance(upload, ImageUpload | SequenceUpload):
        what = "images" if isinstance(upload, ImageUpload) else "sequences"
        if kind == "points":
            raise DataError(f"data set {ds.id!r} holds {what}: send features [] to train "
                            "on them")
        if upload.problem != config.problem:
            raise DataError(f"data set {ds.id!r} holds {what} for {upload.problem}: set "
                            f"problem to {upload.problem!r}")
        if isinstance(upload, SequenceUpload):
            return _sequence_data(config, upload.sequences, rng)
        return _image_data(config, upload.images, rng)
    if kind != "points" and ds.name == "custom":
        raise DataError(f"data set {ds.id!r} holds 2-D points, not images or sequences: "
                        "give it features (x1, x2, ...)")
    if kind == "sequences":
        return _sequence_data(config, sequence_set(ds.name, ds.n_samples, ds.noise, ds.seed,
                                                   ds.classes, ds.length), rng)
    if kind == "images":
        return _image_data(config, image_set(ds.name, ds.n_samples, ds.noise, ds.seed,
                                             ds.classes, ds.side), rng)
    if upload is not None:
        s = fit_scale(upload)
        if upload.x_test is not None and upload.y_test is not None:
            return ExperimentData(upload.x_train * s, upload.y_train, upload.x_test * s,
                                  upload.y_test, upload.n_classes, s)
        x, y, x_test, y_test = split(upload.x_train, upload.y_train, ds.train_fraction, rng)
        return ExperimentData(x * s, y, x_test * s, y_test, upload.n_classes, s)
    x, y = generate(ds.name, ds.n_samples, ds.noise, ds.seed, ds.classes)
    parts = split(x, y, ds.train_fraction, rng)
    classes = ds.classes if config.problem == "classification" else 1
    return ExperimentData(*parts, n_classes=classes)


def fit_scale(upload: UserData) -> float:
    """Points far outside the plane are scaled into it: at +-500, tanh units saturate and
    the features x1^2, sin x1 ... mean nothing, so such a set could not be learned."""
    parts = [upload.x_train] + ([upload.x_test] if upload.x_test is not None else [])
    biggest = max(float(np.abs(p).max(initial=0.0)) for p in parts)
    return PLANE / biggest if biggest > PLANE else 1.0


def plane_points(resolution: int, extent: float = PLANE) -> np.ndarray:
    """Cell centres of a grid over the plane, row by row from the top (y = +extent) down,
    x left to right: where every grid of the frames and /boundary is taken."""
    step = 2 * extent / resolution
    c = -extent + step * (np.arange(resolution) + 0.5)
    xs, ys = np.meshgrid(c, c[::-1])
    return np.stack([xs.ravel(), ys.ravel()], axis=1)
