"""Start-up: the CPU of a one-shot `sr_post` of one file (target under 150 ms), each run a
process of its own (its interpreter's start, its imports, its config, the connection, the notice,
the confirm, the exit), against a bare one-shot publisher: a Python process that imports pika,
reads the file and computes its sha512, and publishes its notice with a confirm. Both in turns,
the least CPU of each kept (getrusage RUSAGE_CHILDREN: see bench/common.py). Then what sr_post's
imports take (`python -X importtime`), with the heaviest top-level packages.

With --instructions, each also runs once under valgrind (cachegrind, if installed): the
instructions it executes in user space are the same from run to run within a fraction of a
percent, where CPU time on a busy 2-core machine swings by a third.

Both run as an installed program does: with the bytecode of every module cached (a warm-up run
of each writes it, as pip writes it at install; PYTHONDONTWRITEBYTECODE is left out of their
environment), since compiling sarra's sources at each start would double its figure.

    .venv/bin/python bench/startup.py [--runs N] [--instructions]

Needs the local RabbitMQ (tools/ensure-rabbitmq).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from common import BROKER, Best, Side, print_cpu, scratch, turns

from sarra.broker import plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import load

BIN = Path(sys.executable).parent
TARGET_MS = 150

BARE = """
import hashlib, sys, time
import pika
url, exchange, path = sys.argv[1:4]
with open(path, "rb") as file:
    data = file.read()
headers = {"sum": "s," + hashlib.sha512(data).hexdigest(), "parts": f"1,{len(data)},1,0,0"}
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + ".000"
channel.basic_publish(exchange, "v02.post" + path.replace("/", "."), f"{stamp} file: {path}",
                      pika.BasicProperties(headers=headers, delivery_mode=2))
connection.close()
"""


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=ENV)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr}")


def instructions(command: list[str]) -> int:
    """The instructions `command` executes in user space (valgrind's cachegrind)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind")
    done = subprocess.run([valgrind, "--tool=cachegrind", "--cache-sim=no",
                           "--cachegrind-out-file=/dev/null", *command],
                          capture_output=True, text=True, check=False, env=ENV)  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{command[0]} under valgrind failed: {done.stderr[-500:]}")
    return int(found[1].replace(",", ""))


def imports(command: str) -> tuple[float, list[tuple[str, float]]]:
    """Milliseconds of every import `command` makes (-X importtime, the sum of each module's
    own time), and the heaviest top-level packages."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", command],
                          capture_output=True, text=True, check=True, env=ENV)  # fmt: skip
    packages: collections.Counter[str] = collections.Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        packages[name.strip().split(".")[0]] += int(own) / 1000
    return sum(packages.values()), packages.most_common(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds, each one run of each")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each side's instructions once (valgrind)")  # fmt: skip
    args = parser.parse_args()
    with scratch() as work:
        exchange = f"xbench_{uuid.uuid4().hex[:8]}"
        settings = plan.connection_settings(load("post", None, name="bench"), BROKER, "bench")
        with Publisher(settings, [exchange]) as publisher:
            publisher.wait_ready(10)
        path = work / "one.dat"
        path.write_bytes(b"x" * 1024)
        ours = [str(BIN / "sr_post"), "-post_broker", BROKER, "-post_exchange", exchange,
                "-sum", "s", "-p", str(path)]  # fmt: skip
        bare = [sys.executable, "-c", BARE, BROKER, exchange, str(path)]
        empty = [sys.executable, "-c", "pass"]
        for command in (ours, bare):  # the warm-up: bytecode written
            run(command)
        best: dict[str, Best] = turns(
            {
                "bare": Side(lambda: run(bare)),
                "sarra": Side(lambda: run(ours)),
                "python": Side(lambda: run(empty)),
            },
            args.runs,
        )
        total, heaviest = imports("import sarra.cli.component")
        counted = [instructions(c) for c in (ours, bare)] if args.instructions else None
    ms = {name: figures.cpu * 1000 for name, figures in best.items()}
    verdict = "meets" if ms["sarra"] < TARGET_MS else "MISSES"
    print(f"one-shot sr_post of one file: {ms['sarra']:.0f} ms of CPU, target < {TARGET_MS} ms"
          f" ({verdict}); bare pika one-shot publisher {ms['bare']:.0f} ms, ratio"
          f" {ms['sarra'] / ms['bare']:.2f}; an empty interpreter {ms['python']:.0f} ms",
          flush=True)  # fmt: skip
    print_cpu("run", best["sarra"].cpu, best["bare"].cpu)
    if counted:
        ours_i, bare_i = counted
        print(f"  instructions (valgrind, one run each): sarra {ours_i / 1e6:.0f}M,"
              f" baseline {bare_i / 1e6:.0f}M, ratio {ours_i / bare_i:.2f}")  # fmt: skip
    print(
        f"  sr_post's imports (-X importtime): {total:.0f} ms; heaviest packages: "
        + ", ".join(f"{name} {spent:.0f} ms" for name, spent in heaviest)
    )


if __name__ == "__main__":
    main()
