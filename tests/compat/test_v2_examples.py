"""v2's shipped example configs, and its option vocabulary, read here.

Each example config that v2 2.24.8 accepts (its own component is made from it: v2_examples.py)
passes `sr check` here: it loads without error, with the plugins it names, v2's own files where
it names one sarra does not ship. Every option name and alias v2's option parser knows (read
from its sr_config.py) is known here, as an option or as one that has no effect, and
docs/v2-compat.md says what it stands for.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from peers import PeerEnv
from v2peer import HERE, run_v2

from sarra.compat.plugins import shipped_dir
from sarra.config.options import find

SR = Path(sys.executable).parent / "sr"
DOC = Path(__file__).parents[2] / "docs" / "v2-compat.md"

ENV = {
    "FLOWBROKER": "localhost",
    "SCIUSER": "sci",
    "COLLABUSER": "collab",
    "COLLABDIR": "/tmp/collab",
    "EMAIL_INGEST": "imap://user@mail.example.org/",
    "HYDRO_DATA": "/tmp/hydro",
    "MESH_BASEURL": "http://localhost:8080",
    "MESH_DIR": "/tmp/mesh",
    "MESH_PEER": "amqps://localhost",
    "MESH_POST_BROKER": "amqp://tfeed@localhost",
    "PITCHERBROKER": "amqp://pitcher@localhost",
    "PITCHERURL": "http://localhost/pitcher",
    "PITCHERUSERHOME": "/tmp/pitcher",
}
"""The environment variables the examples use, as their users would have set them."""


def credentials(examples: Path) -> str:
    """A credentials.conf with a password for each user@host the examples name (as their users
    would have), the environment variables set."""
    lines = set()
    for path in examples.glob("*/*.conf"):
        text = re.sub(r"\$\{(\w+)\}", lambda m: ENV.get(m[1], m[0]), path.read_text())
        for scheme, user, host in re.findall(r"(amqps?|sftp|ftps?)://([\w.-]+)@([\w.-]+)", text):
            lines.add(f"{scheme}://{user}:secret@{host}/\n")
    return "".join(sorted(lines))


@pytest.fixture(scope="module")
def v2_accepts(
    v2: PeerEnv, v2_package: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bool]:
    """Whether v2 accepts each of its examples: {"<component>/<file>": accepted}."""
    home = tmp_path_factory.mktemp("v2examples")
    (home / ".config" / "sarra").mkdir(parents=True)
    (home / ".config" / "sarra" / "credentials.conf").write_text(
        credentials(v2_package / "examples")
    )
    out = home / "accepted.json"
    script = ["python", str(HERE / "v2_examples.py"), str(v2_package / "examples"), str(out)]
    done = run_v2(v2, home, script, timeout=300, extra_env=ENV)
    assert out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text())


def test_every_example_v2_accepts_passes_sr_check_here(
    v2_accepts: dict[str, bool],
    v2_package: Path,
    sarra_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accepted = sorted(name for name, ok in v2_accepts.items() if ok)
    shipped = {p.stem for p in shipped_dir().glob("*.py")}
    plugins = sarra_home / "plugins"
    plugins.mkdir()
    (sarra_home / "credentials.conf").write_text(credentials(v2_package / "examples"))
    (sarra_home / "credentials.conf").chmod(0o600)
    for name in accepted:
        (sarra_home / name).parent.mkdir(exist_ok=True)
        text = (v2_package / "examples" / name).read_text()
        shutil.copyfile(v2_package / "examples" / name, sarra_home / name)
        for named in re.findall(r"^\s*(?:on_\w+|do_\w+|plugin)\s+(\S+)", text, re.M):
            stem = named.removesuffix(".py")
            if stem not in shipped and stem.lower() != "none":
                shutil.copyfile(v2_package / "plugins" / f"{stem}.py", plugins / f"{stem}.py")
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    checked = subprocess.run([str(SR), "check"], capture_output=True, text=True, timeout=120,
                             check=False)  # fmt: skip
    faulty = dict(re.findall(r"^ERROR (\S+)\n((?:      .*\n)+)", checked.stdout, re.M))
    missing = {name for name, errors in faulty.items() if _needs_missing_module(errors)}
    print(f"\nv2 examples: {len(v2_accepts)} shipped, {len(accepted)} accepted by v2, "
          f"{len(accepted) - len(faulty)} of them pass sr check here, {len(missing)} need a "
          f"module its plugin imports that is not installed, {len(REFUSED)} refused")  # fmt: skip
    assert {name: faulty[name] for name in set(faulty) - missing - set(REFUSED)} == {}
    for name, reason in REFUSED.items():
        assert reason in faulty[name]
    assert f"{len(accepted)} configs in" in checked.stdout


REFUSED = {"subscribe/sci2ec.conf": ".conf:13: strip: multiple repeat at position 2"}
"""Examples v2 accepts that sr check refuses, with the reason: `strip .?*/sci2ec/` is no
regular expression (v2 found out at each notice, which it then failed)."""


def _needs_missing_module(errors: str) -> bool:
    """Whether what sr check says of a config comes down to a v2 plugin it names importing a
    module that is not installed here (an option only that plugin declares goes with it)."""
    lines = errors.strip().splitlines()
    missing = [line for line in lines if "cannot load: ModuleNotFoundError" in line]
    rest = [line for line in lines if line not in missing and "(no plugin declares it)" not in line]
    return bool(missing) and not rest


def test_every_name_of_v2s_option_vocabulary_is_known_here(v2_package: Path) -> None:
    source = (v2_package / "sr_config.py").read_text()
    names = set()
    for listed, single in re.findall(r"words0\s*(?:in\s*\[([^\]]*)\]|==\s*'([^']*)')", source):
        names.update(re.findall(r"'([^']*)'", listed) if listed else [single])
    print(f"\nv2's option vocabulary: {len(names)} names and aliases")
    assert len(names) > 250
    assert sorted(name for name in names if find(name) is None) == []
    documented = dict(re.findall(r"^\| `([^`]+)` \| (same|`\w+`) \|", DOC.read_text(), re.M))
    meant = {n: "same" if find(n).name == n else f"`{find(n).name}`" for n in names}  # type: ignore[union-attr]
    assert {n: documented.get(n) for n in names} == meant
