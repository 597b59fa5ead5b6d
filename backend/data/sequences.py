"""Sequence data sets: waves made from a seed, the 1-D digits of MNIST-1D, and the user's
own sequences as an NPZ archive, checked before anything uses them.

A set of sequences is float32 (n, T, C), time first and channels last (Keras' layout);
its targets are a class (int64) or a value (float32) per sequence, (n,), or one per step,
(n, T).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import npz
from .datasets import MAX_CLASSES
from .errors import DataError

MAX_SEQUENCES = 10_000  # in one upload, test sequences included
MAX_STEPS = 1_000  # of one uploaded sequence
MAX_CHANNELS = 16  # values per step of an uploaded sequence
MAX_VALUE = 1e6  # an uploaded value's magnitude, as for uploaded points
WIDEST = 8  # bytes of a value as float64 or int64, the widest an NPZ may send
LENGTHS = (10, 200)  # steps a generated wave may have
WAVES = ("sine", "triangle", "square", "sawtooth")
CYCLES = (1.0, 4.0)  # periods in one generated wave: its period is length / cycles
AMPLITUDE = (0.5, 1.0)


@dataclass(frozen=True, eq=False)
class Sequences:
    """Checked sequences, with the test sequences an upload may bring apart."""

    x: np.ndarray  # float32 (n, T, C)
    y: np.ndarray  # int64 classes or float32 values, (n,) or (n, T) per step
    classes: tuple[str, ...]  # the classes' names; () for regression
    problem: str  # "classification" | "regression"
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(steps, channels) of one sequence."""
        _, t, c = self.x.shape
        return t, c

    @property
    def per_step(self) -> bool:
        """A target at every step (y of (n, T)), not one per sequence."""
        return self.y.ndim == 2

    @property
    def n_classes(self) -> int:
        """The classes; 1 for regression."""
        return len(self.classes) or 1


@dataclass(frozen=True)
class SequenceSet:
    """A built-in sequence set, with what a caller must know to validate a request."""

    name: str
    label: str  # the name people read; the page shows it
    description: str
    problem: str
    min_classes: int
    max_classes: int
    lengths: tuple[int, int] = LENGTHS  # the steps it can be had at
    length: int = 40  # its own
    size: int | None = None  # a fixed set's number of sequences; None: n are generated
    per_step: bool = False  # a target at every step
    channels: int = 1
    train_fraction: float | None = None  # a published split's share (None: the config's)

    @property
    def classes(self) -> int:
        """The classes a config gets when it names none (the fewest: waves is the course's
        sine against triangle)."""
        return self.min_classes


SEQUENCE_SETS: dict[str, SequenceSet] = {
    "sine": SequenceSet(
        "sine", "Sine", "sine waves of random period, phase and amplitude, length steps; "
        "the target at each step is the next value (noise: Gaussian, times the amplitude, "
        "on the input only)", "regression", 2, 2, per_step=True),
    "waves": SequenceSet(
        "waves", "Waves", "which wave it is: sine, triangle, square, sawtooth (the first "
        "`classes` of them), of random period, phase and amplitude, with noise",
        "classification", 2, len(WAVES)),
    "mnist1d": SequenceSet(
        "mnist1d", "MNIST-1D", "the 1-D digits of Greydanus (2020): ten 12-point outlines "
        "padded, scaled, sheared, shifted and noised into 40 steps; 5 000 made (4 000 / "
        "1 000 at train_fraction 0.8), whatever n_samples and noise", "classification", 10,
        10, lengths=(40, 40), size=5000, train_fraction=0.8),
}


# built in -----------------------------------------------------------------------------
def _cycle(kind: str, u: np.ndarray) -> np.ndarray:
    """One period of the wave at phase u in [0, 1): each starts at 0, rising, as sine
    does, so that only the shape tells them apart."""
    if kind == "sine":
        return np.sin(2 * np.pi * u)
    if kind == "triangle":
        return 1 - 4 * np.abs(((u + 0.25) % 1.0) - 0.5)
    if kind == "square":
        return np.where(u < 0.5, 1.0, -1.0)
    return 2 * ((u + 0.5) % 1.0) - 1  # sawtooth


