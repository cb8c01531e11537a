"""v2's command-line habits that pick what an action acts on: an action of ALL_CONFIGS_ACTIONS
given no config acts on every enabled config of the component, and `-no N` with start, stop or
restart acts on instance N alone, start running it in this process as v2's own children did."""

from __future__ import annotations

import sys
from dataclasses import replace

from sarra.cli import lifecycle
from sarra.cli.args import ALL_CONFIGS_ACTIONS, CommandLine
from sarra.components import instances
from sarra.config.loader import resolve_config_path as resolve

ONE_INSTANCE_ACTIONS = frozenset({"start", "stop", "restart"})


def with_every_config(component: str, command: CommandLine) -> CommandLine | None:
    """The command with every enabled config of the component (for stop, the disabled ones
    still running too) when it names none and its action takes that to mean all; None (after
    saying so) when there is no config at all."""
    if command.configs or command.action not in ALL_CONFIGS_ACTIONS:
        return command
    names = lifecycle.every_config(component, command.action)
    if not names:
        print(f"sr_{component}: no configs to {command.action}")
        return None
    return replace(command, configs=names)


def one_instance(component: str, command: CommandLine) -> int:
    """start, stop or restart instance N (`-no N`) of each config named."""
    number = command.instance
    assert number is not None
    for ref in command.configs:
        if command.action == "stop":  # a disabled config's instance too
            name = lifecycle.named(component, ref)[0]
        else:
            name = resolve(component, ref).name.removesuffix(".conf")
        if command.action in ("stop", "restart"):
            found = [i for i in instances.instances(component, name) if i.number == number]
            for instance in found:
                instances.stop_one(component, name, instance)
            print(f"sr_{component} {name}: instance {number:02d} stopped", file=sys.stderr)
    if command.action == "stop":
        return 0
    if len(command.configs) != 1:
        print(f"sr_{component}: -no {number} {command.action} runs one config", file=sys.stderr)
        return 2
    return lifecycle.foreground(component, command)
