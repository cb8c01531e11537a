"""http(s) request targets: a relPath is a file's path (`?` a name's), a retrievePath is sent as
written, its query with it (sarra.message.http_path), from the codecs to the downloader."""

from __future__ import annotations

import json

import pytest

from sarra.flow.download import remote_path
from sarra.message import v02, v03
from sarra.message.http_path import Target, link_name, path_target, request_target
from sarra.message.notice import Notice

T = "20240101T000000.0"


def test_a_file_path_keeps_what_a_path_allows_and_escapes_the_rest() -> None:
    assert path_target("/d/get.py?station=A") == "/d/get.py%3Fstation=A"
    assert (
        path_target("/d/Products('a;b')/$value+@x:1,!*&=~")
        == "/d/Products('a;b')/$value+@x:1,!*&=~"
    )
    assert path_target("/d/a b#c%41é[]") == "/d/a%20b%23c%2541%C3%A9%5B%5D"
    assert request_target("/d/a?b") == "/d/a%3Fb"  # a str is a file's path


def test_a_target_is_sent_as_written_but_for_what_no_request_line_holds() -> None:
    odata = "/odata/v1/Products('S2A_1')/$value"
    assert request_target(Target(odata)) == odata
    assert (
        request_target(Target("/get.py?station=A&t=1/2;x=(y)")) == "/get.py?station=A&t=1/2;x=(y)"
    )
    assert request_target(Target("/a%20b?q=%2F")) == "/a%20b?q=%2F"  # escapes kept as they are
    assert request_target(Target("/a b?q=é")) == "/a%20b?q=%C3%A9"


def test_a_link_with_a_query_names_a_file_that_never_climbs() -> None:
    assert link_name("get.py", "p=../../x") == "get.py?p=..%2F..%2Fx"


@pytest.mark.parametrize("base", ["http://h/data/", "https://h:8443/data"])
def test_the_downloader_asks_for_a_relpath_as_a_file_and_a_retrieve_path_as_written(
    base: str,
) -> None:
    plain = remote_path(Notice(T, base, "d/get.py?station=A"))
    assert not isinstance(plain, Target)
    assert request_target(plain) == "/data/d/get.py%3Fstation=A"
    asked = remote_path(Notice(T, base, "d/A.csv", retrieve_path="d/get.py?station=A"))
    assert isinstance(asked, Target)
    assert request_target(asked) == "/data/d/get.py?station=A"
    # other schemes have no query: the retrievePath is a path there
    sftp = remote_path(Notice(T, "sftp://h/data/", "d/A.csv", retrieve_path="d/a?b"))
    assert not isinstance(sftp, Target) and sftp == "/data/d/a?b"


def test_v03_and_v02_carry_a_question_mark_of_a_name_as_it_is() -> None:
    """As sr3 and v2 write it: relPath unescaped (sr3 quotes it when it requests it); read
    back, in either format, it is a file to ask for with `?` escaped."""
    notice = Notice(T, "http://h/", "d/get.py?station=A")
    key, body = v03.encode(notice, "v03")
    assert json.loads(body)["relPath"] == "d/get.py?station=A"
    from_v03 = v03.decode(str(key), body)
    key, body, headers = v02.encode(notice, "v02")
    assert body.split()[-1] == "d/get.py?station=A"
    from_v02 = v02.decode(str(key), body, headers)
    for decoded in (from_v03, from_v02):
        assert decoded.rel_path == "d/get.py?station=A" and decoded.retrieve_path is None
        assert request_target(remote_path(decoded)) == "/d/get.py%3Fstation=A"