def _waves(kinds: np.ndarray, steps: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """(n, steps) waves of these kinds (indices into WAVES), each of random period (1 to 4
    cycles in `steps`), phase and amplitude; and the amplitudes (n, 1)."""
    n = len(kinds)
    period = steps / rng.uniform(*CYCLES, (n, 1))
    phase = rng.uniform(0.0, 1.0, (n, 1))
    amplitude = rng.uniform(*AMPLITUDE, (n, 1))
    u = (np.arange(steps) / period + phase) % 1.0
    out = np.empty((n, steps))
    for k, kind in enumerate(WAVES):
        rows = kinds == k
        out[rows] = _cycle(kind, u[rows])
    return out * amplitude, amplitude


def sine(n: int, noise: float, rng: np.random.Generator, length: int = 40) -> Sequences:
    """n sine waves of `length` steps; the target at step t is the wave's clean value at
    t + 1, so a network learns the wave, not its noise."""
    wave, amplitude = _waves(np.zeros(n, int), length + 1, rng)
    x = wave[:, :-1] + noise * amplitude * rng.standard_normal((n, length))
    return Sequences(x[:, :, None].astype(np.float32), wave[:, 1:].astype(np.float32), (),
                     "regression")


def waves(n: int, noise: float, rng: np.random.Generator, length: int = 40,
          classes: int = 2) -> Sequences:
    """n waves of the first `classes` kinds, as evenly dealt as n allows, with Gaussian
    noise of `noise` times the amplitude."""
    if not 2 <= classes <= len(WAVES):
        raise DataError(f"waves has 2 to {len(WAVES)} classes")
    y = np.arange(n) % classes
    rng.shuffle(y)
    wave, amplitude = _waves(y, length, rng)
    x = wave + noise * amplitude * rng.standard_normal((n, length))
    return Sequences(x[:, :, None].astype(np.float32), y.astype(np.int64), WAVES[:classes],
                     "classification")


# MNIST-1D (Greydanus 2020, github.com/greydanus/mnist1d, Apache 2.0): the recipe and its
# parameters, written anew with NumPy (the package needs scipy). Each digit is a 12-point
# outline; docs/data.md says what each step does.
DIGIT_OUTLINES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5]])
MNIST1D = {"size": 5000, "padding": (36, 60), "scale": 0.4, "max_shift": 48,
           "smooth_noise": 0.25, "smoothing": 2.0, "white_noise": 0.02, "shear": 0.75,
           "steps": 40}


def _outlines() -> np.ndarray:
    """The outlines standardized, starting at 0 and shrunk by 6, as the recipe has them."""
    d = DIGIT_OUTLINES
    d = (d - d.mean(1, keepdims=True)) / d.std(1, keepdims=True)
    return (d - d[:, :1]) / 6.0


def _resample(x: np.ndarray, steps: int) -> np.ndarray:
    """Rows linearly interpolated to `steps` points, first and last points kept."""
    n_in = x.shape[-1]
    at = np.linspace(0.0, n_in - 1, steps)
    low = np.minimum(np.floor(at).astype(int), n_in - 2)
    frac = at - low
    return x[..., low] * (1 - frac) + x[..., low + 1] * frac


def _smoothed(x: np.ndarray, sigma: float) -> np.ndarray:
    """Rows convolved with a Gaussian of `sigma` steps (cut at 4 sigma), mirrored at the
    ends: noise correlated over a few steps."""
    radius = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((0, 0), (radius, radius)), mode="symmetric")
    width = x.shape[1]
    return sum(w * padded[:, i:i + width] for i, w in enumerate(k))


@lru_cache(maxsize=4)
def mnist1d(seed: int = 0) -> Sequences:
    """The 5 000 digits of MNIST-1D (500 a class, shuffled), standardized over the set."""
    p = MNIST1D
    rng = np.random.default_rng([seed, 1_000_001])
    per_class = p["size"] // 10
    y = np.repeat(np.arange(10), per_class)
    n = len(y)
    outline = _outlines()[y] + 1e-8  # never exactly 0: only the padding is
    # Pad each outline with 36..60 zeros, then stretch it to 72 points: the digit takes
    # a random share of the sequence.
    low, high = p["padding"]
    wide = 12 + high
    pad = rng.integers(low, high + 1, n)
    at = np.linspace(0.0, 1.0, wide)[None] * (11 + pad)[:, None]  # positions in the padded
    i = np.floor(at).astype(int)
    frac = at - i

    def value(j: np.ndarray) -> np.ndarray:
        return np.where(j < 12, np.take_along_axis(outline, np.minimum(j, 11), 1), 0.0)

    x = value(i) * (1 - frac) + value(i + 1) * frac
    x *= 1 + p["scale"] * (rng.random((n, 1)) - 0.5)
    shift = rng.integers(0, p["max_shift"], n)
    x = np.take_along_axis(x, (np.arange(wide)[None] - shift[:, None]) % wide, 1)
    background = _smoothed(p["smooth_noise"] * rng.standard_normal((n, wide)), p["smoothing"])
    x = np.where(x != 0, x, background)
    x += p["white_noise"] * rng.standard_normal((n, wide))
    x -= p["shear"] * (rng.random((n, 1)) - 0.5) * np.linspace(-0.5, 0.5, wide)
    x = _resample(x, p["steps"])
    order = rng.permutation(n)
    x, y = x[order], y[order]
    x = ((x - x.mean()) / x.std())[:, :, None].astype(np.float32)
    y = y.astype(np.int64)
    x.setflags(write=False)  # cached: shared by every caller
    y.setflags(write=False)
    return Sequences(x, y, tuple(str(d) for d in range(10)), "classification")


