"""The WNM validator: the specification's examples and ours are valid, broken messages are
refused with their reason, tolerated faults are warnings (errors in what we write)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wnm_kit import CORE, OWN_EXAMPLES, SYNOP, schema_errors, schema_validator, spec_files, valid

from sarra.message import wnm
from sarra.message.errors import MalformedNotice
from sarra.message.reason import errors
from sarra.message.wnm_validate import (
    MAX_INLINE_BYTES,
    MAX_MESSAGE_BYTES,
    all_clear,
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


def test_the_quick_pass_clears_the_specifications_examples_exactly(
    spec_examples: dict[str, Path],
) -> None:
    for name, path in spec_examples.items():
        message = json.loads(path.read_bytes())
        assert all_clear(message) == (check(message) == []), name


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


TOLERATED = [
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
]
"""Faults tolerated from others, not in what we write: (change, code)."""


@pytest.mark.parametrize(("change", "code"), TOLERATED)
def test_a_fault_we_never_write_is_tolerated_from_others(
    change: Callable[[dict[str, Any]], None], code: str
) -> None:
    message = valid()
    change(message)
    tolerated = check(message)
    assert [(r.kind, r.code) for r in tolerated] == [("warning", code)]
    assert [(r.kind, r.code) for r in check(message, strict=True)] == [("error", code)]


PASSED_ON = [
    (_set("links.0.length", _DELETE), "link-length"),
    (_set("geometry.coordinates", [200, 46.2]), "geometry-range"),
    (_set("geometry.coordinates", [6.1, 46.2, 10, 11]), "geometry-position"),
    (
        _set("geometry", {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0]]]}),
        "geometry-ring",
    ),
]
"""Faults a relay passes on as they came, warnings even when strict: (change, code)."""


@pytest.mark.parametrize(("change", "code"), PASSED_ON)
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


def test_a_huge_whole_number_is_a_coordinate_out_of_range_not_a_crash() -> None:
    message = valid()
    message["geometry"]["coordinates"] = [10**400, 46.2]
    assert [(r.kind, r.code) for r in check(message)] == [("warning", "geometry-range")]
    assert wnm.decode(SYNOP, json.dumps(message)).extra["geometry"] == message["geometry"]


def test_a_time_its_offset_moves_out_of_the_calendar_is_not_one() -> None:
    assert parse_rfc3339("0001-01-01T00:30:00+01:00") is None
    assert parse_rfc3339("9999-12-31T23:30:00-01:00") is None
    message = valid()
    message["properties"]["pubtime"] = "0001-01-01T00:30:00+01:00"
    assert [r.code for r in errors(check(message))] == ["pubtime"]


# --- the quick pass: a message check finds nothing in, recognised without building reasons


def _corpus() -> list[tuple[str, str | None, Any]]:
    """(name, topic, message): our examples, each way above of breaking one, and forms the
    quick pass reads itself or leaves to check."""
    found: list[tuple[str, str | None, Any]] = [
        (name, topic, message) for name, (topic, message) in OWN_EXAMPLES.items()
    ]
    changes = [(name, changes) for name, (changes, _, _) in BROKEN.items()]
    changes += [(code, [change]) for change, code in TOLERATED + PASSED_ON]
    changes += [
        ("no geometry", [_set("geometry", None)]),
        ("a latitude out of range", [_set("geometry.coordinates", [6.1, -90.5])]),
        ("a whole-number height", [_set("geometry.coordinates", [6, 46, 400])]),
        ("a flag for a coordinate", [_set("geometry.coordinates", [True, 46.2])]),
        ("a coordinate not finite", [_set("geometry.coordinates", [float("inf"), 46.2])]),
        ("a polygon", [_set("geometry", {"type": "Polygon", "coordinates": [[[0, 0], [0, 1],
                                                                               [1, 1], [0, 0]]]})]),
        ("an extent", [_set("properties.datetime", _DELETE),
                       _set("properties.start_datetime", "2026-08-20T00:00:00Z"),
                       _set("properties.end_datetime", "2026-08-20T12:00:00Z")]),
        ("an extent backwards", [_set("properties.datetime", _DELETE),
                                 _set("properties.start_datetime", "2026-08-20T12:00:00Z"),
                                 _set("properties.end_datetime", "2026-08-20T00:00:00Z")]),
        ("datetime and a start", [_set("properties.start_datetime", "2026-08-20T00:00:00Z")]),
        ("datetime null", [_set("properties.datetime", None)]),
        ("datetime not UTC", [_set("properties.datetime", "2026-08-20T00:00:00+01:00")]),
        ("pubtime +00:00", [_set("properties.pubtime", "2026-08-20T00:00:00+00:00")]),
        ("pubtime lowercase", [_set("properties.pubtime", "2026-08-20t00:00:00.5z")]),
        ("an uppercase id", [_set("id", "6F9A1C52-1F4B-4C4E-9F35-2B0E2F3C6E10")]),
        ("more conformance classes", [_set("conformsTo", [CORE, "http://example.org/x"])]),
        ("a producer", [_set("properties.producer", "a centre")]),
        ("a producer number", [_set("properties.producer", 7)]),
        ("cache off", [_set("properties.cache", False)]),
        ("inline content", [_set("properties.content", {"encoding": "utf-8", "value": "hi",
                                                         "size": 2})]),
        ("integrity sha3-512 short", [_set("properties.integrity.method", "sha3-512")]),
        ("integrity a list", [_set("properties.integrity", ["sha256"])]),
        ("a length flag", [_set("links.0.length", True)]),
        ("a link type number", [_set("links.0.type", 3)]),
        ("an update", [_set("links.0.rel", "update")]),
        ("a deletion without length", [_set("links.0.rel", "deletion"),
                                       _set("links.0.length", _DELETE)]),
        ("an uppercase scheme", [_set("links.0.href", "HTTPS://example.org/a.bufr4")]),
        ("another link", [_set("links.1", {"href": "https://example.org/a", "rel": "via"})]),
        ("a link not an object", [_set("links.1", "https://example.org/a")]),
        ("unknown members", [_set("gts", {"ttaaii": "ISMC01"}), _set("links.0.title", "t")]),
    ]  # fmt: skip
    for name, steps in changes:
        message = valid()
        message["links"].append({"href": "https://example.org/about", "rel": "about"})
        for step in steps:
            step(message)
        found.append((name, SYNOP, message))
    topic, record = OWN_EXAMPLES["metadata record"]
    for name, steps in (
        ("a metadata deletion", [_set("links.0.rel", "deletion")]),
        ("a metadata deletion without metadata_id",
         [_set("links.0.rel", "deletion"), _set("properties.metadata_id", _DELETE)]),
    ):  # fmt: skip
        message = json.loads(json.dumps(record))
        for step in steps:
            step(message)
        found.append((name, topic, message))
    return found


CORPUS = _corpus()


@pytest.mark.parametrize(("name", "topic", "message"), CORPUS, ids=[c[0] for c in CORPUS])
def test_the_quick_pass_clears_exactly_what_check_finds_nothing_in(
    name: str, topic: str | None, message: Any
) -> None:
    clear = check(message, topic=topic) == []
    assert all_clear(message, topic) == clear
    if clear:
        assert check(message, topic=topic, strict=True) == []


def test_check_body_says_the_same_with_or_without_the_quick_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies = [(topic, json.dumps(message).encode()) for _, topic, message in CORPUS]
    quick = [check_body(body, topic=topic)[1] for topic, body in bodies]
    monkeypatch.setattr("sarra.message.wnm_validate.all_clear", lambda *_: False)
    assert [check_body(body, topic=topic)[1] for topic, body in bodies] == quick


_PATHS = [
    "id", "conformsTo", "type", "geometry", "geometry.type", "geometry.coordinates",
    "geometry.coordinates.0", "geometry.coordinates.2", "properties", "properties.pubtime",
    "properties.datetime", "properties.start_datetime", "properties.end_datetime",
    "properties.data_id", "properties.metadata_id", "properties.cache", "properties.producer",
    "properties.integrity", "properties.integrity.method", "properties.integrity.value",
    "properties.content", "links", "links.0", "links.0.rel", "links.0.href", "links.0.length",
    "links.0.type", "links.1", "links.1.rel", "version",
]  # fmt: skip
_VALUES = st.one_of(
    st.just(_DELETE),
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    st.sampled_from([
        "Feature", "Point", "Polygon", "canonical", "update", "deletion", "sha256", "sha512",
        "2026-08-20T14:05:01Z", "2026-08-20T14:05:01+02:00", "2026-02-30T00:00:00Z",
        "6f9a1c52-1f4b-4c4e-9f35-2b0e2f3c6e10", "https://example.org/x.bufr4", "file:///x", "",
        [CORE], [], [6.1], [6.1, 46.2, 400], [181, 0], [0, 91], {"type": "Point"}, {},
        {"href": "https://example.org/y", "rel": "canonical", "length": 3},
        {"encoding": "utf-8", "value": "hi", "size": 2}, "v04",
    ]),
)  # fmt: skip


@given(st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), max_size=3))
def test_the_quick_pass_never_clears_what_check_finds_fault_in(
    changes: list[tuple[str, Any]],
) -> None:
    message = valid()
    for path, value in changes:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # no such path: unchanged
            _set(path, value)(message)
    assert all_clear(message, SYNOP) == (check(message, topic=SYNOP) == [])
