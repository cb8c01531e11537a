"""The `sr` command: acts on every config of every component at once."""

from __future__ import annotations

import sys
from pathlib import Path

from sarra.cli.actions import HANDLERS, examples_dir
from sarra.cli.args import CommandLine
from sarra.compat.plugins import Plugins
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_text
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import config_names, load
from sarra.config.options import COMPONENTS

USAGE = """usage: sr action
actions:
  check [--examples]   read every config (or every shipped example) and report errors
  list                 list every config of every component
  start, stop, restart, status, sanity
                       the same action for every enabled config of every component"""

LIFECYCLE = ("start", "stop", "restart", "status", "sanity")


def _all_configs(examples: bool) -> list[tuple[str, Path]]:
    found = []
    for component in COMPONENTS:
        if examples:
            found += [(component, p) for p in sorted((examples_dir() / component).glob("*.conf"))]
        else:
            directory = paths.component_dir(component)
            found += [(component, directory / f"{n}.conf") for n in config_names(component)]
    return found


def check(examples: bool) -> int:
    """Read every config; print one line per config and the errors of the faulty ones."""
    configs = _all_configs(examples)
    faulty = 0
    try:
        Credentials.load(paths.credentials_file())
    except ConfigError as err:
        faulty += 1
        print(f"ERROR {paths.credentials_file()}")
        for error in err.errors if isinstance(err, ConfigErrors) else [err]:
            print(f"      {redact_text(str(error))}")
    for component, path in configs:
        label = f"{component}/{path.name}"
        try:
            config = load(component, path)
            Plugins.load(config)  # the plugins it names, and the options they declare
        except ConfigErrors as err:
            faulty += 1
            print(f"ERROR {label}")
            for error in err.errors:
                print(f"      {redact_text(str(error))}")
            continue
        except ConfigError as err:
            faulty += 1
            print(f"ERROR {label}\n      {redact_text(str(err))}")
            continue
        print(f"ok    {label}")
        for warning in config.warnings:
            print(f"      warning: {redact_text(warning)}")
    where = "shipped examples" if examples else f"configs in {paths.config_dir()}"
    print(f"{len(configs)} {where} checked: {len(configs) - faulty} ok, {faulty} with errors")
    return 1 if faulty else 0


def list_all() -> int:
    """Every config of every component, disabled ones marked."""
    for component in COMPONENTS:
        for name in config_names(component):
            print(f"{component}/{name}")
        for name in config_names(component, disabled=True):
            print(f"{component}/{name} (disabled)")
    return 0


def every_config(action: str) -> int:
    """Run a life-cycle action on every enabled config of every component."""
    status = 0
    for component in COMPONENTS:
        names = config_names(component)
        if not names:
            continue
        command = CommandLine(action=action, configs=names)
        try:
            status = max(status, HANDLERS[action](component, command))
        except ConfigError as err:
            print(f"sr_{component}: {redact_text(str(err))}", file=sys.stderr)
            status = max(status, 1)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run `sr action`; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    action, rest = args[0], args[1:]
    if action == "check" and rest in ([], ["--examples"]):
        return check(examples=bool(rest))
    if action == "list" and not rest:
        return list_all()
    if action in LIFECYCLE and not rest:
        return every_config(action)
    print(f"sr: cannot do {' '.join(args)!r}\n{USAGE}", file=sys.stderr)
    return 2


def entry() -> None:
    """Console script sr."""
    sys.exit(main())
