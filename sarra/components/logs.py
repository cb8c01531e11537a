"""Logging of an instance: to the terminal in the foreground, else to its own file, rotated
daily (logrotate_interval) keeping `logrotate` files, mode chmod_log; passwords redacted."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys

from sarra.config import paths
from sarra.config.credentials import RedactingFilter
from sarra.config.loader import Config

FORMAT = "%(asctime)s [%(levelname)s] %(message)s"

_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "none": logging.CRITICAL + 10,
}


def _rotating_handler(config: Config, instance: int) -> logging.Handler:
    path = paths.log_file(config.component, config.name, instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    interval = max(1, int(config.logrotate_interval))
    if interval % 86400 == 0:
        when, count = "midnight", interval // 86400
    else:
        when, count = "s", interval
    handler = logging.handlers.TimedRotatingFileHandler(
        path, when=when, interval=count, backupCount=config.logrotate, utc=True, encoding="utf-8"
    )
    os.chmod(path, config.chmod_log or 0o600)
    return handler


def setup_logging(config: Config, instance: int) -> logging.Logger:
    """Route the root logger of this process: stderr for instance 0, the log file otherwise."""
    if instance == 0:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        handler = _rotating_handler(config, instance)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if config.debug else _LEVELS[config.loglevel])
    # pika's own warnings repeat, with internal reprs, what the broker layer says clearly
    logging.getLogger("pika").setLevel(logging.WARNING if config.debug else logging.CRITICAL)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    return logging.getLogger(f"sarra.{config.component}")
