"""Checksum methods: flag table, streaming computation, hex <-> base64, sum <-> identity."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarra.integrity.checksum import (
    DIGEST_SIZES,
    WIS2_METHODS,
    b64_to_hex,
    checksum_bytes,
    checksum_file,
    file_identity,
    flag_to_method,
    hex_to_b64,
    identity_to_sum,
    method_to_flag,
    new_checksum,
    sum_to_identity,
)

MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"
MD5_ABC = "900150983cd24fb0d6963f7d28e17f72"
MD5_ABC_B64 = "kAFQmDzST7DWlj99KOF/cg=="
SHA512_ABC = (
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
)
SHA512_ABC_B64 = (
    "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
)
MD5_FOO = "acbd18db4cc2f85cedef654fccc4a4d8"
MD5_DEF = "4ed9407630eb1000c0f6b63842defa7d"

FLAG_TABLE = [
    ("d", "md5"),
    ("s", "sha512"),
    ("n", "md5name"),
    ("0", "random"),
    ("a", "arbitrary"),
    ("z", "cod"),
    ("L", "link"),
    ("R", "remove"),
]


@pytest.mark.parametrize(("flag", "method"), FLAG_TABLE)
def test_flag_table_maps_both_ways(flag, method):
    assert flag_to_method(flag) == method
    assert method_to_flag(method) == flag


def test_unknown_flag_names_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"'x'.*valid: d, s, n, 0, a, z"):
        flag_to_method("x")
    with pytest.raises(ValueError, match=r"'sha256'.*md5"):
        method_to_flag("sha256")


@pytest.mark.parametrize(
    ("flag", "data", "expected"),
    [("d", b"", MD5_EMPTY), ("d", b"abc", MD5_ABC), ("s", b"abc", SHA512_ABC)],
)
def test_known_vectors(flag, data, expected):
    assert checksum_bytes(data, flag) == expected


def test_streaming_in_pieces_equals_one_update():
    checksum = new_checksum("s")
    for piece in (b"a", b"", b"bc"):
        checksum.update(piece)
    assert checksum.value() == SHA512_ABC
    assert checksum.flag == "s"


def test_name_checksum_is_md5_of_the_basename_not_the_data(tmp_path):
    path = tmp_path / "foo"
    path.write_bytes(b"whatever is inside")
    assert checksum_file(path, "n") == MD5_FOO
    assert checksum_bytes(b"other data", "n", name="dir/foo") == MD5_FOO


def test_name_checksum_needs_a_name():
    with pytest.raises(ValueError, match="name"):
        checksum_bytes(b"x", "n")


def test_random_is_four_digits():
    assert re.fullmatch(r"[0-9]{4}", checksum_bytes(b"abc", "0"))


def test_cod_value_is_the_algorithm_letter():
    checksum = new_checksum("z,s")
    checksum.update(b"ignored")
    assert (checksum.flag, checksum.value()) == ("z", "s")


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("a", "arbitrary"),
        ("z", "algorithm"),
        ("z,a", "computable"),
        ("L", "event flag"),
        ("R", "event flag"),
        ("q", "'q'.*valid"),
    ],
)
def test_flags_that_cannot_be_computed(flag, reason):
    with pytest.raises(ValueError, match=reason):
        new_checksum(flag, "some/file")


def test_file_range_with_offset_and_length(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"abcdefghij")
    assert checksum_file(path, "d", offset=3, length=3) == MD5_DEF
    assert checksum_file(path, "d", offset=3, length=3, bufsize=1) == MD5_DEF
    assert checksum_file(path, "d", length=3, bufsize=2) == MD5_ABC
    assert checksum_file(path, "d", offset=10) == MD5_EMPTY


def test_file_to_the_end_in_small_chunks(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"xxabc")
    assert checksum_file(path, "s", offset=2, bufsize=1) == SHA512_ABC


def test_file_shorter_than_the_range_is_an_error(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match="2 bytes short"):
        checksum_file(path, "d", offset=1, length=4)


def test_hex_base64_known_values():
    assert hex_to_b64(MD5_ABC) == MD5_ABC_B64
    assert hex_to_b64(MD5_ABC.upper()) == MD5_ABC_B64
    assert b64_to_hex(MD5_ABC_B64) == MD5_ABC
    assert b64_to_hex(SHA512_ABC_B64) == SHA512_ABC


def test_base64_wrapped_by_v2_is_accepted():
    wrapped = SHA512_ABC_B64[:76] + "\n" + SHA512_ABC_B64[76:]
    assert b64_to_hex(wrapped) == SHA512_ABC


@pytest.mark.parametrize("bad", ["abc", "zz", "12 34", " 1234", "1234\n", "\u0661\u0662"])
def test_bad_hex(bad):
    with pytest.raises(ValueError, match="hex"):
        hex_to_b64(bad)


@given(st.text(alphabet="0123456789abcdefABCDEF \n\u0661xz", max_size=12))
def test_hex_is_read_as_pairs_of_ascii_hex_digits_and_nothing_else(text: str) -> None:
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})*", text):
        assert hex_to_b64(text) == base64.b64encode(bytes.fromhex(text)).decode()
    else:
        with pytest.raises(ValueError, match="hex"):
            hex_to_b64(text)


@pytest.mark.parametrize("bad", ["kAFQ!", "kAFQmDzST7DWlj99KOF/cg="])
def test_bad_base64(bad):
    with pytest.raises(ValueError, match="base64"):
        b64_to_hex(bad)


@settings(max_examples=50)
@given(st.binary(max_size=80))
def test_hex_base64_round_trip(data):
    assert b64_to_hex(hex_to_b64(data.hex())) == data.hex()


@pytest.mark.parametrize(
    ("sum_value", "identity"),
    [
        (f"d,{MD5_ABC}", ("md5", MD5_ABC_B64)),
        (f"s,{SHA512_ABC}", ("sha512", SHA512_ABC_B64)),
        (f"n,{MD5_FOO}", ("md5name", hex_to_b64(MD5_FOO))),
        ("0,0042", ("random", "0042")),
        ("a,any,value at all", ("arbitrary", "any,value at all")),
        ("z,d", ("cod", "md5")),
        ("z,s", ("cod", "sha512")),
    ],
)
def test_sum_identity_mapping(sum_value, identity):
    assert sum_to_identity(sum_value) == identity
    assert identity_to_sum(*identity) == sum_value


@pytest.mark.parametrize(
    ("sum_value", "reason"),
    [
        ("d", "<flag>,<value>"),
        (f"d,{MD5_ABC}00", "16 bytes"),
        ("s,xyz", "hex"),
        ("q,1", "'q'"),
        ("L,abcd", "'L'"),
        ("z,a", "computable"),
    ],
)
def test_bad_sums(sum_value, reason):
    with pytest.raises(ValueError, match=reason):
        sum_to_identity(sum_value)


@pytest.mark.parametrize(
    ("method", "value", "reason"),
    [
        ("sha256", "x", "no v02"),
        ("link", "x", "no v02"),
        ("md5", SHA512_ABC_B64, "16 bytes"),
        ("md5", "not base64!", "base64"),
        ("cod", "arbitrary", "computable"),
    ],
)
def test_bad_identities(method, value, reason):
    with pytest.raises(ValueError, match=reason):
        identity_to_sum(method, value)


def test_digest_methods_are_hashlib_names_of_their_size():
    """Every digest method (WIS2's six among them) is computed by hashlib.new(name)."""
    assert set(WIS2_METHODS) <= set(DIGEST_SIZES)
    for name, size in DIGEST_SIZES.items():
        assert hashlib.new(name).digest_size == size, name


@pytest.mark.parametrize("flag", ["d", "s", "n", "z,s"])
def test_file_identity_is_the_sum_of_the_range_as_an_identity(tmp_path, flag):
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * 20)
    expected = sum_to_identity(f"{flag[0]},{checksum_file(path, flag, 3, 2000)}")
    assert file_identity(path, flag, 3, 2000) == expected


def test_file_identity_of_a_digest_method_by_its_name(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"abc")
    method, value = file_identity(path, "sha256")
    assert (method, b64_to_hex(value)) == ("sha256", hashlib.sha256(b"abc").hexdigest())


def test_file_identity_of_a_range_past_the_end_says_so(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match="short"):
        file_identity(path, "s", 0, 10)
