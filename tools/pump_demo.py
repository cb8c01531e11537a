"""The README's main job: a local pump moving real files.

sr_watch announces a directory through the local RabbitMQ; sr_subscribe downloads what it
announces into another directory. Files are written into the watched directory, and the run
ends by showing what moved (counts, sizes, rates), that every copy is identical, and where the
logs are. Everything lives under .pump/ in the repository (configs, state, logs, data).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / ".pump"
SOURCE = HOME / "data" / "outgoing"
DESTINATION = HOME / "data" / "incoming"
BIN = REPO / ".venv" / "bin"
EXCHANGE = "xs_guest_demo"

# (count, size in bytes): small observations, mid-size products, a few large images
FILES = ((400, 4 << 10), (80, 256 << 10), (8, 16 << 20))


def sr(*argv: str, check: bool = True) -> str:
    """Run one of our commands with the demo's directories; its output."""
    result = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def write_configs() -> None:
    config = HOME / "config" / "sarra"
    (config / "watch").mkdir(parents=True, exist_ok=True)
    (config / "subscribe").mkdir(parents=True, exist_ok=True)
    credentials = config / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    (config / "watch" / "demo.conf").write_text(
        "# announce every file closed in the outgoing directory\n"
        "post_broker amqp://guest@127.0.0.1/\n"
        f"post_exchange {EXCHANGE}\n"
        f"post_base_url file:{SOURCE}\n"
        f"post_base_dir {SOURCE}\n"
        f"path {SOURCE}\n"
        "sum s\n"
    )
    (config / "subscribe" / "demo.conf").write_text(
        "# copy what is announced into the incoming directory, keeping the tree\n"
        "broker amqp://guest@127.0.0.1/\n"
        f"exchange {EXCHANGE}\n"
        f"base_dir {SOURCE}\n"
        f"directory {DESTINATION}\n"
        "mirror\n"
        "accept .*\n"
    )


def write_files() -> dict[str, bytes]:
    """Write the files into the watched tree; their relative paths and md5 digests."""
    digests = {}
    block = os.urandom(1 << 20)
    for group, (count, size) in enumerate(FILES):
        for number in range(count):
            relative = f"product{group}/{number % 10:02d}/file{number:04d}.dat"
            path = SOURCE / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            data = (number.to_bytes(8, "big") + block * (size // len(block) + 1))[:size]
            path.write_bytes(data)
            digests[relative] = hashlib.md5(data).digest()
    return digests


def arrived(digests: dict[str, bytes]) -> int:
    return sum(1 for relative in digests if (DESTINATION / relative).is_file())


def counted(count: int) -> bool:
    """True once both configs' figures (written every few seconds) count the files moved."""
    answer = sr("sr", "status", "--json", check=False)
    counts = {c["component"]: c["counts"] for c in json.loads(answer or "{}").get("configs", [])}
    return all(
        counts.get(component, {}).get(what, 0) >= count
        for component, what in (("watch", "posted"), ("subscribe", "downloaded"))
    )


def main() -> None:
    os.environ["XDG_CONFIG_HOME"] = str(HOME / "config")
    os.environ["XDG_CACHE_HOME"] = str(HOME / "cache")
    for component in ("watch", "subscribe"):
        sr(f"sr_{component}", "stop", "demo", check=False)
    shutil.rmtree(HOME, ignore_errors=True)
    SOURCE.mkdir(parents=True)
    DESTINATION.mkdir(parents=True)
    write_configs()
    print("== a local pump: sr_watch announces .pump/data/outgoing, sr_subscribe copies it to"
          " .pump/data/incoming")  # fmt: skip
    sr("sr_watch", "declare", "demo")
    sr("sr_subscribe", "setup", "demo")
    print(sr("sr_subscribe", "start", "demo").strip())
    print(sr("sr_watch", "start", "demo").strip())
    try:
        started = time.monotonic()
        digests = write_files()
        total = sum(count * size for count, size in FILES)
        print(f"wrote {len(digests)} files, {total / 1e6:.1f} MB, into the watched directory")
        deadline = time.monotonic() + 180
        while arrived(digests) < len(digests) and time.monotonic() < deadline:
            time.sleep(0.2)
        seconds = time.monotonic() - started
        count = arrived(digests)
        identical = sum(
            1
            for relative, digest in digests.items()
            if (DESTINATION / relative).is_file()
            and hashlib.md5((DESTINATION / relative).read_bytes()).digest() == digest
        )
        print(f"moved {count} of {len(digests)} files, {total / 1e6:.1f} MB, in {seconds:.1f} s"
              f" from the first write: {count / seconds:.0f} files/s,"
              f" {total / 1e6 / seconds:.1f} MB/s")  # fmt: skip
        print(f"identical to the originals: {identical} of {len(digests)}")
        deadline = time.monotonic() + 10  # the figures `sr status` reads are written every 5 s
        while not counted(count) and time.monotonic() < deadline:
            time.sleep(0.5)
        print(sr("sr", "status").strip())
    finally:
        for component in ("watch", "subscribe"):
            sr(f"sr_{component}", "stop", "demo", check=False)
    logs = HOME / "cache" / "sarra" / "log"
    print(f"logs: {logs}/ (sr_watch_demo_01.log, sr_subscribe_demo_01.log)")
    # absolute: the XDG variables are ignored when they hold a relative path
    print(f"configs: {HOME / 'config' / 'sarra'}/; run them again with:"
          f" XDG_CONFIG_HOME={HOME / 'config'} XDG_CACHE_HOME={HOME / 'cache'}"
          f" {Path(sys.executable).parent / 'sr'} start")  # fmt: skip
    if identical != len(digests):
        sys.exit("some files did not arrive intact")


if __name__ == "__main__":
    main()
