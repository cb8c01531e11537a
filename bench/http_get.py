"""CPU per GET of a 10 KiB file: the http backend's own connection (sarra.transfer.http_wire)
against urllib3's pool, both on one kept-alive connection to the tests' HTTP server (in a
process of its own), in turns over three rounds, the best of each.

    .venv/bin/python bench/http_get.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import urllib3

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from run import Server  # noqa: E402

from sarra.transfer.http_wire import WireConnection  # noqa: E402

ROUNDS = 3


def cpu_per_get(get: Callable[[str], None], names: list[str]) -> float:
    """Seconds of this process's CPU per GET."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before = usage.ru_utime + usage.ru_stime
    for name in names:
        get(name)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime - before) / len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
        served = Path(d)
        names = [f"/f{n:05d}" for n in range(args.files)]
        for name in names:
            (served / name.lstrip("/")).write_bytes(os.urandom(10 << 10))
        server = Server(served)
        port = int(server.url.rsplit(":", 1)[1])
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
        wire = WireConnection("127.0.0.1", port, timeout=30)

        def with_urllib3(path: str) -> None:
            reply = pool.urlopen("GET", path, retries=False, redirect=False,
                                 preload_content=False, decode_content=False)  # fmt: skip
            while reply.read(1 << 20):
                pass
            reply.release_conn()

        def with_wire(path: str) -> None:
            reply = wire.get(path, {"Accept-Encoding": "identity"})
            while reply.read(1 << 20):
                pass

        base = ours = float("inf")
        try:
            for _ in range(ROUNDS):
                base = min(base, cpu_per_get(with_urllib3, names))
                ours = min(ours, cpu_per_get(with_wire, names))
        finally:
            wire.close()
            pool.close()
            server.stop()
    print(f"CPU per GET of 10 KiB: sarra's connection {ours * 1e6:.0f} µs, urllib3"
          f" {base * 1e6:.0f} µs, ratio {ours / base:.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
