"""Directory listings as text: HTML index pages and ftp LIST lines."""

# The sample pages are kept as the servers write them, long lines and all.
# ruff: noqa: E501

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sarra.transfer.base import Entry
from sarra.transfer.listing import parse_index, parse_ls_line


def ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


APACHE_TABLE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /data/obs</title></head><body>
<h1>Index of /data/obs</h1>
<table>
<tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
<tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/data/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="2024/">2024/</a></td><td align="right">2024-01-15 10:30  </td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="obs%20one.bufr">obs one.bufr</a></td><td align="right">2024-01-15 10:31  </td><td align="right">1.2K</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="big.grib2">big.grib2</a></td><td align="right">2023-12-31 23:59  </td><td align="right"> 35M</td><td>Model output 2024-02-02 12:00</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="tiny">tiny</a></td><td align="right">2024-01-15 10:32  </td><td align="right">  7 </td><td>&nbsp;</td></tr>
<tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache/2.4.57 (Debian) Server at example.org Port 80</address>
</body></html>
"""

APACHE_PRE = """<html><head><title>Index of /pub</title></head><body>
<h1>Index of /pub</h1>
<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>                    <a href="?C=M;O=A">Last modified</a>      <a href="?C=S;O=A">Size</a>  <a href="?C=D;O=A">Description</a><hr><img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/">Parent Directory</a>                             -
<img src="/icons/text.gif" alt="[TXT]"> <a href="README.txt">README.txt</a>              15-Jan-2024 10:30  512
<img src="/icons/folder.gif" alt="[DIR]"> <a href="sub/">sub/</a>                    02-Feb-2023 08:05    -
<hr></pre>
</body></html>
"""

NGINX = """<html>
<head><title>Index of /feeds/</title></head>
<body>
<h1>Index of /feeds/</h1><hr><pre><a href="../">../</a>
<a href="radar/">radar/</a>                                             15-Jan-2024 10:30                   -
<a href="a%26b.txt">a&amp;b.txt</a>                                          15-Jan-2024 10:31                1234
<a href="a-very-long-file-name-that-nginx-cuts-short-in-the-listing.dat">a-very-long-file-name-that-nginx-cuts-short-in-t..&gt;</a> 01-Mar-2024 00:00            10485760
</pre><hr></body>
</html>
"""

PYTHON_HTTP_SERVER = """<!DOCTYPE HTML>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Directory listing for /</title>
</head>
<body>
<h1>Directory listing for /</h1>
<hr>
<ul>
<li><a href="data/">data/</a></li>
<li><a href="latest">latest@</a></li>
<li><a href="%C3%A9t%C3%A9.txt">&#233;t&#233;.txt</a></li>
</ul>
<hr>
</body>
</html>
"""


def test_apache_table() -> None:
    assert parse_index(APACHE_TABLE, "/data/obs") == [
        Entry("2024", None, ts("2024-01-15 10:30"), is_dir=True, wall_clock=True),
        Entry("obs one.bufr", 1229, ts("2024-01-15 10:31"), wall_clock=True),
        Entry("big.grib2", 35 << 20, ts("2023-12-31 23:59"), wall_clock=True),
        Entry("tiny", 7, ts("2024-01-15 10:32"), wall_clock=True),
    ]


def test_apache_pre() -> None:
    assert parse_index(APACHE_PRE, "/pub/") == [
        Entry("README.txt", 512, ts("2024-01-15 10:30"), wall_clock=True),
        Entry("sub", None, ts("2023-02-02 08:05"), is_dir=True, wall_clock=True),
    ]


def test_nginx_takes_names_from_links_not_the_shortened_text() -> None:
    assert parse_index(NGINX, "/feeds/") == [
        Entry("radar", None, ts("2024-01-15 10:30"), is_dir=True, wall_clock=True),
        Entry("a&b.txt", 1234, ts("2024-01-15 10:31"), wall_clock=True),
        Entry(
            "a-very-long-file-name-that-nginx-cuts-short-in-the-listing.dat",
            10485760,
            ts("2024-03-01 00:00"),
            wall_clock=True,
        ),
    ]


def test_python_http_server_has_names_and_links_only() -> None:
    assert parse_index(PYTHON_HTTP_SERVER, "/") == [
        Entry("data", is_dir=True),
        Entry("latest", is_link=True),
        Entry("\u00e9t\u00e9.txt"),
    ]


@pytest.mark.parametrize(
    "href",
    [
        "../",
        "./",
        "?C=N;O=D",
        "sub/?C=N;O=D",
        "/elsewhere/file",
        "http://other.example/dir/file",
        "sub/deeper/file",
        "#top",
        "",
    ],
)
def test_links_that_are_not_children_are_left_out(href: str) -> None:
    assert parse_index(f'<a href="{href}">x</a> 15-Jan-2024 10:30 5', "/dir/") == []


def test_absolute_paths_into_the_directory_count() -> None:
    page = '<a href="/dir/f">f</a> 15-Jan-2024 10:30 5\n<a href="/dir/g/">g/</a>'
    assert [e.name for e in parse_index(page, "/dir")] == ["f", "g"]


def test_a_link_to_a_file_with_a_query_names_it_with_its_query() -> None:
    page = (
        '<a href="get.py?station=A&amp;t=1/2">A</a> 15-Jan-2024 10:30 5\n'
        '<a href="/dir/get.py?station=B">B</a> 15-Jan-2024 10:30 6'
    )
    assert [(e.name, e.size, e.link) for e in parse_index(page, "/dir/")] == [
        ("get.py?station=A&t=1%2F2", 5, "get.py?station=A&t=1/2"),
        ("get.py?station=B", 6, "get.py?station=B"),
    ]
    plain = parse_index('<a href="get.py%3Fstation=C">C</a> 15-Jan-2024 10:30 7', "/dir/")
    assert [(e.name, e.link) for e in plain] == [("get.py?station=C", None)]  # a file's name


def test_a_name_linked_twice_is_listed_once() -> None:
    page = '<a href="f"><img src="i.gif"></a> <a href="f">f</a> 15-Jan-2024 10:30 5'
    assert parse_index(page, "/") == [Entry("f")]


def test_garbage_gives_nothing_rather_than_failing() -> None:
    assert parse_index("<html><body>not an index <a>no href</a> <a href='x'", "/") == []
    assert parse_index('<a href="f">f</a> 31-Feb-2024 10:30 5', "/") == [Entry("f")]


# --- ls -l lines (ftp LIST)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "-rw-r--r--   1 owner    group        1234 Jan 15 10:30 file.txt",
            Entry("file.txt", 1234, ts("2024-01-15 10:30"), 0o644, wall_clock=True),
        ),
        (
            "drwxr-xr-x   2 owner    group        4096 Feb 02  2022 old dir",
            Entry("old dir", 4096, ts("2022-02-02 00:00"), 0o755, is_dir=True, wall_clock=True),
        ),
        (
            "lrwxrwxrwx   1 0        0               7 Feb 29 23:59 latest -> a/b",
            Entry("latest", 7, ts("2024-02-29 23:59"), 0o777, is_link=True, wall_clock=True),
        ),
        (
            # December seen in March: last year's.
            "-rw-------   1 owner 1000 Dec 24 18:00 gift",
            Entry("gift", 1000, ts("2023-12-24 18:00"), 0o600, wall_clock=True),
        ),
        (
            "-rwsr-sr-t   1 owner    group           1 Mar  1 11:00 special",
            Entry("special", 1, ts("2024-03-01 11:00"), 0o7755, wall_clock=True),
        ),
    ],
)
def test_ls_lines(line: str, expected: Entry) -> None:
    assert parse_ls_line(line, NOW) == expected


@pytest.mark.parametrize(
    "line",
    [
        "total 8",
        "",
        "drwxr-xr-x   2 owner    group        4096 Jan 15 10:30 .",
        "drwxr-xr-x   2 owner    group        4096 Jan 15 10:30 ..",
        "-rw-r--r--   1 owner    group        1234 Foo 15 10:30 file.txt",
        "01-15-24  10:30AM       <DIR>          windows-style",
    ],
)
def test_ls_lines_that_are_not_entries(line: str) -> None:
    assert parse_ls_line(line, NOW) is None
