"""Image data sets: the 8 x 8 handwritten digits, a generator of simple shapes, and the
user's own images as MNIST's IDX files or an NPZ archive, checked before anything uses
them.

Images are float32 (n, channels, height, width) with pixels in [0, 1], as the course
scales them; labels are class indices 0..k-1 (int64).
"""

from __future__ import annotations

import gzip
import io
import math
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from . import npz
from .datasets import MAX_CLASSES
from .errors import DataError

MAX_IMAGES = 70_000  # MNIST's 60 000 + 10 000
MAX_SIDE = 64  # pixels, per side
CHANNELS = (1, 3)  # grey or RGB
WIDEST = 8  # bytes of a pixel or label as float64 or int64, the widest an NPZ may send
DIGITS_FILE = Path(__file__).with_name("digits.npz")


@dataclass(frozen=True, eq=False)
class Images:
    """Checked images: pixels in [0, 1], labels 0..len(classes)-1."""

    x: np.ndarray  # float32 (n, C, H, W)
    y: np.ndarray  # int64 (n,)
    classes: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        _, c, h, w = self.x.shape
        return c, h, w


# built in -----------------------------------------------------------------------------
@cache
def digits() -> Images:
    """The 1 797 handwritten digits of UCI's "Optical Recognition of Handwritten Digits"
    test set, 8 x 8, pixels 0..16 (docs/data.md: source and licence)."""
    with np.load(DIGITS_FILE, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return Images((x.astype(np.float32) / 16.0)[:, None], y.astype(np.int64),
                  tuple(str(d) for d in range(10)))


def _stretch(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of linear interpolation between pixel centres: each row sums
    to 1, so the resampled pixels stay in [0, 1]."""
    at = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(at).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.arange(n_out), low), 1 - (at - low))
    np.add.at(m, (np.arange(n_out), high), at - low)
    return m


def resampled(images: Images, side: int) -> Images:
    """The images bilinearly resampled to side x side: LeNet-5 wants 32 x 32, as MNIST's
    28 x 28 digits were padded to it."""
    _, _, h, w = images.x.shape
    if (h, w) == (side, side):
        return images
    x = _stretch(h, side) @ images.x @ _stretch(w, side).T
    return Images(np.ascontiguousarray(x, np.float32), images.y, images.classes)


SHAPES = ("horizontal line", "vertical line", "diagonal \\", "diagonal /", "cross",
          "circle", "square")


def shapes(n: int, noise: float, rng: np.random.Generator, size: int = 12,
           classes: int = len(SHAPES)) -> Images:
    """n images of the first `classes` shapes, as evenly dealt as n allows, each at a
    random place and size, with a stroke of random brightness and, by `noise` (0..0.5),
    Gaussian speckle: a first conv layer learns edge and corner detectors a learner can
    read."""
    if not 2 <= classes <= len(SHAPES):
        raise DataError(f"shapes has 2 to {len(SHAPES)} classes")
    y = np.arange(n) % classes
    rng.shuffle(y)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    x = np.zeros((n, 1, size, size), np.float32)
    half = size / 2
    for i, label in enumerate(y):  # one small image each: cheap next to training
        r = rng.uniform(size * 0.25, size * 0.42)  # half-extent of the shape
        cy, cx = rng.uniform(r, size - r, 2) if size - r > r else (half, half)
        dy, dx = rows - cy, cols - cx
        width = rng.uniform(0.6, 1.1)
        inside = (np.abs(dy) <= r) & (np.abs(dx) <= r)
        name = SHAPES[label]
        if name == "horizontal line":
            stroke = (np.abs(dy) < width) & inside
        elif name == "vertical line":
            stroke = (np.abs(dx) < width) & inside
        elif name == "diagonal \\":
            stroke = (np.abs(dy - dx) < width * 1.4) & inside
        elif name == "diagonal /":
            stroke = (np.abs(dy + dx) < width * 1.4) & inside
        elif name == "cross":
            stroke = ((np.abs(dy) < width) | (np.abs(dx) < width)) & inside
        elif name == "circle":
            stroke = np.abs(np.hypot(dy, dx) - r * 0.8) < width
        else:  # square
            edge = np.maximum(np.abs(dy), np.abs(dx))
            stroke = np.abs(edge - r * 0.8) < width
        x[i, 0][stroke] = rng.uniform(0.7, 1.0)
    if noise:
        x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    return Images(np.clip(x, 0.0, 1.0), y.astype(np.int64), SHAPES[:classes])


@dataclass(frozen=True)
class ImageSet:
    """A built-in image set, with what a caller must know to validate a request."""

    name: str
    description: str
    shape: tuple[int, int, int]  # (channels, height, width) of one image
    min_classes: int
    max_classes: int
    size: int | None = None  # a fixed set's number of images; None: n are generated
    sides: tuple[int, int] = (8, 32)  # the sides, in pixels, it can be had at
    label: str = ""  # the name people read; the page shows it

    def shape_at(self, side: int | None) -> tuple[int, int, int]:
        """One image's (channels, height, width) at this side (None: the set's own)."""
        return self.shape if side is None else (self.shape[0], side, side)


IMAGE_SETS: dict[str, ImageSet] = {
    "digits": ImageSet("digits", "the 1 797 handwritten digits of UCI, 8 x 8 grey (resampled "
                       "to side), 10 classes (every image, whatever n_samples)", (1, 8, 8), 10,
                       10, 1797, label="Digits"),
    "shapes": ImageSet("shapes", "lines at four angles, crosses, circles and squares, 12 x 12 "
                       "grey (drawn at side), with speckle by noise", (1, 12, 12), 2,
                       len(SHAPES), label="Shapes"),
}


def image_set(name: str, n: int, noise: float = 0.0, seed: int = 0,
              classes: int | None = None, side: int | None = None) -> Images:
    """A built-in image set, at `side` pixels a side (None: its own): the same arguments
    give the same images."""
    spec = IMAGE_SETS.get(name)
    if spec is None:
        raise DataError(f"unknown image set {name!r}; allowed: {', '.join(IMAGE_SETS)}")
    _, own, _ = spec.shape
    if side is not None and not spec.sides[0] <= side <= spec.sides[1]:
        raise DataError(f"{name} can be had at {spec.sides[0]} to {spec.sides[1]} pixels a "
                        f"side, not {side}")
    if name == "digits":
        return resampled(digits(), side or own)
    k = spec.max_classes if classes is None else classes
    return shapes(n, noise, np.random.default_rng(seed), side or own, k)


# uploads ------------------------------------------------------------------------------
def _gunzip(raw: bytes, what: str, limit: int) -> bytes:
    """The bytes, un-gzipped if they are gzip; never more than `limit` (a gzip bomb)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"{what}: not a readable gzip file ({exc})") from None
    if len(out) > limit:
        raise DataError(f"{what}: unpacks to over {limit} bytes, the limit")
    return out


