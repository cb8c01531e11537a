"""The actions of the sr_<component> commands that need no broker. Each returns the process
exit status; user mistakes raise ActionError."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sarra.broker.errors import BrokerError
from sarra.cli import lifecycle
from sarra.cli.args import ACTIONS, CommandLine
from sarra.components.instances import running_pids
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_text
from sarra.config.errors import ConfigError
from sarra.config.loader import (
    Config,
    config_file,
    config_name,
    config_names,
    load,
    resolve_config_path,
)
from sarra.config.options import GROUPS, OPTIONS, find
from sarra.config.show import format_value, render

ActionError = lifecycle.Refused


def examples_dir() -> Path:
    """The example configs shipped with the package."""
    from importlib import resources  # as the plugins below: imported by the actions that use
    # them, not at the start of every command

    return Path(str(resources.files("sarra") / "examples"))


def load_config(component: str, ref: str, command: CommandLine) -> Config:
    """Read a config by name or path, with the command line's options over it; the
    credentials file is read too, so that its faults show before anything runs."""
    Credentials.load(paths.credentials_file())
    path = resolve_config_path(component, ref)
    return load(component, path, overrides=command.overrides)


def _warn(config: Config) -> None:
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def show(component: str, command: CommandLine) -> int:
    """Print the effective configuration of each config named."""
    for ref in command.configs:
        sys.stdout.write(render(load_config(component, ref, command)))
    return 0


def add(component: str, command: CommandLine) -> int:
    """Copy configs (paths or shipped examples) into the config directory; .py to plugins/."""
    for ref in command.configs:
        source = _find_addable(component, ref)
        if source.suffix == ".py":
            target = paths.plugins_dir() / source.name
        else:
            name = config_name(source) if source.name.endswith(".conf") else source.name
            load(component, source)  # refuse a config with errors before copying it
            target = paths.component_dir(component) / f"{name}.conf"
        if target.exists() or target.with_name(target.name + ".off").exists():
            raise ActionError(f"{target} already exists: edit it, or remove it first")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(f"added {target}")
    return 0


def _find_addable(component: str, ref: str) -> Path:
    given = Path(os.path.expanduser(ref))
    if given.is_file():
        return given
    if ref.endswith(".py"):  # a shipped plugin, copied to be changed
        from sarra.compat import plugins

        shipped = plugins.shipped_dir() / ref
        if shipped.is_file():
            return shipped
    for candidate in (
        examples_dir() / component / ref,
        examples_dir() / component / f"{ref}.conf",
    ):
        if candidate.is_file():
            return candidate
    raise ActionError(
        f"{ref}: no such file, and no shipped example or plugin of that name"
        f" (see them with: sr_{component} list, sr_{component} list plugins)"
    )


def _tree_of(component: str, name: str) -> Path:
    """The directory holding a config of this name, enabled or not: sarra's, else sr3's when
    only sr3's has it (sarra's for a new one)."""
    found = config_file(component, name) or config_file(component, name, disabled=True)
    return found.parent if found is not None else paths.component_dir(component)


def _refuse_if_running(component: str, name: str, action: str) -> None:
    pids = running_pids(component, name)
    if pids:
        raise ActionError(
            f"{name} is running (pids {' '.join(map(str, pids))}): stop it before {action}"
        )


def remove(component: str, command: CommandLine) -> int:
    """Delete configs and their local state; refused while an instance runs."""
    for ref in command.configs:
        name = ref[: -len(".conf")] if ref.endswith(".conf") else ref
        _refuse_if_running(component, name, "remove")
        directory = _tree_of(component, name)
        found = [p for p in (directory / f"{name}.conf", directory / f"{name}.conf.off")
                 if p.exists()]  # fmt: skip
        if not found:
            raise ActionError(f"no config {name} in {directory}")
        try:
            lifecycle.cleanup(component, CommandLine("cleanup", [name], command.overrides))
        except (BrokerError, ConfigError) as err:
            print(f"warning: queue not removed ({redact_text(str(err))});"
                  " unused, it expires by itself (option expire)", file=sys.stderr)  # fmt: skip
            lifecycle.remove_state(component, name)
        for path in found:
            path.unlink()
            print(f"removed {path}")
    return 0


def edit(component: str, command: CommandLine) -> int:
    """Open each config in $EDITOR (a new one if absent), then check it."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    for ref in command.configs:
        name = ref[: -len(".conf")] if ref.endswith(".conf") else ref
        path = _tree_of(component, name) / f"{name}.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([*editor.split(), str(path)], check=False)
        if result.returncode != 0:
            raise ActionError(f"{editor} exited with status {result.returncode}")
        if path.exists():
            _warn(load(component, path))
            print(f"{path}: valid")
    return 0


def enable(component: str, command: CommandLine) -> int:
    """Rename <name>.conf.off back to <name>.conf."""
    for ref in command.configs:
        name = ref.removesuffix(".conf")
        directory = _tree_of(component, name)
        off, on = directory / f"{name}.conf.off", directory / f"{name}.conf"
        if on.exists():
            print(f"{name} is already enabled")
            continue
        if not off.exists():
            raise ActionError(f"no disabled config {name} in {directory}")
        off.rename(on)
        print(f"enabled {on}")
    return 0


def disable(component: str, command: CommandLine) -> int:
    """Rename <name>.conf to <name>.conf.off, and stop its instances if it runs: start and
    sanity leave it alone."""
    for ref in command.configs:
        name = ref.removesuffix(".conf")
        directory = _tree_of(component, name)
        off, on = directory / f"{name}.conf.off", directory / f"{name}.conf"
        if off.exists() and not on.exists():
            print(f"{name} is already disabled")
        elif not on.exists():
            raise ActionError(f"no config {name} in {directory}")
        else:
            on.rename(off)
            print(f"disabled {name} ({off})")
        if running_pids(component, name):
            lifecycle.stop_config(component, name)
    return 0


