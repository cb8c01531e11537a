"""The v03 codec, and decode_any choosing between v02 and v03."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarra.message import decode_any, v02, v03
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import (
    Blocks,
    Identity,
    Notice,
    Report,
    epoch_to_time,
    time_to_epoch,
    time_v02_to_v03,
    time_v03_to_v02,
)

SHA512_B64 = base64.b64encode(bytes(range(64))).decode()
EXAMPLE_TOPIC = "v03.observations.swob-ml.20240101"
EXAMPLE = {
    "pubTime": "20240101T120000.5",
    "baseUrl": "https://dd.weather.gc.ca",
    "relPath": "observations/swob-ml/20240101/x.xml",
    "size": 5354,
    "identity": {"method": "sha512", "value": SHA512_B64},
    "mtime": "20240101T115959.9",
    "mode": "644",
}
MINIMAL = {"pubTime": "20240101T120000.5", "baseUrl": "https://h", "relPath": "a/b"}


def decode(fields: dict, topic: str = "v03.a") -> Notice:
    return v03.decode(topic, json.dumps(fields).encode())


def test_reference_example_decodes_to_the_right_fields():
    got = decode(EXAMPLE, EXAMPLE_TOPIC)
    assert got.pubtime == "20240101T120000.5"
    assert got.base_url == "https://dd.weather.gc.ca"
    assert got.rel_path == "observations/swob-ml/20240101/x.xml"
    assert got.url == "https://dd.weather.gc.ca/observations/swob-ml/20240101/x.xml"
    assert got.size == 5354
    assert got.identity == Identity("sha512", SHA512_B64)
    assert (got.mtime, got.mode) == ("20240101T115959.9", "644")
    assert got.topic == EXAMPLE_TOPIC
    assert got.extra == {}


def test_reference_example_encodes_back():
    key, body = v03.encode(decode(EXAMPLE, EXAMPLE_TOPIC))
    assert key == EXAMPLE_TOPIC
    assert json.loads(body) == EXAMPLE


def test_older_names_are_accepted_and_written_anew():
    old = MINIMAL | {"integrity": {"method": "md5", "value": "kAFQmDzST7DWlj99KOF/cg=="}}
    got = decode(old | {"retPath": "/x?y=1"})
    assert got.identity == Identity("md5", "kAFQmDzST7DWlj99KOF/cg==")
    assert got.retrieve_path == "/x?y=1"
    body = json.loads(v03.encode(got)[1])
    assert body["identity"] == {"method": "md5", "value": "kAFQmDzST7DWlj99KOF/cg=="}
    assert body["retrievePath"] == "/x?y=1"
    assert "integrity" not in body
    assert "retPath" not in body


def test_what_v2_writes_is_normalised():
    v2_style = {
        "pubTime": "20240101120000.5",
        "baseUrl": "sftp://h/",
        "relPath": "/a/b",
        "size": "100",
        "blocks": {
            "method": "inplace",
            "size": "1024",
            "count": "3",
            "remainder": "100",
            "number": "2",
        },
        "mtime": "20240101115959.9",
        "fileOp": {"remove": True},
    }
    got = decode(v2_style)
    assert got.pubtime == "20240101T120000.5"
    assert got.mtime == "20240101T115959.9"
    assert got.size == 100
    assert got.blocks == Blocks("inplace", 1024, 3, 100, 2)
    assert got.file_op == {"remove": True}


# --- blocks: v2's count and remainder, sr3's manifest ------------------------------------------

BLOCK_SUMS = ["AAAAAAAAAAAAAAAAAAAAAA==", "AQEBAQEBAQEBAQEBAQEBAQ==", "AgICAgICAgICAgICAgICAg=="]
SR3_BLOCK = MINIMAL | {
    "size": 1024,
    "identity": {"method": "md5", "value": BLOCK_SUMS[1]},
    "blocks": {
        "method": "inplace",
        "size": 1024,
        "number": 1,
        "manifest": {
            "0": {"size": 1024, "identity": BLOCK_SUMS[0]},
            "1": {"size": 1024, "identity": BLOCK_SUMS[1]},
            "2": {"size": 100, "identity": BLOCK_SUMS[2]},
        },
    },
}
"""A block as sr3 3.3.1 writes it: no count nor remainder, a manifest of every block."""


def test_sr3_s_manifest_is_read():
    got = decode(SR3_BLOCK)
    assert got.blocks == Blocks("inplace", 1024, 3, 100, 1, tuple(BLOCK_SUMS), unchecked=True)
    assert (got.size, got.blocks.offset, got.blocks.length) == (1024, 1024, 1024)


def test_a_manifest_of_a_multiple_of_the_block_size_has_no_remainder():
    fields = json.loads(json.dumps(SR3_BLOCK))
    fields["blocks"]["manifest"]["2"]["size"] = 1024
    assert decode(fields).blocks == Blocks(
        "inplace", 1024, 3, 0, 1, tuple(BLOCK_SUMS), unchecked=True
    )


def test_sr3_s_manifest_is_written_back_as_it_came():
    # sr3's block identities are not the blocks' checksums: count and remainder (which mark
    # a block whose identity is its checksum) are not added
    assert json.loads(v03.encode(decode(SR3_BLOCK))[1]) == SR3_BLOCK


def test_a_manifest_with_count_and_remainder_is_checked():
    fields = json.loads(json.dumps(SR3_BLOCK))
    fields["blocks"] |= {"count": 3, "remainder": 100}
    got = decode(fields)
    assert got.blocks == Blocks("inplace", 1024, 3, 100, 1, tuple(BLOCK_SUMS))
    assert json.loads(v03.encode(got)[1]) == fields


def test_blocks_are_written_in_both_forms():
    block = Notice(
        "20240101T120000.5", "https://h", "a/b", Identity("md5", BLOCK_SUMS[2]), size=100,
        blocks=Blocks("inplace", 1024, 3, 100, 2),
    )  # fmt: skip
    body = json.loads(v03.encode(block)[1])
    assert body["blocks"] == {
        "method": "inplace",
        "size": 1024,
        "count": 3,
        "remainder": 100,
        "number": 2,
        "manifest": {
            "0": {"size": 1024},
            "1": {"size": 1024},
            "2": {"size": 100, "identity": BLOCK_SUMS[2]},
        },
    }
    assert decode(body) == block


def test_a_file_sr3_reassembled_is_read_whole():
    fields = json.loads(json.dumps(SR3_BLOCK))
    del fields["blocks"]["number"]
    fields["size"] = 2148
    got = decode(fields)
    assert (got.blocks, got.size, got.identity) == (None, 2148, None)
    del fields["size"]
    assert decode(fields).size == 2148


def test_a_block_whose_file_size_is_unknown_is_not_written_in_v03():
    block = Notice(
        "20240101T120000.5",
        "https://h",
        "a/b",
        blocks=Blocks("inplace", 4, 3, None, 0, unchecked=True),
    )
    with pytest.raises(NotEncodable, match="size of the file is not known"):
        v03.encode(block)


def test_unknown_keys_survive():
    extra = {"contentType": "text/xml", "geometry": {"type": "Point", "coordinates": [1.5, 2]}}
    got = decode(MINIMAL | extra)
    assert got.extra == extra
    assert json.loads(v03.encode(got)[1]) == MINIMAL | extra


def test_extras_named_like_fields_are_not_written():
    n = decode(MINIMAL)
    n.extra = {"integrity": "x", "relPath": "/etc", "parts": "1,1,1,0,0", "ok": 1}
    assert json.loads(v03.encode(n)[1]) == MINIMAL | {"ok": 1}


def test_report():
    report = {
        "code": 201,
        "message": "Downloaded",
        "host": "h",
        "user": "u",
        "timeCompleted": "20240101T120001.0",
        "elapsedTime": 0.5,
        "note": "x",
    }
    got = decode(MINIMAL | {"report": report}, "v03.report.a")
    assert got.report == Report(
        201, "Downloaded", "h", "u", 0.5, "20240101T120001.0", {"note": "x"}
    )
    key, body = v03.encode(got)
    assert key == "v03.report.a"
    assert json.loads(body)["report"] == report


def test_report_result_code_is_accepted():
    got = decode(MINIMAL | {"report": {"resultCode": 499, "elapsedTime": "1.2"}})
    assert got.report == Report(499, elapsed="1.2")


def test_content_and_file_op_survive():
    fields = MINIMAL | {
        "content": {"encoding": "base64", "value": "aGk="},
        "fileOp": {"rename": "old/b", "link": "../target"},
    }
    assert json.loads(v03.encode(decode(fields))[1]) == fields


def test_body_is_utf8_json():
    n = decode(MINIMAL | {"relPath": "données/été"})
    key, body = v03.encode(n)
    assert key == "v03.données"
    assert "données/été".encode() in body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b'{"pubTime": ', "body is not JSON"),
        (b"\xff\xfe{}", "body is not UTF-8"),
        (b"[1, 2]", "body is a JSON list, not an object"),
        (b"[" * 100_000, "body is not JSON"),
    ],
)
def test_not_json(body, reason):
    with pytest.raises(MalformedNotice, match=reason) as caught:
        v03.decode("v03.a", body)
    assert "\n" not in caught.value.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"pubTime": None}, "missing pubTime"),
        ({"baseUrl": None}, "missing baseUrl"),
        ({"relPath": None}, "missing relPath"),
        ({"pubTime": "noon"}, "pubTime is not YYYYMMDDTHHMMSS.fff"),
        ({"baseUrl": 7}, "baseUrl must be a string, not int"),
        ({"relPath": ""}, "relPath is empty"),
        ({"identity": "md5"}, "identity must be an object"),
        ({"identity": {"method": "md5"}}, "identity needs a string method and a string value"),
        ({"identity": {"method": "md5", "value": "!!"}}, "identity: not a base64 digest"),
        ({"identity": {"method": "cod", "value": "x"}}, "identity: checksum on download"),
        ({"size": -1}, "size must be a non-negative integer"),
        ({"size": True}, "size must be a non-negative integer"),
        ({"size": "1e3"}, "size must be a non-negative integer"),
        ({"blocks": {"method": "inplace"}}, "blocks without size, count, remainder, number"),
        ({"blocks": {"manifest": {}, "waiting": {}}}, "unsupported blocks field"),
        ({"blocks": {"method": "inplace", "size": 4, "manifest": {}}}, "list blocks 0 to n-1"),
        (
            {"blocks": {"method": "inplace", "size": 4, "number": 0, "manifest": {"0": 4}}},
            r"blocks.manifest\[0\] must be an object",
        ),
        (
            {"blocks": {"method": "inplace", "size": 4, "number": 0, "manifest": {"0": {}}}},
            r"blocks.manifest\[0\].size must be a non-negative integer",
        ),
        (
            {
                "blocks": {
                    "method": "inplace",
                    "size": 4,
                    "number": 0,
                    "manifest": {"0": {"size": 3}, "1": {"size": 1}},
                }
            },
            "not those of blocks of 4 bytes",
        ),
        (
            {
                "blocks": {
                    "method": "inplace",
                    "size": 4,
                    "number": 0,
                    "count": 3,
                    "manifest": {"0": {"size": 4}, "1": {"size": 1}},
                }
            },
            "blocks.count 3 but the manifest lists 2",
        ),
        (
            {
                "blocks": {
                    "method": "inplace",
                    "size": 4,
                    "number": 0,
                    "remainder": 2,
                    "manifest": {"0": {"size": 4}, "1": {"size": 1}},
                }
            },
            "blocks.remainder 2 but the last block has 1",
        ),
        (
            {
                "blocks": {
                    "method": "separate",
                    "size": 4,
                    "number": 0,
                    "manifest": {"0": {"size": 4}, "1": {"size": 1}},
                }
            },
            "blocks method must be inplace or partitioned, not 'separate'",
        ),
        (
            {"blocks": {"method": "x", "size": 1, "count": 1, "remainder": 0, "number": 0}},
            "blocks method must be inplace or partitioned",
        ),
        (
            {"blocks": {"method": "inplace", "size": 9, "count": 2, "remainder": 0, "number": 2}},
            "blocks: parts i,9,2,0,2: block 2 does not exist",
        ),
        ({"fileOp": ["link"]}, "fileOp must be an object, not list"),
        ({"content": "hi"}, "content must be an object"),
        ({"mtime": 17}, "mtime must be a string"),
        ({"source": ["a"]}, "source must be a string"),
        ({"report": {"message": "x"}}, "report without a code"),
        ({"report": {"code": "x"}}, "report.code must be a non-negative integer"),
        ({"report": {"code": 201, "elapsedTime": [1]}}, "report.elapsedTime must be a number"),
    ],
)
def test_malformed_says_why_in_one_line(change, reason):
    fields = {k: v for k, v in (MINIMAL | change).items() if v is not None}
    with pytest.raises(MalformedNotice, match=reason) as caught:
        decode(fields)
    assert "\n" not in caught.value.reason


@pytest.mark.parametrize("value", [{1, 2}, float("nan")])
def test_extra_that_is_not_json_cannot_be_encoded(value):
    n = decode(MINIMAL)
    n.extra = {"bad": value}
    with pytest.raises(NotEncodable, match="JSON"):
        v03.encode(n)


# --- decode_any ----------------------------------------------------------------------------------

V02_BODY = "20240101120000.5 https://h/ a/b"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(MINIMAL).encode(), None),
        (b"  \n" + json.dumps(MINIMAL).encode(), "text/plain"),  # v2: a body starting { is v03
        (json.dumps(MINIMAL), "application/json"),
    ],
)
def test_decode_any_reads_json_as_v03(body, content_type):
    got = decode_any("v03.a", body, {"sum": "ignored"}, content_type)
    assert got == decode(MINIMAL)


def test_decode_any_reads_text_as_v02():
    got = decode_any("v02.post.a", V02_BODY.encode(), {"sum": "0,0001"}, "text/plain")
    assert got == v02.decode("v02.post.a", V02_BODY, {"sum": "0,0001"})
    assert got.identity == Identity("random", "0001")
    assert decode_any("v02.post.a", V02_BODY, None).identity is None


def test_decode_any_json_content_type_with_a_text_body_is_malformed():
    with pytest.raises(MalformedNotice, match="not JSON"):
        decode_any("v03.a", V02_BODY, {}, "application/json")


# --- property: every notice survives a v03 round trip --------------------------------------------

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
path_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=30,
)
names = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00/"),
    min_size=1,
    max_size=30,
).filter(lambda name: name not in (".", ".."))
rel_paths = st.lists(names, min_size=1, max_size=10).map("/".join)
base_urls = st.sampled_from(
    ["sftp://stanley@mysftpserver.com/", "https://dd.weather.gc.ca", "file:/", "ftp://h:21/p/"]
)
modes = st.integers(0, 0o7777).map(lambda mode: f"{mode:o}")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


@st.composite
def times(draw) -> str:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
    fraction = draw(st.text(alphabet="0123456789", max_size=9))
    return moment.strftime("%Y%m%dT%H%M%S") + (f".{fraction}" if fraction else "")


identities = st.builds(
    Identity,
    st.sampled_from(["md5", "md5name"]),
    st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
) | st.builds(Identity, text.filter(lambda m: m not in {"md5", "sha512", "md5name", "cod"}), text)
blocks = st.builds(
    lambda method, count, number, listed: Blocks(
        method,
        4096,
        count,
        17,
        number % count,
        tuple(f"s{n}" for n in range(count)) if listed and count > 1 else None,
    ),
    st.sampled_from(["inplace", "partitioned"]),
    st.integers(1, 300),  # every block is in the manifest of each
    st.integers(0, 10**6),
    st.booleans(),
)
reports = st.builds(
    Report,
    code=st.integers(0, 999),
    message=optional(text),
    host=optional(text),
    user=optional(text),
    elapsed=optional(text | st.floats(allow_nan=False, allow_infinity=False) | st.integers()),
    time_completed=optional(times()),
    extra=st.dictionaries(
        text.filter(lambda k: k not in v03.REPORT_FIELDS), json_values, max_size=2
    ),
)
scalars = st.none() | st.booleans() | st.integers() | text
file_ops = st.fixed_dictionaries(
    {},
    optional={
        "link": path_text,
        "hlink": path_text,
        "rename": path_text,
        "remove": scalars,
        "directory": scalars,
        "future": scalars,
    },
)


@st.composite
def notices(draw) -> Notice:
    return Notice(
        pubtime=draw(times()),
        base_url=draw(base_urls),
        rel_path=draw(rel_paths),
        identity=draw(optional(identities)),
        size=draw(optional(st.integers(0, 2**63 - 1))),
        blocks=draw(optional(blocks)),
        file_op=draw(optional(file_ops)),
        mtime=draw(optional(times())),
        atime=draw(optional(times())),
        mode=draw(optional(modes)),
        rename=draw(optional(path_text)),
        retrieve_path=draw(optional(path_text)),
        source=draw(optional(names)),
        from_cluster=draw(optional(names)),
        to_clusters=draw(optional(names)),
        content=draw(optional(st.fixed_dictionaries({"encoding": text, "value": text}))),
        report=draw(optional(reports)),
        extra=draw(
            st.dictionaries(text.filter(lambda k: k not in v03.RESERVED), json_values, max_size=3)
        ),
    )


@settings(max_examples=150)
@given(notices())
def test_v03_round_trip(n):
    key, body = v03.encode(n)
    got = v03.decode(key, body)
    assert got == n
    assert got.topic == key
    assert isinstance(json.loads(body.decode("utf-8")), dict)


# --- the model: times and URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v02_time", "v03_time"),
    [("20150813161959.854", "20150813T161959.854"), ("20150813161959", "20150813T161959")],
)
def test_time_forms(v02_time, v03_time):
    assert time_v02_to_v03(v02_time) == v03_time
    assert time_v03_to_v02(v03_time) == v02_time
    assert time_v02_to_v03(v03_time) == v03_time
    assert time_v03_to_v02(v02_time) == v02_time


@pytest.mark.parametrize("bad", ["", "2015-08-13T16:19:59", "20150813T1619", "２0150813161959"])
def test_not_a_time(bad):
    with pytest.raises(ValueError, match="not a timestamp"):
        time_v02_to_v03(bad)
    with pytest.raises(ValueError, match="not a timestamp"):
        time_v03_to_v02(bad)


def test_epoch_conversions():
    moment = datetime(2015, 8, 13, 16, 19, 59, tzinfo=UTC).timestamp()
    assert time_to_epoch("20150813161959.854") == pytest.approx(moment + 0.854)
    assert time_to_epoch("20150813T161959") == moment
    assert epoch_to_time(0) == "19700101T000000.000000"
    assert epoch_to_time(moment + 0.854) == "20150813T161959.854000"
    assert epoch_to_time(moment + 0.9999999) == "20150813T162000.000000"
    with pytest.raises(ValueError):
        time_to_epoch("20151313161959.0")


@pytest.mark.parametrize(
    ("base_url", "rel_path", "url"),
    [
        ("https://h", "a/b", "https://h/a/b"),
        ("https://h/", "a/b", "https://h/a/b"),
        ("file:", "/tmp/a", "file:/tmp/a"),
        ("sftp://u@h/", "/abs/a", "sftp://u@h//abs/a"),
    ],
)
def test_url_joins_base_and_path(base_url, rel_path, url):
    assert Notice("20150813T161959", base_url, rel_path).url == url


def test_transport_context_is_not_compared():
    a = Notice("20150813T161959", "https://h", "a", topic="v03", exchange="xpublic")
    assert a == Notice("20150813T161959", "https://h", "a")
