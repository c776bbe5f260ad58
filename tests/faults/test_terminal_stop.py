"""Fault: Ctrl-C (SIGINT) while `linnet train` draws its progress bar on a terminal.

Expected: the bar is cleared, not left half drawn; the last thing on the screen is one line saying,
in words, after which epoch of how many the run stopped and how to continue; the run directory
has the report of the epochs completed.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import time

from fault_tools import PYTHON, child_env
from helpers_train import pty_chunks, write_idx_dataset


def screen(raw: str) -> list[str]:
    """What a terminal shows for `raw`: each line with its carriage returns and erase-to-end (ESC [K) applied."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        cells: list[str] = []
        col = 0
        for token in re.findall(r"\x1b\[K|.", line, re.S):
            if token == "\r":
                col = 0
            elif token == "\x1b[K":
                del cells[col:]
            else:
                cells[col:col + 1] = [token]
                col += 1
        lines.append("".join(cells).rstrip())
    return [line for line in lines if line]


def test_ctrl_c_on_a_terminal_clears_the_bar_and_says_where_it_stopped(tmp_path):
    data = tmp_path / "data"
    write_idx_dataset(data, n_train=500, n_test=100)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0x0: tqdm would draw nothing
    argv = [PYTHON, "-m", "linnet", "train", "--dataset", "fashion-mnist", "--data-dir", str(data), "--batch-size", "1",
            "--impl", "scratch", "--epochs", "50", "--no-plots", "--device", "cpu", "--runs-dir", str(tmp_path / "runs"), "--name", "tty"]
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=child_env(), close_fds=True)
    os.close(slave)
    raw, sent, deadline = b"", False, time.monotonic() + 90
    try:
        for chunk in pty_chunks(master, deadline):
            raw += chunk
            # scratch: one train_step a batch, so the bar moves (the fast kernel walks an epoch in ~10 ms);
            # the bar of epoch 2 is on the screen: epoch 1's line printed, then a bar update
            if not sent and b"epoch  1/50" in raw and b"batch/s" in raw.split(b"epoch  1/50", 1)[1]:
                proc.send_signal(signal.SIGINT)
                sent = True
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = raw.decode(errors="replace")
    assert sent, text
    assert rc == 130, text
    shown = screen(text)
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert not [line for line in shown if "batch/s" in line or "%|" in line], shown      # no bar left behind
    assert re.fullmatch(r"linnet train: training stopped after epoch (\d+) of 50 \(Ctrl-C\); .*tty keeps its "
                        r"completed epochs, figures and report\. Continue with: linnet train --resume .*tty",
                        shown[-1]), shown[-1]
    assert (tmp_path / "runs" / "tty" / "report.html").is_file()
