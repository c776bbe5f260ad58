import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from linnet.errors import ConfigError, LinnetError
from linnet.runlock import LOCK, RunBusy, acquire, holder, release

SRC = str(Path(__file__).resolve().parents[1] / "src")
HOLDER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from linnet.runlock import acquire
    fd = acquire(Path(sys.argv[1]))
    if sys.argv[3] == "no-pid":
        import os
        os.ftruncate(fd, 0)
    print("locked", flush=True)
    sys.stdin.read()
""")


@pytest.fixture
def held(tmp_path):
    """A live process holding tmp_path's lock -> its pid (then killed: no chance to remove the file)."""
    procs = []

    def start(mode="pid"):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), SRC, mode], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc.pid
    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stdin.close()


def test_acquire_writes_the_pid_and_release_removes_the_file(tmp_path):
    fd = acquire(tmp_path)
    assert (tmp_path / LOCK).read_text() == str(os.getpid())
    assert holder(tmp_path) is None or holder(tmp_path) == os.getpid()
    release(tmp_path, fd)
    assert not (tmp_path / LOCK).exists()
    assert holder(tmp_path) is None


def test_a_lock_held_by_a_live_process_is_refused_with_how_to_clear_it(tmp_path, held):
    pid = held()
    assert holder(tmp_path) == pid
    with pytest.raises(RunBusy, match=rf"^{tmp_path} is in use by another linnet process \(pid {pid}\), which holds "
                                      rf"the lock {tmp_path / LOCK}; wait for it to finish or stop it \(kill {pid}\): "
                                      r"the lock is released when that process ends$"):
        acquire(tmp_path)
    assert (tmp_path / LOCK).read_text() == str(pid)   # the holder's file is left alone
    assert issubclass(RunBusy, LinnetError)


def test_a_holder_that_wrote_no_pid_is_still_refused(tmp_path, held):
    held("no-pid")
    assert holder(tmp_path) == -1
    with pytest.raises(RunBusy, match=r"\(pid unknown\), which holds the lock .*; wait for it to finish or stop it:"):
        acquire(tmp_path)


@pytest.mark.parametrize("content", ["-1", "0", "99999999999999999999999", "garbage", "", "12\x00"])
def test_whatever_a_leftover_file_says_it_is_free(tmp_path, content):
    (tmp_path / LOCK).write_text(content)
    assert holder(tmp_path) is None
    fd = acquire(tmp_path)
    assert (tmp_path / LOCK).read_text() == str(os.getpid())
    release(tmp_path, fd)


def test_a_leftover_naming_a_live_unrelated_process_is_free(tmp_path):
    (tmp_path / LOCK).write_text(str(os.getppid()))   # alive, and not holding any lock
    fd = acquire(tmp_path)
    release(tmp_path, fd)


def test_a_killed_holder_frees_the_lock_at_once(tmp_path, held):
    pid = held()
    with pytest.raises(RunBusy):
        acquire(tmp_path)
    os.kill(pid, signal.SIGKILL)   # no chance to remove its file; its open files close as it dies
    deadline = time.monotonic() + 10
    while holder(tmp_path) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (tmp_path / LOCK).read_text() == str(pid)   # the file stays, naming the dead process
    release(tmp_path, acquire(tmp_path))


def test_a_lock_file_that_cannot_be_created_is_one_error(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(ConfigError, match=rf"^{missing / LOCK}: cannot create the run's lock file \(No such file"):
        acquire(missing)


def test_a_lock_file_removed_by_its_previous_holder_is_not_shared(tmp_path, monkeypatch):
    """The race: we open the old file, its holder removes it and lets go, we lock the removed file.
    acquire must notice and lock the file on disk, or two processes would both think they hold it."""
    import linnet.runlock as runlock
    real_flock, calls = runlock.fcntl.flock, []

    def flock_after_removal(fd, op):
        if not calls:
            (tmp_path / LOCK).unlink()
        calls.append(op)
        return real_flock(fd, op)

    (tmp_path / LOCK).write_text("123")
    monkeypatch.setattr(runlock.fcntl, "flock", flock_after_removal)
    fd = acquire(tmp_path)
    assert len(calls) == 2
    assert os.path.samestat(os.fstat(fd), os.stat(tmp_path / LOCK))
    release(tmp_path, fd)
