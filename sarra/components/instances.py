"""Instances of a config: the processes that share its queue, their pid and state files.

Files, in the established layout (~/.cache/sarra/<component>/<config>/):
`sr_<component>_<config>.state` holds the number of instances started;
`sr_<component>_<config>_NN.pid` the pid of instance NN (01, 02, ...), written by the instance
itself once it is running and removed when it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sarra.config import paths

START_WAIT = 15.0
"""Seconds start waits for an instance to write its pid file before calling it failed."""

STOP_WAIT = 10.0
"""Seconds stop waits after TERM before it KILLs."""


@dataclass(frozen=True)
class Instance:
    """What is known of one instance of a config."""

    number: int
    pid: int | None
    running: bool


def state_file(component: str, config: str) -> Path:
    """The file holding the number of instances started."""
    return paths.state_dir(component, config) / f"sr_{component}_{config}.state"


def expected(component: str, config: str) -> int:
    """How many instances were started (0 when never started or stopped)."""
    try:
        return int(state_file(component, config).read_text().strip())
    except (OSError, ValueError):
        return 0


def _write_state(component: str, config: str, count: int) -> None:
    path = state_file(component, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{count}\n")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_alive(pid: int) -> bool:
    """True when a process of that pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_ours(pid: int, component: str, config: str) -> bool:
    """Guard against a recycled pid: the process must be a sarra instance of this config."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return is_alive(pid)
    words = [w.decode(errors="replace") for w in cmdline]
    return any("sarra" in w or f"sr_{component}" in w for w in words) and any(
        config in w for w in words
    )


SR3_PROGRAMS = frozenset({"instance.py", "sr3"})
"""What sr3 runs a config with: its daemons (`.../sarracenia/instance.py --no N start
component/config`) and `sr3 foreground component/config`."""


def sr3_pids(component: str, config: str) -> list[int]:
    """The pids of sr3's own processes running a config (`component/config`), found by their
    command lines: a config of sr3's tree that sr3 runs too would consume and write twice."""
    wanted = f"{component}/{config}"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = [w.decode(errors="replace")
                     for w in (entry / "cmdline").read_bytes().split(b"\0") if w]  # fmt: skip
        except OSError:
            continue
        if len(words) > 2 and Path(words[1]).name in SR3_PROGRAMS and wanted in words[2:]:
            found.append(int(entry.name))
    return sorted(found)


def instances(component: str, config: str) -> list[Instance]:
    """Every instance expected or having a pid file, in number order."""
    directory = paths.state_dir(component, config)
    numbers = set(range(1, expected(component, config) + 1))
    prefix = f"sr_{component}_{config}_"
    if directory.is_dir():
        for path in directory.glob(f"{prefix}*.pid"):
            number = path.name[len(prefix) : -len(".pid")]
            if number.isdigit():
                numbers.add(int(number))
    found = []
    for number in sorted(numbers):
        pid = _read_pid(paths.pid_file(component, config, number))
        running = pid is not None and is_alive(pid) and _is_ours(pid, component, config)
        found.append(Instance(number, pid, running))
    return found


def running_pids(component: str, config: str) -> list[int]:
    """The pids of the config's running instances."""
    return [i.pid for i in instances(component, config) if i.running and i.pid is not None]


