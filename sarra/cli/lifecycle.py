"""The actions that run and manage instances: foreground, start, stop, restart, reload,
status and sanity.

start, stop, restart and sanity act on each config named in turn (act_on_each): a config
that fails is reported with its reason and the others are still done; the exit status says
that one failed. The waits overlap: a few configs' instances start (or stop) while the next
configs are launched, so that hundreds of configs start in a fraction of the time that one
after the other would take."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sarra.broker.errors import BrokerError
from sarra.cli.args import CommandLine, Refused
from sarra.components import instances
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_text
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import Config, config_file, config_name, config_names, load
from sarra.config.loader import resolve_config_path as resolve
from sarra.observe import status as observe_status
from sarra.observe import text


@dataclass(frozen=True)
class Finish:
    """The end of an action on one config, left for later: `finish` waits for its `processes`
    instances to start (or stop), prints what was done, and raises on failure."""

    finish: Callable[[], None]
    processes: int


Act = Callable[[str, str, CommandLine], Finish | None]
"""What an action does to one config (component, config as named, command line): it starts
the work and returns what finishes it, if anything is left; it raises on failure (Failed,
ConfigError, BrokerError, OSError, Refused)."""

OVERLAP = 2 * (os.cpu_count() or 1)
"""Instances that may be starting or stopping at once, over several configs (starting is
mostly the CPU of the new processes' Python, stopping mostly waiting)."""


class Failed(Exception):
    """An action that could not be done on a config; the message says why, in one line."""


@dataclass(frozen=True)
class Failure:
    """A config an action failed on: its exit status (2 for a config error, else 1)."""

    component: str
    name: str
    status: int

    @property
    def label(self) -> str:
        """component/config, as `sr status` names it."""
        return f"{self.component}/{self.name}"


def act_on_each(component: str, command: CommandLine, act: Act) -> list[Failure]:
    """Do `act` on each config named, in turn, finishing the oldest ones (Finish) while more
    than OVERLAP instances are left to start or stop: one that fails is reported on stderr (a
    line a reason, `sr_<component> <config>: file:line: reason` for a config error) and never
    stops the others. Returns the failures."""
    failures: list[Failure] = []
    unfinished: deque[tuple[str, Finish]] = deque()

    def attempt(name: str, step: Callable[[], Finish | None]) -> None:
        try:
            finish = step()
        except ConfigErrors as err:
            reasons, status = [str(error) for error in err.errors], 2
        except ConfigError as err:
            reasons, status = [str(err)], 2
        except (Failed, Refused, BrokerError, OSError) as err:
            reasons, status = [str(err)], 1
        else:
            if finish is not None:
                unfinished.append((name, finish))
            return
        for reason in reasons:
            print(f"sr_{component} {name}: {redact_text(reason)}", file=sys.stderr)
        failures.append(Failure(component, name, status))

    def finish_oldest() -> None:
        name, left = unfinished.popleft()
        attempt(name, left.finish)

    for ref in command.configs:
        attempt(Path(ref).name.removesuffix(".conf"), lambda ref=ref: act(component, ref, command))
        while len(unfinished) > 1 and sum(f.processes for _, f in unfinished) > OVERLAP:
            finish_oldest()
    while unfinished:
        finish_oldest()
    return failures


def _on_each(act: Act) -> Callable[[str, CommandLine], int]:
    """The action on every config named (act_on_each); its exit status the worst of theirs."""

    def action(component: str, command: CommandLine) -> int:
        return max((f.status for f in act_on_each(component, command, act)), default=0)

    return action


def _loaded(component: str, ref: str, command: CommandLine) -> tuple[Path, Config]:
    """A config read, with the plugins it names (a plugin that cannot load, or an unknown
    option, is a config error); its warnings printed."""
    path = resolve(component, ref)
    config = load(component, path, overrides=command.overrides)
    from sarra.compat.plugins import Plugins  # this module's imports are those of status, list...

    Plugins.load(config)
    for warning in config.warnings:
        print(f"sr_{component} {config.name}: warning: {redact_text(warning)}", file=sys.stderr)
    return path, config


def named(component: str, ref: str) -> tuple[str, bool]:
    """The name of a config named on the command line, and whether it is enabled. A disabled
    config (<name>.conf.off) is named too, and so is a config whose file is gone while
    instances of it still run: they can still be stopped, and looked at."""
    try:
        return config_name(resolve(component, ref)), True
    except ConfigError:
        name = ref.removesuffix(".conf")
        disabled = config_file(component, name, disabled=True)
        if disabled is not None or instances.running_pids(component, name):
            return name, False
        raise


def every_config(component: str, action: str) -> list[str]:
    """The configs an action with no config named acts on: every enabled config; for stop,
    the disabled ones still running too (a config disabled by renaming its file)."""
    names = config_names(component)
    if action == "stop":
        names += [name for name in config_names(component, disabled=True)
                  if instances.running_pids(component, name)]  # fmt: skip
    return names


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
    from sarra.components.run import run_instance  # the components' loops: only to run one

    return run_instance(component, path, command.overrides, command.instance or 0)


def _start(component: str, command: CommandLine, path: Path, config: Config) -> Finish:
    """Launch the instances of a config not running; the Finish waits for them. A config of
    sr3's tree that sr3 itself runs is refused: both would take every notice."""
    if config.dialect == "sr3":
        pids = instances.sr3_pids(component, config.name)
        if pids:
            raise Refused(
                f"sr3 runs {component}/{config.name} (pids {' '.join(map(str, pids))}): stop it "
                f"there first (sr3 stop {component}/{config.name}), or both would take and "
                "write every file"
            )
    count = max(1, config.instances)
    launcher = _launcher(component, command, path)
    started = instances.spawn(component, config.name, count, launcher)

    def finish() -> None:
        problems = instances.await_started(component, config.name, started)
        for problem in problems:
            print(f"sr_{component} {config.name}: {problem}", file=sys.stderr)
        running = len(instances.running_pids(component, config.name))
        if problems:
            raise Failed(f"{running} of {count} instances running")
        print(f"sr_{component} {config.name}: {running} of {count} instances running")

    return Finish(finish, len(started))


def start_one(component: str, ref: str, command: CommandLine) -> Finish:
    """Start the instances of a config not running yet."""
    return _start(component, command, *_loaded(component, ref, command))


def _stopping(component: str, name: str) -> Finish:
    """TERM to every instance of a config, by name; the Finish waits for them to end (KILL
    after a while) and says so."""
    found = instances.terminate(component, name)

    def finish() -> None:
        stopped = instances.await_stopped(component, name, found)
        print(f"sr_{component} {name}: stopped" + (f" {len(stopped)} instances" if stopped else ""))

    return Finish(finish, sum(1 for instance in found if instance.running))


def stop_config(component: str, name: str) -> None:
    """Stop every instance of a config, by name, and say so."""
    _stopping(component, name).finish()


def stop_one(component: str, ref: str, command: CommandLine) -> Finish:
    """Stop every instance of a config (TERM, then KILL), a disabled config's too."""
    return _stopping(component, named(component, ref)[0])


def restart_one(component: str, ref: str, command: CommandLine) -> Finish:
    """Stop, then start; a config that cannot be read is not stopped."""
    try:
        path, config = _loaded(component, ref, command)
    except ConfigError:
        name = named(component, ref)[0]
        if instances.running_pids(component, name):
            print(f"sr_{component} {name}: not restarted: its running instances are left"
                  " as they are", file=sys.stderr)  # fmt: skip
        raise
    stop_config(component, config.name)
    return _start(component, command, path, config)


def reload(component: str, command: CommandLine) -> int:
    """Make the running instances re-read their config (SIGHUP)."""
    for ref in command.configs:
        _, config = _loaded(component, ref, command)
        signalled = instances.signal_all(component, config.name, signal.SIGHUP)
        print(f"sr_{component} {config.name}: {len(signalled)} instances reloading")
    return 0


def status(component: str, command: CommandLine) -> int:
    """Per config: its instances as v2 said them (`sr_subscribe x 01 is running (pid=N)`,
    `instance missing`, `is stopped`: scripts grep these), then one line with its state
    (running, connecting, refused by the broker, crashed...), rates, lag, queue depth and last
    file (sarra.observe); non-zero when one needs a look."""
    chosen = [(component, *named(component, ref)) for ref in command.configs]
    statuses = observe_status.collect(chosen)
    for (_, name, _), line in zip(chosen, text.render(statuses, totals=False), strict=True):
        for said in instance_lines(component, name):
            print(said)
        print(line)
    return 1 if any(s.problems for s in statuses) else 0


def instance_lines(component: str, name: str) -> list[str]:
    """What v2 said of each instance of a config: `NN is running (pid=N)`, `NN instance
    missing (pid=N)`, or `is stopped` for the config when none was started."""
    said = []
    for instance in instances.instances(component, name):
        prefix = f"sr_{component} {name} {instance.number:02d}"
        if instance.running:
            said.append(f"{prefix} is running (pid={instance.pid})")
        elif instance.pid is not None:
            said.append(f"{prefix} instance missing (pid={instance.pid})")
        else:
            said.append(f"{prefix} is stopped")
    return said or [f"sr_{component} {name} is stopped"]


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


def sanity_one(component: str, ref: str, command: CommandLine) -> Finish | None:
    """Restart the missing instances of a config that was started, and those whose log has
    been silent for longer than sanity_log_dead."""
    path, config = _loaded(component, ref, command)
    expected = instances.expected(component, config.name)
    if not expected:
        print(f"sr_{component} {config.name}: not started, left alone")
        return None
    hung = _hung(component, config)
    for instance in hung:
        print(f"sr_{component} {config.name}: instance {instance.number:02d} (pid"
              f" {instance.pid}) wrote no log line for too long: restarting it")  # fmt: skip
        instances.stop_one(component, config.name, instance)
    missing = [i.number for i in instances.instances(component, config.name)
               if not i.running and i.number <= expected]  # fmt: skip
    if not missing:
        print(f"sr_{component} {config.name}: all {expected} instances running")
        return None
    launcher = _launcher(component, command, path)
    started = instances.spawn(component, config.name, expected, launcher)

    def finish() -> None:
        problems = instances.await_started(component, config.name, started)
        restarted = " ".join(f"{n:02d}" for n in missing)
        print(f"sr_{component} {config.name}: restarted missing instances {restarted}")
        for problem in problems:
            print(f"sr_{component} {config.name}: {problem}", file=sys.stderr)
        if problems:
            running = len(instances.running_pids(component, config.name))
            raise Failed(f"{running} of {expected} instances running")

    return Finish(finish, len(started))


start = _on_each(start_one)
stop = _on_each(stop_one)
restart = _on_each(restart_one)
sanity = _on_each(sanity_one)

PER_CONFIG: dict[str, Act] = {
    "start": start_one,
    "stop": stop_one,
    "restart": restart_one,
    "sanity": sanity_one,
}
"""The actions `sr` runs on every config, each on one config."""


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
    from sarra.broker import admin  # the broker's administration: for these actions only

    return _broker_action(component, command, admin.declare, "declare")


def setup(component: str, command: CommandLine) -> int:
    """Declare the queue, its bindings and the post exchanges on the broker."""
    from sarra.broker import admin

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
    from sarra.broker import admin

    _broker_action(component, command, admin.cleanup, "cleanup")
    for ref in command.configs:
        remove_state(component, resolve(component, ref).name.removesuffix(".conf"))
    return 0
