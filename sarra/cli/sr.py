"""The `sr` command: acts on every config of every component at once."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sarra import version
from sarra.cli import lifecycle
from sarra.cli.actions import examples_dir
from sarra.cli.args import CommandLine
from sarra.compat.plugins import Plugins
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_text
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import config_names, load
from sarra.config.options import COMPONENTS
from sarra.observe import status as observe_status
from sarra.observe import text

USAGE = """usage: sr action
       sr --version, sr --help
actions:
  check [--examples]   read every config (or every shipped example) and report errors
  list                 list every config of every component
  status [--problems] [--json]
                       every config: its state, rates, lag, queue; exit status 1 when one
                       needs a look (--problems: only those; --json: for programs)
  observe [--bind ADDR] [--port N]
                       serve the live dashboard, /metrics (Prometheus) and /api/status
                       over HTTP (127.0.0.1:9797 by default)
  start, stop, restart, sanity
                       the same action for every enabled config of every component"""

LIFECYCLE = ("start", "stop", "restart", "sanity")


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
    """Run a life-cycle action on every enabled config of every component (stop: on the
    disabled ones still running too); a config that fails never holds back the others. Ends
    with a line that counts them and names those that failed; 1 when one did."""
    done, failures = 0, []
    for component in COMPONENTS:
        names = lifecycle.every_config(component, action)
        command = CommandLine(action=action, configs=names)
        failed = lifecycle.act_on_each(component, command, lifecycle.PER_CONFIG[action])
        done += len(names) - len(failed)
        failures += failed
    if not failures:
        print(f"sr {action}: {done} configs done")
        return 0
    named = ", ".join(failure.label for failure in failures)
    print(f"sr {action}: {done} configs done, {len(failures)} failed: {named}", file=sys.stderr)
    return 1


def status(words: list[str]) -> int:
    """`sr status [--problems] [--json]`: every config, disabled ones too; 1 when one needs a
    look."""
    statuses = observe_status.collect()
    if "--json" in words:
        json.dump(observe_status.to_json(statuses), sys.stdout, indent=1)
        print()
    else:
        for line in text.render(statuses, problems="--problems" in words):
            print(line)
    return 1 if any(s.problems for s in statuses) else 0


BIND, PORT = "127.0.0.1", 9797
"""Where `sr observe` listens by default (this host only)."""


def observe_parser() -> argparse.ArgumentParser:
    """The command line of `sr observe`."""
    parser = argparse.ArgumentParser(
        prog="sr observe",
        description="Serve the live dashboard (/), Prometheus metrics (/metrics), the status"
        " as JSON (/api/status) and the end of each config's log (/api/log/COMPONENT/CONFIG).",
    )
    parser.add_argument(
        "--bind",
        default=BIND,
        metavar="ADDR",
        help=f"the address to listen on (default {BIND}: this host only)",
    )
    parser.add_argument("--port", type=int, default=PORT, metavar="N",
                        help=f"the TCP port (default {PORT}; 0: any free one)")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `sr action`; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(version.line())
        return 0
    if not args:
        print(USAGE)
        return 2
    action, rest = args[0], args[1:]
    if action == "help" or (action != "observe" and {"-h", "--help"} & set(args)):
        print(USAGE)
        return 0
    if action == "check" and rest in ([], ["--examples"]):
        return check(examples=bool(rest))
    if action == "list" and not rest:
        return list_all()
    if action == "status" and set(rest) <= {"--json", "--problems"}:
        return status(rest)
    if action == "observe":
        from sarra.observe import server  # prometheus_client: only here

        options = observe_parser().parse_args(rest)
        return server.serve(options.bind, options.port)
    if action in LIFECYCLE and not rest:
        return every_config(action)
    print(f"sr: cannot do {' '.join(args)!r}\n{USAGE}", file=sys.stderr)
    return 2


def entry() -> None:
    """Console script sr."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into head, less...: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
