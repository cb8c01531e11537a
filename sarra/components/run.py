"""Running one instance: its logging, pid file and signals around the component's loop.

TERM or INT stop the loop cleanly (the work in hand is finished or left unacknowledged, never
half-written); HUP makes the instance stop its loop as cleanly, re-read its config and start the
loop it now names (an sr3 flow's flowMain may have changed). A config re-read that cannot run (a
config error, a plugin or callback that cannot load, a broker that refuses it at start) is
refused: one error line says why, the old config runs on, and the instance's figures say so
(`sr status`) until a reload takes.

With a `vip`, the loop runs only while this host holds one of its addresses (active/passive
high availability): a passive instance waits, looking every few seconds; an active one that
loses the address stops its loop cleanly, as on TERM, and waits again. A poll that lists
without the vip (poll_without_vip) runs all the time and only stops announcing.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType

from sarra.broker.errors import BrokerError
from sarra.compat import plugins
from sarra.components.instances import remove_pid, write_pid
from sarra.components.logs import setup_logging
from sarra.config import paths
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.flow import metrics, vip
from sarra.flow.loop import ConsumerLoop

logger = logging.getLogger(__name__)

Runner = Callable[[Config, int, threading.Event], None]
"""A component's loop: runs until the event is set."""

RUNNERS: dict[str, str] = {
    "subscribe": "sarra.components.run:consume",
    "sarra": "sarra.components.run:consume",
    "shovel": "sarra.components.run:consume",
    "winnow": "sarra.components.run:consume",
    "sender": "sarra.components.run:consume",
    "report": "sarra.components.run:consume",
    "poll": "sarra.components.poll:run",
    "post": "sarra.components.post:run",
    "watch": "sarra.components.watch:run",
    "flow": "sarra.components.flow:run",
}
"""Every component: component -> "module:function" of its Runner."""


def runner_for(component: str) -> Runner:
    """The loop of a component."""
    module, _, function = RUNNERS[component].partition(":")
    runner: Runner = getattr(importlib.import_module(module), function)
    return runner


def consume(config: Config, number: int, stop: threading.Event) -> None:
    """The Runner of the components fed from a queue: the loop with the config's plugins."""
    ConsumerLoop(config, number, stop, plugins.Plugins.load(config, number, stop) or None).run()


def vip_guarded(config: Config) -> bool:
    """Whether the config's loop runs only while this host holds its vip (a poll that lists
    without it, poll_without_vip, guards its announcing itself: sarra.components.poll)."""
    return bool(config.vip) and not (config.component == "poll" and config.poll_without_vip)


def run_with_vip(runner: Runner, config: Config, number: int, stop: threading.Event) -> None:
    """Run the loop whenever this host holds the config's vip, wait whenever it does not;
    return once `stop` is set, or once the loop stopped for a plugin's restart."""
    addresses = ",".join(config.vip)
    while not stop.is_set():
        if not vip.held(config.vip):
            logger.info("passive: vip %s not on this host, waiting", addresses)
            passive = metrics.Metrics(passive=f"passive: vip {addresses} not on this host")
            alive = time.monotonic()
            while not vip.held(config.vip):
                if number:  # for `sr status`, as often as figures are written
                    metrics.write(config.home, config.name, number, passive)
                if stop.wait(min(vip.CHECK_EVERY, metrics.EVERY)):
                    return
                if number and time.monotonic() - alive >= config.heartbeat:
                    alive = time.monotonic()  # a sign of life for `sanity`, which logs nothing
                    with contextlib.suppress(OSError):
                        os.utime(paths.log_file(config.home, config.name, number))
        logger.info("active: vip %s is on this host", addresses)
        active = threading.Event()  # the loop's stop: set on `stop`, or when the vip goes
        monitor = threading.Thread(
            target=_watch_vip, args=(config.vip, stop, active), name="vip", daemon=True
        )
        monitor.start()
        try:
            runner(config, number, active)
        finally:
            active.set()
            monitor.join()
        if plugins.RESTART.is_set():  # a plugin asked to start afresh: run_instance does it
            return


def _watch_vip(addresses: list[str], stop: threading.Event, active: threading.Event) -> None:
    """Set `active` (the loop's stop event) as soon as `stop` is, or when the vip is lost."""
    while not active.is_set():
        if stop.wait(vip.CHECK_EVERY) or active.is_set():
            break
        if not vip.held(addresses):
            logger.warning("vip %s lost: stopping, work in hand is finished", ",".join(addresses))
            break
    active.set()


def run_config(config: Config, number: int, stop: threading.Event) -> None:
    """Run the loop a config names (sr3's flow with flowMain X: X's, as read now) until `stop`
    is set, or only while this host holds its vip."""
    runner = runner_for(config.component)
    if vip_guarded(config):
        run_with_vip(runner, config, number, stop)
    else:
        runner(config, number, stop)


def _refused(logger: logging.Logger, path: Path, err: Exception) -> None:
    """Say, in one line of the log and in the instance's figures (`sr status`), why the config
    a reload read cannot run: the one before stays in force."""
    reason = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
    logger.error("config %s not reloaded, the old one stays in force: %s", path, reason)
    metrics.not_reloaded(f"config {path} not reloaded: {reason}")


def run_instance(
    component: str, path: Path, overrides: Iterable[tuple[str, str | None]], number: int
) -> int:
    """Run instance `number` (0 = foreground, logging to the terminal) until stopped."""
    overrides = list(overrides)
    config = load(component, path, overrides=overrides)
    logger = setup_logging(config, number)
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
    in_force = config  # the config that ran last: what a reload refused falls back to
    try:
        while True:
            logger.info("sr_%s %s %02d running (config %s)", component, config.name, number, path)
            try:
                run_config(config, number, stop)
            except (ConfigError, BrokerError) as err:
                if config is in_force:  # not a reload's: it cannot run at all
                    raise
                config = in_force
                _refused(logger, path, err)
                if not stop.is_set():
                    continue  # the old one runs again at once
            else:
                in_force = config
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
                _refused(logger, path, err)
            else:
                metrics.not_reloaded("")
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
