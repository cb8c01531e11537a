"""Confinement of notice paths and link targets below a destination directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarra.transfer.confine import PathRefused, confine, confine_link_target


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A destination directory, with a directory outside it to escape to."""
    base = tmp_path.resolve()
    (base / "outside").mkdir()
    (base / "outside" / "secret").write_text("x")
    dest = base / "dest"
    (dest / "a" / "b").mkdir(parents=True)
    return dest


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("a/b/file.txt", "a/b/file.txt"),
        ("/a/b/file.txt", "a/b/file.txt"),
        ("//a/./b//file.txt", "a/b/file.txt"),
        ("a/b/../c/file", "a/c/file"),
        ("a/../dest2", "dest2"),
        ("new/dirs/not/yet/made.bin", "new/dirs/not/yet/made.bin"),
        ("/a b/été/データ.grib2", "a b/été/データ.grib2"),
    ],
)
def test_paths_that_stay_in(root: Path, rel: str, expected: str) -> None:
    assert confine(root, rel) == root / expected
    assert confine(str(root), rel) == root / expected


@pytest.mark.parametrize("rel", ["..", "../x", "a/../../x", "/a/b/../../../x", "../" * 20 + "etc"])
def test_climbing_out_is_refused(root: Path, rel: str) -> None:
    with pytest.raises(PathRefused, match=f"climbs out of {root}$"):
        confine(root, rel)


def test_refusal_message_names_the_path(root: Path) -> None:
    with pytest.raises(PathRefused) as caught:
        confine("/data/incoming", "../../etc/passwd")
    assert str(caught.value) == "refused ../../etc/passwd: climbs out of /data/incoming"
    assert caught.value.path == "../../etc/passwd"
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("rel", ["", "/", ".", "a/..", "./a/b/../.."])
def test_root_itself_is_refused(root: Path, rel: str) -> None:
    with pytest.raises(PathRefused, match="itself, not a file in it"):
        confine(root, rel)


def test_nul_byte_is_refused_on_one_line(root: Path) -> None:
    with pytest.raises(PathRefused) as caught:
        confine(root, "a/b\x00c\nd")
    assert str(caught.value) == "refused 'a/b\\x00c\\nd': contains a NUL byte"


def test_unencodable_name_is_refused(root: Path) -> None:
    with pytest.raises(PathRefused, match="not encodable"):
        confine(root, "a/\ud800")


def test_symlinked_directory_pointing_out_is_refused(root: Path) -> None:
    (root / "a" / "escape").symlink_to(root.parent / "outside")
    with pytest.raises(PathRefused) as caught:
        confine(root, "/a/escape/secret")
    message = str(caught.value)
    assert message.startswith("refused /a/escape/secret: a/escape is a symlink to ")
    assert message.endswith(f"{root.parent / 'outside'}, outside {root}")


def test_symlinked_directory_staying_in_is_allowed(root: Path) -> None:
    (root / "latest").symlink_to("a/b")
    assert confine(root, "latest/file") == root / "latest" / "file"


def test_symlink_chain_through_inside_to_outside_is_refused(root: Path) -> None:
    (root / "hop").symlink_to(root.parent / "outside")
    (root / "a" / "link").symlink_to("../hop")
    with pytest.raises(PathRefused, match="a/link is a symlink to"):
        confine(root, "a/link/secret")


def test_final_symlink_pointing_out_is_refused(root: Path) -> None:
    (root / "a" / "passwd").symlink_to(root.parent / "outside" / "secret")
    with pytest.raises(PathRefused, match="a/passwd is a symlink to"):
        confine(root, "a/passwd")


def test_dangling_final_symlink_pointing_out_is_refused(root: Path) -> None:
    (root / "a" / "later").symlink_to(root.parent / "outside" / "not-yet")
    with pytest.raises(PathRefused, match="a/later is a symlink to"):
        confine(root, "a/later")


