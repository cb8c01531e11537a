"""The actions that run and manage instances: foreground, start, stop, restart, reload,
status and sanity."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sarra.broker import admin
from sarra.cli.args import CommandLine
from sarra.components import instances
from sarra.components.run import run_instance
from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.config.loader import resolve_config_path as resolve
from sarra.flow.plugins import Plugins
from sarra.observe import status as observe_status
from sarra.observe import text


def _loaded(component: str, ref: str, command: CommandLine) -> tuple[Path, Config]:
    path = resolve(component, ref)
    config = load(component, path, overrides=command.overrides)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return path, config


def _launcher(component: str, command: CommandLine, path: Path) -> Callable[[int], list[str]]:
    """The command line of instance N of a config, with the options given to this command
    (the config's path made absolute: it holds if the instance changes directory)."""

    def command_for(number: int) -> list[str]:
        words = [*command.option_words, "--no", str(number), "foreground", str(path.absolute())]
        return instances.python_command(component, words)

    return command_for


def foreground(component: str, command: CommandLine) -> int:
    """Run one instance in this process: instance 0 logs to the terminal; `--no N` is what
    start runs in the background for instance N."""
    ref = command.configs[0]
    path = resolve(component, ref)
    return run_instance(component, path, command.overrides, command.instance or 0)


def start(component: str, command: CommandLine) -> int:
    """Start the instances of each config not running yet."""
    status = 0
    for ref in command.configs:
        path, config = _loaded(component, ref, command)
        Plugins.load(config)  # a plugin that cannot load, or an unknown option, stops here
        count = max(1, config.instances)

        problems = instances.start(
            component, config.name, count, _launcher(component, command, path)
        )
        for problem in problems:
            print(f"sr_{component} {config.name}: {problem}", file=sys.stderr)
        running = len(instances.running_pids(component, config.name))
        print(f"sr_{component} {config.name}: {running} of {count} instances running")
        status = status or (1 if problems else 0)
    return status


def stop(component: str, command: CommandLine) -> int:
    """Stop every instance of each config (TERM, then KILL)."""
    for ref in command.configs:
        name = resolve(component, ref).name.removesuffix(".conf")
        stopped = instances.stop(component, name)
        print(f"sr_{component} {name}: stopped" + (f" {len(stopped)} instances" if stopped else ""))
    return 0


def restart(component: str, command: CommandLine) -> int:
    """Stop, then start."""
    stop(component, command)
    return start(component, command)


def reload(component: str, command: CommandLine) -> int:
    """Make the running instances re-read their config (SIGHUP)."""
    for ref in command.configs:
        _, config = _loaded(component, ref, command)
        signalled = instances.signal_all(component, config.name, signal.SIGHUP)
        print(f"sr_{component} {config.name}: {len(signalled)} instances reloading")
    return 0


def _status_of(component: str, ref: str) -> tuple[str, str, bool]:
    """(component, name, enabled) of a config named on the command line, disabled ones too."""
    try:
        return component, resolve(component, ref).name.removesuffix(".conf"), True
    except ConfigError:
        name = ref.removesuffix(".conf")
        if (paths.component_dir(component) / f"{name}.conf.off").is_file():
            return component, name, False
        raise


def status(component: str, command: CommandLine) -> int:
    """One line per config: its state (running, connecting, refused by the broker, crashed,
    stopped...), rates, lag, queue depth and last file (sarra.observe); non-zero when one
    needs a look."""
    statuses = observe_status.collect([_status_of(component, ref) for ref in command.configs])
    for line in text.render(statuses, totals=False):
        print(line)
    return 1 if any(s.problems for s in statuses) else 0


def _hung(component: str, config: Config) -> list[instances.Instance]:
    """Running instances whose log has not changed for sanity_log_dead (1.5 x heartbeat):
    a live instance writes at least its heartbeat line."""
    limit = config.sanity_log_dead or 1.5 * config.heartbeat
    now = time.time()
    hung = []
    for instance in instances.instances(component, config.name):
        log = paths.log_file(component, config.name, instance.number)
        try:
            age = now - log.stat().st_mtime
        except OSError:
            continue
        if instance.running and age > limit:
            hung.append(instance)
    return hung


def sanity(component: str, command: CommandLine) -> int:
    """Restart the missing instances of each config that was started, and those whose log has
    been silent for longer than sanity_log_dead."""
    for ref in command.configs:
        path, config = _loaded(component, ref, command)
        expected = instances.expected(component, config.name)
        if not expected:
            print(f"sr_{component} {config.name}: not started, left alone")
            continue
        hung = _hung(component, config)
        for instance in hung:
            print(f"sr_{component} {config.name}: instance {instance.number:02d} (pid"
                  f" {instance.pid}) wrote no log line for too long: restarting it")  # fmt: skip
            instances.stop_one(component, config.name, instance)
        missing = [i.number for i in instances.instances(component, config.name)
                   if not i.running and i.number <= expected]  # fmt: skip
        if not missing:
            print(f"sr_{component} {config.name}: all {expected} instances running")
            continue

        launcher = _launcher(component, command, path)
        problems = instances.start(component, config.name, expected, launcher)
        restarted = " ".join(f"{n:02d}" for n in missing)
        print(f"sr_{component} {config.name}: restarted missing instances {restarted}")
        for problem in problems:
            print(f"sr_{component} {config.name}: {problem}", file=sys.stderr)
    return 0


class Refused(Exception):
    """An action refused for a reason the user can act on."""


def _broker_action(
    component: str, command: CommandLine, act: Callable[..., list[str]], verb: str
) -> int:
    credentials = Credentials.load(paths.credentials_file())
    for ref in command.configs:
        _, config = _loaded(component, ref, command)
        for line in act(config, credentials=credentials):
            print(f"sr_{component} {config.name} {verb}: {line}")
    return 0


def declare(component: str, command: CommandLine) -> int:
    """Declare the queue (without bindings) and the post exchanges on the broker."""
    return _broker_action(component, command, admin.declare, "declare")


def setup(component: str, command: CommandLine) -> int:
    """Declare the queue, its bindings and the post exchanges on the broker."""
    return _broker_action(component, command, admin.setup, "setup")


def remove_state(component: str, name: str) -> None:
    """Delete a config's local state: queue name, retry queue, duplicate cache."""
    state = paths.state_dir(component, name)
    if state.is_dir():
        shutil.rmtree(state)
        print(f"sr_{component} {name}: removed {state}")


def cleanup(component: str, command: CommandLine) -> int:
    """Delete the queue (with its bindings) and unused post exchanges on the broker, then the
    local state; refused while an instance runs."""
    for ref in command.configs:
        name = resolve(component, ref).name.removesuffix(".conf")
        pids = instances.running_pids(component, name)
        if pids:
            raise Refused(f"{name} is running (pids {' '.join(map(str, pids))}): stop it first")
    _broker_action(component, command, admin.cleanup, "cleanup")
    for ref in command.configs:
        remove_state(component, resolve(component, ref).name.removesuffix(".conf"))
    return 0
