"""Running one instance: its logging, pid file and signals around the component's loop.

TERM or INT stop the loop cleanly (the work in hand is finished or left unacknowledged, never
half-written); HUP makes the instance re-read its config and start its loop again.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType

from sarra.broker.errors import BrokerError
from sarra.components.instances import remove_pid, write_pid
from sarra.components.logs import setup_logging
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.flow import plugins

Runner = Callable[[Config, int, threading.Event], None]
"""A component's loop: runs until the event is set."""

RUNNERS: dict[str, str] = {
    "subscribe": "sarra.flow.loop:run",
    "sarra": "sarra.flow.loop:run",
    "shovel": "sarra.flow.loop:run",
    "winnow": "sarra.flow.loop:run",
    "sender": "sarra.flow.loop:run",
    "report": "sarra.flow.loop:run",
    "poll": "sarra.components.poll:run",
    "post": "sarra.components.post:run",
    "watch": "sarra.components.watch:run",
}
"""Every component: component -> "module:function" of its Runner."""


def runner_for(component: str) -> Runner:
    """The loop of a component."""
    module, _, function = RUNNERS[component].partition(":")
    runner: Runner = getattr(importlib.import_module(module), function)
    return runner


def run_instance(
    component: str, path: Path, overrides: Iterable[tuple[str, str | None]], number: int
) -> int:
    """Run instance `number` (0 = foreground, logging to the terminal) until stopped."""
    overrides = list(overrides)
    config = load(component, path, overrides=overrides)
    logger = setup_logging(config, number)
    runner = runner_for(component)
    stop = threading.Event()
    reload = threading.Event()

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    def on_reload(_signum: int, _frame: FrameType | None) -> None:
        logger.info("reloading the config on SIGHUP")
        reload.set()
        stop.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    pid_path = write_pid(component, config.name, number) if number else None
    try:
        while True:
            logger.info("sr_%s %s %02d running (config %s)", component, config.name, number, path)
            runner(config, number, stop)
            if plugins.RESTART.is_set() and number:
                logger.info("sr_%s %s %02d restarting afresh", component, config.name, number)
                logging.shutdown()
                os.execv(sys.executable, sys.orig_argv)
            if not reload.is_set():
                break
            reload.clear()
            stop.clear()
            try:
                config = load(component, path, overrides=overrides)
            except ConfigError as err:
                logger.error("config not reloaded, the old one stays in force: %s", err)
    except (ConfigError, BrokerError) as err:
        logger.error("sr_%s %s %02d cannot run: %s", component, config.name, number, err)
        return 2
    except Exception:
        logger.exception("sr_%s %s %02d stopped by an unexpected error", component, config.name,
                         number)  # fmt: skip
        return 1
    finally:
        if pid_path is not None:
            remove_pid(pid_path)
    logger.info("sr_%s %s %02d stopped", component, config.name, number)
    logging.shutdown()
    return 0
