"""The log of a component facing hostile notices: every line printable and bounded, whatever
the bytes of a notice; unexpected errors logged with a traceback once per kind, then counted."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sarra.components import log_file
from sarra.components.logs import FORMAT, LONG_WORD, Formatter, bounded, printable, setup_logging
from sarra.config.errors import ConfigErrors
from sarra.config.loader import load
from sarra.flow.faults import MAX_KINDS, Faults, kind_of
from sarra.flow.log_lines import log_lines
from sarra.observe.logs import last_error


@contextmanager
def logging_as_instance(tmp_path: Path, name: str, body: str = "") -> Iterator[Path]:
    """The log file of instance 1 of a config, as a daemon writes it (set up as it is)."""
    config = tmp_path / f"{name}.conf"
    config.write_text("broker amqp://guest@127.0.0.1/\n" + body)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup_logging(load("subscribe", config), 1)
    try:
        yield tmp_path / "cache" / "sarra" / "log" / f"sr_subscribe_{name}_01.log"
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved


@pytest.fixture
def instance_log(tmp_path: Path) -> Iterator[Path]:
    with logging_as_instance(tmp_path, "hostile") as log:
        yield log


def test_printable_escapes_controls_and_surrogates() -> None:
    assert printable("plain é text") == "plain é text"
    assert printable("a\nb\x1b[31m\udcff\x00") == "a\\nb\\x1b[31m\\udcff\\x00"


def test_bounded_cuts_long_words_and_says_their_length() -> None:
    path = "d/" * 2000
    line = bounded(f"failed http://h/{path}: no")
    assert len(line) < 250
    assert "...(4010 characters)..." in line and line.endswith(": no")
    assert bounded("x" * LONG_WORD) == "x" * LONG_WORD
    assert len(bounded("word " * 2000)) < 2100


def test_a_notice_s_bytes_never_break_the_log_file(instance_log: Path, capfd) -> None:
    log = logging.getLogger("sarra.flow")
    hostile = "a/\udcff\udc80/" + "d/" * 2000 + "x\nforged [ERROR] line"
    log.warning("malformed notice dropped (%s): relPath holds a lone surrogate", hostile)
    try:
        raise OSError(36, "File name too long", "/out/" + hostile)
    except OSError as err:
        log.error("failed", exc_info=err)
    text = instance_log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert "Logging error" not in text + capfd.readouterr().err
    assert lines[0].endswith("x\\nforged [ERROR] line): relPath holds a lone surrogate")
    assert "a/\\udcff\\udc80/d/d/" in lines[0]
    assert all(len(line) < 400 for line in lines), [len(line) for line in lines]
    assert lines[-1].startswith("OSError: [Errno 36] File name too long: '/out/a/")


def test_routine_lines_are_written_together_soon_and_a_warning_at_once(
    instance_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = logging.getLogger("sarra.post")
    monkeypatch.setattr(log_file, "FLUSH_DELAY", 600.0)
    log.info("posted one")
    log.info("posted two")
    assert "posted" not in instance_log.read_text()  # in the buffer, one write for both
    log.warning("a warning")
    assert instance_log.read_text().splitlines()[-3:][0].endswith("posted one")
    assert instance_log.read_text().endswith("a warning\n")
    log.info("posted three")
    for handler in logging.getLogger().handlers:
        handler.close()  # writes what is buffered
    assert instance_log.read_text().endswith("posted three\n")


def test_a_routine_line_is_written_within_the_flush_delay(instance_log: Path) -> None:
    logging.getLogger("sarra.post").info("posted alone")
    logged = time.monotonic()
    while "posted alone" not in instance_log.read_text():
        assert time.monotonic() - logged < 5, "the line was never written"
        time.sleep(0.02)


def raise_here(error: Exception) -> None:
    raise error


def raise_there(error: Exception) -> None:
    raise error


def test_faults_log_a_traceback_once_per_kind_then_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = Faults(logging.getLogger("test.faults"))
    for number in range(3):
        try:
            raise_here(ValueError(f"bad {number}"))
        except ValueError as err:
            assert faults.log(err, "failed %s", f"n{number}") == number + 1
    try:
        raise_there(ValueError("elsewhere"))
    except ValueError as err:
        faults.log(err, "failed %s", "other")
    records = caplog.records
    assert [r.exc_info is not None for r in records] == [True, False, False, True]
    assert records[0].getMessage() == "failed n0: ValueError: bad 0"
    assert records[2].getMessage() == "failed n2: ValueError: bad 2 (same error as before, 3 times)"


def test_faults_remember_a_bounded_number_of_kinds(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults(logging.getLogger("test.faults"))
    faults.seen = {(f"Kind{n}", "x.py", n): 1 for n in range(MAX_KINDS)}  # as if met before
    try:
        raise_here(KeyError("new"))
    except KeyError as err:
        faults.log(err, "failed")
    assert len(faults.seen) == MAX_KINDS
    [record] = caplog.records
    assert record.exc_info is None and "too many kinds of error" in record.getMessage()


def test_the_kind_is_the_type_and_where_it_was_raised() -> None:
    kinds = []
    for raiser in (raise_here, raise_here, raise_there):
        try:
            raiser(TypeError("x"))
        except TypeError as err:
            kinds.append(kind_of(err))
    assert kinds[0] == kinds[1] != kinds[2]
    assert kinds[0][0] == "TypeError" and kinds[0][1].endswith("test_logs.py")


def test_a_line_is_formatted_as_the_standard_formatter_does() -> None:
    ours, standard = Formatter(), logging.Formatter(FORMAT)
    for created in (1e9, 1e9 + 0.0004, 1e9 + 0.9995, 1e9 + 1.25, 1e9 + 1.75, 1e9 + 86400.5):
        msecs = int((created - int(created)) * 1000) + 0.0  # as a LogRecord computes them
        fields = {"msg": "posted %s", "args": ("x",), "levelno": 20, "levelname": "INFO"}
        record = logging.makeLogRecord({**fields, "created": created, "msecs": msecs})
        assert ours.format(record) == standard.format(record)


def test_log_format_adds_function_thread_and_process_and_sr_status_still_reads_it(
    tmp_path: Path,
) -> None:
    """sr3's logFormat (log_format) is applied with Python logging's % fields; the lines still
    start with the time and level, where the last error is read."""
    body = (
        "logFormat %(asctime)s [%(levelname)s] %(name)s %(funcName)s:%(lineno)d"
        " %(threadName)s %(process)d %(message)s\n"
    )

    def fetch_one() -> None:
        logging.getLogger("sarra.flow").error("cannot fetch %s", "x.dat")

    with logging_as_instance(tmp_path, "fields", body) as log:
        worker = threading.Thread(target=fetch_one, name="worker-7")
        worker.start()
        worker.join()
    (line,) = log.read_text().splitlines()
    where = f"sarra.flow fetch_one:{fetch_one.__code__.co_firstlineno + 1} worker-7 {os.getpid()}"
    assert line.endswith(f" [ERROR] {where} cannot fetch x.dat"), line
    assert last_error(log)[0] == f"{where} cannot fetch x.dat"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("%(asctime)s [%(levelname)s] %(nosuch)s %(message)s", "no log record field 'nosuch'"),
        ("%(asctime)s [%(levelname)s] %(lineno)z %(message)s", "not a % style logging format"),
        ("%(asctime)s [%(levelname)s] %(funcName)d %(message)s", "not a % style logging format"),
        ("%(asctime)s [%(levelname)s] %(funcName)s", "does not write %(message)s"),
        ("%(levelname)s %(asctime)s %(message)s", "must start with '%(asctime)s [%(levelname)s] '"),
    ],
)
def test_a_bad_log_format_is_one_line_at_its_file_and_line(
    tmp_path: Path, written: str, reason: str
) -> None:
    config = tmp_path / "bad.conf"
    config.write_text(f"broker amqp://guest@127.0.0.1/\nlogFormat {written}\n")
    with pytest.raises(ConfigErrors) as caught:
        load("subscribe", config)
    (error,) = (str(e) for e in caught.value.errors)
    assert error.startswith(f"{config}:2: logFormat: {written!r}") and reason in error, error
    assert "\n" not in error


def test_bursts_of_routine_lines_share_one_flushing_thread_until_closed(
    instance_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_file, "FLUSH_DELAY", 0.01)
    log = logging.getLogger("sarra.post")
    before = set(threading.enumerate())  # other handlers' (earlier tests')
    flushers = set()
    for burst in range(3):
        log.info("burst %d", burst)
        logged = time.monotonic()
        while f"burst {burst}" not in instance_log.read_text():
            assert time.monotonic() - logged < 5, f"burst {burst} was never written"
            time.sleep(0.005)
        flushers |= {t for t in threading.enumerate() if t.name == "log-flush"} - before
    assert len(flushers) == 1  # one thread for every burst, not one each
    for handler in logging.getLogger().handlers:
        handler.close()
    [flusher] = flushers
    flusher.join(5)
    assert not flusher.is_alive()


def test_passwords_never_reach_the_log_file_in_lines_or_tracebacks(instance_log: Path) -> None:
    log = logging.getLogger("sarra.flow")
    log.info("connecting to amqps://feeder:s3cret@broker.example/")
    try:
        raise OSError("refused by https://user:hunter2@host.example/data")
    except OSError as err:
        log.error("failed", exc_info=err)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = instance_log.read_text()
    assert "s3cret" not in text and "hunter2" not in text
    assert "amqps://feeder:***@broker.example/" in text
    assert "https://user:***@host.example/data" in text


@pytest.mark.parametrize(
    ("log_format", "prefix"),
    [("", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[INFO\] "),
     ("log_format %(asctime)s [%(levelname)s] %(name)s: ", r".* \[INFO\] sarra\.file: ")],
)  # fmt: skip
def test_a_record_of_several_lines_is_written_as_lines_of_their_own(
    tmp_path: Path, log_format: str, prefix: str
) -> None:
    with logging_as_instance(tmp_path, "lines", log_format + "%(message)s\n" if log_format
                             else "") as log:  # fmt: skip
        lines = ["posted to xs (1 bytes): file:/a", "posted to xs (2 bytes): file:/b\x1b[2J",
                 "posted to xs (3 bytes): sftp://user:secret@host/c" + "x" * 300]  # fmt: skip
        log_lines(logging.getLogger("sarra.file"), logging.INFO, lines)
        for handler in logging.getLogger().handlers:
            handler.flush()
        written = log.read_text().splitlines()
    assert len(written) == 3
    assert all(re.match(prefix, line) for line in written), written
    assert written[0].endswith("posted to xs (1 bytes): file:/a")
    assert written[1].endswith("file:/b\\x1b[2J")  # each line printable
    assert "secret" not in written[2] and "sftp://user:***@host/c" in written[2]
    assert "...(322 characters)..." in written[2]  # each line bounded


def test_a_format_writing_the_message_twice_writes_each_line_twice(tmp_path: Path) -> None:
    body = "log_format %(asctime)s [%(levelname)s] %(message)s | %(message)s\n"
    with logging_as_instance(tmp_path, "twice", body) as log:
        log_lines(logging.getLogger("sarra.file"), logging.INFO, ["one", "two"])
        for handler in logging.getLogger().handlers:
            handler.flush()
        written = log.read_text().splitlines()
    assert [line.partition("] ")[2] for line in written] == ["one | one", "two | two"]
