"""Notices for local files (sarra.flow.announce): URLs and relative paths, checksums, parts,
times and modes, links, removals, renames, headers; the checksum cache; the walk of a tree."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from sarra.config.loader import Config, load
from sarra.flow.announce import Announcer, ChecksumCache, partitioning, walk
from sarra.integrity.checksum import hex_to_b64
from sarra.message import v02, v03
from sarra.message.notice import Blocks, Identity, time_to_epoch

MTIME = 1_600_000_000.25


def poster(tmp_path: Path, body: str = "") -> Config:
    path = tmp_path / "post.conf"
    path.write_text("post_broker amqp://guest@broker.example.org/\n" + body)
    return load("post", path)


def data_file(tmp_path: Path, name: str = "a.dat", data: bytes = b"hello\n") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o640)
    os.utime(path, (MTIME, MTIME))
    return path


def announce(config: Config, path: Path, renamed_from: str | None = None) -> list:
    return Announcer(config).notices(str(path), os.lstat(path), renamed_from)


def test_a_file_under_file_is_its_absolute_path_with_checksum_size_time_and_mode(
    tmp_path: Path,
) -> None:
    path = data_file(tmp_path)
    [notice] = announce(poster(tmp_path), path)
    assert notice.base_url == "file:" and notice.rel_path == str(path)
    assert notice.url == f"file:{path}"
    assert notice.identity == Identity("md5", hex_to_b64(hashlib.md5(b"hello\n").hexdigest()))
    assert notice.size == 6 and notice.blocks is None
    assert time_to_epoch(notice.mtime) == pytest.approx(MTIME)
    assert time_to_epoch(notice.atime) == pytest.approx(MTIME)
    assert notice.mode == "640"
    assert notice.from_cluster == "broker.example.org"
    assert notice.to_clusters == "broker.example.org"
    assert notice.file_op is None


def test_post_base_dir_is_removed_under_another_base_url(tmp_path: Path) -> None:
    path = data_file(tmp_path, "sub/dir/a.dat")
    config = poster(tmp_path, f"post_base_url sftp://host/\npost_base_dir {tmp_path}/\n")
    [notice] = announce(config, path)
    assert notice.rel_path == "sub/dir/a.dat"
    assert notice.url == "sftp://host/sub/dir/a.dat"
    key, _, _ = v02.encode(notice)
    assert key == "v02.post.sub.dir"


def test_several_base_urls_take_turns(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    config = poster(tmp_path, f"post_base_url http://a/,http://b/\npost_base_dir {tmp_path}\n")
    announcer = Announcer(config)
    urls = [announcer.notices(str(path), os.lstat(path))[0].url for _ in range(3)]
    assert urls == ["http://a/a.dat", "http://b/a.dat", "http://a/a.dat"]


@pytest.mark.parametrize(
    ("flag", "method", "value"),
    [
        ("s", "sha512", hex_to_b64(hashlib.sha512(b"hello\n").hexdigest())),
        ("n", "md5name", hex_to_b64(hashlib.md5(b"a.dat").hexdigest())),
        ("z,s", "cod", "sha512"),
    ],
)
def test_each_checksum_method(tmp_path: Path, flag: str, method: str, value: str) -> None:
    [notice] = announce(poster(tmp_path, f"sum {flag}\n"), data_file(tmp_path))
    assert notice.identity == Identity(method, value)


def test_random_checksum_is_four_digits(tmp_path: Path) -> None:
    [notice] = announce(poster(tmp_path, "sum 0\n"), data_file(tmp_path))
    assert notice.identity.method == "random" and len(notice.identity.value) == 4


def test_arbitrary_checksum_cannot_be_posted(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sum a"):
        Announcer(poster(tmp_path, "sum a\n"))


def test_fixed_blocks_give_one_notice_per_part_with_its_own_checksum(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10  # 2560 bytes: 2 blocks of 1024 and one of 512
    path = data_file(tmp_path, data=data)
    notices = announce(poster(tmp_path, "blocksize 1024\n"), path)
    assert [n.blocks for n in notices] == [Blocks("inplace", 1024, 3, 512, i) for i in range(3)]
    assert [n.size for n in notices] == [1024, 1024, 512]
    for notice in notices:
        start = notice.blocks.number * 1024
        expected = hashlib.md5(data[start : start + notice.size]).hexdigest()
        assert notice.identity.value == hex_to_b64(expected)
    assert v02.encode(notices[2])[2]["parts"] == "i,1024,3,512,2"


def test_parts_option_chooses_the_method_and_block_size(tmp_path: Path) -> None:
    assert partitioning(poster(tmp_path, "parts 1\nblocksize 10\n")) == (1, "i")
    assert partitioning(poster(tmp_path, "parts i,4096\n")) == (4096, "i")
    assert partitioning(poster(tmp_path, "parts p\nblocksize 512\n")) == (512, "p")
    assert partitioning(poster(tmp_path, "")) == (0, "i")
    path = data_file(tmp_path, data=b"x" * 100)
    notices = announce(poster(tmp_path, "parts p\nblocksize 64\n"), path)
    assert [n.blocks.method for n in notices] == ["partitioned", "partitioned"]
    assert announce(poster(tmp_path, "parts 1\nblocksize 64\n"), path)[0].blocks is None


def test_preserve_time_and_mode_off_leave_them_out(tmp_path: Path) -> None:
    config = poster(tmp_path, "preserve_time off\npreserve_mode off\n")
    [notice] = announce(config, data_file(tmp_path))
    assert notice.mtime is None and notice.atime is None and notice.mode is None


def test_headers_rename_to_source_and_cluster(tmp_path: Path) -> None:
    config = poster(
        tmp_path,
        "header station=CYUL\nheader mode=None\nrename /new/name\nto c1,c2\n"
        "source alice\ncluster here\n",
    )
    [notice] = announce(config, data_file(tmp_path))
    assert notice.extra == {"station": "CYUL"}
    assert notice.mode is None
    assert notice.rename == "/new/name"
    assert notice.to_clusters == "c1,c2" and notice.from_cluster == "here"
    assert notice.source == "alice"
    headers = v02.encode(notice)[2]
    assert headers["station"] == "CYUL" and "mode" not in headers


def test_a_symlink_is_a_link_notice(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("a.dat")
    [notice] = announce(poster(tmp_path), tmp_path / "link")
    assert notice.file_op == {"link": "a.dat"} and notice.identity is None
    headers = v02.encode(notice)[2]
    assert headers["link"] == "a.dat" and headers["sum"].startswith("L,")
    assert json.loads(v03.encode(notice, "v03")[1])["fileOp"] == {"link": "a.dat"}


def test_realpath_post_announces_the_target(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    (tmp_path / "link").symlink_to(path)
    [notice] = announce(poster(tmp_path, "realpath_post\n"), tmp_path / "link")
    assert notice.rel_path == str(path) and notice.size == 6 and notice.file_op is None


def test_removal_rename_and_directory(tmp_path: Path) -> None:
    announcer = Announcer(poster(tmp_path))
    removal = announcer.remove("/data/gone.txt")
    assert removal.file_op == {"remove": ""} and v02.encode(removal)[2]["sum"].startswith("R,")
    path = data_file(tmp_path, "new.dat")
    [renamed] = announce(poster(tmp_path), path, renamed_from=str(tmp_path / "old.dat"))
    assert renamed.file_op == {"rename": str(tmp_path / "old.dat")}
    assert renamed.identity is not None and renamed.size == 6
    assert v02.encode(renamed)[2]["oldname"] == str(tmp_path / "old.dat")
    assert announcer.directory("/data/d").file_op == {"directory": ""}
    assert announcer.directory("/data/d", removed=True).file_op == {"directory": "", "remove": ""}


def test_masks_apply_to_the_local_path(tmp_path: Path) -> None:
    announcer = Announcer(poster(tmp_path, "reject .*\\.tmp$\naccept .*/keep/.*\n"))
    assert announcer.accepts("/data/keep/a.txt")
    assert not announcer.accepts("/data/keep/a.tmp")
    assert announcer.accepts("/data/other/a.txt")  # accept_unmatch is True for sr_post


def test_checksums_of_unchanged_files_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = data_file(tmp_path)
    reads: list[str] = []
    real_open = os.open

    def counting_open(file: str, *args: int) -> int:
        reads.append(str(file))
        return real_open(file, *args)

    monkeypatch.setattr("os.open", counting_open)
    announcer = Announcer(poster(tmp_path))
    first = announcer.notices(str(path), os.lstat(path))[0].identity
    second = announcer.notices(str(path), os.lstat(path))[0].identity
    assert first == second and reads.count(str(path)) == 1
    path.write_bytes(b"changed")
    third = announcer.notices(str(path), os.lstat(path))[0].identity
    assert third != first and reads.count(str(path)) == 2


def test_a_file_that_shrank_since_its_stat_is_an_error(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    st = os.lstat(path)
    path.write_bytes(b"hi")
    with pytest.raises(ValueError, match="short"):
        Announcer(poster(tmp_path)).notices(str(path), st)


def test_cache_keeps_at_most_its_entries(tmp_path: Path) -> None:
    cache = ChecksumCache(entries=2)
    paths = [data_file(tmp_path, f"f{i}") for i in range(3)]
    for path in paths:
        cache.identity(str(path), os.lstat(path), "d", 0, 6)
    assert len(cache._values) == 2


def test_walk_yields_files_and_links_in_order_and_follows_links_when_asked(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    data_file(tree, "b/x")
    data_file(tree, "a")
    data_file(tmp_path, "outside/y")
    (tree / "to_outside").symlink_to(tmp_path / "outside")
    (tree / "loop").symlink_to(tree)
    plain = [path for path, _ in walk(str(tree))]
    assert plain == [f"{tree}/a", f"{tree}/loop", f"{tree}/to_outside", f"{tree}/b/x"]
    followed = [path for path, _ in walk(str(tree), follow_symlinks=True)]
    assert followed == [f"{tree}/a", f"{tree}/b/x", f"{tree}/to_outside/y"]
    assert [p for p, _ in walk(f"{tree}/a")] == [f"{tree}/a"]
    with pytest.raises(FileNotFoundError):
        list(walk(str(tmp_path / "missing")))
