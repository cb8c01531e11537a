"""The progress line of long work and the terminal it is drawn on (sarra.components.progress,
sarra.components.terminal): what the line says, the estimate of the time left, log lines kept
above it, per-file lines left to the log file."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

from sarra.components.post import Tally
from sarra.components.progress import Counts, Progress, duration, left, line, summary
from sarra.components.terminal import ERASE, PER_FILE, Terminal, TerminalHandler
from sarra.config.loader import load
from sarra.flow.announce import Announcer


def test_the_line_without_a_total_gives_counts_and_rates() -> None:
    counts = Counts(files=1200, bytes=3 * 2**20)
    assert line("posted", counts, 2.0) == "posted 1,200 files, 3.0 MiB, 600 files/s, 1.5 MiB/s"


def test_the_line_with_a_total_gives_the_time_left_failures_and_a_note() -> None:
    counts = Counts(1000, 2**20, 2, total_files=5000, total_bytes=5 * 2**20, note="listed 9")
    assert line("posted", counts, 2.0) == (
        "posted 1,000/5,000 files, 1.0 MiB/5.0 MiB, 500 files/s, 512.0 KiB/s, 8 s left;"
        " 2 failed; listed 9"
    )


def test_the_time_left_is_the_slower_of_files_and_bytes_and_only_once_settled() -> None:
    # a tenth of the files but half the bytes done in 10 s: the files say 90 s more
    assert left(Counts(100, 500, total_files=1000, total_bytes=1000), 10.0) == 90.0
    # half the files but a tenth of the bytes (the large files are to come): 90 s more
    assert left(Counts(500, 100, total_files=1000, total_bytes=1000), 10.0) == 90.0
    assert left(Counts(100, 500, total_files=1000), 0.5) is None  # too early to say
    assert left(Counts(0, 0, total_files=1000), 10.0) is None
    assert left(Counts(100, 500), 10.0) is None  # no total


def test_durations_as_people_read_them() -> None:
    assert [duration(s) for s in (0.2, 9, 59.5, 250, 7500)] == [
        "1 s", "9 s", "1 min 0 s", "4 min 10 s", "2 h 5 min"]  # fmt: skip


def test_the_summary_line() -> None:
    assert summary("posted", 5000, 5 * 2**20, 0, 0.625) == (
        "posted 5,000 files (5.0 MiB) in 0.62 s: 8,000 files/s, 8.0 MiB/s; 0 failed"
    )
    assert summary("announced", 1, 10, 3, 1.0).startswith("announced 1 file (10 Bytes) in")


def test_log_lines_go_above_the_progress_line_which_is_redrawn_in_place() -> None:
    stream = io.StringIO()
    terminal = Terminal(stream)
    terminal.write("first")
    terminal.show("posted 1 files")
    terminal.show("posted 2 files")
    terminal.write("a warning")
    terminal.show("")
    assert stream.getvalue().split(ERASE) == [
        "first\nposted 1 files",
        "posted 2 files",
        "a warning\nposted 2 files",
        "",
    ]


def test_the_progress_line_is_cut_to_the_width_of_the_terminal() -> None:
    stream = io.StringIO()  # says no size: 80 columns
    Terminal(stream).show("x" * 200)
    assert stream.getvalue() == "x" * 79


def test_per_file_lines_reach_the_terminal_only_when_asked_for() -> None:
    for per_file, shown in ((False, ["a warning", "the summary"]),
                            (True, ["posted a", "a warning", "the summary"])):  # fmt: skip
        stream = io.StringIO()
        handler = TerminalHandler(Terminal(stream), per_file)
        files, other = logging.getLogger(PER_FILE), logging.getLogger("sarra.post")
        for logger in (files, other):
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        try:
            files.info("posted a")
            files.warning("a warning")
            other.info("the summary")
        finally:
            for logger in (files, other):
                logger.removeHandler(handler)
                logger.propagate = True
        assert stream.getvalue().splitlines() == shown


def test_without_a_terminal_progress_draws_nothing() -> None:
    progress = Progress(None, "posted", Counts).start()
    progress.close()
    assert progress.text().startswith("posted 0 files")


def test_the_tally_counts_the_files_the_rules_take(tmp_path: Path) -> None:
    for name, size in (("a.xml", 10), ("b.xml", 20), ("c.tmp", 40), ("sub/d.xml", 80)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
    config = load("post", None, overrides=[("reject", r".*\.tmp$")])
    tally = Tally(Announcer(config), False, [str(tmp_path), str(tmp_path / "nothere")])
    tally.thread.join()
    assert tally.total() == (3, 110)


def test_a_line_written_in_the_midst_of_another_in_the_same_thread_does_not_hang() -> None:
    """As a signal handler that logs does ("stopping on SIGTERM" while a line is written)."""
    nested: list[str] = []

    class Interrupted(io.StringIO):
        def write(self, text: str) -> int:
            written = super().write(text)
            if not nested:
                nested.append(text)
                terminal.write("stopping on SIGTERM")
            return written

    stream = Interrupted()
    terminal = Terminal(stream)
    writer = threading.Thread(target=terminal.write, args=("pass done",), daemon=True)
    writer.start()
    writer.join(10)
    assert not writer.is_alive(), "the second line waits forever for the first"
    assert stream.getvalue() == "pass done\nstopping on SIGTERM\n"
