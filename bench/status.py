"""`sr status` on 500 configs (target: under 1 s), as an operator runs it: the command's own
process, every config read, every instance's pid file, process and figures looked at.

The configs live in a scratch home. Each has one instance that looks running: its pid file
names a helper process whose command line names every config (an instance is trusted only if
its process is a sarra instance of that config), and its figures are fresh. No broker is
needed. Baseline: `sr list` on the same configs (the interpreter's start and the imports,
with a listing of the config directories). Each command's CPU (it is a child: getrusage
RUSAGE_CHILDREN, see bench/common.py) is printed per config, the least of the rounds.

    .venv/bin/python bench/status.py [--configs 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Best, measure, print_cpu

BIN = Path(sys.executable).parent


def prepare(home: Path, count: int) -> tuple[dict[str, str], subprocess.Popen[bytes]]:
    """The scratch home's environment, and the helper process the pid files name."""
    names = [f"feed{n:04d}" for n in range(count)]
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)", "sarra", *names]
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache")}  # fmt: skip
    configs = home / "config" / "sarra" / "subscribe"
    configs.mkdir(parents=True)
    now = time.time()
    for name in names:
        (configs / f"{name}.conf").write_text(
            "broker amqp://anonymous@dd.weather.gc.ca/\nexchange xpublic\n"
            f"subtopic observations.swob-ml.#\ndirectory /data/{name}\n"
            "accept .*\\.xml$\nreject .*\n"
        )
        state = home / "cache" / "sarra" / "subscribe" / name
        state.mkdir(parents=True)
        (state / f"sr_subscribe_{name}.state").write_text("1\n")
        (state / f"sr_subscribe_{name}_01.pid").write_text(f"{helper.pid}\n")
        figures = {
            "counts": {"received": 1000, "downloaded": 990}, "bytes": 10**8, "retry": 2,
            "started": now - 3600, "written": now, "pid": helper.pid, "last_done": now - 1,
            "links": {"consumer": {"broker": "amqp://anonymous@dd.weather.gc.ca:5671/",
                                   "state": "connected", "since": now - 3600}},
            "queue": f"q_anonymous.{name}", "queue_depth": 3, "queue_depth_at": now - 2,
            "window": 300.0, "received_rate": 3.3, "done_rate": 3.3, "bytes_rate": 33000.0,
            "lag_median": 0.8, "lag_max": 2.5, "lag_files": 990,
        }  # fmt: skip
        (state / f"sr_subscribe_{name}_01.metrics").write_text(json.dumps(figures))
    return env, helper


def best(command: list[str], env: dict[str, str], rounds: int) -> tuple[Best, str]:
    """The best wall time and least CPU of a command over some rounds, and its output."""
    figures, output = Best(), ""

    def run() -> None:
        nonlocal output
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        output = done.stdout

    for _ in range(rounds):
        figures.add(measure(run))
    return figures, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env, helper = prepare(Path(scratch), options.configs)
        try:
            baseline, _ = best([str(BIN / "sr"), "list"], env, options.rounds)
            status, output = best([str(BIN / "sr"), "status"], env, options.rounds)
            as_json, _ = best([str(BIN / "sr"), "status", "--json"], env, options.rounds)
        finally:
            helper.terminate()
            helper.wait()
    configs = options.configs
    print(output.splitlines()[-1])
    print(f"sr status, {configs} configs: {status.seconds:.3f} s (target 1 s)")
    print(f"sr status --json: {as_json.seconds:.3f} s")
    print(f"baseline, sr list: {baseline.seconds:.3f} s; status costs"
          f" {status.seconds - baseline.seconds:.3f} s more,"
          f" {(status.seconds - baseline.seconds) / configs * 1e3:.2f} ms a config")  # fmt: skip
    print_cpu("config (sr status against sr list)", status.cpu / configs, baseline.cpu / configs)


if __name__ == "__main__":
    main()
