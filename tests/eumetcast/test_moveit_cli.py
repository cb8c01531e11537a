"""The move_it_* commands as processes: seed configs, -l logs our own loggers too, -s stats,
user mistakes reported as file:line without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from moveit_kit import FILE_CLIENT_INI, PLAIN_SERVER_INI, free_port, ini, segment, wait_for, write

BIN = Path(sys.executable).parent


def spawn(*args: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler shows where it hung
        out, _ = process.communicate(timeout=15)
        raise AssertionError("did not stop:\n" + out.decode()[-6000:]) from None
    assert process.returncode == 0, out.decode()
    return out.decode()


def test_server_and_client_commands_move_files(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    port = free_port()
    server_ini = ini(tmp_path, "s.ini", PLAIN_SERVER_INI, SRC=src, PORT=free_port(),
                     STATION="s")  # fmt: skip
    client_ini = ini(tmp_path, "c.ini", FILE_CLIENT_INI, PROVIDERS=f"127.0.0.1:{port}", DST=dst,
                     TIMEOUT=5)  # fmt: skip
    server_log, client_log, stats = tmp_path / "s.log", tmp_path / "c.log", tmp_path / "stats"
    server = spawn(BIN / "move_it_server", "-l", server_log, "-p", port, "--disable-backlog",
                   server_ini)  # fmt: skip
    client = spawn(BIN / "move_it_client", "-l", client_log, "-s", stats, client_ini)
    try:
        # the client may join after the first announcements: announce until one gets through
        for n in range(1, 60):
            write(src / segment(n), b"via the commands")
            end = time.monotonic() + 0.5
            while time.monotonic() < end and not list(dst.glob("MSG4/*")):
                time.sleep(0.02)
            if list(dst.glob("MSG4/*")):
                break
        wait_for(lambda: stats.exists() and stats.read_text(), "the stats line")
    finally:
        stop(client)
        stop(server)
    assert "sarra.eumetcast.server] [s] announced" in server_log.read_text()
    assert "sarra.eumetcast.client] [plain] received" in client_log.read_text()
    assert " - pytroll://1b/hrit-segment/0deg file " in stats.read_text()


def test_config_mistake_is_one_line_with_its_place(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[a]\norigin = /data/{name}\ntopic = /t\nrequest_port = lots\n")
    done = subprocess.run([BIN / "move_it_server", bad], capture_output=True, timeout=30)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert f"{bad}:4: [a] request_port = lots: not a port number" in err
    assert "Traceback" not in err


def test_mirror_command_starts_on_the_seed_config_and_stops(tmp_path):
    from servers import wait_until_listening
    from test_moveit_mirror import GATE_INI

    request_port = free_port()
    path = ini(tmp_path, "gate.ini", GATE_INI, PORT=request_port, PROVIDERS="127.0.0.1:1",
               LOGIN="u:p", FTP=21, FTPHOME=tmp_path)  # fmt: skip
    mirror = spawn(BIN / "move_it_mirror", "-p", free_port(), path)
    try:
        wait_until_listening(request_port, process=mirror)
    finally:
        out = stop(mirror)
    assert "move_it_mirror publishing on port" in out


def test_sighup_rereads_the_server_config(tmp_path):
    from servers import wait_until_listening

    first, second = free_port(), free_port()
    path = ini(tmp_path, "s.ini", PLAIN_SERVER_INI, SRC=tmp_path / "a", PORT=first, STATION="a")
    server = spawn(BIN / "move_it_server", "-p", free_port(), "--disable-backlog", path)
    try:
        wait_until_listening(first, process=server)
        more = ini(tmp_path, "b.ini", PLAIN_SERVER_INI, SRC=tmp_path / "b", PORT=second,
                   STATION="b")  # fmt: skip
        path.write_text(path.read_text() + more.read_text())
        server.send_signal(signal.SIGHUP)
        wait_until_listening(second, process=server)
    finally:
        out = stop(server)
    assert "reloading the configuration" in out
