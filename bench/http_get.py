"""CPU per GET of a 10 KiB file: the http backend's own connection (sarra.transfer.http_wire)
against urllib3's pool, both on one kept-alive connection to the tests' HTTP server (in a
process of its own), in turns over three rounds, the best of each.

    .venv/bin/python bench/http_get.py [--files N]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import urllib3
from common import Side, report, scratch, turns
from run import Server

from sarra.transfer.http_wire import WireConnection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    with scratch() as served:
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

        def each(get: Callable[[str], None]) -> Callable[[], None]:
            def run() -> None:
                for name in names:
                    get(name)

            return run

        try:
            best = turns({"urllib3": Side(each(with_urllib3)), "sarra": Side(each(with_wire))})
        finally:
            wire.close()
            pool.close()
            server.stop()
    report("GETs of 10 KiB, sarra's connection against urllib3", len(names), "GETs/s",
           best["sarra"], best["urllib3"], per="GET")  # fmt: skip


if __name__ == "__main__":
    main()
