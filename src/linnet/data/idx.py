"""IDX read/write with strict validation: the only place in linnet that knows the format.

IDX (LeCun's MNIST format) is big-endian: two zero bytes, a type code, the number of dimensions,
one 4-byte size per dimension, then the payload. Files may be gzip-compressed (detected by content,
not by name). Every malformed file raises `IDXError` naming the file and the problem.
"""
from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from linnet.atomic import atomic_write_bytes
from linnet.data.mapped import lease
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
_MAX_HEADER = 4 + 4 * 255          # the longest IDX header: 255 dimensions
MAX_DIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32   # numpy's most dimensions an array has
# The most bytes a .gz IDX file may inflate to (it is inflated into memory; larger sets: gunzip + --mmap).
# 4 GiB is ~90 times Fashion-MNIST's training images.
MAX_INFLATED_BYTES = 4 << 30
_READ_CHUNK = 1 << 20              # compressed bytes read at a time
_PIECE = 16 << 20                  # inflated bytes at most per zlib call: memory stays bounded
_EXCESS_SHOWN = 1 << 16            # bytes past the declared size still counted, for the message


def _fail(path: Path | str, problem: str) -> IDXError:
    return IDXError(f"{Path(path).name}: {problem}")


def _unreadable(path: Path, exc: OSError) -> IDXError:
    if isinstance(exc, IsADirectoryError):
        return _fail(path, "is a directory, expected an IDX file")
    return _fail(path, f"cannot be read ({exc.strerror or exc})")


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_data_file(path: Path) -> tuple[BinaryIO, int]:
    """(binary file, size in bytes): the one place data files are opened. Only a regular file is data:
    a FIFO would wait for a writer forever and /dev/zero would never end, so both are refused by name."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once instead of awaiting a writer
    except OSError as exc:
        raise _unreadable(path, exc) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _fail(path, "is a directory, expected an IDX file")
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a plain file")
        raise _fail(path, f"is {kind}, not a regular file; IDX data must be a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), st.st_size


def _skip_padding(f: BinaryIO, rest: bytes) -> None:
    """After the last gzip member only zero bytes may follow (gzip allows the padding); read in chunks."""
    count, garbage = 0, False
    while rest:
        count, garbage = count + len(rest), garbage or bool(rest.strip(b"\x00"))
        rest = f.read(_READ_CHUNK)
    if garbage:
        raise OSError(f"{count} bytes of trailing garbage after the gzip data")


def _inflate(f: BinaryIO, path: Path) -> tuple[bytearray, int]:
    """(buffer, bytes inflated): every gzip member of `f`, inflated piece by piece (zlib, CRC checked).

    The IDX header, once inflated, says how many bytes to expect: the buffer is allocated once at that
    size, and inflating stops a little past it. So a gzip bomb (a few MB that inflate to many GB) costs
    what its header declares, and a header declaring more than MAX_INFLATED_BYTES is refused at once.
    """
    head, out = bytearray(), None  # inflated bytes until the header is whole; then the preallocated file
    expected = filled = total = 0
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
    pending, at_end = b"", False
    while True:
        if inflater.eof:  # a member ended: another member, zero padding, or garbage
            if len(pending) < 2 and not at_end:
                more = f.read(_READ_CHUNK)
                pending, at_end = pending + more, not more
            if pending[:2] != _GZIP_MAGIC:
                _skip_padding(f, pending)
                break
            inflater = zlib.decompressobj(wbits=31)
        if not pending and not at_end:
            pending = f.read(_READ_CHUNK)
            at_end = not pending
        room = _PIECE if out is None else max(1, min(_PIECE, expected + _EXCESS_SHOWN + 1 - total))
        piece = inflater.decompress(pending, room)
        pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        if not piece and not pending and at_end and not inflater.eof:
            raise EOFError("the compressed data ends early: the file is truncated")
        total += len(piece)
        if out is None:
            head += piece
            if len(head) >= 4 and len(head) >= 4 + 4 * head[3]:  # the whole header: the size to expect
                dtype, shape, header_len = parse_header(head, path)
                payload = _declared_bytes(path, dtype, shape)
                if payload > MAX_INFLATED_BYTES - header_len:
                    raise _fail(path, f"header says {_dims(shape)} = {payload} bytes, more than the "
                                      f"{MAX_INFLATED_BYTES >> 30} GiB linnet inflates from a .gz file; "
                                      "decompress it (gunzip) and train with --mmap")
                expected, out = header_len + payload, bytearray(header_len + payload)
                filled = min(len(head), expected)
                out[:filled] = head[:filled]
        else:
            take = min(len(piece), expected - filled)
            out[filled:filled + take] = memoryview(piece)[:take]
            filled += take
        if out is not None and total > expected + _EXCESS_SHOWN:
            raise _fail(path, f"header says {_dims(shape)} = {payload} bytes, but the gzip data inflates to "
                              f"more than {payload + _EXCESS_SHOWN} (a gzip bomb, or a damaged file)")
    return (head if out is None else out), total


def _read_bytes(path: Path) -> tuple[bytearray, int]:
    """(buffer, length): the file's IDX bytes, inflated from gzip or read as they are, into a writable
    buffer; the header is checked against the file's size before the payload is read or inflated."""
    f, size = open_data_file(path)
    with f:
        if size == 0:  # say so, whatever the name: an interrupted copy leaves an empty NAME.gz
            raise _fail(path, "is empty, expected an IDX header")
        try:
            head = f.read(_MAX_HEADER)
            if head[:2] == _GZIP_MAGIC:
                try:
                    f.seek(0)
                    return _inflate(f, path)
                except (EOFError, zlib.error) as exc:
                    raise _fail(path, f"is not a valid gzip stream ({exc})") from None
                except OSError as exc:  # _skip_padding's garbage, or a read error mid-file
                    raise _fail(path, f"is not a valid gzip stream ({exc.strerror or exc})") from None
            if path.suffix == ".gz":
                raise _fail(path, "is named .gz but is not gzip-compressed (no gzip magic bytes)")
            dtype, shape, header_len = parse_header(head, path)
            _check_payload(path, dtype, shape, size - header_len)
            raw = bytearray(size)  # one copy out of the page cache, and ours to hand to torch
            raw[:len(head)] = head
            got = len(head) + f.readinto(memoryview(raw)[len(head):])
        except OSError as exc:
            raise _unreadable(path, exc) from None
    return raw, got


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


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


