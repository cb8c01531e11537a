"""credentials.conf: parsing, matching, file permissions, and keeping passwords out of output."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from sarra.config.credentials import (
    Credential,
    Credentials,
    RedactingFilter,
    redact_text,
    redact_url,
)
from sarra.config.errors import ConfigError, ConfigErrors, Where

SECRET = "Hunter2:@/x"  # decoded; written URL-encoded below
ENCODED = "Hunter2%3A%40%2Fx"


def parse(text: str) -> Credentials:
    return Credentials.parse(text, "creds.conf")


def only(text: str) -> Credential:
    store = parse(text)
    assert len(store) == 1
    url = text.split()[0]
    credential = store.lookup(url)
    assert credential is not None
    return credential


def write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# --- parsing -----------------------------------------------------------------------------


def test_url_pieces_and_defaults() -> None:
    c = only(f"ftp://bob:{ENCODED}@Ftp.Example.org/pub\n")
    assert (c.scheme, c.user, c.password, c.host, c.port, c.path) == (
        "ftp",
        "bob",
        SECRET,
        "ftp.example.org",
        21,
        "/pub",
    )
    assert (c.passive, c.binary, c.tls, c.prot_p) == (True, True, False, False)
    assert c.ssh_keyfile is None and c.bearer_token is None
    assert c.where == Where("creds.conf", 1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("active", {"passive": False}),
        ("passive", {"passive": True}),
        ("ascii", {"binary": False}),
        ("binary", {"binary": True}),
        ("tls", {"tls": True}),
        ("ssl", {"tls": True}),
        ("prot_p", {"prot_p": True}),
        ("ssh_keyfile=/home/bob/.ssh/id_ed25519", {"ssh_keyfile": "/home/bob/.ssh/id_ed25519"}),
        ("bearer_token=abc.def", {"bearer_token": "abc.def"}),
        ("bt=abc.def", {"bearer_token": "abc.def"}),
        ("active, ascii,tls,prot_p", {"passive": False, "binary": False, "tls": True}),
    ],
)
def test_each_option(options: str, expected: dict[str, object]) -> None:
    c = only(f"ftps://bob:pw@host/   {options}")
    for field, value in expected.items():
        assert getattr(c, field) == value


def test_comments_blank_lines_and_line_numbers() -> None:
    store = parse("# my secrets\n\n   \nsftp://alice@a.example/ ssh_keyfile=k\n  # end\n")
    c = store.lookup("sftp://alice@a.example/")
    assert c is not None and c.where == Where("creds.conf", 4)
    assert c.password is None  # sftp may rely on keys


def test_amqp_without_user_is_anonymous() -> None:
    c = only("amqps://dd.weather.example/")
    assert (c.user, c.password, c.port, c.vhost) == ("anonymous", "anonymous", 5671, "/")


@pytest.mark.parametrize(("path", "vhost"), [("", "/"), ("/", "/"), ("/%2F", "/"), ("/v1", "v1")])
def test_amqp_vhost(path: str, vhost: str) -> None:
    assert only(f"amqp://u:p@host{path}").vhost == vhost


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not-a-url", "not a URL"),
        ("ftp:/bob:pw@host", "not a URL"),
        ("ftp://bob:pw@host:99999/", "port"),
        ("ftp://bob@host/", "needs a password"),
        ("ftp:///path", "no host"),
        ("ftp://bob:pw@host/ passive=yes", "takes no value"),
        ("ftp://bob:pw@host/ ssh_keyfile=", "needs a value"),
    ],
)
def test_bad_lines_name_file_and_line(line: str, reason: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse(f"# header\n{line}\n")
    assert str(caught.value).startswith("creds.conf:2: ")
    assert reason in str(caught.value)


def test_unknown_option_suggests_the_closest() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse("ftp://bob:pw@host/ pasive\n")
    (error,) = caught.value.errors
    assert error.where == Where("creds.conf", 1)
    assert "unknown option 'pasive' (did you mean 'passive'?)" in str(error)


def test_all_bad_lines_reported_together() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse("ftp://bob:pw@host/ ascci,bearer_tokn=s3cr3t\nok://u:p@h/\nnonsense\n")
    assert [str(e.where) for e in caught.value.errors] == [
        "creds.conf:1",
        "creds.conf:1",
        "creds.conf:3",
    ]
    assert "did you mean 'ascii'" in str(caught.value)
    assert "did you mean 'bearer_token'" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)  # option values are never echoed


# --- matching ----------------------------------------------------------------------------

STORE = f"""\
sftp://alice@files.example/ ssh_keyfile=/keys/alice
ftp://bob:first@ftp.example/ active
ftp://carol:second@ftp.example/
ftp://bob:third@ftp.example:2121/
http://dan:{ENCODED}@web.example/data/
amqps://feeder:f%40ed@broker.example/
amqps://feeder:other@broker.example/v2
amqp://anonymous:anonymous@broker.example/
"""


@pytest.fixture
def store() -> Credentials:
    return parse(STORE)


def test_exact_string_wins(store: Credentials) -> None:
    c = store.lookup("ftp://carol:second@ftp.example/")
    assert c is not None and c.user == "carol"


def test_host_and_default_port_match_first_entry(store: Credentials) -> None:
    c = store.lookup("ftp://ftp.example:21/some/dir")
    assert c is not None and (c.user, c.password, c.passive) == ("bob", "first", False)


def test_explicit_port_must_match(store: Credentials) -> None:
    c = store.lookup("ftp://ftp.example:2121/")
    assert c is not None and c.password == "third"
    assert store.lookup("ftp://ftp.example:2222/") is None


def test_given_user_must_match(store: Credentials) -> None:
    c = store.lookup("ftp://carol@ftp.example/")
    assert c is not None and c.password == "second"
    assert store.lookup("ftp://erin@ftp.example/") is None


def test_given_password_must_match(store: Credentials) -> None:
    assert store.lookup("ftp://bob:wrong@ftp.example/") is None
    c = store.lookup("ftp://bob:third@ftp.example:2121/x")
    assert c is not None and c.port == 2121


def test_scheme_and_host_must_match(store: Credentials) -> None:
    assert store.lookup("ftps://ftp.example/") is None
    assert store.lookup("ftp://other.example/") is None
    assert store.lookup("no url at all") is None
    assert store.lookup("ftp://ftp.example:bad/") is None


def test_amqp_vhost_must_match(store: Credentials) -> None:
    default = store.lookup("amqps://feeder@broker.example")
    assert default is not None and default.password == "f@ed"
    v2 = store.lookup("amqps://feeder@broker.example/v2")
    assert v2 is not None and v2.password == "other"
    assert store.lookup("amqps://feeder@broker.example/v3") is None


def test_amqp_without_user_matches_anonymous(store: Credentials) -> None:
    c = store.lookup("amqp://broker.example/")
    assert c is not None and c.user == "anonymous"
    assert store.lookup("amqps://broker.example/") is None  # no anonymous amqps entry


def test_resolve_fills_user_and_encoded_password(store: Credentials) -> None:
    url, c = store.resolve("http://web.example/data/file.txt?x=1")
    assert c is not None and c.password == SECRET
    assert url == f"http://dan:{ENCODED}@web.example/data/file.txt?x=1"
    url, c = store.resolve("amqps://feeder@broker.example:5671/")
    assert url == "amqps://feeder:f%40ed@broker.example:5671/"


def test_resolve_leaves_complete_or_unknown_urls_alone(store: Credentials) -> None:
    assert store.resolve("ftp://carol:second@ftp.example/a") == (
        "ftp://carol:second@ftp.example/a",
        store.lookup("ftp://carol:second@ftp.example/a"),
    )
    assert store.resolve("https://nowhere.example/f") == ("https://nowhere.example/f", None)
    url, c = store.resolve("sftp://files.example/dir/")
    assert url == "sftp://alice@files.example/dir/" and c is not None
    assert c.ssh_keyfile == "/keys/alice"


def test_resolve_amqp_without_user_uses_anonymous() -> None:
    assert Credentials().resolve("amqps://dd.example/") == (
        "amqps://anonymous:anonymous@dd.example/",
        None,
    )


# --- the file ----------------------------------------------------------------------------


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert len(Credentials.load(tmp_path / "credentials.conf")) == 0


def test_private_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "credentials.conf", "ftp://bob:pw@host/\n", 0o600)
    c = Credentials.load(path).lookup("ftp://host/")
    assert c is not None and c.where == Where(str(path), 1)


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        (0o644, "readable by group and others (mode 0644)"),
        (0o640, "readable by group (mode 0640)"),
        (0o606, "readable and writable by others (mode 0606)"),
    ],
)
def test_file_open_to_others_is_refused(tmp_path: Path, mode: int, problem: str) -> None:
    path = write(tmp_path / "my creds.conf", f"ftp://bob:{ENCODED}@host/\n", mode)
    with pytest.raises(ConfigError) as caught:
        Credentials.load(path)
    assert str(caught.value) == f"{path}: {problem}; run: chmod 600 '{path}'"


def test_unreadable_thing_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Credentials.load(tmp_path)


# --- secrets stay secret -----------------------------------------------------------------


def test_password_not_in_repr_or_str() -> None:
    c = only(f"ftp://bob:{ENCODED}@host/ bt=tok3n")
    for text in (repr(c), str(c), repr([c])):
        assert SECRET not in text and ENCODED not in text and "tok3n" not in text
        assert "password='***'" in text and "user='bob'" in text


def test_password_not_in_errors() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse(f"ftp://bob:{ENCODED}@host:port/ actve\nftp:/bob:{ENCODED}@host\n")
    for text in (str(caught.value), repr(caught.value), *map(repr, caught.value.errors)):
        assert "Hunter2" not in text


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("ftp://bob:pw@host/a", "ftp://bob:***@host/a"),
        ("amqps://u:p%40ss@h:5671/", "amqps://u:***@h:5671/"),
        ("sftp://bob@host/a:b", "sftp://bob@host/a:b"),
        ("ftp://:pw@host/", "ftp://:***@host/"),
        ("ftp://bob:p@ss/w@rd@host/", "ftp://bob:***@host/"),
        ("http://host/path", "http://host/path"),
        ("", ""),
        ("://:@", "://:@"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_url_survives_odd_input() -> None:
    assert redact_url(None) == "None"
    assert redact_url(b"ftp://u:pw@h/") == "b'ftp://u:***@h/'"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert redact_url(Broken()) == "<unprintable Broken>"


def test_redact_text_finds_every_password() -> None:
    text = (
        "connect amqps://feeder:s3cr3t@broker/ failed; retry ftp://bob:hunter2@ftp/x "
        "['http://dan:pw1@web/a', 'sftp://alice@files/'] bearer_token=t0k3n "
        "Authorization: Bearer t0k3n"
    )
    redacted = redact_text(text)
    for secret in ("s3cr3t", "hunter2", "pw1", "t0k3n"):
        assert secret not in redacted
    assert "amqps://feeder:***@broker/" in redacted and "sftp://alice@files/" in redacted


def test_redacting_filter_hides_passwords_from_handlers() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test_credentials.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("connecting to %s", "amqps://feeder:s3cr3t@broker/")
        log.warning("percent %d%% of ftp://bob:%s@host", 50, "hunter2")
        log.warning("broken call %s", "ftp://u:a1@h", "ftp://u:a2@h")
        try:
            raise ConnectionError("cannot reach ftp://bob:tr4ce@host/")
        except ConnectionError:
            log.exception("transfer failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    for secret in ("s3cr3t", "hunter2", "a1", "a2", "tr4ce"):
        assert secret not in output
    assert "connecting to amqps://feeder:***@broker/" in output
    assert "percent 50% of ftp://bob:***@host" in output
    assert "ConnectionError: cannot reach ftp://bob:***@host/" in output


def test_redacting_filter_with_caplog(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logging.getLogger("test_credentials").info("url %s", "sftp://u:pa55@h/")
    assert caplog.messages == ["url sftp://u:***@h/"]
    assert "pa55" not in caplog.text
