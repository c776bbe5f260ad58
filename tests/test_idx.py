"""IDX read/write: round trips of every type code, mmap, and a named IDXError for every bad file."""
from __future__ import annotations

import errno
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linnet.data import idx
from linnet.data.idx import TYPE_CODES, parse_header, read_idx, write_idx
from linnet.errors import IDXError, LinnetError

DTYPES = ["uint8", "int8", "int16", "int32", "float32", "float64"]
CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)]


def sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Values that exercise the type: extremes for ints, negatives/fractions/inf for floats."""
    n = int(np.prod(shape))
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        base = np.linspace(info.min, info.max, num=n).round().astype(dt)
        base[0], base[-1] = info.min, info.max
    else:
        base = np.linspace(-1e3, 1e3, num=n).astype(dt) / 7
        base[0] = np.inf
    return base.reshape(shape)


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return struct.pack(">HBB", 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def raw_idx(array: np.ndarray) -> bytes:
    """Reference encoder, independent of write_idx: big-endian header + payload."""
    code = CODES[array.dtype.name]
    return header(code, array.shape) + array.astype(TYPE_CODES[code]).tobytes()


# ---------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_type_code(tmp_path, dtype, shape, compress):
    array = sample(dtype, shape)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, compress=compress)

    on_disk = path.read_bytes()
    assert on_disk[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    assert (gzip.decompress(on_disk) if compress else on_disk) == raw_idx(array)  # big-endian on disk

    back = read_idx(path)
    assert back.shape == shape
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_compression_follows_the_name_by_default(tmp_path):
    a = np.arange(6, dtype=np.uint8)
    write_idx(tmp_path / "x.gz", a)
    write_idx(tmp_path / "x.idx", a)
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "x.idx").read_bytes()[:4] == b"\x00\x00\x08\x01"


def test_gzip_detected_by_content_not_name(tmp_path):
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    path = tmp_path / "plain-name"
    write_idx(path, a, compress=True)
    np.testing.assert_array_equal(read_idx(path), a)


def test_big_endian_input_is_written_correctly(tmp_path):
    a = np.array([1, -2, 300], dtype=">i4")
    write_idx(tmp_path / "be.idx", a)
    assert (tmp_path / "be.idx").read_bytes()[8:] == a.tobytes()
    np.testing.assert_array_equal(read_idx(tmp_path / "be.idx"), [1, -2, 300])


def test_zero_length_dimension(tmp_path):
    write_idx(tmp_path / "e.idx", np.zeros((0, 3), np.int16))
    assert read_idx(tmp_path / "e.idx").shape == (0, 3)
    assert read_idx(tmp_path / "e.idx", mmap=True).shape == (0, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mmap_raw_file(tmp_path, dtype):
    array = sample(dtype, (2, 3, 4))
    path = tmp_path / "m.idx"
    write_idx(path, array)
    before = path.read_bytes()
    mapped = read_idx(path, mmap=True)
    assert isinstance(mapped, np.memmap)
    assert mapped.shape == (2, 3, 4)
    assert mapped.dtype.newbyteorder("=") == np.dtype(dtype)
    np.testing.assert_array_equal(mapped, array)
    mapped[0, 0, 0] = 1  # copy-on-write: writable, yet the file never changes
    del mapped
    assert path.read_bytes() == before


def test_mmap_of_gzip_file_is_refused(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((2, 2), np.uint8))
    with pytest.raises(IDXError, match=r"^train-images-idx3-ubyte\.gz: is gzip-compressed and cannot be "
                                       r"memory-mapped; decompress it first \(gunzip\)$"):
        read_idx(path, mmap=True)


@pytest.mark.parametrize("mmap", [False, True])
def test_mmap_and_read_agree_on_bad_payload(tmp_path, mmap):
    path = tmp_path / "short.idx"
    path.write_bytes(header(0x08, (3, 28, 28)) + bytes(1024))
    with pytest.raises(IDXError, match=r"^short\.idx: header says 3x28x28 = 2352 bytes, file has 1024$"):
        read_idx(path, mmap=mmap)


# ---------------------------------------------------------------------------- bad files

@pytest.mark.parametrize("mmap", [False, True])
def test_empty_file(tmp_path, mmap):
    (tmp_path / "empty.idx").write_bytes(b"")
    with pytest.raises(IDXError, match=r"^empty\.idx: is empty, expected an IDX header$"):
        read_idx(tmp_path / "empty.idx", mmap=mmap)


@pytest.mark.parametrize("content", [b"\x00", b"\x00\x00", b"\x00\x00\x08"])
def test_shorter_than_magic(tmp_path, content):
    (tmp_path / "tiny.idx").write_bytes(content)
    with pytest.raises(IDXError, match=rf"^tiny\.idx: has {len(content)} bytes, too short for the 4-byte IDX magic number$"):
        read_idx(tmp_path / "tiny.idx")


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x01\x08\x01", b"PK\x03\x04"])
def test_wrong_magic(tmp_path, magic):
    (tmp_path / "bad.idx").write_bytes(magic + bytes(8))
    with pytest.raises(IDXError, match=rf"^bad\.idx: bad magic number 0x{magic.hex()}: an IDX file starts with two zero bytes$"):
        read_idx(tmp_path / "bad.idx")


@pytest.mark.parametrize("code", [0x00, 0x07, 0x0A, 0x0F, 0xFF])
def test_unknown_type_code(tmp_path, code):
    (tmp_path / "code.idx").write_bytes(header(code, (2,)) + bytes(2))
    with pytest.raises(IDXError, match=rf"^code\.idx: unknown type code 0x{code:02X} \(expected one of "
                                       r"0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E\)$"):
        read_idx(tmp_path / "code.idx")


def test_zero_dimensions(tmp_path):
    (tmp_path / "zero.idx").write_bytes(b"\x00\x00\x08\x00")
    with pytest.raises(IDXError, match=r"^zero\.idx: header declares 0 dimensions$"):
        read_idx(tmp_path / "zero.idx")


@pytest.mark.parametrize("mmap", [False, True])
def test_header_declares_more_dims_than_bytes(tmp_path, mmap):
    (tmp_path / "dims.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 10))  # 3 dims, 1 size
    with pytest.raises(IDXError, match=r"^dims\.idx: header declares 3 dimensions \(16 header bytes\), file has 8 bytes$"):
        read_idx(tmp_path / "dims.idx", mmap=mmap)


def test_payload_shorter_than_dims(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header(0x08, (3, 28, 28)) + bytes(1024))
    with pytest.raises(IDXError, match=r"^train-images-idx3-ubyte: header says 3x28x28 = 2352 bytes, file has 1024$"):
        read_idx(path)


def test_payload_counts_item_size(tmp_path):
    (tmp_path / "f.idx").write_bytes(header(0x0E, (2, 3)) + bytes(6 * 8 - 1))
    with pytest.raises(IDXError, match=r"^f\.idx: header says 2x3 = 48 bytes, file has 47$"):
        read_idx(tmp_path / "f.idx")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_payload_longer_than_dims(tmp_path, compress):
    body = header(0x08, (2, 2)) + bytes(4) + b"trailing"
    path = tmp_path / "long.idx"
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(IDXError, match=r"^long\.idx: header says 2x2 = 4 bytes, file has 12$"):
        read_idx(path)


@pytest.mark.parametrize("mmap", [False, True])
def test_header_whose_size_product_overflows_64_bits(tmp_path, mmap):
    # 65536**4 == 2**64: a 64-bit product wraps to 0 and would "match" an empty payload
    path = tmp_path / "huge.idx"
    path.write_bytes(header(0x08, (65536,) * 4))
    with pytest.raises(IDXError, match=r"^huge\.idx: header says 65536x65536x65536x65536 = "
                                       r"18446744073709551616 bytes, file has 0$"):
        read_idx(path, mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
def test_empty_shape_whose_other_sizes_numpy_cannot_hold(tmp_path, mmap):
    # 0 x 2**16 x 2**24 x 2**24 is 0 bytes, but numpy refuses any shape whose non-zero sizes overflow
    path = tmp_path / "zero.idx"
    path.write_bytes(header(0x08, (0, 1 << 16, 1 << 24, 1 << 24)))
    with pytest.raises(IDXError, match=r"^zero\.idx: header says 0x65536x16777216x16777216: "
                                       r"the non-zero sizes are too large for an array$"):
        read_idx(path, mmap=mmap)


def test_gz_name_without_gzip_content(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, np.arange(5, dtype=np.uint8), compress=False)
    with pytest.raises(IDXError, match=r"^t10k-labels-idx1-ubyte\.gz: is named \.gz but is not gzip-compressed "
                                       r"\(no gzip magic bytes\)$"):
        read_idx(path)


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "magic-only"])
def test_broken_gzip_stream(tmp_path, damage):
    good = gzip.compress(raw_idx(np.arange(1000, dtype=np.int32)), mtime=0)
    if damage == "truncated":
        bad = good[: len(good) // 2]
    elif damage == "corrupt":
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0xFF
        bad[-8] ^= 0xFF  # and the CRC, so that no damage can go unnoticed
        bad = bytes(bad)
    else:
        bad = b"\x1f\x8b"
    path = tmp_path / "data.gz"
    path.write_bytes(bad)
    with pytest.raises(IDXError, match=r"^data\.gz: is not a valid gzip stream \(.+\)$"):
        read_idx(path)


@pytest.mark.parametrize("mmap", [False, True])
def test_directory_as_path(tmp_path, mmap):
    d = tmp_path / "images.idx"
    d.mkdir()
    with pytest.raises(IDXError, match=r"^images\.idx: is a directory, expected an IDX file$"):
        read_idx(d, mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
def test_missing_file(tmp_path, mmap):
    with pytest.raises(IDXError, match=r"^nothere\.idx: cannot be read \(No such file or directory\)$"):
        read_idx(tmp_path / "nothere.idx", mmap=mmap)


def test_idx_error_is_a_linnet_value_error():
    assert issubclass(IDXError, LinnetError) and issubclass(IDXError, ValueError)


def test_parse_header_of_bytes():
    dtype, shape, n = parse_header(header(0x0C, (4, 5, 6)))
    assert (dtype, shape, n) == (np.dtype(">i4"), (4, 5, 6), 16)
    with pytest.raises(IDXError, match=r"^<bytes>: is empty"):
        parse_header(b"")


# ---------------------------------------------------------------------------- write errors

@pytest.mark.parametrize("dtype", ["int64", "uint16", "float16", "bool", "complex64"])
def test_write_unsupported_dtype(tmp_path, dtype):
    with pytest.raises(IDXError, match=rf"^x\.idx: dtype {dtype} has no IDX type code \(use uint8, int8, int16, "
                                       r"int32, float32, float64\)$"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype))
    assert list(tmp_path.iterdir()) == []


def test_write_zero_dimensional(tmp_path):
    with pytest.raises(IDXError, match=r"^x\.idx: IDX needs 1 to 255 dimensions, got 0$"):
        write_idx(tmp_path / "x.idx", np.uint8(3))


def test_write_is_atomic_when_the_disk_fills(tmp_path, monkeypatch):
    path = tmp_path / "labels.idx"
    write_idx(path, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device"):
        write_idx(path, np.arange(1000, dtype=np.uint8))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["labels.idx"]  # no temp file left


# ---------------------------------------------------------------------------- bounded reading

def test_only_a_regular_file_is_data(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(IDXError, match=r"^zero: is a character device, not a regular file; IDX data must be a "
                                       r"regular file$"):
        read_idx(tmp_path / "zero")
    os.mkfifo(tmp_path / "pipe")   # O_NONBLOCK: refused at once, never waiting for a writer
    for mmap in (False, True):
        with pytest.raises(IDXError, match=r"^pipe: is a FIFO \(named pipe\), not a regular file"):
            read_idx(tmp_path / "pipe", mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("ndim", [65, 255])
def test_more_dimensions_than_numpy_holds(tmp_path, mmap, ndim):
    path = tmp_path / "deep.idx"
    path.write_bytes(header(0x08, (1,) * ndim) + b"\x07")
    with pytest.raises(IDXError, match=rf"^deep\.idx: header declares {ndim} dimensions; linnet reads IDX files "
                                       rf"of at most {idx.MAX_DIMS} dimensions \(numpy's limit\)$"):
        read_idx(path, mmap=mmap)


def test_a_gzip_bomb_inflates_only_a_little_past_its_declared_size(tmp_path):
    body = raw_idx(np.arange(10, dtype=np.uint8))
    zeros = gzip.compress(bytes(1 << 20), mtime=0)
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(body, mtime=0) + zeros * 64)           # 64 MiB more than declared
    with pytest.raises(IDXError, match=rf"^bomb\.gz: header says 10 = 10 bytes, but the gzip data inflates to more "
                                       rf"than {10 + idx._EXCESS_SHOWN} \(a gzip bomb, or a damaged file\)$"):
        read_idx(path)


def test_a_gzip_header_declaring_more_than_the_limit_is_refused_before_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "MAX_INFLATED_BYTES", 1 << 30)
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(header(0x08, (1 << 15, 1 << 15)), mtime=0))   # 1 GiB declared, header only
    with pytest.raises(IDXError, match=r"^big\.gz: header says 32768x32768 = 1073741824 bytes, more than the 1 GiB "
                                       r"linnet inflates from a \.gz file; decompress it \(gunzip\) and train with --mmap$"):
        read_idx(path)


def test_trailing_bytes_inside_gzip_are_counted_exactly_up_to_the_margin(tmp_path):
    body = raw_idx(np.arange(6, dtype=np.uint8))
    for extra in (1, idx._EXCESS_SHOWN):
        path = tmp_path / f"t{extra}.gz"
        path.write_bytes(gzip.compress(body + bytes(extra), mtime=0))
        with pytest.raises(IDXError, match=rf"header says 6 = 6 bytes, file has {6 + extra}$"):
            read_idx(path)


def test_members_padding_and_large_pieces_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "_PIECE", 1000)          # many pieces per member
    monkeypatch.setattr(idx, "_READ_CHUNK", 777)      # members and the header split across reads
    a = (np.arange(30_000) % 251).astype(np.uint8).reshape(100, 300)
    raw = raw_idx(a)
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:5], mtime=0) + gzip.compress(raw[5:20000], mtime=0)
                     + gzip.compress(raw[20000:], mtime=0) + bytes(3000))
    out = read_idx(path)
    np.testing.assert_array_equal(out, a)
    assert out.flags.writeable
    path.write_bytes(gzip.compress(raw, mtime=0) + bytes(100) + b"x")
    with pytest.raises(IDXError, match=r"is not a valid gzip stream \(101 bytes of trailing garbage"):
        read_idx(path)


def test_a_raw_file_is_checked_before_its_payload_is_read(tmp_path, monkeypatch):
    path = tmp_path / "sparse.idx"
    path.write_bytes(header(0x08, (10,)))
    os.truncate(path, 8 + (1 << 40))      # 1 TiB, sparse: reading it first would never end
    with pytest.raises(IDXError, match=rf"^sparse\.idx: header says 10 = 10 bytes, file has {1 << 40}$"):
        read_idx(path)


# ---------------------------------------------------------------------------- fuzzing

def _check_read(path: Path) -> None:
    """read_idx, plain and mmap, either raises IDXError or returns what the header promises."""
    for mmap in (False, True):
        try:
            out = read_idx(path, mmap=mmap)
        except IDXError as exc:
            assert str(exc).startswith(f"{path.name}: ")
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            assert not mmap, "a gzip file must not be memory-mapped"
            data = gzip.decompress(data)
        dtype, shape, header_len = parse_header(data)
        assert out.shape == shape
        assert out.dtype == (dtype if mmap else dtype.newbyteorder("="))
        assert out.nbytes == len(data) - header_len
        del out  # unmap before the next example rewrites the file


def _valid_file(draw) -> bytes:
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=4)))
    return raw_idx(sample(dtype, shape) if 0 not in shape else np.zeros(shape, dtype))


@st.composite
def mutated_idx(draw) -> bytes:
    data = bytearray(_valid_file(draw))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "extend", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=16))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
    return bytes(data)


@st.composite
def mutated_gzip(draw) -> bytes:
    """A gzip of a valid or mutated IDX file, the compressed bytes themselves maybe mutated."""
    inner = draw(st.one_of(st.just(b""), mutated_idx(), st.binary(max_size=64)))
    if draw(st.booleans()):
        inner = _valid_file(draw)
    data = bytearray(gzip.compress(inner, mtime=0))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "truncate", "extend"]))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[max(pos, 2):]
        else:
            data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


RAW_FILES = st.one_of(
    st.binary(max_size=64),
    st.binary(max_size=64).map(lambda b: b"\x00\x00" + b),  # past the magic check more often
    st.binary(max_size=64).map(lambda b: b"\x1f\x8b" + b),  # "gzip" that is not
    mutated_idx(),
)
ANY_FILE = st.one_of(RAW_FILES, mutated_gzip())


def _fuzz(tmp_path_factory, data: bytes, name: str) -> None:
    path = tmp_path_factory.getbasetemp() / name
    path.write_bytes(data)
    _check_read(path)


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=RAW_FILES, gz_name=st.booleans())
def test_fuzz_read_idx_random_and_mutated(tmp_path_factory, data, gz_name):
    _fuzz(tmp_path_factory, data, "fuzz.idx.gz" if gz_name else "fuzz.idx")


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=mutated_gzip(), gz_name=st.booleans())
def test_fuzz_read_idx_gzip(tmp_path_factory, data, gz_name):
    _fuzz(tmp_path_factory, data, "fuzz-gz.idx.gz" if gz_name else "fuzz-gz.idx")


@pytest.mark.slow
@settings(max_examples=50_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=ANY_FILE, gz_name=st.booleans())
def test_fuzz_read_idx_heavy(tmp_path_factory, data, gz_name):
    _fuzz(tmp_path_factory, data, "fuzz-heavy.idx.gz" if gz_name else "fuzz-heavy.idx")


def test_fuzz_helpers_exercise_the_success_path(tmp_path):
    # guard against a fuzz test that only ever sees errors: the valid files must read back
    path = tmp_path / "v.idx"
    path.write_bytes(raw_idx(sample("int16", (2, 3))))
    _check_read(path)
    np.testing.assert_array_equal(read_idx(path), sample("int16", (2, 3)))
