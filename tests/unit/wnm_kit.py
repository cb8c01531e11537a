"""Test data of WIS2 notification messages: examples of our own, written from the
specification's text, and the specification's own examples and schema, read at test time from
a local copy of its repository (it has no licence: nothing of it is committed here).

The copy is the git directory named by SARRA_WNM_SPEC_GIT (default: the mirror of
github:wmo-im/wis2-notification-message on this machine), or a checkout; tests that need it
are skipped with the reason when there is none.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

SPEC_GIT = Path(
    os.environ.get("SARRA_WNM_SPEC_GIT", "/work/.mirror/wmo-im+wis2-notification-message/repo")
)
SCHEMA = "schemas/wis2-notification-message-bundled.json"
CORE = "http://wis.wmo.int/spec/wnm/1/conf/core"
SYNOP = "origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"


def spec_files(folder: str, dest: Path) -> dict[str, Path]:
    """The files of a folder of the specification's repository, copied into `dest`; skips the
    test when the repository is not here."""
    if (SPEC_GIT / folder).is_dir():  # a checkout
        names = sorted(p.name for p in (SPEC_GIT / folder).iterdir())
        read = {name: (SPEC_GIT / folder / name).read_bytes() for name in names}
    else:
        try:
            listing = _git("ls-tree", "--name-only", f"HEAD:{folder}").decode().split()
            read = {name: _git("show", f"HEAD:{folder}/{name}") for name in listing}
        except (OSError, subprocess.CalledProcessError) as err:
            pytest.skip(
                f"the WNM specification's repository is not at {SPEC_GIT} ({err}); set "
                "SARRA_WNM_SPEC_GIT to a clone of wmo-im/wis2-notification-message"
            )
    dest.mkdir(parents=True, exist_ok=True)
    copied = {}
    for name, data in read.items():
        (dest / name).write_bytes(data)
        copied[name] = dest / name
    return copied


def _git(*args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(SPEC_GIT), *args], check=True, capture_output=True, timeout=60
    ).stdout


def schema_validator(dest: Path) -> Any:
    """A jsonschema validator of the specification's bundled schema; skips without either."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    folder, _, name = SCHEMA.rpartition("/")
    schema = json.loads(spec_files(folder, dest)[name].read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator: Any, message: Any) -> list[str]:
    """What the schema finds wrong with a message."""
    return [error.message for error in validator.iter_errors(message)]


def b64(method: str, data: bytes) -> str:
    return base64.b64encode(hashlib.new(method, data).digest()).decode()


DATA = b"BUFR data of station 71628\n"

OWN_EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "new data, point, sha256": (
        SYNOP,
        {
            "id": "3f0b4b0e-8a0c-4a52-9c37-0b7c2d5a1e11",
            "conformsTo": [CORE],
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-75.67, 45.38, 114]},
            "properties": {
                "pubtime": "2026-08-20T12:05:01.123456Z",
                "data_id": "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/"
                "WIGOS_0-20000-0-71628_20260820T120000",
                "metadata_id": "urn:wmo:md:ca-eccc-msc:observations.synop",
                "datetime": "2026-08-20T12:00:00Z",
                "integrity": {"method": "sha256", "value": b64("sha256", DATA)},
                "wigos_station_identifier": "0-20000-0-71628",
            },
            "links": [
                {
                    "href": "https://dd.example.ca/wis2/synop/WIGOS_0-20000-0-71628.bufr4",
                    "rel": "canonical",
                    "type": "application/bufr",
                    "length": len(DATA),
                },
                {"href": "https://dd.example.ca/oapi/items/71628", "rel": "item"},
            ],
        },
    ),
    "update, polygon, extent, sha3-512": (
        "origin/a/wis2/fr-meteo-france/data/core/weather/prediction/forecast/medium-range/"
        "deterministic/global",
        {
            "id": "9b4cc1a3-6f0e-4e1e-8a77-51d0a1c2e9f4",
            "conformsTo": [CORE],
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-10, 40], [-10, 60], [20, 60], [20, 40], [-10, 40]]],
            },
            "properties": {
                "pubtime": "2026-08-20T06:30:00Z",
                "data_id": "arpege/2026082000/T+024",
                "start_datetime": "2026-08-20T00:00:00Z",
                "end_datetime": "2026-08-21T00:00:00Z",
                "integrity": {"method": "sha3-512", "value": b64("sha3-512", DATA)},
                "producer": "fr-meteo-france",
            },
            "links": [
                {
                    "href": "sftp://files.example.fr/arpege/T024.grib2",
                    "rel": "update",
                    "type": "application/grib",
                    "length": 123456789,
                }
            ],
        },
    ),
    "deletion, no geometry, no time": (
        SYNOP,
        {
            "id": "0c7e6f0a-2b9d-4c1e-b1a0-7d4e3c2b1a09",
            "conformsTo": [CORE],
            "type": "Feature",
            "geometry": None,
            "properties": {
                "pubtime": "2026-08-20T13:00:00Z",
                "data_id": "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/x",
                "datetime": None,
                "cache": False,
            },
            "links": [{"href": "https://dd.example.ca/wis2/synop/x.bufr4", "rel": "deletion"}],
        },
    ),
    "metadata record": (
        "origin/a/wis2/de-dwd/metadata",
        {
            "id": "5d1c9a4e-7e2b-4a8f-9c3d-2e1f0a9b8c7d",
            "conformsTo": [CORE],
            "type": "Feature",
            "geometry": None,
            "properties": {
                "pubtime": "2026-08-20T00:00:00Z",
                "data_id": "urn:wmo:md:de-dwd:icon-global",
                "metadata_id": "urn:wmo:md:de-dwd:icon-global",
                "datetime": "2026-08-19T23:59:00Z",
            },
            "links": [
                {
                    "href": "https://opendata.example.de/metadata/icon-global.json",
                    "rel": "canonical",
                    "type": "application/geo+json",
                    "length": 5120,
                }
            ],
        },
    ),
    "inline gzip from a global cache, deprecated version": (
        "cache/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop",
        {
            "id": "e1d2c3b4-a596-4877-8899-aabbccddeeff",
            "version": "v04",
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [6.15, 46.22]},
            "properties": {
                "pubtime": "2026-08-20T12:05:01Z",
                "data_id": "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/"
                "WIGOS_0-20000-0-71628_20260820T120000",
                "datetime": "2026-08-20T12:00:00Z",
                "global-cache": "de-dwd-global-cache",
                "integrity": {"method": "sha512", "value": b64("sha512", DATA * 40)},
                "content": {
                    "encoding": "gzip",
                    "value": base64.b64encode(gzip.compress(DATA * 40)).decode(),
                    "size": len(DATA) * 40,
                },
            },
            "links": [
                {
                    "href": "https://cache.example.de/wis2/synop/WIGOS_0-20000-0-71628.bufr4",
                    "rel": "canonical",
                    "type": "application/bufr",
                    "length": len(DATA) * 40,
                }
            ],
        },
    ),
}
"""Valid messages written from the specification's text: name -> (topic, message)."""


def valid() -> dict[str, Any]:
    """A fresh copy of the first of our own valid messages, to break."""
    return copy.deepcopy(OWN_EXAMPLES["new data, point, sha256"][1])
