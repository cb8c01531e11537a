"""Logging of an instance: to the terminal in the foreground, else to its own file, rotated
daily (logrotate_interval) keeping `logrotate` files, mode chmod_log; passwords redacted, and
every record made printable and bounded (OneLineFilter): notices are untrusted input, and their
paths and names reach log lines. sr_post and sr_poll in the foreground on a terminal show
progress there, and write their log file too (sarra.components.terminal)."""

from __future__ import annotations

import logging
import os
import re
import sys
import time

from sarra.components import terminal
from sarra.config import paths
from sarra.config.credentials import redact_text
from sarra.config.loader import Config
from sarra.config.types import LOG_FORMAT
from sarra.flow.log_lines import SEVERAL_LINES

FORMAT = LOG_FORMAT
"""The format of log lines by default (log_format, sr3's logFormat, gives another)."""

LONG_WORK = frozenset({"post", "poll"})
"""Components whose work in the foreground shows progress on a terminal."""

LONG_WORD = 200
"""Longest run of non-space characters a log line keeps whole: a longer one (a hostile path,
most likely) keeps its first 100 and last 60 characters, and says its length."""

LONG_MESSAGE = 2000
"""Longest message a log line keeps whole (a traceback is bounded line by line)."""

_LONG_WORD = re.compile(rf"\S{{{LONG_WORD + 1},}}")


def printable(text: str) -> str:
    """`text` with every character that is not printable (controls, newlines, lone surrogates)
    escaped as Python writes it: `\\n`, `\\x1b`, `\\udcff`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def bounded(text: str) -> str:
    """`text` with each run of more than LONG_WORD non-space characters cut in its middle, and
    cut itself after LONG_MESSAGE characters; each cut says how long the whole was."""
    if len(text) > LONG_WORD:
        text = _LONG_WORD.sub(_cut_word, text)
    if len(text) > LONG_MESSAGE:
        text = f"{text[:LONG_MESSAGE]}...({len(text)} characters)"
    return text


def _cut_word(match: re.Match[str]) -> str:
    word = match[0]
    return f"{word[:100]}...({len(word)} characters)...{word[-60:]}"


def _one_line(text: str) -> str:
    if len(text) > LONG_WORD or not text.isprintable():
        return bounded(printable(text))
    return text


class OneLineFilter(logging.Filter):
    """Makes each record's message one printable line of bounded size (see printable and
    bounded; each line of a record of SEVERAL_LINES), its passwords redacted (redact_text), and
    its traceback and stack likewise, line by line: no byte of a notice can break a log line,
    fail the handler or fill the disk, and no password reaches a log. One filter, one pass: a
    poster logs thousands of lines a second."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: keep its pieces
            message = f"{record.msg!s} {record.args!r}"
        message = redact_text(message)
        if getattr(record, SEVERAL_LINES, False):
            message = "\n".join(map(_one_line, message.split("\n")))
        else:
            message = _one_line(message)
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            lines = redact_text(record.exc_text).splitlines()
            record.exc_text = "\n".join(bounded(printable(line)) for line in lines)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class Formatter(logging.Formatter):
    """A format (FORMAT by default), the text of each second's time made once (a poster logs
    thousands a second)."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self._second = -1
        self._second_text = ""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The record's line; for a record of SEVERAL_LINES, each line formatted as a record of
        its own (the format's text around the message made once, when it has the message once)."""
        if not getattr(record, SEVERAL_LINES, False):
            return super().formatMessage(record)
        message = record.message
        lines = message.split("\n")
        try:
            record.message = "\0"
            around = super().formatMessage(record)
            if around.count("\0") == 1:
                before, after = around.split("\0")
                return "\n".join([f"{before}{line}{after}" for line in lines])
            formatted = []
            for line in lines:
                record.message = line
                formatted.append(super().formatMessage(record))
            return "\n".join(formatted)
        finally:
            record.message = message

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        whole = int(record.created)
        if whole != self._second:  # handlers format under their lock: one thread at a time
            self._second_text = time.strftime(self.default_time_format, self.converter(whole))
            self._second = whole
        return f"{self._second_text},{int(record.msecs):03d}"


_SRCFILE = logging._srcfile  # type: ignore[attr-defined]
_CALLER_FIELDS = ("%(funcName)", "%(lineno)", "%(pathname)", "%(filename)", "%(module)")


def _lean_records(fmt: str) -> None:
    """Records without what the format does not write: the caller's frame, thread and process
    (the logging HOWTO's optimizations; FORMAT writes none of them)."""
    caller = any(name in fmt for name in _CALLER_FIELDS)
    logging._srcfile = _SRCFILE if caller else None  # type: ignore[attr-defined]
    logging.logThreads = "%(thread" in fmt
    logging.logProcesses = "%(process)" in fmt
    logging.logMultiprocessing = "%(processName)" in fmt


_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "none": logging.CRITICAL + 10,
}


def _rotating_handler(config: Config, instance: int) -> logging.Handler:
    from sarra.components.log_file import LogFile  # logging.handlers: not for a terminal

    path = paths.log_file(config.home, config.name, instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    interval = max(1, int(config.logrotate_interval))
    if interval % 86400 == 0:
        when, count = "midnight", interval // 86400
    else:
        when, count = "s", interval
    handler = LogFile(
        path, when=when, interval=count, backupCount=config.logrotate, utc=True, encoding="utf-8"
    )
    os.chmod(path, config.chmod_log or 0o600)
    return handler


def _handlers(config: Config, instance: int) -> list[logging.Handler]:
    """Instance N logs to its file. Instance 0 logs to stderr; for long work (LONG_WORK) on a
    terminal, stderr shows progress (sarra.components.terminal) and leaves per-file lines to
    the log file of instance 00, but with `verbose` (or debug)."""
    if instance:
        return [_rotating_handler(config, instance)]
    if config.component not in LONG_WORK or not sys.stderr.isatty():
        terminal.attach(None)
        return [logging.StreamHandler(sys.stderr)]
    shown = terminal.Terminal(sys.stderr)
    terminal.attach(shown)
    per_file = config.verbose or config.debug
    log = _rotating_handler(config, 0)
    if not per_file:
        shown.write(f"a line per file in {log.baseFilename} (-v: here too)")
    return [terminal.TerminalHandler(shown, per_file), log]


def setup_logging(config: Config, instance: int) -> logging.Logger:
    """Route the root logger of this process: stderr for instance 0 (and its log file, for
    long work on a terminal), the log file otherwise."""
    fmt = config.log_format
    _lean_records(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in _handlers(config, instance):
        handler.setFormatter(Formatter(fmt))
        handler.addFilter(OneLineFilter())
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if config.debug else _LEVELS[config.loglevel])
    # pika's own warnings repeat, with internal reprs, what the broker layer says clearly
    logging.getLogger("pika").setLevel(logging.WARNING if config.debug else logging.CRITICAL)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    return logging.getLogger(f"sarra.{config.component}")