def sequence_set(name: str, n: int, noise: float = 0.0, seed: int = 0,
                 classes: int | None = None, length: int | None = None) -> Sequences:
    """A built-in sequence set of `length` steps (None: its own): the same arguments give
    the same sequences."""
    spec = SEQUENCE_SETS.get(name)
    if spec is None:
        raise DataError(f"unknown sequence set {name!r}; allowed: {', '.join(SEQUENCE_SETS)}")
    steps = spec.length if length is None else length
    low, high = spec.lengths
    if not low <= steps <= high:
        raise DataError(f"{name} is {low} steps long, not {steps}" if low == high else
                        f"{name} can be had at {low} to {high} steps, not {steps}")
    if name == "mnist1d":
        return mnist1d(seed)
    rng = np.random.default_rng(seed)
    if name == "sine":
        return sine(n, noise, rng, steps)
    return waves(n, noise, rng, steps, spec.classes if classes is None else classes)


# uploads ------------------------------------------------------------------------------
def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def _headers(archive: zipfile.ZipFile, max_sequences: int,
             max_values: int) -> dict[str, npz.Member]:
    """x, y and optionally x_test, y_test, their shapes checked against each other and the
    limits before any of their data is read."""
    names = set(archive.namelist())
    test = {"x_test.npy", "y_test.npy"} & names
    if len(test) == 1:
        raise DataError("send x_test and y_test together, or neither")
    advice = "send fewer or shorter sequences"
    # bytes bound loosely here (no data is read yet), so that a count of values too high
    # gets the message in values below
    value_bytes = max_sequences * MAX_STEPS * MAX_CHANNELS * WIDEST
    target_bytes = max_sequences * MAX_STEPS * WIDEST
    heads = {"x": npz.header(archive, "x", "iuf", value_bytes, advice),
             "y": npz.header(archive, "y", "iuf", target_bytes, advice)}
    if test:
        heads["x_test"] = npz.header(archive, "x_test", "iuf", value_bytes, advice)
        heads["y_test"] = npz.header(archive, "y_test", "iuf", target_bytes, advice)
    for part in ("", "_test") if test else ("",):
        x, y = heads[f"x{part}"].shape, heads[f"y{part}"].shape
        if len(x) not in (2, 3):
            hint = " (images go to POST /api/datasets without kind=sequences)" \
                if len(x) == 4 else ""
            raise DataError(f"x{part} must be (n, T) or (n, T, C): n sequences of T steps of "
                            f"C values; not {_dims(x)}{hint}")
        if len(y) not in (1, 2):
            raise DataError(f"y{part} must be (n,), a class or value per sequence, or (n, T), "
                            f"one per step; not {_dims(y)}")
        if x[0] != y[0]:
            raise DataError(f"x{part} holds {x[0]} sequences but y{part} {y[0]} targets: "
                            "one each")
        if len(y) == 2 and y[1] != x[1]:
            raise DataError(f"y{part} has {y[1]} steps but x{part} {x[1]}: a per-step target "
                            "needs one value at every step of its sequence")
    x, y = heads["x"].shape, heads["y"].shape
    steps, channels = x[1], x[2] if len(x) == 3 else 1
    if not 2 <= x[0] <= max_sequences:
        raise DataError(f"send 2 to {max_sequences} sequences, not {x[0]}")
    if not 2 <= steps <= MAX_STEPS:
        raise DataError(f"sequences must be 2 to {MAX_STEPS} steps long, not {steps}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise DataError(f"sequences may have 1 to {MAX_CHANNELS} values per step (C), not "
                        f"{channels}")
    if test:
        xt, yt = heads["x_test"].shape, heads["y_test"].shape
        if xt[0] < 1:
            raise DataError("x_test holds no sequences: send at least one, or leave x_test "
                            "and y_test out")
        if len(xt) != len(x) or xt[1:] != x[1:]:
            raise DataError(f"x_test is {_dims(xt)} but x is {_dims(x)}: test sequences need "
                            f"the same {steps} steps and {channels} values per step")
        if len(yt) != len(y):
            raise DataError(f"y_test is {_dims(yt)} but y is {_dims(y)}: targets per step in "
                            "both, or per sequence in both")
        if x[0] + xt[0] > max_sequences:
            raise DataError(f"{x[0]} + {xt[0]} sequences in all is over the limit of "
                            f"{max_sequences}; send fewer")
    total = sum(math.prod(h.shape) for k, h in heads.items() if k.startswith("x"))
    if total > max_values:
        raise DataError(f"{total} values in all (x and x_test) is over the limit of "
                        f"{max_values}; send fewer or shorter sequences")
    return heads


