"""Load sharing between two instances of one config, for choosing the default `prefetch`.

A backlog is queued first, then two sr_subscribe instances (processes of their own, default
settings but `prefetch`) start together on the queue they share and drain it. For each prefetch
it prints how the backlog split (the share of the instance that took most) and the rate, for:

1. notify_only: 20,000 notices (the work is the loop's own);
2. downloads: 1,000 files of 10 KiB (--size) over HTTP from the tests' server (a process of its
   own), written below /dev/shm.

    .venv/bin/python bench/share.py [--prefetch 10,100,1000] [--notices N] [--files N]
                                    [--size KiB]

Needs the local RabbitMQ (tools/ensure-rabbitmq).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from consume import fill as fill_notices  # noqa: E402
from run import BROKER, Server, announce, declared_queue  # noqa: E402

from sarra.broker import admin, plan  # noqa: E402
from sarra.broker.publisher import Publisher  # noqa: E402
from sarra.config.loader import load  # noqa: E402
from sarra.flow.loop import ConsumerLoop  # noqa: E402
from sarra.message.notice import Notice, epoch_to_time  # noqa: E402


def instance(conf: str, number: int, count: str, go: Any, stop: Any, handled: Any) -> None:
    """One instance: build its loop, wait for the start, run until told to stop, keeping
    `handled` (shared with the bench) at its count of `count`."""
    config = load("subscribe", Path(conf))
    halt = threading.Event()
    loop = ConsumerLoop(config, number, halt)
    go.wait()
    thread = threading.Thread(target=loop.run)
    thread.start()
    while not stop.wait(0.005):
        handled.value = loop.counts[count]
    halt.set()
    thread.join()
    handled.value = loop.counts[count]


def one_round(
    work: Path, body: str, prefetch: int, fill: Callable[[Any, str], None], total: int, count: str
) -> tuple[float, float]:
    """Share of the busiest instance, and notices/s, for one prefetch."""
    exchange = f"xbench_{uuid.uuid4().hex[:8]}"
    conf = work / f"share{prefetch}_{exchange}.conf"
    conf.write_text(
        f"broker {BROKER}\nexchange {exchange}\nexpire 5m\nprefetch {prefetch}\n"
        f"instances 2\n{body}accept .*\n"
    )
    config = load("subscribe", conf)
    settings = plan.connection_settings(config, BROKER, "bench")
    with Publisher(settings, [exchange]) as publisher:
        publisher.wait_ready(10)
    declared_queue(config)
    fill(settings, exchange)  # type: ignore[operator]
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    handled = [context.Value("q", 0, lock=False) for _ in (1, 2)]
    processes = [
        context.Process(target=instance, args=(str(conf), n, count, go, stop, handled[n - 1]))
        for n in (1, 2)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # both built (imports, config), not yet connected
    started = time.perf_counter()
    go.set()
    while sum(h.value for h in handled) < total:
        if not all(p.is_alive() for p in processes):
            raise SystemExit("an instance stopped")
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    stop.set()
    for process in processes:
        process.join(30)
    admin.cleanup(config)
    return max(h.value for h in handled) / total, total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefetch", default="10,100,1000")
    parser.add_argument("--notices", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10, help="KiB per file")
    args = parser.parse_args()
    prefetches = [int(p) for p in args.prefetch.split(",")]
    ram = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=ram) as scratch:
        work = Path(scratch)
        os.environ["XDG_CONFIG_HOME"] = str(work / "config")
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        if args.notices:
            body = "notify_only\nsubtopic #\n"

            for prefetch in prefetches:
                share, rate = one_round(
                    work, body, prefetch,
                    lambda s, x: fill_notices(s, x, args.notices), args.notices, "received",
                )  # fmt: skip
                print(f"notify_only, prefetch {prefetch:5d}: busiest instance took "
                      f"{share:.0%}, {rate:,.0f} notices/s", flush=True)  # fmt: skip
        if args.files:
            (work / "served" / "share").mkdir(parents=True)
            names = [f"f{i:05d}" for i in range(args.files)]
            for name in names:
                (work / "served" / "share" / name).write_bytes(os.urandom(args.size << 10))
            server = Server(work / "served")
            try:
                notices = [
                    Notice(epoch_to_time(time.time()), server.url + "/", f"share/{name}",
                           size=args.size << 10)
                    for name in names
                ]  # fmt: skip
                for prefetch in prefetches:
                    target = work / f"got{prefetch}"
                    share, rate = one_round(
                        work, f"directory {target}\n", prefetch,
                        lambda s, x: announce(s, x, notices), args.files, "downloaded",
                    )  # fmt: skip
                    print(f"downloads, prefetch {prefetch:5d}: busiest instance took "
                          f"{share:.0%}, {rate:,.0f} files/s", flush=True)  # fmt: skip
            finally:
                server.stop()


if __name__ == "__main__":
    main()
