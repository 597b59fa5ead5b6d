"""Arrays from an NPZ that a stranger sent, read so that nothing it claims is allocated or
unpacked before it is known to fit.

Each member's size in bytes is known before its data are touched: the zip's directory
says how large the member unpacks to, and the .npy header (read from its first few kB)
gives the dtype and shape, so shape x itemsize. Both are held to the caller's bound, and
the data must be as long as the header says, before a byte of the array is read. The
zip's directory itself is read only when it lists few files. Only
stored and deflated members are read (numpy.savez and savez_compressed write them):
bzip2 and lzma could unpack a few kB into gigabytes in one step.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import DataError

# numpy's own bound on a header (its max_header_size), plus the magic string and length.
MAX_HEADER = 10_000 + 12
MAX_MEMBERS = 64
DIRECTORY_ENTRY = b"PK\x01\x02"  # the signature of each entry of a zip's directory
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what numpy.savez* write
OTHER_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0,
                  (3, 0): np.lib.format.read_array_header_2_0}  # 3.0: 2.0 in UTF-8
# What numpy's header reader or a hostile zip can raise, besides its own ValueError.
UNREADABLE = (ValueError, TypeError, KeyError, SyntaxError, RecursionError, OverflowError,
              EOFError, OSError, struct.error, zipfile.BadZipFile, zlib.error,
              NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class Member:
    """One array's header, checked: what it holds and where in the member its data start."""

    name: str  # "x" for x.npy
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int
    info: zipfile.ZipInfo

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        return f"{' x '.join(map(str, self.shape)) or 'a scalar'} of {self.dtype}"


def open_npz(raw: bytes) -> zipfile.ZipFile:
    """The zip, its directory read only if it is small: zipfile reads one entry per
    directory signature, so counting them (a fast scan) bounds its work (a 48 MB import
    could hold a million empty entries: seconds and hundreds of MB to list them)."""
    if raw.count(DIRECTORY_ENTRY) > MAX_MEMBERS:
        raise DataError(f"the NPZ holds over {MAX_MEMBERS} files; an NPZ of images needs two, "
                        "x.npy and y.npy")
    try:
        return zipfile.ZipFile(io.BytesIO(raw))
    except UNREADABLE:
        raise DataError("not an NPZ file (a zip of .npy arrays, as numpy.savez writes)") \
            from None


def _first_line(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0]
    return text if len(text) <= 120 else text[:120] + "..."


def header(archive: zipfile.ZipFile, name: str, kinds: str, max_bytes: int,
           advice: str = "send fewer or smaller images") -> Member:
    """The member `name`.npy's header, refused unless it holds numbers of these dtype
    kinds (numpy's letters: "iuf") in at most `max_bytes`, with all its data present;
    `advice` ends the message of one too large."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise DataError(f"the NPZ needs an array named {name!r}") from None
    if info.compress_type not in METHODS:
        method = OTHER_METHODS.get(info.compress_type, f"method {info.compress_type}")
        raise DataError(f"{name}.npy is compressed with {method}; send it "
                        "stored or deflated, as numpy.savez and savez_compressed write it")
    if info.flag_bits & 0x1:
        raise DataError(f"{name}.npy is encrypted; send it as numpy.savez writes it")
    if info.file_size > max_bytes + MAX_HEADER:
        raise DataError(f"{name}.npy unpacks to {info.file_size} bytes, over the limit of "
                        f"{max_bytes}: {advice}")
    try:
        with archive.open(info) as f:
            fp = io.BytesIO(f.read(MAX_HEADER))
        version = np.lib.format.read_magic(fp)
        read = HEADER_READERS.get(version)
        if read is None:
            raise ValueError(f"format version {version[0]}.{version[1]} is unknown")
        shape, fortran, dtype = read(fp)
    except UNREADABLE as exc:
        raise DataError(f"{name}.npy: not a readable .npy array ({_first_line(exc)})") \
            from None
    if dtype.hasobject:
        raise DataError(f"{name}.npy holds Python objects; send numbers")
    if dtype.kind not in kinds:
        raise DataError(f"{name}.npy holds {dtype}; send numbers (whole numbers or floats, "
                        "as uint8, int64 or float32 write them)")
    if not all(type(d) is int and d >= 0 for d in shape):  # not True, not -4
        raise DataError(f"{name}.npy: its shape {shape} must be whole numbers, none "
                        "negative")
    member = Member(name, shape, dtype, fortran, fp.tell(), info)
    if member.nbytes > max_bytes:
        raise DataError(f"{name}: {member.describe()} takes {member.nbytes} bytes, over the "
                        f"limit of {max_bytes}: {advice}")
    if info.file_size - member.offset < member.nbytes:
        raise DataError(f"{name}.npy is cut short: its header says {member.describe()} "
                        f"({member.nbytes} bytes) but holds {info.file_size - member.offset}: "
                        "save it again")
    return member


def array(archive: zipfile.ZipFile, member: Member) -> np.ndarray:
    """The member's data, as its checked header describes them (read-only)."""
    try:
        with archive.open(member.info) as f:
            f.seek(member.offset)
            data = f.read(member.nbytes)
    except UNREADABLE as exc:
        raise DataError(f"{member.name}.npy could not be unpacked ({_first_line(exc)})") \
            from None
    if len(data) < member.nbytes:
        raise DataError(f"{member.name}.npy is cut short: its header says "
                        f"{member.describe()} ({member.nbytes} bytes) but holds {len(data)}: "
                        "save it again")
    return np.frombuffer(data, member.dtype).reshape(member.shape,
                                                     order="F" if member.fortran else "C")
