"""Points brought by the user, as JSON or CSV, checked before anything uses them.

Every error names the row (as counted in the file, the header being row 1 of a CSV) or
the array index, and the problem.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .datasets import MAX_CLASSES
from .errors import DataError

MAX_COORDINATE = 1e6
CSV_COLUMNS = ("x1", "x2", "y", "split")
PROBLEMS = ("classification", "regression")


@dataclass(frozen=True)
class UserData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    problem: str
    n_classes: int  # 1 for regression

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"x": self.x_train.tolist(), "y": self.y_train.tolist(),
                               "problem": self.problem}
        if self.x_test is not None and self.y_test is not None:
            out["x_test"], out["y_test"] = self.x_test.tolist(), self.y_test.tolist()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserData:
        return parse_json(data, data.get("problem"))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{where}: {value!r} is not a number")
    try:
        f = float(value)
    except ValueError:
        raise DataError(f"{where}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(f):
        raise DataError(f"{where}: {value!r} is not a finite number")
    if abs(f) > MAX_COORDINATE:
        raise DataError(f"{where}: {value!r} is beyond +-{MAX_COORDINATE:g}")
    return f


def _labels(y: list[float], problem: str | None, max_classes: int,
            where: list[str]) -> tuple[np.ndarray, str, int]:
    whole = all(v == int(v) and v >= 0 for v in y)
    if problem is None:
        problem = "classification" if whole and len(set(y)) <= max_classes else "regression"
    if problem not in PROBLEMS:
        raise DataError(f"problem must be one of {', '.join(PROBLEMS)}")
    if problem == "regression":
        return np.asarray(y, dtype=np.float64), problem, 1
    for v, w in zip(y, where, strict=True):
        if v != int(v) or not 0 <= v < max_classes:
            raise DataError(f"{w}: label {v:g} is not a class 0..{max_classes - 1}")
    labels = np.asarray(y, dtype=np.int64)
    k = int(labels.max()) + 1
    if k < 2:
        raise DataError("classification needs at least two classes (labels 0 and 1)")
    return labels, problem, k


def _build(x: list[list[float]], y: list[float], x_test: list[list[float]] | None,
           y_test: list[float] | None, problem: str | None, max_classes: int,
           where: list[str], where_test: list[str]) -> UserData:
    if len(y) < 2:
        raise DataError("at least 2 training points are needed")
    all_y = y + (y_test or [])
    labels, problem, k = _labels(all_y, problem, max_classes, where + where_test)
    n = len(y)
    xt = np.asarray(x, dtype=np.float64).reshape(-1, 2)
    xs = None if x_test is None else np.asarray(x_test, dtype=np.float64).reshape(-1, 2)
    return UserData(xt, labels[:n], xs, None if y_test is None else labels[n:], problem, k)


def parse_json(obj: Any, problem: str | None = None, max_rows: int = 10_000,
               max_classes: int = MAX_CLASSES) -> UserData:
    """{"x": [[x1, x2], ...], "y": [...], optional "x_test", "y_test"}."""
    if not isinstance(obj, dict):
        raise DataError('send an object: {"x": [[x1, x2], ...], "y": [...]}')
    unknown = set(obj) - {"x", "y", "x_test", "y_test", "problem"}
    if unknown:
        raise DataError(f"unknown key {sorted(unknown)[0]!r}; allowed: x, y, x_test, y_test")
    parts: dict[str, tuple[list[list[float]], list[float]]] = {}
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if xk not in obj and yk not in obj and xk == "x_test":
            continue
        xs, ys = obj.get(xk), obj.get(yk)
        if not isinstance(xs, list) or not isinstance(ys, list):
            raise DataError(f"'{xk}' and '{yk}' must both be lists")
        if len(xs) != len(ys):
            raise DataError(f"'{xk}' has {len(xs)} points but '{yk}' has {len(ys)} values")
        if len(xs) > max_rows:
            raise DataError(f"too many points in '{xk}': {len(xs)}, the limit is {max_rows}")
        points = []
        for i, p in enumerate(xs):
            if not isinstance(p, list) or len(p) != 2:
                raise DataError(f"{xk}[{i}] must be a pair [x1, x2]")
            points.append([_number(v, f"{xk}[{i}][{j}]") for j, v in enumerate(p)])
        parts[xk] = (points, [_number(v, f"{yk}[{i}]") for i, v in enumerate(ys)])
    x, y = parts["x"]
    test = parts.get("x_test")
    if test is not None and not test[1]:
        test = None
    if len(y) + (len(test[1]) if test else 0) > max_rows:
        raise DataError(f"too many points: the limit is {max_rows}")
    return _build(x, y, test[0] if test else None, test[1] if test else None,
                  problem or obj.get("problem"), max_classes,
                  [f"y[{i}]" for i in range(len(y))],
                  [f"y_test[{i}]" for i in range(len(test[1]) if test else 0)])


def parse_csv(text: str, problem: str | None = None, max_rows: int = 10_000,
              max_classes: int = MAX_CLASSES) -> UserData:
    """Columns x1, x2, y and optionally split (train | test), in any order, with a header."""
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise DataError("the file is empty: it needs a header x1,x2,y and rows of numbers")
    lines = text.count("\n") + 1
    if lines - 1 > max_rows:
        raise DataError(f"too many rows: {lines - 1}, the limit is {max_rows}")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"row {reader.line_num}: not valid CSV ({exc})") from None
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise DataError(f"row 1: unknown column {unknown[0]!r}; the columns are x1, x2, y "
                        "and optionally split")
    missing = [c for c in CSV_COLUMNS[:3] if c not in header]
    if missing:
        raise DataError(f"row 1: the header lacks the column {missing[0]!r}")
    if len(set(header)) != len(header):
        raise DataError("row 1: a column is named twice")
    col = {name: header.index(name) for name in header}
    train: tuple[list[list[float]], list[float], list[str]] = ([], [], [])
    test: tuple[list[list[float]], list[float], list[str]] = ([], [], [])
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"row {number} has {len(row)} values, the header has {len(header)}")
        part = train
        if "split" in col:
            kind = row[col["split"]].strip().lower()
            if kind not in ("train", "test"):
                raise DataError(f"row {number}, column split: {kind!r} is not train or test")
            part = train if kind == "train" else test
        part[0].append([_number(row[col[c]].strip(), f"row {number}, column {c}")
                        for c in ("x1", "x2")])
        part[1].append(_number(row[col["y"]].strip(), f"row {number}, column y"))
        part[2].append(f"row {number}, column y")
    return _build(train[0], train[1], test[0] or None, test[1] or None, problem, max_classes,
                  train[2], test[2])


def load_user_data(path: Any, problem: str | None = None, max_rows: int = 10_000) -> UserData:
    """A .csv or .json file from disk (the CLI's --data)."""
    import json
    from pathlib import Path

    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".csv":
        return parse_csv(text, problem, max_rows)
    try:
        return parse_json(json.loads(text), problem, max_rows)
    except json.JSONDecodeError as exc:
        raise DataError(f"{p} is not JSON (or name it .csv): {exc}") from None
