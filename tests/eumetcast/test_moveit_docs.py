"""Every config shown in docs/eumetcast.md reads without error, by the command it is for."""

from __future__ import annotations

import re
from pathlib import Path

from sarra.eumetcast.config import read_client, read_mirror, read_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "eumetcast.md"
READERS = {"move_it_server": read_server, "move_it_client": read_client,
           "move_it_mirror": read_mirror}  # fmt: skip


def test_every_config_in_the_how_to_reads(tmp_path):
    blocks = re.findall(r"```ini\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert len(blocks) == 5
    for number, block in enumerate(blocks):
        command = re.search(r"move_it_\w+", block.splitlines()[0]).group(0)
        path = tmp_path / f"{number}.ini"
        path.write_text(block)
        assert READERS[command](path), block