def _idx(raw: bytes, what: str, dims: int) -> tuple[tuple[int, ...], bytes]:
    """An IDX file's shape and its unsigned-byte payload (MNIST's format)."""
    if len(raw) < 4 + 4 * dims:
        raise DataError(f"{what}: too short for an IDX file")
    zero, kind, n_dims = struct.unpack_from(">HBB", raw)
    if zero != 0 or kind != 0x08:
        raise DataError(f"{what}: not an IDX file of unsigned bytes (it should start with "
                        "00 00 08, as MNIST's files do)")
    if n_dims != dims:
        raise DataError(f"{what}: has {n_dims} dimensions; expected {dims}")
    shape = struct.unpack_from(f">{dims}I", raw, 4)
    payload = raw[4 + 4 * dims:]
    if len(payload) != math.prod(shape):
        raise DataError(f"{what}: the header says {' x '.join(map(str, shape))} values but "
                        f"the file holds {len(payload)}")
    return shape, payload


def _check(x: np.ndarray, y: np.ndarray, max_images: int) -> Images:
    """Shapes, sizes, pixel range and labels, with a message that says what to fix."""
    n, c, h, w = x.shape
    if c not in CHANNELS:
        raise DataError(f"images need 1 (grey) or 3 (RGB) channels, not {c}")
    if not (3 <= h <= MAX_SIDE and 3 <= w <= MAX_SIDE):
        raise DataError(f"images must be 3 to {MAX_SIDE} pixels a side, not {h} x {w}")
    if n != len(y):
        raise DataError(f"{n} images but {len(y)} labels")
    if not 2 <= n <= max_images:
        raise DataError(f"send 2 to {max_images} images, not {n}")
    if not np.isfinite(x).all():
        raise DataError("every pixel must be a finite number")
    if x.min() < 0 or x.max() > 1:
        raise DataError("pixels must lie in [0, 1] (or be whole numbers 0..255)")
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= MAX_CLASSES:
        raise DataError(f"labels must be whole numbers 0..{MAX_CLASSES - 1}")
    k = int(y.max()) + 1
    if k < 2:
        raise DataError("every label is 0: images are for classification, which needs at "
                        "least 2 classes (labels 0 and 1)")
    missing = sorted(set(range(k)) - set(np.unique(y).tolist()))
    if missing:
        raise DataError(f"labels must be 0..k-1 with each used; missing {missing[:5]}")
    return Images(np.ascontiguousarray(x, np.float32), y.astype(np.int64),
                  tuple(str(i) for i in range(k)))


