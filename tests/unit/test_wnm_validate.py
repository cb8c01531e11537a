"""The WNM validator: the specification's examples and ours are valid, broken messages are
refused with their reason, tolerated faults are warnings (errors in what we write)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wnm_kit import OWN_EXAMPLES, schema_errors, schema_validator, spec_files, valid

from sarra.message import wnm
from sarra.message.errors import MalformedNotice
from sarra.message.reason import errors
from sarra.message.wnm_validate import (
    MAX_INLINE_BYTES,
    MAX_MESSAGE_BYTES,
    check,
    check_body,
    decode_content,
    decode_digest,
    parse_rfc3339,
)


@pytest.fixture(scope="module")
def spec_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return spec_files("examples", tmp_path_factory.mktemp("wnm-examples"))


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return schema_validator(tmp_path_factory.mktemp("wnm-schema"))


def test_the_specifications_examples_are_valid(spec_examples: dict[str, Path]) -> None:
    assert len(spec_examples) >= 7
    for name, path in spec_examples.items():
        _, reasons = check_body(path.read_bytes())
        assert errors(reasons) == [], name


def test_the_specifications_traps_are_warnings(spec_examples: dict[str, Path]) -> None:
    """Hex integrity (EUMETSAT), an abbreviated integrity value, content shorter than its size
    and a canonical link without length (example1) pass the schema: tolerated, said."""
    _, eumetsat = check_body(
        spec_examples["eumetsat-msg-seviri-core-notification.json"].read_bytes()
    )
    assert [r.code for r in eumetsat] == ["integrity-hex"]
    _, example1 = check_body(spec_examples["example1.json"].read_bytes())
    assert {r.code for r in example1} == {"integrity-value", "content-value", "link-length"}
    assert all(r.kind == "warning" for r in example1)


@pytest.mark.parametrize("name", list(OWN_EXAMPLES))
def test_our_examples_are_valid(name: str) -> None:
    topic, message = OWN_EXAMPLES[name]
    reasons = check(message, topic=topic, strict=True)
    assert errors(reasons) == []
    assert {r.code for r in reasons} <= {"version-deprecated"}


@pytest.mark.parametrize("name", list(OWN_EXAMPLES))
def test_our_examples_pass_the_specifications_schema(name: str, schema: Any) -> None:
    assert schema_errors(schema, OWN_EXAMPLES[name][1]) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(message: dict[str, Any]) -> None:
        target = message
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


_DELETE = object()
_LINK = {"href": "https://example.org/other.bufr4", "rel": "canonical", "length": 1}

BROKEN: dict[str, tuple[list[Callable[[dict[str, Any]], None]], str, str]] = {
    "missing id": ([_set("id", _DELETE)], "id", "id is missing"),
    "id not a UUID": ([_set("id", "message-1")], "id", "id must be a UUID"),
    "both conformsTo and version": (
        [_set("version", "v04")],
        "conformance",
        "conformsTo and the deprecated version are both given",
    ),
    "neither conformsTo nor version": ([_set("conformsTo", _DELETE)], "conformance", "missing"),
    "conformsTo without the core class": (
        [_set("conformsTo", ["http://example.org/other"])],
        "conformance",
        "must be a list holding",
    ),
    "type not Feature": ([_set("type", "FeatureCollection")], "type", "'Feature'"),
    "geometry missing": ([_set("geometry", _DELETE)], "geometry", "geometry is missing"),
    "geometry a line": (
        [_set("geometry", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]})],
        "geometry",
        "Point, a Polygon or null",
    ),
    "geometry of strings": (
        [_set("geometry.coordinates", ["6.1", "46.2"])],
        "geometry",
        "[longitude, latitude(, height)] numbers",
    ),
    "polygon ring of three": (
        [_set("geometry", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]})],
        "geometry",
        "at least 4 positions",
    ),
    "properties missing": ([_set("properties", _DELETE)], "properties", "properties is missing"),
    "pubtime missing": ([_set("properties.pubtime", _DELETE)], "pubtime", "pubtime is missing"),
    "pubtime not a time": (
        [_set("properties.pubtime", "yesterday noon")],
        "pubtime",
        "not an RFC 3339 date-time",
    ),
    "pubtime not a real date": (
        [_set("properties.pubtime", "2026-02-30T12:00:00Z")],
        "pubtime",
        "not an RFC 3339",
    ),
    "pubtime not UTC": (
        [_set("properties.pubtime", "2026-08-20T14:05:01+02:00")],
        "pubtime",
        "not in UTC",
    ),
    "data_id missing": ([_set("properties.data_id", _DELETE)], "data_id", "data_id must be"),
    "data_id empty": ([_set("properties.data_id", "")], "data_id", "non-empty string"),
    "datetime and an extent": (
        [
            _set("properties.start_datetime", "2026-08-20T00:00:00Z"),
            _set("properties.end_datetime", "2026-08-20T12:00:00Z"),
        ],
        "temporal",
        "both given",
    ),
    "no temporal description": (
        [_set("properties.datetime", _DELETE)],
        "temporal",
        "are missing",
    ),
    "start without end": (
        [
            _set("properties.datetime", _DELETE),
            _set("properties.start_datetime", "2026-08-20T00:00:00Z"),
        ],
        "temporal",
        "are missing",
    ),
    "cache not a boolean": ([_set("properties.cache", "false")], "property-type", "true or false"),
    "integrity method md5": (
        [_set("properties.integrity.method", "md5")],
        "integrity",
        "method must be one of sha256",
    ),
    "integrity without value": (
        [_set("properties.integrity.value", _DELETE)],
        "integrity",
        "value must be a string",
    ),
    "content over 4096 bytes": (
        [_set("properties.content", {"encoding": "utf-8", "value": "é" * 2049, "size": 4098})],
        "content-too-large",
        "4098 bytes",
    ),
    "content encoding unknown": (
        [_set("properties.content", {"encoding": "zip", "value": "eA==", "size": 1})],
        "content",
        "encoding must be one of",
    ),
    "content without size": (
        [_set("properties.content", {"encoding": "utf-8", "value": "x"})],
        "content",
        "size must be a number of bytes",
    ),
    "message over 8192 bytes": (
        [_set("properties.padding", "x" * MAX_MESSAGE_BYTES)],
        "size",
        "more than the 8192 allowed",
    ),
    "no links": ([_set("links", [])], "links", "links is missing or empty"),
    "two canonical links": (
        [_set("links.1", _LINK)],
        "link-relation",
        "exactly one link with rel canonical/update/deletion: found canonical, canonical",
    ),
    "canonical and update links": (
        [_set("links.1", {**_LINK, "rel": "update"})],
        "link-relation",
        "found canonical, update",
    ),
    "no canonical link": ([_set("links.0.rel", "item")], "link-relation", "found none"),
    "link without href": ([_set("links.0.href", _DELETE)], "links", "links[0].href is missing"),
    "link to a local file": (
        [_set("links.0.href", "file:///etc/passwd")],
        "link-scheme",
        "not HTTP, HTTPS, FTP or SFTP",
    ),
    "length negative": ([_set("links.0.length", -1)], "links", "length must be a number"),
    "length a string": ([_set("links.0.length", "27")], "links", "length must be a number"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_message_is_refused_with_its_reason(name: str) -> None:
    changes, code, text = BROKEN[name]
    message = valid()
    for change in changes:
        change(message)
    body = json.dumps(message).encode()
    _, reasons = check_body(
        body, topic="origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"
    )
    found = [r for r in errors(reasons) if r.code == code]
    assert found, reasons
    assert any(text in r.text for r in found), found
    with pytest.raises(MalformedNotice) as refused:
        wnm.decode(None, body)
    assert text in refused.value.reason


@pytest.mark.parametrize("name", list(BROKEN))
def test_the_schema_agrees_where_it_can_tell(name: str, schema: Any) -> None:
    """The broken messages the specification's schema can see are refused by it too (it
    cannot count links by relation, check schemes, sizes, dates or UTC)."""
    changes, code, _ = BROKEN[name]
    message = valid()
    for change in changes:
        change(message)
    blind = {
        "link-relation",
        "link-scheme",
        "size",
        "content-too-large",
        "pubtime",
        "data_id",
        "geometry",
        "links",
    }
    if code in blind and not schema_errors(schema, message):
        pytest.skip(f"the schema does not check {code} here")
    assert schema_errors(schema, message) != []


def test_metadata_deletion_needs_metadata_id() -> None:
    topic, message = OWN_EXAMPLES["metadata record"]
    message = json.loads(json.dumps(message))
    message["links"][0]["rel"] = "deletion"
    assert errors(check(message, topic=topic)) == []
    del message["properties"]["metadata_id"]
    assert [r.code for r in errors(check(message, topic=topic))] == ["metadata-deletion"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_set("properties.integrity.value", "A2KNxvks...S8qfSCw=="), "integrity-value"),
        (_set("properties.integrity.value", "ab" * 32), "integrity-hex"),
        (
            _set("properties.content", {"encoding": "base64", "value": "not base64!", "size": 3}),
            "content-value",
        ),
        (
            _set("properties.content", {"encoding": "utf-8", "value": "short", "size": 457}),
            "content-value",
        ),
        (
            _set("properties.content", {"encoding": "gzip", "value": "aGVsbG8=", "size": 5}),
            "content-value",
        ),
    ],
)
def test_a_fault_we_never_write_is_tolerated_from_others(
    change: Callable[[dict[str, Any]], None], code: str
) -> None:
    message = valid()
    change(message)
    tolerated = check(message)
    assert [(r.kind, r.code) for r in tolerated] == [("warning", code)]
    assert [(r.kind, r.code) for r in check(message, strict=True)] == [("error", code)]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_set("links.0.length", _DELETE), "link-length"),
        (_set("geometry.coordinates", [200, 46.2]), "geometry-range"),
        (_set("geometry.coordinates", [6.1, 46.2, 10, 11]), "geometry-position"),
        (
            _set(
                "geometry", {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0]]]}
            ),
            "geometry-ring",
        ),
    ],
)
def test_a_fault_a_relay_passes_on_is_a_warning_even_when_strict(
    change: Callable[[dict[str, Any]], None], code: str
) -> None:
    message = valid()
    change(message)
    assert [(r.kind, r.code) for r in check(message, strict=True)] == [("warning", code)]


def test_the_deprecated_version_alone_is_a_warning() -> None:
    message = valid()
    del message["conformsTo"]
    message["version"] = "v04"
    assert [(r.kind, r.code) for r in check(message)] == [("warning", "version-deprecated")]
    message["version"] = "v03"
    assert [r.code for r in errors(check(message))] == ["conformance"]


def test_extra_properties_anywhere_are_allowed() -> None:
    message = valid()
    message["_comment"] = {"anything": [1, 2]}
    message["properties"]["gts"] = {"ttaaii": "ISMC01", "cccc": "CWAO"}
    message["links"][0]["title"] = "the BUFR file"
    message["geometry"]["bbox"] = [0, 0, 1, 1]
    assert check(message) == []


def test_not_json_and_not_an_object_are_errors() -> None:
    assert [r.code for r in check_body(b"{not json")[1]] == ["json"]
    assert [r.code for r in check_body(b"[1, 2]")[1]] == ["json"]
    assert [r.code for r in check_body(b'{"a": NaN}')[1]] == ["json"]
    assert [r.code for r in check_body(b'{"a": "\xff"}')[1]] == ["json"]


def test_the_size_limits_are_the_specifications() -> None:
    message = valid()
    message["properties"]["content"] = {
        "encoding": "utf-8",
        "value": "x" * MAX_INLINE_BYTES,
        "size": MAX_INLINE_BYTES,
    }
    body = json.dumps(message).encode()
    assert [r.code for r in check_body(body)[1]] == []
    message["properties"]["content"]["value"] += "x"
    message["properties"]["content"]["size"] += 1
    assert "content-too-large" in [r.code for r in check_body(json.dumps(message))[1]]
    padded = valid()
    padded["properties"]["padding"] = ""
    room = MAX_MESSAGE_BYTES - len(json.dumps(padded).encode())
    padded["properties"]["padding"] = "x" * room
    assert check_body(json.dumps(padded).encode())[1] == []
    padded["properties"]["padding"] += "x"
    assert [r.code for r in check_body(json.dumps(padded).encode())[1]] == ["size"]


def test_rfc3339_times() -> None:
    assert parse_rfc3339("2022-03-20T04:50:18.314854383Z").fraction == "314854383"  # type: ignore[union-attr]
    assert parse_rfc3339("2022-03-20t04:50:18z") is not None
    shifted = parse_rfc3339("2022-03-20T06:50:18+02:00")
    assert shifted is not None and not shifted.utc and shifted.moment.hour == 4
    assert parse_rfc3339("2022-03-20T04:50:18+00:00").utc  # type: ignore[union-attr]
    for bad in (
        "2022-03-20 04:50:18Z",
        "2022-03-20T04:50:18",
        "20220320T045018Z",
        "2022-03-20T25:00:00Z",
    ):
        assert parse_rfc3339(bad) is None, bad


def test_digests_and_contents_decode() -> None:
    digest = bytes(range(32))
    assert decode_digest("sha256", base64.b64encode(digest).decode()) == (digest, "base64")
    assert decode_digest("sha256", digest.hex()) == (digest, "hex")
    assert decode_digest("sha256", digest.hex().upper()) == (digest, "hex")
    assert decode_digest("sha512", base64.b64encode(digest).decode()) == (None, "bad")
    assert decode_digest("crc32", "AAAA") == (None, "bad")
    assert decode_content("utf-8", "é") == "é".encode()
    assert decode_content("base64", "aGk=") == b"hi"
    bomb = base64.b64encode(gzip.compress(b"\0" * (1 << 21))).decode()
    assert len(bomb) < MAX_INLINE_BYTES
    assert decode_content("gzip", bomb) is None  # inflates beyond the bound: not read
