import os
import subprocess
import sys
import time

import numpy as np
import pytest

from linnet.data import mapped
from linnet.data.idx import read_idx, write_idx
from linnet.errors import DataError

OPEN_FOR_WRITING = "import os, sys\ntry:\n    os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)\nexcept BlockingIOError:\n    sys.exit(3)\n"


@pytest.fixture
def leased(tmp_path):
    mapped.install()
    path = tmp_path / "images.idx"
    write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4), compress=False)
    return path


def test_a_mapped_file_holds_a_lease_while_its_array_lives(leased):
    array = read_idx(leased, mmap=True)
    assert isinstance(array.lease, mapped.Lease) and str(leased) in mapped._leases.values()
    fd = array.lease.fd
    del array
    assert fd not in mapped._leases


def test_another_process_opening_it_for_writing_is_held_back_and_linnet_told(leased):
    array = read_idx(leased, mmap=True)
    with pytest.raises(DataError, match=rf"^{leased}: another process is writing to or truncating this "
                                        r"memory-mapped data file; linnet stopped before reading it again"):
        writer = subprocess.run([sys.executable, "-c", OPEN_FOR_WRITING, str(leased)], timeout=60)
        assert writer.returncode == 3            # its non-blocking open failed: held back
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:       # SIGIO arrives; its handler raises here
            time.sleep(0.01)
    del array


def test_an_unleasable_file_is_mapped_unguarded(leased, monkeypatch):
    writer = open(leased, "r+b")                 # a writer has it open: the kernel grants no read lease
    try:
        array = read_idx(leased, mmap=True)
        assert array.lease is None
        np.testing.assert_array_equal(array, np.arange(24).reshape(2, 3, 4))
    finally:
        writer.close()


def test_no_lease_is_taken_before_install(leased, monkeypatch):
    monkeypatch.setattr(mapped, "_installed", False)
    assert mapped.lease(leased) is None


def test_a_lease_taken_on_a_pool_thread_still_tells_the_main_thread(leased):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:                 # as linnet reads the four files
        array = pool.submit(read_idx, leased, True).result()
    with pytest.raises(DataError, match=rf"^{leased}: another process is writing to or truncating"):
        subprocess.run([sys.executable, "-c", OPEN_FOR_WRITING, str(leased)], timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.01)
    del array
