"""Long work on a terminal: sr_post on a tree and sr_poll in the foreground show a line of
progress, redrawn in place, on a real pseudo-terminal; they end with one summary line, and
leave their per-file lines to the log file (or show them too with -v). Without a terminal,
not a byte of progress: the log lines, every one, and the summary.

Each run is held at its first file by a plugin reading a FIFO, so that the progress line is
awaited as an event, not raced: the test releases it once the line is seen."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.broker

BIN = Path(sys.executable).parent
COUNT = 300
ERASE = "\r\x1b[K"
"""Back to the start of the line, and clear it: how a line is redrawn in place."""

HOLD = '''\
"""Holds the first file (on_post, on_line) until the test opens hold_fifo and closes it."""


class Hold:
    def __init__(self, parent):
        parent.declare_option("hold_fifo")
        self.fifo = parent.hold_fifo[0]
        self.held = False

    def hold(self, parent):
        if not self.held:
            self.held = True
            with open(self.fifo) as fifo:
                fifo.read()
        return True

    on_post = on_line = hold


self.plugin = "Hold"
'''


class OnTerminal:
    """A command whose stdout and stderr are a pseudo-terminal of 200 columns."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.output = ""

    def read_until(self, pattern: str, deadline: float = 30.0) -> re.Match[str]:
        """Read what it wrote until `pattern` is found in it."""
        end = time.monotonic() + deadline
        while (found := re.search(pattern, self.output)) is None:
            ready, _, _ = select.select([self.master], [], [], max(0.0, end - time.monotonic()))
            chunk = self._read() if ready else ""
            assert chunk, f"no {pattern!r} in {self.output!r}"
            self.output += chunk
        return found

    def finish(self, timeout: float = 30.0) -> int:
        """Read to the end; the exit status."""
        while chunk := self._read():
            self.output += chunk
        os.close(self.master)
        return self.process.wait(timeout)

    def _read(self) -> str:
        try:
            return os.read(self.master, 65536).decode(errors="replace")
        except OSError:  # EIO: the other side is closed
            return ""


@pytest.fixture
def on_terminal() -> Iterator[Callable[[list[str]], OnTerminal]]:
    """Run commands on a pseudo-terminal; any still running at the end is killed."""
    runs: list[OnTerminal] = []

    def run(argv: list[str]) -> OnTerminal:
        runs.append(OnTerminal(argv))
        return runs[-1]

    yield run
    for started in runs:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


@pytest.fixture(autouse=True)
def guest(sarra_home: Path) -> None:
    """The password of the local broker's guest."""
    credentials = sarra_home / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)


@pytest.fixture
def hold(sarra_home: Path, tmp_path: Path) -> Path:
    """The plugin that holds the first file, and its FIFO."""
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "hold.py").write_text(HOLD)
    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    return fifo


def release(fifo: Path) -> None:
    """Let the held file go."""
    with open(fifo, "w"):
        pass


def files(root: Path, count: int = COUNT) -> Path:
    for number in range(count):
        path = root / f"d{number % 3}" / f"f{number:04d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1024)
    return root


def progress_lines(output: str) -> list[str]:
    """The lines drawn in place: each is what was written last before an erasure."""
    return [part.split("\r\n")[-1] for part in output.split(ERASE)[:-1]]


def test_sr_post_shows_progress_with_the_total_on_a_terminal(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    hold: Path,
    on_terminal: Callable[[list[str]], OnTerminal],
) -> None:
    (sarra_home / "post.conf").write_text(f"plugin hold\nhold_fifo {hold}\n")
    tree = files(tmp_path / "tree")
    run = on_terminal([str(BIN / "sr_post"), "-pb", "amqp://guest@127.0.0.1/", "-pe", exchange,
                      "-p", str(tree)])  # fmt: skip
    run.read_until(r"posted 0/300 files, 0 Bytes/300\.0 KiB, 0 files/s")
    release(hold)
    assert run.finish() == 0, run.output
    log = tmp_path / "cache" / "sarra" / "log" / "sr_post_post_00.log"
    assert run.output.startswith(f"a line per file in {log} (-v: here too)\r\n")
    [summary] = [line for line in run.output.split("\r\n") if "[INFO] posted 300 files" in line]
    assert re.search(r" posted 300 files \(300\.0 KiB\) in [\d.]+ s: [\d,]+ files/s, .+/s;"
                     r" 0 failed$", summary)  # fmt: skip
    assert ": file:" not in run.output  # the per-file lines are in the log file
    assert len(re.findall(r"\] posted to \S+ \(\d+ bytes\): file:", log.read_text())) == COUNT
    drawn = progress_lines(run.output)
    assert drawn and all(re.match(r"posted [\d,]+/300 files, ", line) for line in drawn), drawn


def test_sr_post_verbose_shows_each_file_on_the_terminal_too(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    hold: Path,
    on_terminal: Callable[[list[str]], OnTerminal],
) -> None:
    (sarra_home / "post.conf").write_text(f"plugin hold\nhold_fifo {hold}\n")
    tree = files(tmp_path / "tree", 3)
    run = on_terminal([str(BIN / "sr_post"), "-v", "-pb", "amqp://guest@127.0.0.1/",
                      "-pe", exchange, "-p", str(tree)])  # fmt: skip
    run.read_until(r"posted 0/3 files")
    release(hold)
    assert run.finish() == 0, run.output
    assert len(re.findall(r"\[INFO\] posted to \S+ \(\d+ bytes\): file:", run.output)) == 3
    assert "a line per file in" not in run.output


def test_without_a_terminal_there_is_no_progress_and_every_line(
    tmp_path: Path, exchange: str
) -> None:
    tree = files(tmp_path / "tree")
    done = subprocess.run(
        [str(BIN / "sr_post"), "-pb", "amqp://guest@127.0.0.1/", "-pe", exchange, "-p", str(tree)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    assert not re.search(r"posted [\d,]+(/[\d,]+)? files, ", done.stderr)
    per_file = re.findall(r"\] posted to \S+ \(\d+ bytes\): file:", done.stderr)
    assert len(per_file) == COUNT  # a line per file, as v2's sr_post
    assert re.search(r"\[INFO\] posted 300 files \(300\.0 KiB\) in .*; 0 failed\n$", done.stderr)
    assert not (tmp_path / "cache" / "sarra" / "log").exists()


def test_sr_poll_in_the_foreground_shows_progress_and_a_summary_per_pass(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    hold: Path,
    on_terminal: Callable[[list[str]], OnTerminal],
) -> None:
    tree = files(tmp_path / "remote")
    (sarra_home / "poll").mkdir()
    (sarra_home / "poll" / "remote.conf").write_text(
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\ndestination file:/\n"
        f"sleep 1h\nplugin hold\nhold_fifo {hold}\ndirectory {tree}\naccept .*\n"
    )
    run = on_terminal([str(BIN / "sr_poll"), "foreground", "remote"])
    run.read_until(r"announced 0 files, 0 Bytes, 0 files/s, 0 Bytes/s; listed 300 files in"
                   r" 4 directories")  # fmt: skip
    release(hold)
    run.read_until(r"\[INFO\] pass done: announced 300 files \(300\.0 KiB\) in [\d.]+ s: .*;"
                   r" 0 failed; 300 files accepted in 1 of 1 directories")  # fmt: skip
    run.process.terminate()
    assert run.finish() == 0, run.output
    assert "announced file:" not in run.output
    log = tmp_path / "cache" / "sarra" / "log" / "sr_poll_remote_00.log"
    assert log.read_text().count("] announced file:") == COUNT
