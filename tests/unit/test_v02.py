"""The v02 codec, and the v02 <-> v03 mapping."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sarra.integrity.parts import Parts
from sarra.message import v02, v03
from sarra.message.errors import HeaderTooLong, MalformedNotice, NotEncodable
from sarra.message.notice import Blocks, Identity, Notice, Report

EXAMPLE_TOPIC = "v02.post.data.shared.products"
EXAMPLE_BODY = "20150813161959.854 sftp://stanley@mysftpserver.com/ /data/shared/products/foo"
EXAMPLE_HEADERS = {
    "parts": "1,256,1,0,0",
    "sum": "d,25d231ec0ae3c569ba27ab7a74dd72ce",
    "source": "guest",
}
SHA512_FOO = (
    "f7fbba6e0636f890e56fbbf3283e524c6fa3204ae298382d624741d0dc663832"
    "6e282c41be5e4254d8820772c5518a2c5a8c0c7f7eda19594a7eb539453e1ed7"
)
SHA512_TMP_TARGET = (
    "291a1f65f5fada920a930356d49a120982b1bc4d11ff9bf11106c839e02a5bb6"
    "869fb3f31f2a0b0c7ed22db6fde1b98012939aaa7a7d198494111375fdf4b406"
)
SHA512_PRODUCTS = (
    "d8a0973dd27f506e0eafa1189dc181b6fcce7e1286a413398d39abcfb67341ee"
    "938f4a5f8e811836aa3fc363d5e268b3edc96594d936e9479d2f3f9449144e3f"
)


def example() -> Notice:
    return v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, EXAMPLE_HEADERS)


def notice(**fields) -> Notice:
    base = {
        "pubtime": "20150813T161959.854",
        "base_url": "sftp://stanley@mysftpserver.com/",
        "rel_path": "/data/shared/products/foo",
    }
    return Notice(**(base | fields))


# --- the reference example and field mapping ---------------------------------------------------


def test_reference_example_decodes_to_the_right_fields():
    got = example()
    assert got.pubtime == "20150813T161959.854"
    assert got.base_url == "sftp://stanley@mysftpserver.com/"
    assert got.rel_path == "/data/shared/products/foo"
    assert got.url == "sftp://stanley@mysftpserver.com//data/shared/products/foo"
    assert got.identity == Identity("md5", "JdIx7ArjxWm6J6t6dN1yzg==")
    assert got.size == 256
    assert got.blocks is None
    assert got.source == "guest"
    assert got.topic == EXAMPLE_TOPIC
    assert got.extra == {}
    assert got.report is None


def test_reference_example_encodes_back_byte_for_byte():
    assert v02.encode(example()) == (EXAMPLE_TOPIC, EXAMPLE_BODY, EXAMPLE_HEADERS)


def test_body_and_topic_are_escaped():
    key, body, _ = v02.encode(notice(rel_path="/dir #1/a b%20c.txt"))
    assert key == "v02.post.dir%20%231"
    assert body.split(" ")[2] == "/dir%20%231/a%20b%2520c.txt"


def test_escapes_from_v2_peers_are_reversed():
    got = v02.decode("v02.post.a%20b", "20150813161959.854 http://h/ a%20b/c%23d", {})
    assert got.rel_path == "a b/c#d"


def test_base_url_gets_the_slash_v2_peers_need():
    n = notice(base_url="https://dd.weather.gc.ca", rel_path="obs/x.xml")
    _, body, _ = v02.encode(n)
    assert body.split(" ")[1:] == ["https://dd.weather.gc.ca/", "obs/x.xml"]
    assert v02.decode(*v02.encode(n)).url == n.url == "https://dd.weather.gc.ca/obs/x.xml"


@pytest.mark.parametrize("base_url", ["http://here/", "http://here"])
def test_a_relative_path_keeps_its_form_through_the_round_trip_and_a_plugin(base_url):
    """a.dat stays a.dat (and /a.dat stays /a.dat): through v02 and back, and through a v2
    plugin's message that changed a header (sr3's after_post in a shovel saw /a.dat)."""
    from sarra.compat.plugin_parent import Msg

    for rel_path in ("a.dat", "/a.dat"):
        back = v02.decode(*v02.encode(notice(base_url=base_url, rel_path=rel_path)))
        assert back.rel_path == rel_path
        msg = Msg(back)
        msg.headers["noted_by"] = "noted"
        assert msg.to_notice().rel_path == rel_path


def test_notice_without_identity_gets_md5_of_its_relative_path():
    _, _, headers = v02.encode(notice())
    assert headers["sum"] == "n,6748cd57d2c3e07208eea479edd4c2e3"


@pytest.mark.parametrize(
    ("sum_value", "identity"),
    [
        ("z,d", Identity("cod", "md5")),
        ("0,0042", Identity("random", "0042")),
        ("a,my,value", Identity("arbitrary", "my,value")),
        ("n,6748cd57d2c3e07208eea479edd4c2e3", Identity("md5name", "Z0jNV9LD4HII7qR57dTC4w==")),
    ],
)
def test_sum_flags(sum_value, identity):
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, {"sum": sum_value})
    assert got.identity == identity
    assert v02.encode(got)[2]["sum"] == sum_value


def test_symlink():
    headers = {"sum": f"L,{SHA512_TMP_TARGET}", "link": "/tmp/target"}
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert got.file_op == {"link": "/tmp/target"}
    assert got.identity is None
    assert v02.encode(got)[2] == headers


def test_link_header_next_to_a_data_sum_keeps_both():
    headers = {"sum": "d,25d231ec0ae3c569ba27ab7a74dd72ce", "link": "/tmp/target"}
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert got.file_op == {"link": "/tmp/target"}
    assert got.identity == Identity("md5", "JdIx7ArjxWm6J6t6dN1yzg==")
    assert v02.encode(got)[2] == headers


def test_hard_link():
    headers = {"sum": f"l,{SHA512_TMP_TARGET}", "link": "/tmp/target"}
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert got.file_op == {"hlink": "/tmp/target"}
    assert v02.encode(got)[2] == headers


@pytest.mark.parametrize(
    ("flag", "file_op"),
    [
        ("R", {"remove": ""}),
        ("m", {"directory": ""}),
        ("r", {"directory": "", "remove": ""}),
    ],
)
def test_removal_and_directories(flag, file_op):
    # the value is the SHA-512 of the basename
    body = "20150813161959.854 file: /data/products"
    headers = {"sum": f"{flag},{SHA512_PRODUCTS}"}
    got = v02.decode("v02.post.data", body, headers)
    assert got.file_op == file_op
    assert got.identity is None
    assert v02.encode(got) == ("v02.post.data", body, headers)


def test_identity_of_a_removal_has_no_place_in_v02():
    n = notice(rel_path="/data/products", identity=Identity("md5", "JdIx7ArjxWm6J6t6dN1yzg=="))
    n.file_op = {"remove": ""}
    assert v02.encode(n)[2]["sum"] == f"R,{SHA512_PRODUCTS}"


def test_rename():
    headers = EXAMPLE_HEADERS | {"oldname": "/data/shared/products/old foo"}
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert got.file_op == {"rename": "/data/shared/products/old foo"}
    assert v02.encode(got)[2] == headers


def test_partitioned_block():
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, {"sum": "0,0001", "parts": "i,1024,3,100,2"})
    assert got.blocks == Blocks("inplace", 1024, 3, 100, 2)
    assert got.size == 100  # the length of this block, as v2 writes it
    assert v02.encode(got)[2]["parts"] == "i,1024,3,100,2"


@pytest.mark.parametrize(
    ("parts", "blocks", "written"),
    [
        # sr3 writes the length of the block where v2 writes the file's remainder
        ("i,1024,3,1024,0", Blocks("inplace", 1024, 3, None, 0, unchecked=True), "i,1024,3,1024,0"),
        (
            "p,1024,3,1024,1",
            Blocks("partitioned", 1024, 3, None, 1, unchecked=True),
            "p,1024,3,1024,1",
        ),
        ("i,1024,3,100,2", Blocks("inplace", 1024, 3, 100, 2), "i,1024,3,100,2"),
        ("i,1024,3,1024,2", Blocks("inplace", 1024, 3, 0, 2, unchecked=True), "i,1024,3,1024,2"),
    ],
)
def test_sr3_s_parts_are_read(parts, blocks, written):
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, {"sum": "0,0001", "parts": parts})
    assert got.blocks == blocks
    assert got.size == blocks.length == (100 if blocks.number == 2 and blocks.remainder else 1024)
    assert v02.encode(got)[2]["parts"] == written


@pytest.mark.parametrize("parts", ["i,1024,3,1025,0", "i,0,3,0,0", "i,1024,3,1024,3", "1,5,1,5,0"])
def test_parts_neither_v2_s_nor_sr3_s_are_refused(parts):
    with pytest.raises(MalformedNotice, match="bad parts header"):
        v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, {"sum": "0,0001", "parts": parts})


def test_times_mode_clusters_and_retrieve_path():
    headers = {
        "sum": "0,0001",
        "mtime": "20150813161959.5",
        "atime": "20150813161958",
        "mode": "644",
        "from_cluster": "ddsr",
        "to_clusters": "ALL,other",
        "rename": "/new/place/",
        "retPath": "/get/it/here",
    }
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert (got.mtime, got.atime) == ("20150813T161959.5", "20150813T161958")
    assert (got.mode, got.from_cluster, got.to_clusters) == ("644", "ddsr", "ALL,other")
    assert (got.rename, got.retrieve_path) == ("/new/place/", "/get/it/here")
    assert got.extra == {}
    encoded = v02.encode(got)[2]
    assert encoded["mtime"] == "20150813161959.5"
    assert encoded["retrievePath"] == "/get/it/here"


def test_a_time_header_that_is_no_time_is_refused():
    # later stages read the time (preserve_time, overwrite): one that cannot be read is refused
    with pytest.raises(MalformedNotice, match=r"mtime is not a time: '1439482799\.5'"):
        v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, {"sum": "0,0001", "mtime": "1439482799.5"})


def test_unknown_headers_survive_and_bytes_are_read_as_text():
    headers = {"sum": "0,0001", "sundew_extension": "x:y", "filename": b"AACN01"}
    got = v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY, headers)
    assert got.extra == {"sundew_extension": "x:y", "filename": "AACN01"}
    assert v02.encode(got)[2] == {"sum": "0,0001", "sundew_extension": "x:y", "filename": "AACN01"}


def test_non_string_extras_are_written_as_json():
    n = notice(extra={"geometry": {"type": "Point", "coordinates": [1, 2]}, "count": 3})
    headers = v02.encode(n)[2]
    assert json.loads(headers["geometry"]) == {"type": "Point", "coordinates": [1, 2]}
    assert headers["count"] == "3"


def test_extras_named_like_fields_are_not_written():
    n = notice(extra={"sum": "d,0", "link": "/etc", "identity": "x", "relPath": "/", "ok": "1"})
    headers = v02.encode(n)[2]
    assert "link" not in headers
    assert "identity" not in headers
    assert "relPath" not in headers
    assert headers["sum"].startswith("n,")
    assert headers["ok"] == "1"


def test_content_is_not_written():
    n = notice(content={"encoding": "utf-8", "value": "hello"})
    assert v02.encode(n)[2] == {"sum": "n,6748cd57d2c3e07208eea479edd4c2e3"}


# --- reports -------------------------------------------------------------------------------------


def test_report_decodes_and_encodes():
    body = EXAMPLE_BODY + " 201 host.example.com anonymous 0.105"
    headers = EXAMPLE_HEADERS | {"message": "Downloaded"}
    got = v02.decode("v02.report.data.shared.products", body, headers)
    assert got.report == Report(201, "Downloaded", "host.example.com", "anonymous", "0.105")
    assert "message" not in got.extra
    assert v02.encode(got) == ("v02.report.data.shared.products", body, headers)


def test_report_elapsed_from_time_completed_and_missing_host():
    n = notice(report=Report(499, "failed", time_completed="20150813T162001.354"))
    key, body, headers = v02.encode(n)
    assert key == "v02.report.data.shared.products"
    assert body.split(" ")[3:] == ["499", "-", "-", "1.500000"]
    assert headers["message"] == "failed"


# --- limits and what cannot be encoded -----------------------------------------------------------


def test_long_path_truncates_the_routing_key():
    key, body, _ = v02.encode(notice(rel_path="/" + "d" * 400 + "/f"))
    assert key.truncated is True
    assert len(key.encode()) == 255
    assert body.endswith("d" * 400 + "/f")
    assert v02.encode(example())[0].truncated is False


def test_header_too_long_names_the_header():
    n = notice(file_op={"link": "/" + "é" * 130})  # 261 bytes of UTF-8
    with pytest.raises(HeaderTooLong, match="'link' is 261 bytes") as caught:
        v02.encode(n)
    assert caught.value.name == "link"


def test_header_limit_is_inclusive():
    assert v02.encode(notice(source="x" * v02.HEADER_LIMIT))[2]["source"] == "x" * 252
    with pytest.raises(HeaderTooLong, match="'source'"):
        v02.encode(notice(source="x" * (v02.HEADER_LIMIT + 1)))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"base_url": "http://h/a b/"}, "base_url"),
        ({"pubtime": "yesterday"}, "pubtime"),
        ({"rel_path": ""}, "rel_path"),
        ({"identity": Identity("sha256", "AAAA")}, "no v02 checksum flag"),
        ({"identity": Identity("md5", "not base64!")}, "base64"),
        ({"file_op": {"link": 42}}, "fileOp link must be a string"),
        ({"report": Report(201, host="two words")}, "report host"),
    ],
)
def test_not_encodable(fields, reason):
    with pytest.raises(NotEncodable, match=reason):
        v02.encode(notice(**fields))


# --- malformed input -----------------------------------------------------------------------------

GOOD = "20150813161959.854 http://h/ a/b"


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        ("20150813161959.854 http://h/", {}, "2 space-separated fields, expected 3"),
        ("a b c d", {}, "4 space-separated fields"),
        ("", {}, "1 space-separated fields"),
        ("noon http://h/ a/b", {}, "pubtime is not YYYYMMDDHHMMSS.fff"),
        ("20150813161959.854  a/b", {}, "empty base URL"),
        ("20150813161959.854 http://h/ ", {}, "empty relative path"),
        (GOOD, {"sum": "d,xyz"}, "bad sum header: not a hex digest"),
        (GOOD, {"sum": "d,abcd"}, "bad sum header: md5 digest must be 16 bytes"),
        (GOOD, {"sum": "q,1"}, "bad sum header: unknown data checksum flag 'q'"),
        (GOOD, {"sum": "d"}, "bad sum header"),
        (GOOD, {"sum": "L,abc"}, "sum L without a link header"),
        (GOOD, {"parts": "i,1,2"}, "bad parts header"),
        (GOOD, {"parts": "1,10,1,0,x"}, "bad parts header"),
        (GOOD, {"mode": 644}, "header mode must be text"),
        (GOOD, {"source": b"\xff"}, "header source is not UTF-8"),
        (b"\xff\xfe", {}, "body is not UTF-8"),
        (GOOD + " 2x1 host user 0.1", {}, "report code is not a number"),
    ],
)
def test_malformed_says_why_in_one_line(body, headers, reason):
    with pytest.raises(MalformedNotice, match=reason) as caught:
        v02.decode("v02.post.a", body, headers)
    assert "\n" not in caught.value.reason


def test_bytes_body_is_accepted():
    assert v02.decode(EXAMPLE_TOPIC, EXAMPLE_BODY.encode(), EXAMPLE_HEADERS) == example()


# --- properties: round trips and the v02 <-> v03 mapping -----------------------------------------

header_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
path_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=40,
)
names = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00/"),
    min_size=1,
    max_size=40,
).filter(lambda name: name not in (".", ".."))
modes = st.integers(0, 0o7777).map(lambda mode: f"{mode:o}")
word = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=" "),
    min_size=1,
    max_size=20,
)
name_alphabet = st.sampled_from(" #*%2035.é") | st.characters(
    exclude_categories=("Cs",), exclude_characters="\x00/"
)
file_names = st.text(name_alphabet, min_size=1, max_size=20) | st.text(
    name_alphabet, min_size=200, max_size=255
).filter(lambda name: len(name.encode()) <= 255)
rel_paths = st.builds(
    lambda leading, names: leading + "/".join(names),
    st.sampled_from(["", "/"]),
    st.lists(file_names, min_size=1, max_size=4),
)
base_urls = st.sampled_from(
    ["sftp://stanley@mysftpserver.com/", "https://dd.weather.gc.ca/", "file:/", "ftp://h:21/p/"]
)


@st.composite
def times(draw) -> str:
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
    fraction = draw(st.text(alphabet="0123456789", max_size=9))
    return moment.strftime("%Y%m%dT%H%M%S") + (f".{fraction}" if fraction else "")


def b64_digests(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=size, max_size=size).map(lambda b: base64.b64encode(b).decode())


identities = st.one_of(
    st.builds(Identity, st.just("md5"), b64_digests(16)),
    st.builds(Identity, st.just("sha512"), b64_digests(64)),
    st.builds(Identity, st.just("md5name"), b64_digests(16)),
    st.builds(Identity, st.just("random"), header_text),
    st.builds(Identity, st.just("arbitrary"), header_text),
    st.builds(Identity, st.just("cod"), st.sampled_from(["md5", "sha512", "md5name", "random"])),
)
data_ops = st.one_of(
    st.none(),
    st.builds(lambda t: {"link": t}, path_text),
    st.builds(lambda old: {"rename": old}, path_text),
    st.builds(lambda t, old: {"link": t, "rename": old}, path_text, path_text),
)
event_ops = st.one_of(
    st.builds(lambda t: {"link": t}, path_text),
    st.builds(lambda t: {"hlink": t}, path_text),
    st.sampled_from([{"remove": ""}, {"directory": ""}, {"directory": "", "remove": ""}]),
)


@st.composite
def blocks(draw) -> Blocks:
    size = draw(st.integers(1, 10**9))
    count = draw(st.integers(1, 1000))
    parts = Parts(
        draw(st.sampled_from("ip")),
        size,
        count,
        draw(st.integers(0, size - 1)),
        draw(st.integers(0, count - 1)),
    )
    block = Blocks.from_parts(parts)
    if parts.number < count - 1 and draw(st.booleans()):  # as read from sr3's parts
        block = dataclasses.replace(block, remainder=None, unchecked=True)
    elif parts.number == count - 1 and draw(st.booleans()):  # sr3's last, of a whole multiple
        block = dataclasses.replace(block, remainder=0, unchecked=True)
    return block


sizes_and_blocks = st.one_of(
    st.just((None, None)),
    st.builds(lambda size: (size, None), st.integers(0, 2**53)),
    blocks().map(lambda b: (b.to_parts().length, b)),
)
reports = st.builds(
    Report,
    code=st.integers(100, 599),
    message=st.none() | header_text,
    host=word,
    user=word,
    elapsed=word,
)
extras = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda k: k not in v02.RESERVED and k != "message"),
    header_text,
    max_size=3,
)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


@st.composite
def v02_notices(draw) -> Notice:
    """Notices that v02 can carry exactly (v02 has no content, and no identity on events)."""
    if draw(st.booleans()):
        identity, file_op = draw(identities), draw(data_ops)
    else:
        identity, file_op = None, draw(event_ops)
        file_op |= draw(st.sampled_from([{}, {"rename": "/old/name"}]))
    size, block = draw(sizes_and_blocks)
    return Notice(
        pubtime=draw(times()),
        base_url=draw(base_urls),
        rel_path=draw(rel_paths),
        identity=identity,
        size=size,
        blocks=block,
        file_op=file_op,
        mtime=draw(optional(times())),
        atime=draw(optional(times())),
        mode=draw(optional(modes)),
        rename=draw(optional(path_text)),
        retrieve_path=draw(optional(path_text)),
        source=draw(optional(names)),
        from_cluster=draw(optional(names)),
        to_clusters=draw(optional(names)),
        report=draw(optional(reports)),
        extra=draw(extras),
    )


@settings(max_examples=150)
@given(v02_notices())
def test_v02_round_trip(n):
    key, body, headers = v02.encode(n)
    got = v02.decode(key, body, headers)
    assert got == n
    assert got.topic == key


@settings(max_examples=100)
@given(v02_notices())
def test_v02_to_v03_to_v02(n):
    assume(n.blocks is None or n.blocks.remainder is not None)  # else no v03 form (see test_v03)
    wire = v02.encode(n)
    via_v03 = v03.decode(*v03.encode(v02.decode(*wire)))
    assert v02.encode(via_v03) == wire


@settings(max_examples=100)
@given(v02_notices())
def test_v03_to_v02_to_v03(n):
    assume(n.blocks is None or n.blocks.remainder is not None)
    key, body = v03.encode(n)
    via_v02 = v02.decode(*v02.encode(v03.decode(key, body)))
    assert via_v02 == n
    assert json.loads(v03.encode(via_v02)[1]) == json.loads(body)
