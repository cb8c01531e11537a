"""Partitioned files between sr3 (metpx-sr3 3.3.1, from the registry) and ours, both ways, on
the local RabbitMQ and a real HTTP server (byte ranges).

- sr3 posts 50 files in blocks (sr3's v03 `blocks.manifest`; and its v02 `parts`, which give
  each block's length where v2 gives the file's remainder): our subscriber rebuilds every file.
- our sr_post announces 50 files in blocks: sr3's subscriber, with its block_reassembly
  callback (how sr3 users receive partitioned files), rebuilds every file. It runs with
  `timeCopy off`: sr3 3.3.1 compares the partly rebuilt file with each block's notice and drops
  a block as "mtime not newer" when the file happens to be one block long, whoever posted it.

Every file arrives byte-identical, and nothing is left beside them.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from integration.pumpkit import running, subscriber, wait_for
from peers import PeerEnv, peer_env
from servers import HttpServer
from sr3peer import BROKER, SR3_REASSEMBLY, Sr3Home

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("broker_credentials")]

BLOCK = 64 * 1024
FILES = 50
OURS = Path(sys.executable).parent


@pytest.fixture(scope="module")
def sr3() -> PeerEnv:
    return peer_env("sr3", SR3_REASSEMBLY)


def make_files(folder: Path, seed: int) -> dict[str, bytes]:
    """FILES files of 2 to 5 blocks, a few of them an exact multiple of the block size."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    files = {}
    for i in range(FILES):
        blocks = rng.randint(2, 5)
        size = blocks * BLOCK if i % 10 == 0 else (blocks - 1) * BLOCK + rng.randint(1, BLOCK - 1)
        data = os.urandom(size)
        (folder / f"f{i:02d}.dat").write_bytes(data)
        files[f"f{i:02d}.dat"] = data
    return files


def blocks_of(files: dict[str, bytes]) -> int:
    return sum(-(-len(data) // BLOCK) for data in files.values())


def arrived(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} if out.exists() else {}


@pytest.mark.parametrize("post_format", ["v03", "v02"])
def test_files_sr3_posts_in_blocks_arrive_whole_here(
    sr3: PeerEnv,
    tmp_path: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
    post_format: str,
) -> None:
    folder = served_root / f"sr3parts_{exchange}"
    files = make_files(folder, seed=17)
    home = Sr3Home.make(sr3, tmp_path / "sr3")
    home.config(
        "post/parts",
        f"post_broker {BROKER}\npost_exchange {exchange}\npost_format {post_format}\n"
        f"post_baseUrl http://127.0.0.1:{http_server.port}/\npost_baseDir {served_root}\n"
        f"blocksize {BLOCK}\nreject .*§block_manifest§.*\naccept .*\npath {folder}\n",
    )
    out = tmp_path / "out"
    prefix = "v03" if post_format == "v03" else "v02.post"
    config = subscriber(
        tmp_path,
        exchange,
        f"topic_prefix {prefix}\nsubtopic {folder.name}.#\ndirectory {out}\naccept .*\n",
    )
    with running(config) as loop:
        posted = home.run("post/parts")
        assert len(re.findall(r"after_post posted .* a file with", posted)) == blocks_of(files)
        wait_for(
            lambda: loop.counts["downloaded"] >= blocks_of(files),
            "every block",
            deadline=120,
        )
    assert arrived(out) == files  # whole, identical, and nothing else left beside them
    assert loop.counts["malformed"] == 0


def test_files_we_post_in_blocks_arrive_whole_under_sr3(
    sr3: PeerEnv, tmp_path: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    folder = served_root / f"ourparts_{exchange}"
    files = make_files(folder, seed=18)
    home = Sr3Home.make(sr3, tmp_path / "sr3")
    out = tmp_path / "out"
    home.config(
        "subscribe/parts",
        f"broker {BROKER}\nexchange {exchange}\ntopicPrefix v03\nsubtopic {folder.name}.#\n"
        f"expire 2m\ndirectory {out}\nmirror off\ninflight None\n"
        "callback_prepend block_reassembly\nblock_manifest_delete on\ntimeCopy off\n"
        "reject .*\\.flufl_lock.*\nreject .*§block_manifest§.*\naccept .*\n",
    )
    log = tmp_path / "sr3.log"
    with home.running("subscribe/parts", log):
        posted = subprocess.run(
            [str(OURS / "sr_post"), "-pb", BROKER, "-pe", exchange, "-ptp", "v03",
             "-pbu", f"http://127.0.0.1:{http_server.port}/", "-pbd", str(served_root),
             "-blocksize", str(BLOCK), "-p", *sorted(str(p) for p in folder.iterdir())],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert posted.returncode == 0, posted.stderr[-3000:]
        wait_for(
            lambda: (
                len(re.findall(r"completed reassembly", log.read_text(errors="replace"))) >= FILES
            ),
            "sr3 to reassemble every file",
            deadline=180,
        )
    text = log.read_text(errors="replace")
    assert "KeyError" not in text and "Traceback" not in text, text[-3000:]
    assert arrived(out) == files
