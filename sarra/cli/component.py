"""The sr_<component> commands: parse the command line, run the action (on the configs and
instances v2's habits pick, sarra.cli.habits), report user mistakes as one clear line each
(never a traceback)."""

from __future__ import annotations

import os
import sys

from sarra import version
from sarra.broker.errors import BrokerError
from sarra.cli import post
from sarra.cli.args import Refused, UsageError, parse
from sarra.config.credentials import redact_text
from sarra.config.errors import ConfigError, ConfigErrors

EXIT_USAGE = 2
EXIT_ERROR = 1


def main(component: str, argv: list[str] | None = None) -> int:
    """Run `sr_<component> [options] action [config ...]` (for sr_post also `sr_post [options]
    path ...`, see sarra.cli.post); returns the exit status."""
    program = f"sr_{component}"
    words = sys.argv[1:] if argv is None else argv
    if "--version" in words:
        print(version.line())
        return 0
    try:
        if component == "post" and not post.wants_action(words):
            return post.main(words)
        command = parse(words)
        for warning in command.warnings:
            print(f"{program}: warning: {warning}", file=sys.stderr)
        # the actions and the instances' lifecycle: half the imports, not needed to post once
        from sarra.cli import habits
        from sarra.cli.actions import HANDLERS

        if command.instance is not None and command.action in habits.ONE_INSTANCE_ACTIONS:
            return habits.one_instance(component, command)
        every = habits.with_every_config(component, command)
        return HANDLERS[command.action](component, every) if every is not None else 0
    except UsageError as err:
        print(f"{program}: {err}\nusage: {program} [options] action [config ...]"
              f"  (see: {program} help)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    except ConfigErrors as err:
        for error in err.errors:
            print(f"{program}: {redact_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, Refused, BrokerError) as err:
        print(f"{program}: {redact_text(str(err))}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into head, less...: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        print(f"{program}: {redact_text(str(err))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _entry(component: str) -> None:
    sys.exit(main(component))


def sr_post() -> None:
    """Console script sr_post."""
    _entry("post")


def sr_watch() -> None:
    """Console script sr_watch."""
    _entry("watch")


def sr_poll() -> None:
    """Console script sr_poll."""
    _entry("poll")


def sr_subscribe() -> None:
    """Console script sr_subscribe."""
    _entry("subscribe")


def sr_sarra() -> None:
    """Console script sr_sarra."""
    _entry("sarra")


def sr_shovel() -> None:
    """Console script sr_shovel."""
    _entry("shovel")


def sr_winnow() -> None:
    """Console script sr_winnow."""
    _entry("winnow")


def sr_sender() -> None:
    """Console script sr_sender."""
    _entry("sender")


def sr_report() -> None:
    """Console script sr_report."""
    _entry("report")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
