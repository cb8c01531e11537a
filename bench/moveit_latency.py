"""EUMETCast exchange latency: from a file's close on the server to its arrival at the client.

move_it_server and move_it_client run as processes of their own (as in production), on
loopback, with a `file://` destination; this process writes N files (default 200) 20 ms apart
into the server's watched directory and times each from its close to the client's announcement
of the received file (the client announces only once the push is replied to, so the file is in
place). Median and 99th percentile.

Baseline, measured in the same run: the same exchange done bare in this process, with no
message format, no config and no checks: a watchdog close event, a PUB/SUB announcement, a
REQ/ROUTER push request, shutil.copy and the reply. For scale, trollmoves' figure on
loopback is about 100 ms (its client polls its REQ socket with 0.1 s sleeps).

CPU per file (see bench/common.py), from the warm-up's arrival to the last file's: this process
(it writes the files and listens) and, for ours, the server's and client's processes.

    .venv/bin/python bench/moveit_latency.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq
from common import cpu_seconds, print_cpu
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from sarra.eumetcast import messages

BIN = Path(sys.executable).parent
GAP = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path: Path) -> float:
    """Write a small file; the time of its close."""
    with open(path, "wb") as file:
        file.write(os.urandom(4096))
    return time.monotonic()


def figures(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def measure(
    files: int, src: Path, arrivals: dict[str, float], warmup: str, pids: tuple[int, ...] = ()
) -> tuple[list[float], float]:
    """Write warm-up files until one arrives (everyone connected), then the timed ones: their
    latencies, and the CPU seconds used meanwhile by this process and `pids`."""
    for n in range(100):
        name = f"{warmup}{n:04d}.dat"
        write(src / name)
        end = time.monotonic() + 0.5
        while time.monotonic() < end and name not in arrivals:
            time.sleep(0.005)
        if name in arrivals:
            break
    else:
        raise SystemExit("nothing arrived: is the exchange running?")
    before = cpu_seconds(pids)
    closed: dict[str, float] = {}
    for n in range(files):
        name = f"f{n:05d}.dat"
        closed[name] = write(src / name)
        time.sleep(GAP)
    end = time.monotonic() + 30
    while time.monotonic() < end and not all(name in arrivals for name in closed):
        time.sleep(0.01)
    used = cpu_seconds(pids) - before
    missing = [name for name in closed if name not in arrivals]
    if missing:
        raise SystemExit(f"{len(missing)} files never arrived")
    return [arrivals[name] - closed[name] for name in closed], used


def ours(files: int, work: Path) -> tuple[list[float], float]:
    src, dst = work / "src", work / "dst"
    src.mkdir()
    publish, request_port, client_port = free_port(), free_port(), free_port()
    (work / "server.ini").write_text(
        f"[bench]\norigin = {src}/{{name}}.dat\ntopic = /bench/files\n"
        f"request_port = {request_port}\nrequest_address = 127.0.0.1\n"
    )
    (work / "client.ini").write_text(
        f"[bench]\nproviders = 127.0.0.1:{publish}\ndestination = file://{dst}/\n"
        f"topic = /bench/files\npublish_port = {client_port}\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    server = subprocess.Popen(
        [BIN / "move_it_server", "-p", str(publish), "--disable-backlog", work / "server.ini"],
        **quiet,
    )
    client = subprocess.Popen([BIN / "move_it_client", work / "client.ini"], **quiet)
    arrivals: dict[str, float] = {}
    stop = threading.Event()

    def listen() -> None:
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, messages.prefix("/bench/files"))
        sub.connect(f"tcp://127.0.0.1:{client_port}")
        while not stop.is_set():
            if sub.poll(50):
                message = messages.decode(sub.recv())
                if message.type == "file":
                    arrivals[message.data["uid"]] = time.monotonic()
        sub.close(linger=0)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        return measure(files, src, arrivals, "warm", (server.pid, client.pid))
    finally:
        stop.set()
        for process in (client, server):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def baseline(files: int, work: Path) -> tuple[list[float], float]:
    """The bare exchange: close event -> PUB -> SUB -> REQ -> ROUTER -> copy -> reply."""
    src, dst = work / "bare_src", work / "bare_dst"
    src.mkdir()
    dst.mkdir()
    context = zmq.Context.instance()
    pub = context.socket(zmq.PUB)
    pub_port = pub.bind_to_random_port("tcp://127.0.0.1")
    router = context.socket(zmq.ROUTER)
    router_port = router.bind_to_random_port("tcp://127.0.0.1")
    arrivals: dict[str, float] = {}
    stop = threading.Event()
    lock = threading.Lock()

    class Announce(FileSystemEventHandler):
        def on_closed(self, event: FileSystemEvent) -> None:
            with lock:
                pub.send_string(str(event.src_path))

    def serve() -> None:
        while not stop.is_set():
            if router.poll(50):
                identity, _, path = router.recv_multipart()
                shutil.copy(path.decode(), dst)
                router.send_multipart([identity, b"", b"done"])

    def client() -> None:
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{pub_port}")
        while not stop.is_set():
            if sub.poll(50):
                path = sub.recv()
                req = context.socket(zmq.REQ)
                req.connect(f"tcp://127.0.0.1:{router_port}")
                req.send(path)
                req.recv()
                req.close(linger=0)
                arrivals[os.path.basename(path.decode())] = time.monotonic()
        sub.close(linger=0)

    observer = Observer()
    observer.schedule(Announce(), str(src))
    observer.start()
    threads = [threading.Thread(target=t, daemon=True) for t in (serve, client)]
    for thread in threads:
        thread.start()
    try:
        return measure(files, src, arrivals, "warm")
    finally:
        stop.set()
        observer.stop()
        observer.join()
        for thread in threads:
            thread.join()
        pub.close(linger=0)
        router.close(linger=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare_latencies, bare_cpu = baseline(args.files, Path(tmp))
        latencies, cpu = ours(args.files, Path(tmp))
    bare_median, bare_p99 = figures(bare_latencies)
    median, p99 = figures(latencies)
    print(
        f"move_it server->client, {args.files} files {GAP * 1000:.0f} ms apart, close to arrival:"
    )
    print(f"  median {median:7.2f} ms   (bare ZeroMQ exchange {bare_median:6.2f} ms, "
          f"ratio {median / bare_median:5.2f})")  # fmt: skip
    print(f"  p99    {p99:7.2f} ms   (bare ZeroMQ exchange {bare_p99:6.2f} ms, "
          f"ratio {p99 / bare_p99:5.2f})")  # fmt: skip
    print_cpu("file", cpu / args.files, bare_cpu / args.files)


if __name__ == "__main__":
    main()
