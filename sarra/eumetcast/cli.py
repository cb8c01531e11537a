"""The move_it_server, move_it_client and move_it_mirror commands.

Flags as trollmoves': the config file; -l/--log FILE (every logger, DEBUG, rotated at
midnight, 7 kept), -v/--verbose (DEBUG), -c/--log-config FILE (YAML logging dictConfig);
server: -p/--port (9010), --disable-backlog, -w/--watchdog (polling, for NFS); client:
-s/--stats FILE (a line per received file); mirror: -p/--port. SIGTERM and SIGINT stop;
SIGHUP re-reads the config and restarts the sections.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import logging.handlers
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

from sarra import version
from sarra.config.errors import ConfigError

log = logging.getLogger("sarra.eumetcast")

DESCRIPTIONS = {
    "move_it_server": "Watch directories, announce each new file over ZeroMQ and push it to the "
    "clients that ask for it (EUMETCast data exchange, trollmoves-compatible).",
    "move_it_client": "Listen to move_it servers and mirrors, have the files needed pushed here "
    "(the first announcement wins), and re-announce them.",
    "move_it_mirror": "A gateway: relay the announcements of move_it servers, and fetch each "
    "file on demand for the clients beyond it.",
}
FORMAT = "[%(asctime)s %(levelname)-8s %(name)s] %(message)s"


def _parser(
    prog: str, port: bool, server: bool = False, stats: bool = False
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTIONS[prog])
    parser.add_argument("--version", action="version", version=version.line())
    parser.add_argument("config_file", help="the configuration file to run on")
    parser.add_argument("-l", "--log", help="the file to log to (stdout otherwise)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("-c", "--log-config", help="a YAML logging configuration (dictConfig)")
    if port:
        parser.add_argument(
            "-p", "--port", type=int, default=9010, help="the port to publish on (default 9010)"
        )
    if server:
        parser.add_argument(
            "--disable-backlog",
            action="store_true",
            help="do not announce the files present at start",
        )
        parser.add_argument(
            "-w",
            "--watchdog",
            action="store_true",
            help="poll the directories (for NFS) instead of OS events",
        )
    if stats:
        parser.add_argument("-s", "--stats", help="append a line per received file to this file")
    return parser


def parser_for(prog: str) -> argparse.ArgumentParser:
    """The command line of one of the three commands (also read by its man page)."""
    if prog == "move_it_server":
        return _parser(prog, port=True, server=True)
    if prog == "move_it_client":
        return _parser(prog, port=False, stats=True)
    return _parser(prog, port=True)


def setup_logging(args: argparse.Namespace) -> None:
    """-c, else -l and -v: every logger (ours included) goes to the chosen place."""
    if args.log_config:
        import yaml

        with open(args.log_config) as file:
            logging.config.dictConfig(yaml.safe_load(file))
        return
    root = logging.getLogger()
    root.handlers.clear()
    if args.log:
        handler: logging.Handler = logging.handlers.TimedRotatingFileHandler(
            args.log, when="midnight", backupCount=7
        )
        root.setLevel(logging.DEBUG)
    else:
        handler = logging.StreamHandler(sys.stdout)
        root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)


def state_dir(config_file: str) -> Path:
    """Where a client keeps its first-wins memories: per config, in the user's cache."""
    return Path(platformdirs.user_cache_dir("sarra")) / "eumetcast" / Path(config_file).stem


def _run(read: Callable[[], list[Any]], build: Callable[[list[Any]], Any]) -> int:
    """Run what `build` makes of the config `read` gives until SIGTERM/SIGINT; on SIGHUP, read
    the config again and, if it is right, stop and rebuild (the ports are taken again)."""
    stop = threading.Event()
    reload = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    try:
        running = build(read()).start()
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except OSError as err:
        print(f"cannot start: {err}", file=sys.stderr)
        return 1
    while not stop.wait(1.0):
        if not reload.is_set():
            continue
        reload.clear()
        log.info("reloading the configuration")
        try:
            chains = read()
        except ConfigError as err:
            log.error("configuration not reloaded: %s", err)
            continue
        running.stop()
        try:
            running = build(chains).start()
        except OSError as err:
            log.critical("cannot restart: %s", err)
            return 1
    running.stop()
    return 0


def server_main(argv: list[str] | None = None) -> int:
    from sarra.eumetcast.config import read_server
    from sarra.eumetcast.server import Server

    args = parser_for("move_it_server").parse_args(argv)
    setup_logging(args)

    def build(chains: list[Any]) -> Server:
        backlog = not args.disable_backlog
        return Server(chains, args.port, backlog=backlog, polling=args.watchdog)

    return _run(lambda: read_server(args.config_file), build)


def client_main(argv: list[str] | None = None) -> int:
    from sarra.eumetcast.bridge import bridges
    from sarra.eumetcast.client import Client
    from sarra.eumetcast.config import read_client

    args = parser_for("move_it_client").parse_args(argv)
    setup_logging(args)

    def build(chains: list[Any]) -> Client:
        received: list[Any] = list(bridges(chains))
        if args.stats:
            received.append(_stats(args.stats))
        return Client(chains, state_dir(args.config_file), received)

    return _run(lambda: read_client(args.config_file), build)


def mirror_main(argv: list[str] | None = None) -> int:
    from sarra.eumetcast.config import read_mirror
    from sarra.eumetcast.mirror import Mirror

    args = parser_for("move_it_mirror").parse_args(argv)
    setup_logging(args)
    return _run(lambda: read_mirror(args.config_file), lambda chains: Mirror(chains, args.port))


def _stats(path: str) -> Callable[[Any, Any], None]:
    lock = threading.Lock()

    def write(chain: Any, message: Any) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} - {message.encode()}\n"
        with lock, open(path, "a") as file:
            file.write(line)

    return write
