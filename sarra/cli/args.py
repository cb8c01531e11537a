"""Command lines of the sr_<component> commands: `[options] action [config ...]`.

Options are the config options, written -name or --name (aliases too); a flag takes a value
only when the next word is a boolean word. `-c`, `--config` or `-config` name the config, as
in v2 (`sr_subscribe -c my.conf start`). The old order `config action` is accepted with a
warning, as the established tools did. The actions of ALL_CONFIGS_ACTIONS given no config act
on every config of the component, as v2's did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sarra.config import types
from sarra.config.options import Kind
from sarra.config.options import closest as closest_option
from sarra.config.options import find as find_option

ACTIONS: dict[str, str] = {
    "foreground": "run instance 0 in this terminal, logging to it",
    "start": "start the configured instances in the background",
    "stop": "stop the instances (TERM, then KILL)",
    "restart": "stop, then start",
    "reload": "make running instances re-read their config",
    "status": "the state of each config (running, refused by the broker, crashed...), rates, lag",
    "sanity": "restart missing or hung instances",
    "cleanup": "remove the queue (MQTT: each instance's session), bindings, state and cache "
    "(instances must be stopped)",
    "declare": "declare the queue and post exchanges on the broker (MQTT: create and subscribe "
    "each instance's session)",
    "setup": "declare the queue, its bindings and post exchanges (MQTT: as declare)",
    "add": "copy a config (a path or a shipped example) into ~/.config/sarra/<component>/",
    "remove": "delete a config and its local state",
    "edit": "open a config in $EDITOR, then check it",
    "list": "list examples, configs and logs; `list plugins`; `list <name>` prints one, passwords"
    " redacted",
    "log": "follow the log of a config's instance (or show the end of each)",
    "enable": "enable a disabled config",
    "disable": "disable a config (stopping it if it runs): start and sanity leave it alone",
    "show": "print the effective configuration: values, where each was set, rules",
    "help": "print this help, or the help of the options named",
}

NO_CONFIG_ACTIONS = frozenset({"list", "help"})
ALL_CONFIGS_ACTIONS = frozenset({"start", "stop", "restart", "status", "sanity"})
"""Actions that, given no config, act on every enabled config of the component."""
CONFIG_WORDS = frozenset({"c", "config"})
"""-c, --config, -config: the word after it is the config (not the include option)."""


class UsageError(Exception):
    """A command line that cannot be understood; the message says why."""


class Refused(Exception):
    """An action refused for a reason the user can act on."""


@dataclass
class CommandLine:
    """What a command line asked for."""

    action: str
    configs: list[str] = field(default_factory=list)
    overrides: list[tuple[str, str | None]] = field(default_factory=list)
    instance: int | None = None
    warnings: list[str] = field(default_factory=list)
    option_words: list[str] = field(default_factory=list)
    """The option words as given (without --no), to pass on to instances."""


@dataclass
class Words:
    """A command line split: options as (name, value) pairs, the other words, the option words
    as given, the --no instance number and the configs named by -c."""

    overrides: list[tuple[str, str | None]] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)
    option_words: list[str] = field(default_factory=list)
    instance: int | None = None
    configs: list[str] = field(default_factory=list)


def parse(argv: list[str]) -> CommandLine:
    """Split a command line into options, the action and config names."""
    words = split(argv)
    command = _command(words.positionals, words.overrides, words.instance, words.configs)
    command.option_words = words.option_words
    return command


def split(argv: list[str]) -> Words:
    """The parts of a command line (see Words)."""
    split_words = Words()
    overrides, positionals = split_words.overrides, split_words.positionals
    option_words = split_words.option_words
    words = list(argv)
    while words:
        remaining = len(words)
        word = words.pop(0)
        if word == "--":
            positionals.extend(words)
            break
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        name, has_value, inline = word.lstrip("-").partition("=")
        if name in ("h", "help"):
            positionals.insert(0, "help")
            continue
        if name == "no":
            split_words.instance = _instance_number(inline if has_value else _take(words, word))
            continue
        if name in CONFIG_WORDS:
            split_words.configs.append(inline if has_value else _take(words, word))
            continue
        overrides.append(_option(name, word, has_value, inline, words))
        consumed = remaining - len(words)
        start = len(argv) - remaining
        option_words.extend(argv[start : start + consumed])
    return split_words


def _option(
    name: str, word: str, has_value: bool, inline: str, words: list[str]
) -> tuple[str, str | None]:
    """One option of the command line, taking its value from the words that follow if needed."""
    option = find_option(name.replace("-", "_")) or find_option(name)
    if option is None:
        hint = closest_option(name.replace("-", "_"))
        raise UsageError(f"unknown option {word}" + (f"; did you mean --{hint}?" if hint else ""))
    if has_value:
        return option.name, inline
    if option.kind == Kind.FLAG:
        return option.name, words.pop(0) if words and types.is_bool_word(words[0]) else None
    if option.kind == Kind.DURATION_OR_FLAG:
        return option.name, words.pop(0) if words and _is_duration_or_bool(words[0]) else None
    return option.name, _take(words, word)


def _command(
    positionals: list[str],
    overrides: list[tuple[str, str | None]],
    instance: int | None,
    named: list[str],
) -> CommandLine:
    if not positionals:
        raise UsageError("no action given")
    warnings: list[str] = []
    action, *configs = positionals
    configs = [*named, *configs]
    if action not in ACTIONS and configs and configs[0] in ACTIONS:
        warnings.append(f"old order '{action} {configs[0]}': write '{configs[0]} {action}'")
        action, configs = configs[0], [action, *configs[1:]]
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if not configs and action not in NO_CONFIG_ACTIONS | ALL_CONFIGS_ACTIONS:
        raise UsageError(f"{action} needs a config name")
    return CommandLine(action, configs, overrides, instance, warnings)


def _take(words: list[str], option_word: str) -> str:
    if not words:
        raise UsageError(f"{option_word} needs a value")
    return words.pop(0)


def _instance_number(text: str) -> int:
    try:
        return types.parse_count(text)
    except ValueError as err:
        raise UsageError(f"--no: {err}") from None


def _is_duration_or_bool(word: str) -> bool:
    if types.is_bool_word(word):
        return True
    try:
        types.parse_duration(word)
    except ValueError:
        return False
    return True
