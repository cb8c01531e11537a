"""debian/control depends on a Debian package for every Python dependency in setup.cfg."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DEBIAN_NAMES = {"pyzmq": "python3-zmq", "pyyaml": "python3-yaml"}
"""Python distributions whose Debian package is not python3-<name>."""

NOT_IN_DEBIAN = {"posttroll", "paho-mqtt"}
"""Installed with pip on Debian: posttroll (move_it_* only) is packaged by no release, and
paho-mqtt (MQTT brokers only) is there at 1.6, which cannot acknowledge after the work."""


def _requirements() -> list[str]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["options"]["install_requires"].strip().splitlines()
    return [re.split(r"[<>=!~ ;\[]", line.strip(), maxsplit=1)[0].lower() for line in lines]


def _depends() -> set[str]:
    control = (ROOT / "debian" / "control").read_text()
    package = control.split("\nPackage:", 1)[1]
    field = re.search(r"^Depends:(.*?)(?=^\S)", package, flags=re.M | re.S)
    assert field is not None
    return {re.sub(r"\(.*?\)", "", d).strip() for d in field.group(1).split(",")}


def test_every_python_dependency_is_a_debian_dependency() -> None:
    names = [name for name in _requirements() if name not in NOT_IN_DEBIAN]
    wanted = {DEBIAN_NAMES.get(name, f"python3-{name}") for name in names}
    assert wanted - _depends() == set(), "add them to Depends in debian/control"
