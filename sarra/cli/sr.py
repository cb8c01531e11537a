"""The `sr` command: acts on every config of every component at once."""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import sys
from pathlib import Path

from sarra import version
from sarra.cli import lifecycle
from sarra.cli.actions import HANDLERS, examples_dir
from sarra.cli.args import CommandLine
from sarra.cli.component import main as component_main
from sarra.cli.convert import convert_config
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_text
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import config_file, config_names, load, shadowed
from sarra.config.options import CONFIG_COMPONENTS
from sarra.observe import status as observe_status
from sarra.observe import text

USAGE = """usage: sr action
       sr action component/config ...   (sr3's form: sr start subscribe/dd_swob, globs too)
       sr --version, sr --help
actions:
  check [--examples]   read every config (or every shipped example) and report errors
  list                 list every config of every component (sarra's tree and sr3's)
  status [--problems] [--json]
                       every config: its state, rates, lag, queue; exit status 1 when one
                       needs a look (--problems: only those; --json: for programs)
  observe [--bind ADDR] [--port N]
                       serve the live dashboard, /metrics (Prometheus) and /api/status
                       over HTTP (127.0.0.1:9797 by default)
  start, stop, restart, sanity
                       the same action for every enabled config of every component
  ACTION component/config ...
                       any action of sr_<component> on the configs named (start, stop,
                       status, show, enable, disable, log, foreground, cleanup, ...)
  convert [--to v2] component/config ...
                       write a config of ~/.config/sarra into ~/.config/sr3 with sr3's
                       names (--to v2: one of ~/.config/sr3 into ~/.config/sarra)"""

SR3_ELSEWHERE = {
    "cpump": "a config of sarrac's sr3_cpump (C), which runs it",
    "cpost": "a config of sarrac's sr3_cpost (C), which runs it",
}
"""Directories of sr3's tree that hold no config of a component of ours: listed, not run."""

LIFECYCLE = ("start", "stop", "restart", "sanity")


def _all_configs(examples: bool) -> list[tuple[str, Path]]:
    found = []
    for component in CONFIG_COMPONENTS:
        if examples:
            found += [(component, p) for p in sorted((examples_dir() / component).glob("*.conf"))]
        else:
            for name in config_names(component):
                path = config_file(component, name)
                assert path is not None
                found.append((component, path))
    return found


def _label(component: str, path: Path) -> str:
    """component/name.conf, marked (sr3) for a config of sr3's tree."""
    mark = " (sr3)" if paths.dialect_of(path) == "sr3" else ""
    return f"{component}/{path.name}{mark}"


def _not_run() -> list[tuple[Path, str]]:
    """Configs of sr3's tree that are not run here, with why: shadowed by a config of sarra's
    of the same component and name, or of an sr3 component with no counterpart here."""
    found = [
        (path, f"shadowed by {paths.component_dir(component) / path.name.removesuffix('.off')}")
        for component in CONFIG_COMPONENTS
        for path in shadowed(component)
    ]
    for directory, why in SR3_ELSEWHERE.items():
        found += [(p, why) for p in sorted((paths.sr3_config_dir() / directory).glob("*.conf"))]
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
        label = _label(component, path)
        try:
            config = load(component, path)
            from sarra.compat.plugins import Plugins  # only to check configs

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
    skipped = [] if examples else _not_run()
    for path, why in skipped:
        print(f"skip  {path.parent.name}/{path.name} (sr3): {why}")
    trees = [paths.config_dir()]
    if paths.sr3_config_dir().is_dir():
        trees.append(paths.sr3_config_dir())
    where = "shipped examples" if examples else f"configs in {' and '.join(map(str, trees))}"
    print(f"{len(configs)} {where} checked: {len(configs) - faulty} ok, {faulty} with errors"
          + (f"; {len(skipped)} of sr3's tree not run here" if skipped else ""))  # fmt: skip
    return 1 if faulty else 0