def _declared_bytes(path: Path | str, dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """The payload's size as the header declares it (Python ints: a 64-bit product could wrap to 0)."""
    if len(shape) > MAX_DIMS:  # IDX allows 255; numpy arrays stop at MAX_DIMS
        raise _fail(path, f"header declares {len(shape)} dimensions; linnet reads IDX files of at most "
                          f"{MAX_DIMS} dimensions (numpy's limit)")
    return math.prod(shape) * dtype.itemsize


def _check_payload(path: Path | str, dtype: np.dtype, shape: tuple[int, ...], payload_len: int) -> None:
    expected = _declared_bytes(path, dtype, shape)
    if payload_len != expected:
        raise _fail(path, f"header says {_dims(shape)} = {expected} bytes, file has {payload_len}")
    # numpy refuses a shape whose non-zero sizes overflow, even when a zero size makes it empty
    if math.prod(s for s in shape if s) * dtype.itemsize > np.iinfo(np.intp).max:
        raise _fail(path, f"header says {_dims(shape)}: the non-zero sizes are too large for an array")


def read_idx(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a native-endian numpy array.

    mmap=True maps an uncompressed file instead of reading it, so a set larger than memory can be
    trained on; the file is never modified and, for multi-byte types, the array stays big-endian.
    """
    path = Path(path)
    if mmap:
        f, size = open_data_file(path)
        with f:
            try:
                head = f.read(_MAX_HEADER)
            except OSError as exc:
                raise _unreadable(path, exc) from None
        if head[:2] == _GZIP_MAGIC:
            raise _fail(path, "is gzip-compressed and cannot be memory-mapped; decompress it first (gunzip)")
        dtype, shape, header_len = parse_header(head, path)
        _check_payload(path, dtype, shape, size - header_len)
        # copy-on-write: writable for torch.from_numpy, yet never written back to the file
        array = np.memmap(path, dtype=dtype, mode="c", offset=header_len, shape=shape)
        array.lease = lease(path)  # held while the array lives: another process truncating it is stopped
        return array
    data, length = _read_bytes(path)
    dtype, shape, header_len = parse_header(memoryview(data)[:length], path)
    _check_payload(path, dtype, shape, length - header_len)
    array = np.frombuffer(data, dtype=dtype, offset=header_len, count=math.prod(shape)).reshape(shape)
    if dtype.isnative:
        return array  # uint8 / int8: the buffer is already writable and ours, no second copy
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
