"""What the benchmarks share: a scratch home, rounds taken in turns, CPU per notice, and the
lines they print.

Each figure is measured against a baseline in the same run: the sides take turns over ROUNDS
rounds (a 2-core machine shared with other work is noisy), and each side keeps its best rate and,
separately, its lowest CPU per notice. CPU is user + system time of the processes doing the work:
this one (getrusage RUSAGE_SELF, every thread), its children reaped during the round
(RUSAGE_CHILDREN: a command run to its end, as in bench/status.py) and daemons started as
subprocesses that still run (their /proc/<pid>/stat). Brokers and servers both sides talk to are
not counted. On a busy machine a rate swings by 2x between runs; CPU per notice much less.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent / "tests") not in sys.path:
    sys.path.append(str(HERE.parent / "tests"))  # the tests' servers (HTTP, Mosquitto)

BROKER = "amqp://guest:guest@127.0.0.1/"
ROUNDS = 3
_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system seconds a running process has used (its /proc/<pid>/stat); 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime and stime, fields 14 and 15


def cpu_seconds(pids: Iterable[int] = ()) -> float:
    """User + system seconds used so far by this process, its reaped children and `pids`."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return total + sum(process_cpu(pid) for pid in pids)


@dataclass
class Sample:
    """One round of one side: its seconds and the CPU seconds it took."""

    seconds: float
    cpu: float


def measure(run: Callable[[], object], pids: Callable[[], Iterable[int]] = tuple) -> Sample:
    """Run once. Its seconds are what `run` returns when that is a float (the part it timed),
    else the wall time; its CPU, that of this process, its children reaped meanwhile and the
    processes `pids()` names (asked before and after: a daemon's pid must stay the same)."""
    before = cpu_seconds(pids())
    started = time.perf_counter()
    seconds = run()
    wall = time.perf_counter() - started
    return Sample(seconds if isinstance(seconds, float) else wall, cpu_seconds(pids()) - before)


@dataclass
class Side:
    """One side of a comparison: `run` timed each round (see measure), after `prepare` (not
    timed: filling a queue)."""

    run: Callable[[], object]
    prepare: Callable[[], object] | None = None
    pids: Callable[[], Iterable[int]] = tuple


@dataclass
class Best:
    """The best of a side's rounds: least seconds, and least CPU seconds."""

    seconds: float = float("inf")
    cpu: float = float("inf")
    rounds: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        self.rounds.append(sample)
        self.seconds = min(self.seconds, sample.seconds)
        self.cpu = min(self.cpu, sample.cpu)


def turns(sides: dict[str, Side], rounds: int = ROUNDS) -> dict[str, Best]:
    """Each side once per round, in the order given; the best of each over the rounds."""
    best = {name: Best() for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            if side.prepare is not None:
                side.prepare()
            best[name].add(measure(side.run, side.pids))
    return best


def verdict(good: bool) -> str:
    return "meets" if good else "MISSES"


def report(
    what: str,
    count: int,
    unit: str,
    ours: Best,
    base: Best,
    target: float | None = None,
    *,
    per: str = "notice",
    cpu_target: float | None = None,
    cpu_ratio: float | None = None,
    scale: float = 1.0,
) -> None:
    """Two lines: the rate of each side (`count` items, `scale` units each: MB/s) with their
    ratio and its target; then the CPU per item (µs) of each, their ratio, and `cpu_target`
    (µs per item) or `cpu_ratio` (to the baseline's), upper bounds, when there is one."""
    rate, base_rate = count * scale / ours.seconds, count * scale / base.seconds
    line = f"{what}: sarra {rate:,.1f} {unit}, baseline {base_rate:,.1f} {unit}"
    line += f", ratio {rate / base_rate:.2f}"
    if target is not None:
        line += f" ({verdict(rate >= target * base_rate)} the target of {target:.2f})"
    print(line, flush=True)
    print_cpu(per, ours.cpu / count, base.cpu / count, cpu_target, cpu_ratio)


def print_cpu(
    per: str, ours: float, base: float, target: float | None = None, ratio: float | None = None
) -> None:
    """`  CPU per <item>: sarra N µs, baseline M µs, ratio R` (seconds in, µs out), with the
    verdict on `target` (µs) or `ratio` (to the baseline), upper bounds."""
    line = f"  CPU per {per}: sarra {ours * 1e6:,.0f} µs, baseline {base * 1e6:,.0f} µs"
    line += f", ratio {ours / base:.2f}" if base > 0 else ""
    if target is not None:
        line += f" ({verdict(ours * 1e6 <= target)} the target of at most {target:.0f} µs)"
    elif ratio is not None and base > 0:
        line += f" ({verdict(ours <= ratio * base)} the target of at most {ratio:.1f}x)"
    print(line, flush=True)


@contextlib.contextmanager
def scratch(ram: bool = True, where: str | None = None) -> Iterator[Path]:
    """A scratch directory (in /dev/shm with `ram`, where it exists, or in `where`) that is the
    home of every config, cache and state file while the bench runs."""
    if where is None and ram and os.path.isdir("/dev/shm"):
        where = "/dev/shm"
    with tempfile.TemporaryDirectory(dir=where) as directory:
        work = Path(directory)
        for variable, name in (("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"),
                               ("XDG_STATE_HOME", "state")):  # fmt: skip
            os.environ[variable] = str(work / name)
        yield work


def drain(config: object, done: Callable[[object], bool]) -> float:
    """Run a consuming component's loop (a thread of this process), logging to its file as a
    started instance does, until done(loop); the seconds it took from its start."""
    from sarra.components.logs import setup_logging
    from sarra.flow.loop import ConsumerLoop

    setup_logging(config, 1)  # type: ignore[arg-type]
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)  # type: ignore[arg-type]
    thread = threading.Thread(target=loop.run)
    started = time.perf_counter()
    thread.start()
    while not done(loop):
        if not thread.is_alive():
            raise SystemExit("the component's loop stopped")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    return elapsed