def _finite(name: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{name} holds NaN or infinite values: every value must be a finite "
                        "number")
    if a.size and (a.max() > MAX_VALUE or a.min() < -MAX_VALUE):  # abs overflows int64's min
        raise DataError(f"{name} holds values beyond +-{MAX_VALUE:g}: scale them down")


def _problem(ys: list[np.ndarray], problem: str | None) -> str:
    """Whole numbers 0..MAX_CLASSES-1 are classes, unless problem says otherwise."""
    whole = all(a.size == 0 or ((a == np.round(a)).all() and a.min() >= 0
                                and a.max() < MAX_CLASSES) for a in ys)
    if problem is None:
        return "classification" if whole else "regression"
    if problem not in ("classification", "regression"):
        raise DataError(f"problem must be classification or regression, not {problem!r}")
    if problem == "classification" and not whole:
        raise DataError(f"for classification, y must hold classes: whole numbers 0 to "
                        f"{MAX_CLASSES - 1} (send problem regression for values)")
    return problem


def _classes(y: np.ndarray, y_test: np.ndarray | None) -> tuple[str, ...]:
    k = int(y.max()) + 1
    if k < 2:
        raise DataError("every y is 0: classification needs at least 2 classes (0 and 1); "
                        "send problem regression for values")
    missing = sorted(set(range(k)) - set(np.unique(y).tolist()))
    if missing:
        raise DataError(f"classes must be 0..k-1 with each in y; missing {missing[:5]}")
    if y_test is not None and y_test.size and int(y_test.max()) >= k:
        raise DataError(f"y_test holds class {int(y_test.max())}, which y never has (its "
                        f"classes are 0 to {k - 1})")
    return tuple(str(i) for i in range(k))


def parse_sequences_npz(raw: bytes, max_sequences: int = MAX_SEQUENCES,
                        max_values: int | None = None, problem: str | None = None) -> Sequences:
    """An NPZ with `x` (n, T) or (n, T, C), `y` (n,) or (n, T), and optionally `x_test`,
    `y_test` alike. Sizes are read from the headers before any array is (see npz.py); at
    most `max_values` values in x and x_test together, when given."""
    cap = max_sequences * MAX_STEPS * MAX_CHANNELS
    max_values = cap if max_values is None else min(cap, max_values)
    with npz.open_npz(raw) as archive:
        heads = _headers(archive, max_sequences, max_values)
        arrays = {k: npz.array(archive, h) for k, h in heads.items()}
    for name, a in arrays.items():
        _finite(name, a)
    ys = [arrays["y"]] + ([arrays["y_test"]] if "y_test" in arrays else [])
    kind = _problem(ys, problem)

    def steps(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a if a.ndim == 3 else a[:, :, None], np.float32)

    def targets(a: np.ndarray) -> np.ndarray:
        return a.astype(np.int64 if kind == "classification" else np.float32)

    y = targets(arrays["y"])
    y_test = targets(arrays["y_test"]) if "y_test" in arrays else None
    classes = _classes(y, y_test) if kind == "classification" else ()
    x_test = steps(arrays["x_test"]) if "x_test" in arrays else None
    return Sequences(steps(arrays["x"]), y, classes, kind, x_test, y_test)
