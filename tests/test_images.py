"""Image data: the built-in digits and shapes, and uploads as IDX or NPZ, checked."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import numpy as np
import pytest

from backend.data import DataError
from backend.data.images import SHAPES, digits, image_set, parse_idx, parse_npz, resampled, shapes


def test_the_digits_are_the_1797_images_of_ten_classes() -> None:
    d = digits()
    assert d.x.shape == (1797, 1, 8, 8) and d.x.dtype == np.float32
    assert d.x.min() == 0 and d.x.max() == 1  # 0..16 scaled to [0, 1]
    assert np.bincount(d.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # a zero has a hole in the middle; a one does not
    zero, one = d.x[d.y == 0].mean(axis=0)[0], d.x[d.y == 1].mean(axis=0)[0]
    assert zero[3:5, 3:5].mean() < 0.2 < one[3:5, 3:5].mean()


def test_shapes_are_seeded_balanced_and_drawn() -> None:
    a = shapes(70, 0.1, np.random.default_rng(3))
    b = shapes(70, 0.1, np.random.default_rng(3))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert np.bincount(a.y).tolist() == [10] * len(SHAPES)
    assert a.x.min() >= 0 and a.x.max() <= 1
    clean = shapes(70, 0.0, np.random.default_rng(0))
    rows = clean.x[clean.y == 0][:, 0]  # horizontal lines: the lit pixels share rows
    for img in rows:
        lit_rows = np.nonzero(img.max(axis=1) > 0.5)[0]
        lit_cols = np.nonzero(img.max(axis=0) > 0.5)[0]
        assert len(lit_rows) <= 3 and len(lit_cols) >= 5
    with pytest.raises(DataError, match="2 to 7 classes"):
        shapes(10, 0, np.random.default_rng(0), classes=9)


def test_a_side_resamples_the_digits_and_draws_the_shapes_at_it() -> None:
    d, big = digits(), image_set("digits", 0, side=32)
    assert big.x.shape == (1797, 1, 32, 32) and np.array_equal(big.y, d.y)
    assert big.x.min() >= 0 and big.x.max() <= 1
    # bilinear between pixel centres: 32 / 8 = 4, so pixel (4i + 1.5) is the old pixel i's
    # centre, halfway between output pixels 4i + 1 and 4i + 2
    centres = (big.x[:, :, 1::4, 1::4] + big.x[:, :, 2::4, 1::4] + big.x[:, :, 1::4, 2::4]
               + big.x[:, :, 2::4, 2::4]) / 4
    assert np.abs(centres - d.x).max() < 0.25
    ramp = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (8, 1))[None, None]
    stretched = resampled(type(d)(ramp, np.zeros(1, np.int64), ("0",)), 16).x[0, 0]
    inner = stretched[:, 1:-1]  # away from the clamped edges, a ramp stays a ramp
    assert np.allclose(np.diff(inner, axis=1), 1 / 14, atol=1e-6)
    assert resampled(d, 8) is d
    assert image_set("shapes", 20, side=24).x.shape == (20, 1, 24, 24)
    with pytest.raises(DataError, match="8 to 32 pixels a side, not 40"):
        image_set("digits", 0, side=40)


def idx(kind_dims: bytes, shape: tuple[int, ...], payload: bytes) -> bytes:
    return b"\0\0" + kind_dims + struct.pack(f">{len(shape)}I", *shape) + payload


def test_mnist_idx_files_load_gzipped_or_not() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 1, 0], np.uint8)
    images = idx(b"\x08\x03", (5, 28, 28), pixels.tobytes())
    label_file = idx(b"\x08\x01", (5,), labels.tobytes())
    for img, lab in ((images, label_file), (gzip.compress(images), gzip.compress(label_file))):
        got = parse_idx(img, lab)
        assert got.x.shape == (5, 1, 28, 28) and got.classes == ("0", "1", "2")
        np.testing.assert_allclose(got.x[:, 0], pixels / 255.0, rtol=1e-6)
        assert got.y.tolist() == labels.tolist()


@pytest.mark.parametrize(("images", "labels", "words"), [
    (b"PK\3\4 not idx at all", None, "not an IDX file"),
    (idx(b"\x08\x03", (5, 28, 28), b"\0" * 100), None, "the header says 5 x 28 x 28"),
    (idx(b"\x08\x02", (5, 28), b"\0" * 140), None, "has 2 dimensions"),
    (idx(b"\x08\x03", (2, 100, 100), b"\0" * 20_000), None, "3 to 64 pixels"),
    (None, idx(b"\x08\x01", (4,), bytes([0, 1, 0, 1])), "5 images but 4 labels"),
    (None, idx(b"\x08\x01", (5,), bytes([0, 1, 0, 1, 12])), "labels must be whole numbers"),
    (None, idx(b"\x08\x01", (5,), bytes([0, 2, 0, 2, 0])), "missing [1]"),
    (b"\x1f\x8b broken gzip", None, "not a readable gzip file"),
])
def test_bad_idx_files_are_refused_with_what_to_fix(images: bytes | None, labels: bytes | None,
                                                    words: str) -> None:
    good_images = idx(b"\x08\x03", (5, 8, 8), bytes(320))
    good_labels = idx(b"\x08\x01", (5,), bytes([0, 1, 0, 1, 0]))
    with pytest.raises(DataError) as err:
        parse_idx(images or good_images, labels or good_labels)
    assert words in str(err.value)


def test_a_gzip_bomb_is_refused_before_it_unpacks() -> None:
    bomb = gzip.compress(idx(b"\x08\x03", (1000, 64, 64), bytes(1000 * 64 * 64)))
    with pytest.raises(DataError, match="unpacks to over"):
        parse_idx(bomb, idx(b"\x08\x01", (2,), bytes([0, 1])), max_images=10)


def npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def test_npz_grey_or_colour_whole_numbers_or_floats() -> None:
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (6, 10, 12), dtype=np.uint8)
    got = parse_npz(npz(x=grey, y=np.array([0, 1, 2, 0, 1, 2])))
    assert got.x.shape == (6, 1, 10, 12) and got.shape == (1, 10, 12)
    np.testing.assert_allclose(got.x[:, 0], grey / 255.0, rtol=1e-6)
    colour = rng.random((4, 8, 8, 3)).astype(np.float32)
    got = parse_npz(npz(x=colour, y=np.array([1.0, 0.0, 1.0, 0.0])))
    assert got.x.shape == (4, 3, 8, 8) and got.y.dtype == np.int64
    np.testing.assert_array_equal(got.x[2, 1], colour[2, :, :, 1])


@pytest.mark.parametrize(("raw", "words"), [
    (b"not a zip", "not an NPZ file"),
    (npz(x=np.zeros((3, 8, 8))), "an array named 'y'"),
    (npz(x=np.zeros((3, 8)), y=np.zeros(3, int)), "(n, H, W) or (n, H, W, C)"),
    (npz(x=np.full((2, 8, 8), np.nan), y=np.array([0, 1])), "finite"),
    (npz(x=np.full((2, 8, 8), 2.0), y=np.array([0, 1])), "pixels must lie in [0, 1]"),
    (npz(x=np.zeros((2, 8, 8, 2)), y=np.array([0, 1])), "1 (grey) or 3 (RGB) channels"),
    (npz(x=np.zeros((2, 3, 8, 8)), y=np.array([0, 1])), "x is 2 x 3 x 8 x 8: channels go "
     "last, (n, H, W, C); np.moveaxis(x, 1, 3) turns (n, C, H, W) into it"),
    (npz(x=np.zeros((3, 8, 8)), y=np.zeros(3, int)), "every label is 0: images are for "
     "classification, which needs at least 2 classes"),
    (npz(x=np.zeros((2, 8, 8)), y=np.array([0.5, 1])), "whole numbers"),
    (npz(x=np.zeros((2, 8, 8)), y=np.array([[0], [1]])), "a list of labels"),
    (npz(x=np.array([[[None]]], dtype=object), y=np.array([0])), "Python objects"),
])
def test_bad_npz_files_are_refused_with_what_to_fix(raw: bytes, words: str) -> None:
    with pytest.raises(DataError) as err:
        parse_npz(raw)
    assert words in str(err.value)


def test_an_npz_that_claims_a_huge_array_is_refused_before_it_is_read() -> None:
    """The header's shape is checked first: a tiny file cannot allocate gigabytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 64, 64)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
        z.writestr("y.npy", b"")
    with pytest.raises(DataError, match="over the limit"):
        parse_npz(out.getvalue(), max_images=100)
