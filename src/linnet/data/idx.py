"""IDX read/write with strict validation: the only place in linnet that knows the format.

IDX (LeCun's MNIST format) is big-endian: two zero bytes, a type code, the number of dimensions,
one 4-byte size per dimension, then the payload. Files may be gzip-compressed (detected by content,
not by name). Every malformed file raises `IDXError` naming the file and the problem.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from linnet.atomic import atomic_write_bytes
from linnet.errors import IDXError

# type code -> big-endian numpy dtype of the payload
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("=").str[1:]: code for code, dt in TYPE_CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _fail(path: Path | str, problem: str) -> IDXError:
    return IDXError(f"{Path(path).name}: {problem}")


def _unreadable(path: Path, exc: OSError) -> IDXError:
    if isinstance(exc, IsADirectoryError):
        return _fail(path, "is a directory, expected an IDX file")
    return _fail(path, f"cannot be read ({exc.strerror or exc})")


def _gunzip(raw: bytes) -> bytes:
    """Every member of a gzip stream, via zlib directly (gzip.decompress is ~1.4x slower here)."""
    parts = []
    while True:
        inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer, CRC checked
        parts.append(inflater.decompress(raw))
        if not inflater.eof:
            raise EOFError("the compressed data ends early: the file is truncated")
        raw = inflater.unused_data
        if not raw.strip(b"\x00"):  # nothing, or the zero padding gzip allows after a member
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if raw[:2] != _GZIP_MAGIC:
            raise OSError(f"{len(raw)} bytes of trailing garbage after the gzip data")


def _read_bytes(path: Path) -> bytes | bytearray:
    """The file's IDX bytes: inflated from gzip (bytes), or read as is into a writable bytearray."""
    try:
        with open(path, "rb") as f:
            raw = bytearray(os.fstat(f.fileno()).st_size)
            del raw[f.readinto(raw):]  # one copy out of the page cache, and ours to hand to torch
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if not raw:  # say so, whatever the name: an interrupted copy leaves an empty NAME.gz
        raise _fail(path, "is empty, expected an IDX header")
    if raw[:2] == _GZIP_MAGIC:
        try:
            return _gunzip(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise _fail(path, f"is not a valid gzip stream ({exc})") from None
    if path.suffix == ".gz":
        raise _fail(path, "is named .gz but is not gzip-compressed (no gzip magic bytes)")
    return raw


def parse_header(data: bytes | memoryview, path: Path | str = "<bytes>") -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate an IDX header; return (payload dtype, shape, header length in bytes)."""
    if len(data) == 0:
        raise _fail(path, "is empty, expected an IDX header")
    if len(data) < 4:
        raise _fail(path, f"has {len(data)} bytes, too short for the 4-byte IDX magic number")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise _fail(path, f"bad magic number 0x{bytes(data[:4]).hex()}: an IDX file starts with two zero bytes")
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise _fail(path, f"unknown type code 0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise _fail(path, "header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise _fail(path, f"header declares {ndim} dimensions ({header_len} header bytes), file has {len(data)} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    return TYPE_CODES[code], tuple(int(s) for s in shape), header_len


def _check_payload(path: Path | str, dtype: np.dtype, shape: tuple[int, ...], payload_len: int) -> None:
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a 64-bit product could wrap to 0
    dims = "x".join(str(s) for s in shape)
    if payload_len != expected:
        raise _fail(path, f"header says {dims} = {expected} bytes, file has {payload_len}")
    # numpy refuses a shape whose non-zero sizes overflow, even when a zero size makes it empty
    if math.prod(s for s in shape if s) * dtype.itemsize > np.iinfo(np.intp).max:
        raise _fail(path, f"header says {dims}: the non-zero sizes are too large for an array")


def read_idx(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a native-endian numpy array.

    mmap=True maps an uncompressed file instead of reading it, so a set larger than memory can be
    trained on; the file is never modified and, for multi-byte types, the array stays big-endian.
    """
    path = Path(path)
    if mmap:
        try:
            with open(path, "rb") as f:
                head = f.read(4 + 4 * 255)
        except OSError as exc:
            raise _unreadable(path, exc) from None
        if head[:2] == _GZIP_MAGIC:
            raise _fail(path, "is gzip-compressed and cannot be memory-mapped; decompress it first (gunzip)")
        dtype, shape, header_len = parse_header(head, path)
        _check_payload(path, dtype, shape, path.stat().st_size - header_len)
        # copy-on-write: writable for torch.from_numpy, yet never written back to the file
        return np.memmap(path, dtype=dtype, mode="c", offset=header_len, shape=shape)
    data = _read_bytes(path)
    dtype, shape, header_len = parse_header(data, path)
    _check_payload(path, dtype, shape, len(data) - header_len)
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    if isinstance(data, bytearray) and dtype.isnative:
        return array  # uint8 / int8 of a raw file: already writable and ours, no second copy
    # native byte order, and writable (torch.from_numpy wants it): one copy
    return array.astype(dtype.newbyteorder("="), copy=True)


def idx_header(dtype, shape: tuple[int, ...], name: str = "<header>") -> bytes:
    """The IDX header for an array of `dtype` and `shape` (for writers that stream the payload)."""
    key = np.dtype(dtype).newbyteorder("=").str[1:]
    if key not in _CODE_OF:
        raise IDXError(f"{name}: dtype {np.dtype(dtype)} has no IDX type code (use uint8, int8, int16, int32, float32, float64)")
    if len(shape) == 0 or len(shape) > 255:
        raise IDXError(f"{name}: IDX needs 1 to 255 dimensions, got {len(shape)}")
    return struct.pack(">HBB", 0, _CODE_OF[key], len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write `array` as IDX; gzip when `compress` is True (default: when the name ends in .gz).

    The file appears atomically: written under a temporary name, then renamed.
    """
    path = Path(path)
    array = np.asarray(array)
    header = idx_header(array.dtype, array.shape, path.name)
    payload = header + np.ascontiguousarray(array, dtype=TYPE_CODES[header[2]]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    return atomic_write_bytes(path, payload)
