"""The quick paths of the decoders: they take only what the full decode and check take, and
give the same notice; anything else goes to the full decode, which gives today's reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarra.message import notice, v02, v03, validate
from sarra.message.errors import MalformedNotice
from sarra.message.notice import time_v02_to_v03, time_v03_to_v02

PLAIN_BODY = b"20240101120000.5 https://dd.weather.gc.ca /observations/swob-ml/20240101/x.xml"
PLAIN_HEADERS = {
    "sum": "d,25d231ec0ae3c569ba27ab7a74dd72ce",
    "parts": "1,5354,1,0,0",
    "source": "x",
}

# Pieces of v02 messages: the plain forms, their near misses, and hostile text.
hostile = st.text(st.sampled_from("a/.%20#\x00é\ud800 ,:0123456789T"), max_size=12)
pubtimes = (
    st.sampled_from(["20240101120000.5", "20240229000000"])
    | st.sampled_from(
        [
            "20240101120000",
            "20240101120000.5",
            "20240229120000.123",  # a leap day
            "20230229120000",  # no such day
            "20240431000000",
            "20241301000000",
            "20240101240000",
            "00000101000000",
            "20240101120000.",
            "20240101120000.5.5",
            "20240101T120000.5",  # v03 form in a v02 body
            "20240101120000.91685486e-05",  # v2's exponent fraction
            "20240101120000.１",  # a digit that is not ASCII
            "2024010112000",
            "",
        ]
    )
    | hostile
)
base_urls = (
    st.just("https://dd.weather.gc.ca")
    | st.sampled_from(
        [
            "https://dd.weather.gc.ca",
            "file:/",
            "http://h:99999/",
            "nohost",
            "http://",
            "http://h\x00",
        ]
    )
    | hostile
)
rel_paths = (
    st.sampled_from(["/a/b/c.xml", "a%20b/c%23d%25e"])
    | st.sampled_from(
        [
            "/a/b/c.xml",
            "a%20b/c%23d%25e",
            "/" * 64 + "x",
            "/a" * 63,
            "x" * 255,
            "x" * 256,
            "a/\x00",
            "é/x",
            "%",
            "",
        ]
    )
    | hostile
)
HEADER_NAMES = [
    "sum",
    "parts",
    "source",
    "from_cluster",
    "to_clusters",
    "mtime",
    "atime",
    "mode",
    "rename",
    "retrievePath",
    "retPath",
    "link",
    "oldname",
    "message",
    "other",
    "é",
]
header_names = st.sampled_from(HEADER_NAMES)
EDGE_VALUES = [
    "d,25d231ec0ae3c569ba27ab7a74dd72ce",
    "d,25D231EC0AE3C569BA27AB7A74DD72CE",
    "d,25d231ec0ae3c569ba27ab7a74dd72c",
    "d,25d2 31ec0ae3c569ba27ab7a74dd72ce",
    "s,00",
    "n,25d231ec0ae3c569ba27ab7a74dd72ce",
    "0,42",
    "a,anything",
    "z,d",
    "z,x",
    "L,00",
    "R,00",
    "m,00",
    "q,1",
    "d",
    "1,5354,1,0,0",
    "1,1,0,0",
    "1,9223372036854775807,1,0,0",
    "1,9223372036854775808,1,0,0",
    "1,99999999999999999999,1,0,0",
    "1,-1,1,0,0",
    "i,100,3,0,1",
    "20240101120000.5",
    "20230229120000",
    "644",
    "8",
    "1234567",
    ".",
    "..",
    "a/b",
    "x" * 256,
    "",
    b"bytes",
    7,
]
header_values = st.sampled_from(EDGE_VALUES) | hostile | st.binary(max_size=8) | st.integers()
plain_headers = st.fixed_dictionaries(
    {},
    optional={
        "sum": st.sampled_from(["d,25d231ec0ae3c569ba27ab7a74dd72ce", "s," + "ab" * 64, "0,42"]),
        "parts": st.sampled_from(["1,5354,1,0,0", "1,0,1,0,0"]),
        "source": st.sampled_from(["x", "a.b"]),
        "to_clusters": st.just("DDI.CMC,DDI.EDM"),
        "mtime": st.sampled_from(["20240101120000.5", "20240229000000"]),
        "mode": st.sampled_from(["644", "0"]),
        "rename": st.just("/old/x"),
        "retrievePath": st.just("a/b"),
        "message": st.just("text"),
        "other": st.just("value"),
    },
)
headers = (
    plain_headers
    | st.builds(
        lambda plain, odd: {**plain, **odd},
        plain_headers,
        st.dictionaries(header_names, header_values, max_size=1),
    )
    | st.dictionaries(header_names, header_values, max_size=6)
)


@settings(max_examples=3000)
@given(
    pubtimes,
    base_urls,
    rel_paths,
    headers,
    st.sampled_from([None, "201 host user 0.1", "x y"]),
    st.booleans(),
)
def test_v02_quick_path_accepts_only_what_the_full_check_accepts(
    pubtime, base_url, rel_path, fields, tail, as_bytes
):
    text = f"{pubtime} {base_url} {rel_path}" + (f" {tail}" if tail else "")
    body = text.encode("utf-8", "surrogatepass") if as_bytes else text
    quick = v02.quick_decode("v02.post.a", body, fields)
    if quick is None:
        return
    full = v02._decode_checked("v02.post.a", body, fields)  # raises if the check refuses
    assert full == quick
    assert (full.topic, full.exchange) == (quick.topic, quick.exchange)


def test_v02_quick_path_on_each_edge_of_each_header():
    """Every header name with every edge value, next to a plain notice (exhaustive)."""
    for name in HEADER_NAMES:
        for value in EDGE_VALUES:
            fields = {**PLAIN_HEADERS, name: value}
            quick = v02.quick_decode("v02.post.a", PLAIN_BODY, fields)
            if quick is not None:
                assert v02._decode_checked("v02.post.a", PLAIN_BODY, fields) == quick, fields


def test_v02_plain_notice_takes_the_quick_path():
    quick = v02.quick_decode("v02.post.a", PLAIN_BODY, PLAIN_HEADERS)
    assert quick is not None
    assert quick == v02._decode_checked("v02.post.a", PLAIN_BODY, PLAIN_HEADERS)
    assert quick.pubtime == "20240101T120000.5"
    assert quick.identity is not None and quick.identity.method == "md5"
    assert (quick.size, quick.source) == (5354, "x")


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (PLAIN_BODY.replace(b"0101120000", b"0230120000"), {}, "pubTime is not a time"),
        (PLAIN_BODY, {"mode": "8"}, "mode is not octal"),
        (PLAIN_BODY, {"source": ".."}, "source is not a name"),
        (PLAIN_BODY, {"parts": "1,9223372036854775808,1,0,0"}, "size must be an integer"),
        (PLAIN_BODY, {"sum": "d,00"}, "bad sum header"),
        (PLAIN_BODY.replace(b"https://dd.weather.gc.ca", b"nohost"), {}, "has no scheme"),
    ],
)
def test_refused_notices_keep_their_reason(body, headers, reason):
    assert v02.quick_decode("v02.post.a", body, headers) is None
    with pytest.raises(MalformedNotice, match=reason):
        v02.decode("v02.post.a", body, headers)


texts = st.text(st.sampled_from("ab/.\x00é\ud800"), max_size=300) | st.sampled_from(
    [".", "..", "a" * 255, "a" * 256, "/a" * 64, "/a" * 63]
)


@given(texts)
def test_quick_path_and_name_pass_the_check(text):
    if validate.quick_path(text):
        validate._path("relPath", text)
    if validate.quick_name(text):
        validate._name("source", text)


@given(st.text(st.sampled_from("0123456789.T１e-"), max_size=22) | pubtimes)
def test_quick_time_is_the_full_conversion_and_check(text):
    moment = validate.quick_time(text)
    if moment is not None:
        assert moment == time_v02_to_v03(text)
        validate._time("pubTime", moment)


def _epoch_by_conversion(text: str) -> float:
    """time_to_epoch as it was: through the full conversion to the v02 form."""
    whole, _, fraction = time_v03_to_v02(text).partition(".")
    return notice._whole_seconds(whole) + float(f"0.{fraction or 0}")


@given(
    st.text(st.sampled_from("0123456789.T１e-"), max_size=22)
    | pubtimes
    | st.sampled_from(
        ["20240101T120000.5", "20240229T000000", "20230229T000000", "2024010T1120000"]
    )
)
def test_time_to_epoch_per_second_is_the_full_conversion(text):
    try:
        expected = _epoch_by_conversion(text)
    except ValueError:
        with pytest.raises(ValueError):
            notice.time_to_epoch(text)
        return
    assert notice.time_to_epoch(text) == expected


PLAIN_V03 = {
    "pubTime": "20240101T120000.5",
    "baseUrl": "https://dd.weather.gc.ca",
    "relPath": "/observations/swob-ml/20240101/x.xml",
    "identity": {"method": "md5", "value": "JdIx7ArjxWm6J6t6dN1yzg=="},
    "size": 5354,
    "source": "x",
}
V03_KEYS = [
    *PLAIN_V03,
    "mtime",
    "atime",
    "mode",
    "rename",
    "retrievePath",
    "retPath",
    "integrity",
    "from_cluster",
    "to_clusters",
    "blocks",
    "fileOp",
    "content",
    "report",
    "parts",
    "topic",
    "other",
    "é",
]
V03_EDGES = [
    *(value for value in EDGE_VALUES if not isinstance(value, bytes)),
    "20240101T120000.5",
    "20240101T120000",
    "20230229T120000",
    "https://dd.weather.gc.ca",
    {"method": "md5", "value": "JdIx7ArjxWm6J6t6dN1yzg=="},
    {"method": "md5", "value": "JdIx7ArjxWm6J6t6dN1yzg="},
    {"method": "sha512", "value": "JdIx7ArjxWm6J6t6dN1yzg=="},
    {"method": "random", "value": "1"},
    {"method": "random", "value": "é"},
    {"method": "md5"},
    {"method": 1, "value": "x"},
    {"link": "x"},
    {"method": "inplace", "size": 1, "count": 1, "remainder": 0, "number": 0},
    [1, "a"],
    None,
    True,
    -1,
    1.5,
    float("inf"),
    9223372036854775808,
]
v03_values = st.sampled_from(V03_EDGES) | hostile | st.integers() | st.floats()
v03_bodies = st.builds(
    lambda drop, odd: {k: v for k, v in PLAIN_V03.items() if k not in drop} | odd,
    st.just(()) | st.sets(st.sampled_from(list(PLAIN_V03)), max_size=1),
    st.dictionaries(st.sampled_from(V03_KEYS), st.sampled_from(V03_EDGES), max_size=1),
) | st.dictionaries(st.sampled_from(V03_KEYS), v03_values, max_size=8)


@settings(max_examples=3000)
@given(v03_bodies)
def test_v03_quick_path_accepts_only_what_the_full_check_accepts(parsed):
    quick = v03.quick_notice("v03.a", parsed)
    if quick is None:
        return
    full = v03._checked_notice("v03.a", parsed)  # raises if the check refuses
    assert full == quick
    assert full.topic == quick.topic


def test_v03_quick_path_on_each_edge_of_each_key():
    """Every key with every edge value, in a plain notice (exhaustive)."""
    for key in V03_KEYS:
        for value in V03_EDGES:
            parsed = {**PLAIN_V03, key: value}
            quick = v03.quick_notice("v03.a", parsed)
            if quick is not None:
                assert v03._checked_notice("v03.a", parsed) == quick, parsed


def test_v03_plain_notice_takes_the_quick_path():
    quick = v03.quick_notice("v03.a", dict(PLAIN_V03, other=[1]))
    assert quick is None  # an extra field that is not plain: the full check looks
    quick = v03.quick_notice("v03.a", dict(PLAIN_V03, mtime="20240101120000", other=1.5))
    assert quick is not None
    assert quick == v03._checked_notice("v03.a", dict(PLAIN_V03, mtime="20240101120000", other=1.5))
    assert (quick.pubtime, quick.mtime, quick.size) == (
        "20240101T120000.5",
        "20240101T120000",
        5354,
    )
    assert quick.extra == {"other": 1.5}


def test_v02_quick_path_puts_each_header_in_its_field():
    """The quick path builds the notice by position: each header lands in the field it names."""
    fields = {
        **PLAIN_HEADERS,
        "from_cluster": "from",
        "to_clusters": "to",
        "mtime": "20240101120001",
        "atime": "20240101120002",
        "mode": "644",
        "rename": "/old/x",
        "retrievePath": "a/b",
        "other": "value",
    }
    quick = v02.quick_decode("v02.post.a", PLAIN_BODY, fields)
    assert quick is not None
    assert quick == v02._decode_checked("v02.post.a", PLAIN_BODY, fields)
    expected = {
        "source": "x",
        "from_cluster": "from",
        "to_clusters": "to",
        "mtime": "20240101T120001",
        "atime": "20240101T120002",
        "mode": "644",
        "rename": "/old/x",
        "retrieve_path": "a/b",
        "extra": {"other": "value"},
        "topic": "v02.post.a",
        "size": 5354,
        "blocks": None,
        "file_op": None,
        "content": None,
        "report": None,
        "exchange": None,
    }
    assert {name: getattr(quick, name) for name in expected} == expected