def test_final_symlink_staying_in_is_allowed(root: Path) -> None:
    (root / "a" / "b" / "real").write_text("x")
    (root / "alias").symlink_to("a/b/real")
    assert confine(root, "alias") == root / "alias"


def test_dotdot_is_lexical_so_a_symlink_cannot_be_climbed_out_of(root: Path) -> None:
    (root / "deep").symlink_to(root.parent / "outside")
    # 'deep/..' names root, not the parent of 'outside': nothing outside is reached.
    assert confine(root, "deep/../a/f") == root / "a" / "f"


def test_root_may_be_a_symlink(root: Path) -> None:
    alias = root.parent / "alias"
    alias.symlink_to(root)
    (root / "inner").symlink_to(root / "a")
    assert confine(alias, "inner/f") == root / "inner" / "f"
    (root / "out").symlink_to(root.parent / "outside")
    with pytest.raises(PathRefused, match=f"outside {alias}$"):
        confine(alias, "out/secret")


def test_nonexistent_root_is_fine(root: Path) -> None:
    assert confine(root / "later", "x/y") == root / "later" / "x" / "y"


# --- link targets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link_dir", "target"),
    [
        ("a/b", "../../file"),
        ("a/b", "sibling"),
        ("a/b", "./c/../d"),
        ("", "a/b"),
        ("a", ".."),
    ],
)
def test_relative_link_target_inside_is_kept(root: Path, link_dir: str, target: str) -> None:
    assert confine_link_target(root, link_dir, target) == target
    assert confine_link_target(root, root / link_dir, target) == target


def test_absolute_link_target_is_relative_to_root(root: Path) -> None:
    assert confine_link_target(root, root / "a", "/a/b/file") == str(root / "a/b/file")


@pytest.mark.parametrize(
    ("link_dir", "target"),
    [
        ("a/b", "../../../outside/secret"),
        ("", ".."),
        ("a", "/../outside/secret"),
    ],
)
def test_link_target_leaving_root_is_refused(root: Path, link_dir: str, target: str) -> None:
    with pytest.raises(PathRefused, match=f"^refused {target}: link target resolves to .*"):
        confine_link_target(root, link_dir, target)


def test_link_target_through_symlink_out_is_refused(root: Path) -> None:
    (root / "a" / "escape").symlink_to(root.parent / "outside")
    with pytest.raises(PathRefused, match="outside"):
        confine_link_target(root, "a/b", "../escape/secret")


def test_link_target_dotdot_is_resolved_from_where_the_link_really_is(root: Path) -> None:
    # a/shallow is root itself, so '../x' from inside it is above root even though
    # the lexical reading 'a/shallow/../x' = 'a/x' looks safe.
    (root / "a" / "shallow").symlink_to(root)
    with pytest.raises(PathRefused):
        confine_link_target(root, root / "a" / "shallow", "../outside/secret")


def test_link_dir_outside_root_is_refused(root: Path) -> None:
    with pytest.raises(PathRefused, match="link directory is outside"):
        confine_link_target(root, root.parent / "outside", "secret")


@pytest.mark.parametrize("target", ["", "a\x00b"])
def test_empty_or_nul_link_target_is_refused(root: Path, target: str) -> None:
    with pytest.raises(PathRefused):
        confine_link_target(root, "a", target)


# --- property ----------------------------------------------------------------------------

segments = st.one_of(
    st.sampled_from(["..", ".", "", "a", "b", "a b", "été", "データ", "...", " "]),
    st.text(
        alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
        max_size=12,
    ),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(parts=st.lists(segments, max_size=12), leading_slash=st.booleans())
def test_result_is_always_under_root(root: Path, parts: list[str], leading_slash: bool) -> None:
    rel = ("/" if leading_slash else "") + "/".join(parts)
    try:
        result = confine(root, rel)
    except PathRefused as refused:
        assert "\n" not in str(refused)
        return
    normalised = Path(os.path.normpath(result))
    assert normalised == result
    assert normalised.is_relative_to(root) and normalised != root
