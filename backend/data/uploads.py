"""Points brought by the user, as JSON or CSV, checked before anything uses them.

Every error says where: a CSV's line as an editor numbers it (the header is usually line 1;
blank lines count), or a JSON index such as x[3][1].

With no problem given it is inferred from the labels: all whole numbers 0..max_classes-1
means classification, anything else regression. Pass the problem to decide otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import MAX_CLASSES
from .errors import DataError

MAX_ROWS = 10_000
MAX_COORDINATE = 1e6
REQUIRED_COLUMNS = ("x1", "x2", "y")
CSV_COLUMNS = (*REQUIRED_COLUMNS, "split")
SPLITS = ("train", "test")
JSON_KEYS = ("x", "y", "x_test", "y_test", "problem")
PROBLEMS = ("classification", "regression")
SHOWN_CHARS = 40  # of a value quoted in a message
SHOWN_NAMES = 5  # of the unknown names listed in a message
# A CSV number as a spreadsheet writes it: ASCII digits, so that no other script's digits
# (which float() reads) and no "1_000" pass for numbers that JSON would refuse.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_NOT_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class UserData:
    """Checked points: finite, within +-MAX_COORDINATE, labels fitting the problem."""

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


@dataclass
class _Part:
    """The points of one split, and where each label came from for messages."""

    x: list[list[float]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    where: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Beyond:
    """A JSON number past +-MAX_COORDINATE, kept as written: reading 5000 digits as an int
    fails (Python's limit on digits), as a float it overflows, and the message quotes it."""

    text: str

    def __str__(self) -> str:
        return self.text


def _json_int(text: str) -> int | _Beyond:
    return int(text) if abs(float(text)) <= MAX_COORDINATE else _Beyond(text)


def _json_float(text: str) -> float | _Beyond:
    f = float(text)
    return f if abs(f) <= MAX_COORDINATE else _Beyond(text)


def read_json(text: str, what: str = "the upload") -> Any:
    """JSON text -> its value; any failure, however hostile the text, is a DataError."""
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        raise DataError(f"{what} is not JSON: {exc.msg} at line {exc.lineno}, "
                        f"column {exc.colno}") from None
    except RecursionError:
        raise DataError(f"{what} nests lists or objects too deeply; send "
                        '{"x": [[x1, x2], ...], "y": [...]}') from None


def _brief(value: Any) -> str:
    """A value as a message quotes it: short, and never a deep or failing conversion."""
    if isinstance(value, list | dict):  # printing a deeply nested one could recurse too far
        return "[...]" if isinstance(value, list) else "{...}"
    try:
        text = str(value)
    except ValueError:  # an int past Python's limit on digits
        return f"an integer of over {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def _names(names: list[str]) -> str:
    """The first few names, quoted and cut short: a message stays short however many."""
    shown = ", ".join(repr(_brief(n)) for n in names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _within(f: float, shown: str, where: str) -> float:
    if not abs(f) <= MAX_COORDINATE:
        raise DataError(f"{where}: {shown} is beyond +-{MAX_COORDINATE:g}")
    return f


def _cell(value: str, where: str) -> float:
    """A CSV value: ASCII text that reads as a finite float within +-MAX_COORDINATE."""
    text = value.strip()
    if not text:
        raise DataError(f"{where} is empty")
    if _NOT_FINITE.fullmatch(text):
        raise DataError(f"{where}: {text!r} is not a finite number")
    if not _NUMBER.fullmatch(text):
        raise DataError(f"{where}: {_brief(text)!r} is not a number")
    return _within(float(text), _brief(text), where)  # 1e999 reads as inf: beyond


def _number(value: Any, where: str) -> float:
    """A JSON value: a number (not text, not true/false) within +-MAX_COORDINATE."""
    if isinstance(value, _Beyond):
        raise DataError(f"{where}: {_brief(value)} is beyond +-{MAX_COORDINATE:g}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where}: {_brief(value)!r} is not a number")
    if isinstance(value, int) and abs(value) > MAX_COORDINATE:  # may be past float's range
        raise DataError(f"{where}: {_brief(value)} is beyond +-{MAX_COORDINATE:g}")
    if not math.isfinite(value):
        raise DataError(f"{where}: {str(value)!r} is not a finite number")
    return _within(float(value), str(value), where)


def _is_class(v: float, max_classes: int) -> bool:
    return v == int(v) and 0 <= v < max_classes


def _problem(y: list[float], problem: Any, max_classes: int) -> str:
    if problem is None:
        return "classification" if all(_is_class(v, max_classes) for v in y) else "regression"
    if not isinstance(problem, str) or problem not in PROBLEMS:
        raise DataError(f"problem must be classification or regression, not "
                        f"{_brief(problem)!r}")
    return problem


def _build(train: _Part, test: _Part | None, problem: Any, max_classes: int) -> UserData:
    """Arrays from checked parts, the labels checked against the problem."""
    if len(train.y) < 2:
        raise DataError(f"at least 2 training points are needed, got {len(train.y)}")
    test = test if test is not None and test.y else None
    y_all = train.y + (test.y if test else [])
    kind = _problem(y_all, problem, max_classes)
    n_classes = 1
    if kind == "classification":
        where = train.where + (test.where if test else [])
        for v, w in zip(y_all, where, strict=True):
            if not _is_class(v, max_classes):
                raise DataError(f"{w}: label {v:g} is not a class 0..{max_classes - 1}")
        seen = sorted({int(v) for v in train.y})
        if len(seen) < 2:
            raise DataError(f"classification needs at least two classes among the training "
                            f"labels, all are {seen[0]} (for numeric targets use regression)")
        n_classes = int(max(y_all)) + 1
    dtype = np.int64 if kind == "classification" else np.float64

    def arrays(part: _Part) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(part.x, dtype=np.float64).reshape(-1, 2),
                np.asarray(part.y, dtype=dtype))

    x_train, y_train = arrays(train)
    x_test, y_test = arrays(test) if test else (None, None)
    return UserData(x_train, y_train, x_test, y_test, kind, n_classes)


def _json_part(obj: dict[str, Any], xk: str, yk: str, max_rows: int) -> _Part:
    xs, ys = obj.get(xk), obj.get(yk)
    if xs is None or ys is None:
        missing = yk if xs is not None else xk
        raise DataError(f"{missing!r} is missing: {xk!r} and {yk!r} come together")
    if not isinstance(xs, list):
        raise DataError(f"{xk!r} must be a list of [x1, x2] pairs")
    if not isinstance(ys, list):
        raise DataError(f"{yk!r} must be a list of labels, one per point")
    if len(xs) > max_rows:
        raise DataError(f"too many points in {xk!r}: {len(xs)}, the limit is {max_rows}")
    if len(xs) != len(ys):
        raise DataError(f"{xk!r} has {len(xs)} points but {yk!r} has {len(ys)} labels")
    part = _Part()
    for i, (p, label) in enumerate(zip(xs, ys, strict=True)):
        if not isinstance(p, list | tuple) or len(p) != 2:
            raise DataError(f"{xk}[{i}] must be a pair [x1, x2]")
        part.x.append([_number(v, f"{xk}[{i}][{j}]") for j, v in enumerate(p)])
        part.y.append(_number(label, f"{yk}[{i}]"))
        part.where.append(f"{yk}[{i}]")
    return part


def parse_json(obj: Any, problem: str | None = None, max_rows: int = MAX_ROWS,
               max_classes: int = MAX_CLASSES) -> UserData:
    """{"x": [[x1, x2], ...], "y": [...], optional "x_test", "y_test" and "problem"}.

    An explicit `problem` wins over the object's own.
    """
    if not isinstance(obj, dict):
        raise DataError('send an object: {"x": [[x1, x2], ...], "y": [...]}')
    unknown = sorted(str(k) for k in obj if k not in JSON_KEYS)
    if unknown:
        raise DataError(f"unknown key {_names(unknown)}; allowed: {', '.join(JSON_KEYS)}")
    train = _json_part(obj, "x", "y", max_rows)
    has_test = obj.get("x_test") is not None or obj.get("y_test") is not None
    test = _json_part(obj, "x_test", "y_test", max_rows) if has_test else None
    total = len(train.y) + (len(test.y) if test else 0)
    if total > max_rows:
        raise DataError(f"too many points: {total} in train and test, the limit is {max_rows}")
    return _build(train, test, problem if problem is not None else obj.get("problem"),
                  max_classes)


def _count_rows(text: str, max_rows: int) -> None:
    """Refuse a huge file before parsing it: counting lines is cheap, parsing is not."""
    breaks = max(text.count("\n"), text.count("\r"))
    if breaks <= max_rows:  # at most breaks + 1 lines, one of them the header
        return
    rows = sum(1 for line in text.splitlines() if line.strip()) - 1
    if rows > max_rows:
        raise DataError(f"too many rows: {rows}, the limit is {max_rows}")


def _header(row: list[str], line: int) -> dict[str, int]:
    """Column name -> index; names are case-insensitive and may come in any order."""
    names = [cell.strip().lower() for cell in row]
    unknown = list(dict.fromkeys(n for n in names if n not in CSV_COLUMNS))
    if unknown and all(_NUMBER.fullmatch(n) for n in names):
        raise DataError(f"line {line}: the first line must be the header x1,x2,y "
                        "(and optionally split), not numbers")
    if unknown:
        raise DataError(f"line {line}: unknown column {_names(unknown)}; "
                        "the columns are x1, x2, y and optionally split")
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise DataError(f"line {line}: the column {_names(repeated)} is named twice")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise DataError(f"line {line}: the header lacks the column {_names(missing)}")
    return {name: i for i, name in enumerate(names)}


def _csv_row(row: list[str], line: int, columns: dict[str, int],
             parts: dict[str, _Part]) -> None:
    if len(row) != len(columns):
        raise DataError(f"line {line} has {len(row)} values, the header has {len(columns)}")
    part = parts["train"]
    if "split" in columns:
        kind = row[columns["split"]].strip()
        if kind.lower() not in SPLITS:
            raise DataError(f"line {line}, column split: {_brief(kind)!r} is not train or test")
        part = parts[kind.lower()]
    part.x.append([_cell(row[columns[c]], f"line {line}, column {c}") for c in ("x1", "x2")])
    part.y.append(_cell(row[columns["y"]], f"line {line}, column y"))
    part.where.append(f"line {line}, column y")


def parse_csv(text: str, problem: str | None = None, max_rows: int = MAX_ROWS,
              max_classes: int = MAX_CLASSES) -> UserData:
    """A header naming x1, x2, y and optionally split (train | test), in any order, then rows.

    A byte-order mark, CRLF line ends, blank lines and spaces around values are fine.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DataError("the file is empty: it needs a header x1,x2,y and rows of numbers")
    _count_rows(text, max_rows)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    parts = {kind: _Part() for kind in SPLITS}
    rows = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if columns is None:
                columns = _header(row, reader.line_num)
                continue
            rows += 1
            if rows > max_rows:  # rows the quick count could not see
                raise DataError(f"too many rows: over the limit of {max_rows}")
            _csv_row(row, reader.line_num, columns, parts)
    except csv.Error as exc:
        raise DataError(f"line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise DataError("the file has a header but no rows of numbers")
    return _build(parts["train"], parts["test"], problem, max_classes)


def load_user_data(path: str | Path, problem: str | None = None,
                   max_rows: int = MAX_ROWS, max_classes: int = MAX_CLASSES) -> UserData:
    """A .csv or .json file from disk (the CLI's --data); OSError if it cannot be read."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{p} is not UTF-8 text") from None
    if p.suffix.lower() == ".csv":
        return parse_csv(text, problem, max_rows, max_classes)
    return parse_json(read_json(text, f"{p} (if it is CSV, name it .csv)"), problem, max_rows,
                      max_classes)
