"""One HTTP endpoint per host (`sr observe`): the live dashboard at `/`, Prometheus metrics at
`/metrics`, the status of every config at `/api/status` (the JSON of `sr status --json`) and
the end of a config's logs at `/api/log/<component>/<config>`.

Safe by default: it listens on 127.0.0.1 only unless told otherwise; it answers GET (and HEAD)
only; the dashboard's files are served from a fixed list read at start; a log is served only
for a config that exists, found by looking the request's names up among the configs (no part
of a request ever becomes a path); passwords are redacted from everything it sends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sarra.config import paths
from sarra.observe import logs, prometheus
from sarra.observe import status as observe_status
from sarra.observe.status import ConfigStatus

logger = logging.getLogger(__name__)

FRESH_FOR = 1.0
"""Seconds a look at the configs serves every request (a scrape and several dashboards)."""

LOG_LINES = 200
"""Lines of each instance's log sent to the dashboard."""

STATIC = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
"""The dashboard's files, shipped in sarra/observe/static/, and their types."""

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class Snapshot:
    """The status of every config, looked at again when older than FRESH_FOR seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = 0.0
        self._statuses: list[ConfigStatus] = []

    def get(self) -> list[ConfigStatus]:
        """The statuses, at most FRESH_FOR seconds old."""
        with self._lock:
            if time.monotonic() - self._taken > FRESH_FOR:
                self._statuses = observe_status.collect()
                self._taken = time.monotonic()
            return self._statuses


class Observer(ThreadingHTTPServer):
    """The endpoint: its snapshot, metrics registry and dashboard files."""

    daemon_threads = True

    def __init__(self, bind: str, port: int) -> None:
        self.snapshot = Snapshot()
        self.registry = prometheus.registry(self.snapshot.get)
        files = resources.files("sarra.observe") / "static"
        self.static = {name: (files / name).read_bytes() for name in STATIC}
        super().__init__((bind, port), Handler)

    @property
    def url(self) -> str:
        """Where it listens, as a URL."""
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class Handler(BaseHTTPRequestHandler):
    """Answers the routes of the endpoint."""

    server: Observer
    server_version = "sarra"
    sys_version = ""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._send(HTTPStatus.OK, STATIC["index.html"], self.server.static["index.html"])
        elif path.startswith("/static/") and path[len("/static/") :] in STATIC:
            name = path[len("/static/") :]
            self._send(HTTPStatus.OK, STATIC[name], self.server.static[name])
        elif path == "/metrics":
            self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        elif path == "/api/status":
            document = observe_status.to_json(self.server.snapshot.get())
            self._json(HTTPStatus.OK, document)
        elif path.startswith("/api/log/"):
            self._log(path[len("/api/log/") :])
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_HEAD(self) -> None:
        self.do_GET()

    def _refuse(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "only GET"}, {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def _log(self, rest: str) -> None:
        """The end of each instance's log of a config that exists on this host."""
        words = rest.split("/")
        if len(words) != 2:
            self._json(HTTPStatus.NOT_FOUND, {"error": "use /api/log/<component>/<config>"})
            return
        wanted = (unquote(words[0]), unquote(words[1]))
        known = {(c, n) for c, n, _ in observe_status.every_config()}
        if wanted not in known:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no such config"})
            return
        component, name = wanted  # equal to names found on disk: no path of the request's own
        found = [
            {"instance": number, "file": path.name, "lines": logs.tail(path, LOG_LINES)}
            for number, path in _log_files(component, name)
        ]
        self._json(HTTPStatus.OK, {"component": component, "config": name, "logs": found})

    def _json(
        self, status: HTTPStatus, document: Any, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(document).encode()
        self._send(status, "application/json", body, headers)

    def _send(
        self, status: HTTPStatus, kind: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def _log_files(component: str, name: str) -> list[tuple[int, Path]]:
    """The current log of each instance of a config, in instance order."""
    prefix, suffix = f"sr_{component}_{name}_", ".log"
    found = []
    try:
        entries = list(os.scandir(paths.log_dir()))
    except OSError:
        return []
    for entry in entries:
        number = entry.name[len(prefix) : -len(suffix)]
        if entry.name.startswith(prefix) and entry.name.endswith(suffix) and number.isdigit():
            found.append((int(number), paths.log_dir() / entry.name))
    return sorted(found)


def serve(bind: str, port: int) -> int:
    """Serve until TERM or INT; returns the exit status."""
    try:
        server = Observer(bind, port)
    except OSError as err:
        print(f"sr observe: cannot listen on {bind}:{port}: {err.strerror or err}", file=sys.stderr)
        return 1

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sr observe: serving {server.url} (metrics at {server.url}metrics)", flush=True)
    with server:
        server.serve_forever(poll_interval=0.5)
    return 0