def list_all() -> int:
    """Every config of every component, disabled ones and those of sr3's tree marked; then
    those of sr3's tree not run here, with why."""
    for component in CONFIG_COMPONENTS:
        for disabled in (False, True):
            for name in config_names(component, disabled=disabled):
                path = config_file(component, name, disabled=disabled)
                marks = [*(["sr3"] if path and paths.dialect_of(path) == "sr3" else []),
                         *(["disabled"] if disabled else [])]  # fmt: skip
                print(f"{component}/{name}" + (f" ({', '.join(marks)})" if marks else ""))
    for path, why in _not_run():
        print(f"{path.parent.name}/{path.name.split('.conf')[0]} (sr3, not run: {why})")
    return 0


def _named(action: str, refs: list[str]) -> dict[str, list[str]] | None:
    """The configs named as component/config (globs allowed), by component; None (after
    saying why) when one names no component or matches nothing."""
    chosen: dict[str, list[str]] = {}
    for ref in refs:
        component, _, pattern = ref.partition("/")
        pattern = pattern.removesuffix(".conf")
        if component in SR3_ELSEWHERE:
            print(f"sr {action}: {ref}: {SR3_ELSEWHERE[component]}", file=sys.stderr)
            return None
        if component not in CONFIG_COMPONENTS or not pattern:
            print(f"sr {action}: {ref!r} is not component/config (components: "
                  f"{', '.join(CONFIG_COMPONENTS)})", file=sys.stderr)  # fmt: skip
            return None
        names = [pattern]
        if glob.has_magic(pattern):
            known = config_names(component) + config_names(component, disabled=True)
            names = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
            if not names:
                print(f"sr {action}: {ref}: no config matches", file=sys.stderr)
                return None
        known_here = chosen.setdefault(component, [])
        known_here += [n for n in names if n not in known_here]
    return chosen


def per_config(action: str, refs: list[str]) -> int:
    """`sr ACTION component/config ...`: the action of sr_<component> on the configs named;
    the exit status the worst of theirs."""
    chosen = _named(action, refs)
    if chosen is None:
        return 2
    status = 0
    for component, names in chosen.items():
        status = max(status, component_main(component, [action, *names]))
    return status


def convert(words: list[str]) -> int:
    """`sr convert [--to v2|sr3] component/config ...` (default: into sr3's tree)."""
    dialect = "sr3"
    if words[:1] == ["--to"] and len(words) > 1:
        dialect, words = words[1], words[2:]
    if dialect not in paths.DIALECTS or not words:
        print("usage: sr convert [--to v2|sr3] component/config ...", file=sys.stderr)
        return 2
    chosen = _named("convert", words)
    if chosen is None:
        return 2
    status = 0
    for component, names in chosen.items():
        for name in names:
            try:
                target = convert_config(component, name, dialect)
            except ConfigErrors as err:
                status = 2
                for error in err.errors:
                    print(f"sr convert {component}/{name}: {error}", file=sys.stderr)
                continue
            except ConfigError as err:
                status = 1
                print(f"sr convert {component}/{name}: {err}", file=sys.stderr)
                continue
            print(f"wrote {target}")
            if dialect == "sr3" and config_file(component, name) != target:
                print(f"  (while {config_file(component, name)} exists, sarra runs that one)")
    return status


def every_config(action: str) -> int:
    """Run a life-cycle action on every enabled config of every component (stop: on the
    disabled ones still running too); a config that fails never holds back the others. Ends
    with a line that counts them and names those that failed; 1 when one did."""
    done, failures = 0, []
    for component in CONFIG_COMPONENTS:
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
    if action == "convert":
        return convert(rest)
    if action in HANDLERS and rest and all("/" in word for word in rest):
        return per_config(action, rest)
    print(f"sr: cannot do {' '.join(args)!r}\n{USAGE}", file=sys.stderr)
    return 2


def entry() -> None:
    """Console script sr."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into head, less...: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
