"""The transfer registry, open_transfer's handling of URLs and credentials, and errors."""

from __future__ import annotations

import io
import traceback

import pytest

import sarra.transfer
from sarra.config.credentials import Credentials
from sarra.transfer import (
    PermanentError,
    Transfer,
    TransferSettings,
    TransientError,
    Unsupported,
    backend_for,
    open_transfer,
    register_transfer,
    server_of,
    transfer_schemes,
)
from sarra.transfer.errors import TransferError

SECRET = "s3cr%40t"  # "s3cr@t", URL-encoded


def test_public_api_is_pinned() -> None:
    assert sorted(sarra.transfer.__all__) == [
        "Entry",
        "OPERATIONS",
        "PermanentError",
        "Progress",
        "Transfer",
        "TransferError",
        "TransferSettings",
        "TransientError",
        "Unsupported",
        "backend_for",
        "open_transfer",
        "register_transfer",
        "server_of",
        "transfer_schemes",
    ]


@pytest.mark.parametrize(
    ("scheme", "backend"),
    [
        ("file", "LocalTransfer"),
        ("http", "HttpTransfer"),
        ("https", "HttpTransfer"),
        ("ftp", "FtpTransfer"),
        ("ftps", "FtpTransfer"),
        ("sftp", "SftpTransfer"),
        ("SFTP", "SftpTransfer"),
    ],
)
def test_builtin_schemes(scheme: str, backend: str) -> None:
    assert backend_for(scheme).__name__ == backend


def test_unknown_scheme_is_unsupported_with_a_suggestion() -> None:
    with pytest.raises(Unsupported, match=r"did you mean sftp\?.*known: file, ftp"):
        open_transfer("stfp://host/")


class _Memory(Transfer):
    """A backend of a made-up scheme, as a plugin would register."""

    def get(self, remote_path, local_file, offset=0, length=None, *, progress=None):
        return local_file.write(b"from memory")

    def _disconnect(self) -> None:
        pass


def test_plugins_register_schemes_by_class_or_by_name() -> None:
    register_transfer("mem", _Memory)
    register_transfer("mem2", f"{__name__}:_Memory")
    try:
        assert {"mem", "mem2"} <= set(transfer_schemes())
        for url in ("mem://somewhere/", "MEM2://somewhere/"):
            remote = open_transfer(url)
            assert isinstance(remote, _Memory)
            out = io.BytesIO()
            remote.get("/x", out)
            assert out.getvalue() == b"from memory"
            with pytest.raises(Unsupported, match=r"mem2? cannot put"):
                remote.put(io.BytesIO(b""), "/x")
    finally:
        sarra.transfer.registry._backends.pop("mem", None)
        sarra.transfer.registry._backends.pop("mem2", None)


def test_server_takes_password_and_options_from_credentials() -> None:
    creds = Credentials.parse(
        f"ftp://bob:{SECRET}@ftp.example.org/ active,ascii\n"
        "sftp://carol@sftp.example.org:2222/ ssh_keyfile=~/.ssh/k\n",
        "credentials.conf",
    )
    ftp = server_of("ftp://bob@ftp.example.org/data/", creds)
    assert (ftp.user, ftp.password, ftp.port, ftp.passive, ftp.binary) == (
        "bob",
        "s3cr@t",
        21,
        False,
        False,
    )
    sftp = server_of("sftp://carol@sftp.example.org:2222/", creds)
    assert (sftp.port, sftp.ssh_keyfile, sftp.password) == (2222, "~/.ssh/k", None)
    plain = server_of("https://example.org/")
    assert (plain.user, plain.password, plain.port, plain.bearer_token) == (None, None, 443, None)


def test_a_password_in_the_url_is_used_and_must_match_the_entry() -> None:
    creds = Credentials.parse(f"ftp://bob:{SECRET}@h/ active", "c")
    assert not server_of(f"ftp://bob:{SECRET}@h/", creds).passive
    other = server_of("ftp://bob:other@h/", creds)
    assert (other.password, other.passive) == ("other", True)


def test_the_server_never_shows_its_password() -> None:
    remote = open_transfer(f"ftp://bob:{SECRET}@h:2121/")
    assert remote.url("/a b") == "ftp://bob@h:2121/a b"
    assert "s3cr" not in repr(remote.server)
    assert open_transfer("sftp://[::1]/").url("/x") == "sftp://[::1]:22/x"


@pytest.mark.parametrize(
    "settings",
    [
        {"timeout": -1},
        {"bufsize": 0},
        {"batch": -1},
        {"kbytes_ps": -5},
        {"tls_rigour": "medium"},
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TransferSettings(**settings)  # type: ignore[arg-type]


def test_errors_are_one_redacted_line() -> None:
    error = TransientError(
        "get",
        "ftp://bob:s3cret@h/x",
        "failed\nbecause ftp://bob:s3cret@h said so, Bearer tok123",
    )
    assert str(error) == "get ftp://bob:***@h/x: failed because ftp://bob:***@h said so, Bearer ***"
    assert isinstance(error, TransferError)
    assert issubclass(Unsupported, PermanentError)
    text = "".join(traceback.format_exception(error))
    assert "s3cret" not in text and "tok123" not in text
