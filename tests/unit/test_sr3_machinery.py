"""sr3's machinery as its callbacks import it from the `sarracenia` shim: checksums by method
name (sarracenia.identity), credentials and paths (sarracenia.config), a server's files
(sarracenia.transfer), and submodules read as attributes."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sarra.compat.plugin_parent import Parent
from sarra.compat.sr3 import shim
from sarra.compat.sr3.options import Options
from sarra.config.loader import load
from sarra.integrity.checksum import file_identity


def _module(name: str) -> Any:
    shim.install()
    return importlib.import_module(name)


def test_identity_computes_by_method_name_as_sarra_does(tmp_path: Path) -> None:
    identity = _module("sarracenia.identity")
    path = tmp_path / "f.dat"
    path.write_bytes(os.urandom(5000))
    for method, flag in (("sha512", "s"), ("md5", "d"), ("md5name", "n")):
        checksum = identity.Identity.factory(method)
        checksum.update_file(str(path))
        assert (checksum.get_method(), checksum.value) == file_identity(path, flag)
    chunked = identity.Identity.factory("sha512")
    chunked.set_path(str(path))
    data = path.read_bytes()
    chunked.update(data[:100])
    chunked.update(data[100:])
    assert chunked.value == file_identity(path, "s")[1]
    arbitrary = identity.Identity.factory("arbitrary")
    arbitrary.value = "tag-1"
    assert (arbitrary.value, arbitrary.registered_as()) == ("tag-1", "a")
    assert identity.Identity.factory("crc32") is None
    assert {"sha512", "md5", "random", "arbitrary"} <= set(identity.known_methods)


def test_self_o_names_the_identity_method_as_sr3_does(tmp_path: Path) -> None:
    for written, expected in (("", "sha512"), ("identity md5\n", "md5"), ("sum z,d\n", "cod,md5")):
        path = tmp_path / "c.conf"
        path.write_text(f"broker amqp://guest:guest@127.0.0.1/\n{written}accept .*\n")
        config = load("subscribe", path, dialect="sr3")
        assert Options(config, Parent(config)).identity_method == expected


def test_config_gives_credentials_and_finds_plugins(sarra_home: Path) -> None:
    (sarra_home / "credentials.conf").write_text("sftp://alice:s3cret@example.org/ passive\n")
    (sarra_home / "credentials.conf").chmod(0o600)
    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "mine.py").write_text("")
    config = _module("sarracenia.config")
    credentials = _module("sarracenia.config.credentials")
    ok, details = config.Config.credentials.get("sftp://alice@example.org/")
    assert ok and details.url.password == "s3cret"
    token = credentials.Credential("https://api.example.org/", bearer_token="t0k")
    config.Config.credentials.add("https://api.example.org/", details=token)
    assert config.Config.credentials.get("https://api.example.org/")[1].bearer_token == "t0k"
    assert config.config_path("plugins", "mine", mandatory=False, ctype="py") == (
        True, str(plugins / "mine.py"))  # fmt: skip
    assert config.config_path("plugins", "absent", ctype="py") == (False, "absent")
    assert "on_message" in config.Config.v2entry_points


def test_transfer_lists_and_copies_a_server_s_files(tmp_path: Path) -> None:
    transfer = _module("sarracenia.transfer")
    served = tmp_path / "served"
    (served / "dir").mkdir(parents=True)
    (served / "a.dat").write_bytes(b"0123456789")
    options = type("O", (), {"sendTo": f"file:{served}", "timeout": 10})()
    dest = transfer.Transfer.factory("file", options)
    assert transfer.Transfer.factory("gopher", options) is None
    assert dest.connect()
    dest.cd(str(served))
    listing = dest.ls()
    assert sorted(listing) == ["a.dat", "dir"]
    assert listing["a.dat"].st_size == 10 and listing["dir"].st_mode & 0o40000
    assert dest.get({}, "a.dat", str(tmp_path / "copy"), remote_offset=2, length=5) == 5
    assert (tmp_path / "copy").read_bytes() == b"23456"
    dest.close()


SUBMODULES = """
import sys
from sarra.compat.sr3 import shim
shim.install()
import sarracenia
print(sarracenia.moth.Moth.__module__, sarracenia.flowcb.poll.Poll.__name__,
      sarracenia.config.credentials.Credential.__name__, hasattr(sarracenia, "nothing"))
"""


def test_a_served_module_s_submodules_are_imported_when_read() -> None:
    """`import sarracenia` then `sarracenia.moth...`, as in an sr3 process that imported them."""
    done = subprocess.run([sys.executable, "-c", SUBMODULES], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.split() == ["sarra.compat.sr3.moth", "Poll", "Credential", "False"]


@pytest.mark.parametrize("events", ["", "logEvents after_accept,reject\n"])
def test_log_events_is_a_set(tmp_path: Path, events: str) -> None:
    path = tmp_path / "c.conf"
    path.write_text(f"broker amqp://guest:guest@127.0.0.1/\n{events}accept .*\n")
    config = load("subscribe", path)
    found = Options(config, Parent(config)).logEvents
    assert isinstance(found, set) and ("reject" in found) == bool(events)
