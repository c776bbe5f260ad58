"""Shared fixtures: tiny fake IDX datasets, a local HTTP server with misbehaving paths, isolation.

No test ever touches the network or the user's cache: every test runs with $LINNET_DATA pointing
into its own tmp dir and with the mirrors of every named source replaced by a port nothing
listens on, so a forgotten file can never trigger a real download.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from linnet.data import sources
from linnet.data.idx import write_idx

STANDARD_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def fake_arrays(n_train: int = 50, n_test: int = 20, shape: tuple[int, int] = (28, 28),
                seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images and labels cycling through 0..9 (so every class occurs when n >= 10)."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, *shape), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, *shape), dtype=np.uint8),
        "test_labels": ((np.arange(n_test) + 3) % 10).astype(np.uint8),
    }


def write_fake_dataset(directory: Path, n_train: int = 50, n_test: int = 20, gz: bool = True,
                       shape: tuple[int, int] = (28, 28), seed: int = 0,
                       arrays: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Write the four standard IDX files (gzip as `name.gz`, or raw as `name`) into `directory`.

    Returns the arrays written, by role, so tests can compare what they load against them.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = arrays if arrays is not None else fake_arrays(n_train, n_test, shape, seed)
    for role, gz_name in STANDARD_NAMES.items():
        name = gz_name if gz else gz_name.removesuffix(".gz")
        write_idx(directory / name, arrays[role], compress=gz)
    return arrays


def fake_gz_bytes(staging: Path, n_train: int = 37, n_test: int = 11,
                  seed: int = 0) -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """The four .gz files as bytes (name -> bytes) plus the arrays they hold (role -> array).

    `staging` is a scratch directory for write_idx, kept apart from any directory under test.
    """
    arrays = write_fake_dataset(staging, n_train, n_test, gz=True, seed=seed)
    blobs = {name: (staging / name).read_bytes() for name in STANDARD_NAMES.values()}
    return blobs, arrays


def fake_source(mirrors, blobs: dict[str, bytes], name: str = "fake-mnist") -> sources.IDXSource:
    """An IDXSource with the standard file names whose MD5s are those of `blobs`."""
    files = {role: (gz_name, md5(blobs[gz_name])) for role, gz_name in STANDARD_NAMES.items()}
    return sources.IDXSource(name, files, tuple(mirrors), sources.FASHION_MNIST_CLASSES)


# --------------------------------------------------------------------------------------------
# A local HTTP server whose paths can be told to misbehave.
# --------------------------------------------------------------------------------------------

OK, NOT_FOUND, SERVER_ERROR, WRONG_BYTES, CUT = "ok", "404", "500", "wrong", "cut"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        owner = self.server.owner
        path = self.path.lstrip("/")
        owner.requests.append(path)
        if path not in owner.files:
            self.send_error(404)
            return
        data, mode = owner.files[path], owner.modes.get(path, OK)
        if mode in (NOT_FOUND, SERVER_ERROR):
            self.send_error(int(mode))
            return
        if mode == WRONG_BYTES:
            data = b"this is not the file you are looking for" + data[::-1]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == CUT:
            # promise len(data) bytes, deliver half, then hang up
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # keep the test output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeServer"


class FakeServer:
    """Serves `files` (path -> bytes) on 127.0.0.1; `modes[path]` picks how that path misbehaves."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[str] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def url(self, prefix: str = "") -> str:
        """Base URL (ending in '/') under which `serve(prefix + name, ...)` files appear."""
        return f"http://127.0.0.1:{self.port}/{prefix}"

    def serve(self, path: str, data: bytes, mode: str = OK) -> None:
        self.files[path] = data
        self.modes[path] = mode

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def http_server():
    """A factory: `http_server()` starts one more local server; all are shut down at teardown."""
    servers: list[FakeServer] = []

    def start() -> FakeServer:
        server = FakeServer()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def unused_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: bind a port, note it, let it go."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def down_url() -> str:
    return unused_port_url()


# --------------------------------------------------------------------------------------------
# Isolation: never the real cache, never the network.
# --------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """$LINNET_DATA in a fresh tmp dir; named sources' mirrors point at a dead local port; no proxies."""
    monkeypatch.setenv("LINNET_DATA", str(tmp_path_factory.mktemp("linnet_data")))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    dead = unused_port_url()
    offline = {name: dataclasses.replace(src, mirrors=(dead,)) for name, src in sources.SOURCES.items()}
    monkeypatch.setattr(sources, "SOURCES", offline)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A directory holding a gzip fake dataset: 50 train / 20 test images of 28x28."""
    d = tmp_path / "data"
    write_fake_dataset(d, 50, 20, gz=True)
    return d


@pytest.fixture
def terminal(tmp_path, monkeypatch):
    """Outside Jupyter: no IPython at all (importing it would fail), a fresh working directory, no
    live-figure default path taken yet; pyplot figures the test opened are closed afterwards."""
    import sys

    from linnet import liveview
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    monkeypatch.setattr(liveview, "_default_paths", set())
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