def _too_many(shape: tuple[int, ...], max_values: int | None) -> None:
    if max_values is not None and math.prod(shape) > max_values:
        raise DataError(f"{' x '.join(map(str, shape))} pixels in all is over the limit of "
                        f"{max_values}; send fewer or smaller images")


def parse_idx(images: bytes, labels: bytes, max_images: int = MAX_IMAGES,
              max_values: int | None = None) -> Images:
    """MNIST's two IDX files (train-images-idx3-ubyte and its labels), gzipped or not;
    at most `max_values` pixels in all, when given."""
    limit = max_images * MAX_SIDE * MAX_SIDE + 16
    if max_values is not None:
        limit = min(limit, max_values + 16)
    shape, payload = _idx(_gunzip(images, "images", limit), "images", 3)
    _, label_bytes = _idx(_gunzip(labels, "labels", max_images + 8), "labels", 1)
    n, h, w = shape
    if n > max_images:
        raise DataError(f"send at most {max_images} images, not {n}")
    _too_many(shape, max_values)
    x = np.frombuffer(payload, np.uint8).reshape(n, 1, h, w).astype(np.float32) / 255.0
    return _check(x, np.frombuffer(label_bytes, np.uint8), max_images)


def parse_npz(raw: bytes, max_images: int = MAX_IMAGES, max_values: int | None = None) -> Images:
    """An NPZ with `x` (n, H, W) or (n, H, W, C) and `y` (n,). Whole numbers 0..255 are
    divided by 255; floats must already lie in [0, 1]. Sizes in bytes are read from the
    headers before any array is (see npz.py): a small file cannot make the server unpack
    or allocate a huge one (nor one of over `max_values` pixels, when given)."""
    max_pixels = max_images * MAX_SIDE ** 2 * 3
    if max_values is not None:
        max_pixels = min(max_pixels, max_values)
    with npz.open_npz(raw) as archive:
        xh = npz.header(archive, "x", "iuf", max_pixels * WIDEST)
        yh = npz.header(archive, "y", "iuf", max_images * WIDEST)
        if len(xh.shape) not in (3, 4):
            hint = " (sequences, (n, T), go to POST /api/datasets?kind=sequences)" \
                if len(xh.shape) == 2 else ""
            raise DataError(f"x must be (n, H, W) or (n, H, W, C), not {xh.shape}{hint}")
        if len(yh.shape) != 1:
            raise DataError(f"y must be a list of labels (n,), not {yh.shape}")
        if math.prod(xh.shape) > max_images * MAX_SIDE ** 2 * 3:
            raise DataError(f"x: {' x '.join(map(str, xh.shape))} is over the limit "
                            f"({max_images} images of at most {MAX_SIDE} x {MAX_SIDE})")
        _too_many(xh.shape, max_values)
        x, y = npz.array(archive, xh), npz.array(archive, yh)
    if x.ndim == 3:
        x = x[:, None]
    else:
        if x.shape[3] not in CHANNELS and x.shape[1] in CHANNELS:
            raise DataError(f"x is {' x '.join(map(str, x.shape))}: channels go last, "
                            "(n, H, W, C); np.moveaxis(x, 1, 3) turns (n, C, H, W) into it")
        x = np.moveaxis(x, 3, 1)
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError("whole-number pixels must be 0..255")
        x = x.astype(np.float32) / 255.0
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    return _check(x.astype(np.float32), y, max_images)