def list_(component: str, command: CommandLine) -> int:
    """List examples, general files, configs and the log directory; or plugins; or print the
    files named, passwords and tokens redacted (as show does)."""
    if command.configs == ["plugins"]:
        _list_plugins()
        return 0
    if command.configs:
        for ref in command.configs:
            sys.stdout.write(redact_text(_listable(component, ref).read_text(encoding="utf-8")))
        return 0
    examples = sorted((examples_dir() / component).glob("*.conf"))
    print(f"Shipped examples (add one with: sr_{component} add <name>):")
    for path in examples:
        print(f"  {path.name}")
    if not examples:
        print("  (none)")
    print(f"General files ({paths.config_dir()}):")
    for general in ("default.conf", "admin.conf", "credentials.conf", f"{component}.conf"):
        state = "present" if (paths.config_dir() / general).exists() else "absent"
        print(f"  {general:<18} {state}")
    print(f"Configs of sr_{component} ({paths.component_dir(component)}):")
    enabled, disabled = config_names(component), config_names(component, disabled=True)
    for name in enabled:
        print(f"  {name}.conf{_sr3_mark(config_file(component, name))}")
    for name in disabled:
        print(
            f"  {name}.conf.off (disabled){_sr3_mark(config_file(component, name, disabled=True))}"
        )
    if not enabled and not disabled:
        print("  (none)")
    print(f"Logs: {paths.log_dir()}")
    return 0


def _sr3_mark(path: Path | None) -> str:
    """For a config of sr3's tree: where it is."""
    return f" (sr3: {path})" if path is not None and paths.dialect_of(path) == "sr3" else ""


def _list_plugins() -> None:
    """The plugins of each directory of the search path, in the order they are searched."""
    from sarra.compat import plugins

    for (directory, names), title in zip(
        plugins.available(), ("User plugins", "Shipped plugins"), strict=True
    ):
        print(f"{title} ({directory}):")
        for name in names:
            print(f"  {name}")
        if not names:
            print("  (none)")


def _listable(component: str, ref: str) -> Path:
    from sarra.compat import plugins

    for candidate in (
        Path(os.path.expanduser(ref)),
        paths.component_dir(component) / ref,
        paths.component_dir(component) / f"{ref}.conf",
        paths.config_dir() / ref,
        examples_dir() / component / ref,
        examples_dir() / component / f"{ref}.conf",
        *(d / f"{ref.removesuffix('.py')}.py" for d in plugins.search_path()),
    ):
        if candidate.is_file():
            return candidate
    raise ActionError(f"{ref}: no config, example or plugin of that name")


def log(component: str, command: CommandLine) -> int:
    """Follow the log of a config with one instance; show the end of each log otherwise."""
    for ref in command.configs:
        name = ref.removesuffix(".conf")
        pattern = f"sr_{component}_{name}_*.log"
        logs = sorted(paths.log_dir().glob(pattern))
        if command.instance is not None:
            logs = [p for p in logs if p == paths.log_file(component, name, command.instance)]
        if not logs:
            raise ActionError(f"no log yet for {name}: looked for {paths.log_dir() / pattern}")
        if len(logs) == 1 and len(command.configs) == 1:
            os.execvp("tail", ["tail", "-F", str(logs[0])])
        for path in logs:
            print(f"==> {path} <==", flush=True)
            subprocess.run(["tail", "-n", "10", str(path)], check=False)
    return 0


def help_(component: str, command: CommandLine) -> int:
    """The usage, actions and options; or the full help of the options named."""
    if command.configs:
        for name in command.configs:
            option = find(name)
            if option is None:
                raise ActionError(f"no option {name}")
            print(f"{option.name} ({option.kind.value})")
            if option.aliases:
                print(f"  also written: {', '.join(option.aliases)}")
            print(f"  {option.help}")
            print(f"  default for sr_{component}: "
                  f"{format_value(option, option.default_for(component))}")  # fmt: skip
            if option.choices:
                print(f"  one of: {', '.join(option.choices)}")
        return 0
    print(f"usage: sr_{component} [options] action [config ...]")
    if component == "post":
        print("       sr_post [options] [-p] path ...   (announce once, then exit)")
        print("       sr_post [options] -pipe < paths   (one path a line)")
    print(f"       sr_{component} --version")
    print()
    print("actions:")
    for action, text in ACTIONS.items():
        print(f"  {action:<11} {text}")
    print("\noptions (in a config file as `name value`, on the command line as --name value):")
    for group in GROUPS:
        print(f"\n  {group}")
        for option in OPTIONS.values():
            if option.group == group:
                default = format_value(option, option.default_for(component))
                print(f"    {option.name:<28} {option.help} [{default}]")
    print(f"\nmore on one option: sr_{component} help <option>")
    return 0


HANDLERS: dict[str, Callable[[str, CommandLine], int]] = {
    "show": show,
    "add": add,
    "remove": remove,
    "edit": edit,
    "enable": enable,
    "disable": disable,
    "list": list_,
    "log": log,
    "help": help_,
    "foreground": lifecycle.foreground,
    "start": lifecycle.start,
    "stop": lifecycle.stop,
    "restart": lifecycle.restart,
    "reload": lifecycle.reload,
    "status": lifecycle.status,
    "sanity": lifecycle.sanity,
    "cleanup": lifecycle.cleanup,
    "declare": lifecycle.declare,
    "setup": lifecycle.setup,
}
