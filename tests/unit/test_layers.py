"""Imports point down only (docs: the layers of ARCHITECTURE): no module of a layer imports a
module of a layer above it. The flow knows plugins only through sarra.flow.hooks."""

from __future__ import annotations

import ast
from pathlib import Path

import sarra

LAYERS = ("integrity", "config", "message", "transfer", "broker", "flow", "compat",
          "components", "eumetcast", "observe", "cli")  # fmt: skip
"""From the bottom up; transfer and broker stand side by side, as do components and
eumetcast (the exchange commands are presets of the same stages)."""

RANK = {name: i for i, name in enumerate(LAYERS)} | {"broker": 3, "eumetcast": 7}


def imports_of(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
    return found


def test_no_layer_imports_a_layer_above_it() -> None:
    root = Path(sarra.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if len(parts) < 2 or parts[0] not in RANK:
            continue
        for name in imports_of(path):
            words = name.split(".")
            if words[0] == "sarra" and len(words) > 1 and RANK.get(words[1], -1) > RANK[parts[0]]:
                upward.append(f"{path.relative_to(root)} imports {name}")
    assert upward == []