def write_pid(component: str, config: str, number: int) -> Path:
    """Record this process as instance `number` (atomically: write, then rename)."""
    path = paths.pid_file(component, config, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(f"{os.getpid()}\n")
    temporary.replace(path)
    return path


def remove_pid(path: Path) -> None:
    """Remove a pid file if it still names this process."""
    if _read_pid(path) == os.getpid():
        path.unlink(missing_ok=True)


def _spawn(command: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text)


Started = dict[int, "subprocess.Popen[bytes]"]
"""The processes of the instances just started, by instance number."""


def start(
    component: str, config: str, count: int, command_for: Callable[[int], Sequence[str]]
) -> list[str]:
    """Start the missing instances 1..count; stop any beyond count. Returns problems found.

    command_for(number) gives the command line of instance `number`. Waits (bounded) for each
    new instance to write its pid file, so a config that fails at start is reported now.
    """
    return await_started(component, config, spawn(component, config, count, command_for))


def spawn(
    component: str, config: str, count: int, command_for: Callable[[int], Sequence[str]]
) -> Started:
    """The first half of start: the missing instances launched, without waiting for them."""
    current = {i.number: i for i in instances(component, config)}
    _write_state(component, config, count)
    for extra in [n for n, i in current.items() if n > count and i.running]:
        _stop_one(component, config, extra, current[extra].pid)
    started: Started = {}
    for number in range(1, count + 1):
        if number in current and current[number].running:
            continue
        paths.pid_file(component, config, number).unlink(missing_ok=True)
        log = paths.log_file(component, config, number)
        started[number] = _spawn(command_for(number), log)
    return started


def await_started(component: str, config: str, started: Started) -> list[str]:
    """The second half of start: wait (START_WAIT at most) for each instance launched to say
    it runs (its pid file); the problems of those that did not."""
    problems = []
    deadline = time.monotonic() + START_WAIT
    waiting = dict(started)
    while waiting and time.monotonic() < deadline:
        for number, process in list(waiting.items()):
            if _read_pid(paths.pid_file(component, config, number)) == process.pid:
                del waiting[number]
            elif process.poll() is not None:
                del waiting[number]
                log = paths.log_file(component, config, number)
                problems.append(
                    f"instance {number:02d} exited at start (status {process.returncode});"
                    f" the end of {log}:\n{_tail(log)}"
                )
        time.sleep(0.02)
    for number in waiting:
        problems.append(f"instance {number:02d} did not report running within {START_WAIT:g}s")
    return problems


def _stop_one(component: str, config: str, number: int, pid: int | None) -> None:
    if pid is not None and is_alive(pid) and _is_ours(pid, component, config):
        os.kill(pid, signal.SIGTERM)
        _await_gone(pid)
    paths.pid_file(component, config, number).unlink(missing_ok=True)


def _await_gone(pid: int) -> None:
    """Wait for a process TERMed to end; KILL it after STOP_WAIT."""
    deadline = time.monotonic() + STOP_WAIT
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if is_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while is_alive(pid):
            time.sleep(0.01)


def stop_one(component: str, config: str, instance: Instance) -> None:
    """Stop one instance (TERM, then KILL after STOP_WAIT)."""
    _stop_one(component, config, instance.number, instance.pid)


def stop(component: str, config: str) -> list[int]:
    """Stop every instance (TERM, then KILL after STOP_WAIT); returns the numbers stopped."""
    return await_stopped(component, config, terminate(component, config))


def terminate(component: str, config: str) -> list[Instance]:
    """The first half of stop: TERM to every running instance; the instances of the config
    (the config counts as stopped from now: start and sanity leave it alone)."""
    found = instances(component, config)
    state_file(component, config).unlink(missing_ok=True)
    for instance in found:
        if instance.running and instance.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(instance.pid, signal.SIGTERM)
    return found


def await_stopped(component: str, config: str, found: list[Instance]) -> list[int]:
    """The second half of stop: wait for the instances TERMed to end (KILL after STOP_WAIT)
    and remove their pid files; the numbers of those that were running."""
    for instance in found:
        if instance.running and instance.pid is not None:
            _await_gone(instance.pid)
        paths.pid_file(component, config, instance.number).unlink(missing_ok=True)
    return [instance.number for instance in found if instance.running]


def signal_all(component: str, config: str, signum: int) -> list[int]:
    """Send a signal to every running instance; returns the numbers signalled."""
    signalled = []
    for instance in instances(component, config):
        if instance.running and instance.pid is not None:
            os.kill(instance.pid, signum)
            signalled.append(instance.number)
    return signalled


def python_command(component: str, words: Sequence[str]) -> list[str]:
    """The command line that runs sr_<component> with these words in a new process. `-P`
    keeps the current directory off its import path: the instance runs the installed sarra
    (and modules) whatever the directory it was started from holds."""
    return [sys.executable, "-P", "-m", "sarra.cli.component", component, *words]
