"""Every command sarra installs, described once: its man page and docs/commands.md come from here.

A new command (a console script in setup.cfg) gets its entry in COMMANDS; a test checks that
every console script has one. Texts are Markdown in the subset sarra.cli.roff understands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from sarra.eumetcast import cli as eumetcast_cli


@dataclass(frozen=True)
class Command:
    """One command: what its man page and its part of the command reference say."""

    name: str
    summary: str
    """The one line of the NAME section: what the command does."""
    synopsis: tuple[str, ...]
    description: str
    component: str | None = None
    """For sr_<component>: its actions and the option table, with this component's defaults."""
    examples: str = ""
    see_also: tuple[str, ...] = ()
    """Other pages, as name(section)."""
    sections: tuple[tuple[str, str], ...] = ()
    """More sections, as (title, Markdown), after the description (e.g. FILES, EXIT STATUS)."""
    arguments: Callable[[], argparse.ArgumentParser] | None = None
    """For a command with an argparse command line: its parser, whose options are listed."""


def arguments(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """The (how it is written, what it does) of each argument of an argparse command line."""
    rows = []
    for action in parser._actions:
        if not action.option_strings:
            rows.append((action.metavar or action.dest, action.help or ""))
            continue
        value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        rows.append(
            (", ".join(f"{flag}{value}" for flag in action.option_strings), action.help or "")
        )
    return rows


def _component(
    component: str,
    summary: str,
    description: str,
    examples: str,
    see_also: tuple[str, ...] = (),
    synopsis: tuple[str, ...] = (),
) -> Command:
    name = f"sr_{component}"
    return Command(
        name=name,
        summary=summary,
        synopsis=(f"{name} [options] action [config ...]", *synopsis, f"{name} --version"),
        description=description,
        component=component,
        examples=examples,
        see_also=see_also,
    )


COMMON = """\
Each config is a file `~/.config/sarra/<component>/<name>.conf`, named without its directory
and `.conf` on the command line (or after `-c`, `--config`, `-config`, as v2 had it); a path to
a file elsewhere works too. `start`, `stop`, `restart`, `status` and `sanity` given no config
act on every enabled config of the component; `-no N` with `start`, `stop` or `restart` acts
on instance N alone (`start` runs it in the command's own process). Options given on the
command line as `--name value` (or `-alias value`) override those of the files; `-debug`
logs each notice's fate and each transfer step. The config language is described in
sr_config(5) and every option in sarra-options(7); v2's command lines and options, with what
each does here, in v2-compat.md.
"""

FILES = """\
| file | what it holds |
|---|---|
| `~/.config/sarra/default.conf` | options for every component |
| `~/.config/sarra/admin.conf` | the pump's administrative options |
| `~/.config/sarra/<component>.conf` | options for every config of one component |
| `~/.config/sarra/<component>/<name>.conf` | one config; `<name>.conf.off` when disabled |
| `~/.config/sarra/credentials.conf` | passwords, one URL a line; mode 600 or it is refused |
| `~/.config/sarra/plugins/` | your plugins, found before the shipped ones |
| `~/.cache/sarra/log/sr_<component>_<name>_NN.log` | the log of instance NN |
| `~/.cache/sarra/<component>/<name>/` | state: pid files, queue name, retry queue, cache |
"""

ENVIRONMENT = """\
| variable | effect |
|---|---|
| `XDG_CONFIG_HOME` | replaces `~/.config` |
| `XDG_CACHE_HOME` | replaces `~/.cache` |
| `SR_DEV_APPNAME` | replaces the name `sarra` in both (a development copy beside another) |
| `VISUAL`, `EDITOR` | the editor of the `edit` action (default `vi`) |
"""

EXIT_STATUS = """\
| status | meaning |
|---|---|
| 0 | done |
| 1 | an action failed (the broker refused, an instance died at start); `status`: one needs a look |
| 2 | a usage mistake or a config error, each reported as `file:line: reason` |

Acting on several configs, a failure never stops the others; the exit status is the worst.
"""

_CONSUMER = """\
It binds a queue on the broker to the exchange with one binding per `subtopic`, takes the
notices it receives through the `accept`/`reject` rules in order, and acknowledges each only
when its work is done, so that nothing is lost when it stops or crashes.
"""


def _move_it(prog: str, summary: str, more: str, see_also: tuple[str, ...]) -> Command:
    parser = eumetcast_cli.parser_for(prog)
    usage = " ".join(parser.format_usage().removeprefix("usage: ").split())
    return Command(
        name=prog,
        summary=summary,
        synopsis=(usage,),
        description=f"{eumetcast_cli.DESCRIPTIONS[prog]}\n{more}\n{EUMETCAST}",
        arguments=lambda: eumetcast_cli.parser_for(prog),
        see_also=see_also,
    )


EUMETCAST = """\
The config is an INI file as pytroll's trollmoves reads it, one section per chain; the wire
protocol is trollmoves' (posttroll messages over ZeroMQ), so these commands exchange files with
stations that run trollmoves. SIGTERM and SIGINT stop the command; SIGHUP makes it re-read its
config. The how-to, with every option of the config, is [eumetcast.md](eumetcast.md)
(`/usr/share/doc/sarra/eumetcast.md` in the package).
"""

COMMANDS: tuple[Command, ...] = (
    Command(
        name="sr",
        summary="act on every config of every sarra component at once",
        synopsis=(
            "sr start|stop|restart|sanity",
            "sr status [--problems] [--json]",
            "sr observe [--bind ADDR] [--port N]",
            "sr check [--examples]",
            "sr list",
            "sr action component/config ...",
            "sr convert [--to v2] component/config ...",
            "sr --version",
        ),
        description="""\
`sr` runs the same life-cycle action for every enabled config of every component
(`sr_subscribe`, `sr_sarra`, `sr_watch`...), as if each `sr_<component> action <config>`
were typed in turn. Disabled configs (`<name>.conf.off`) are left alone, but `stop` stops
those still running. A config that fails (one that cannot be read, reported as
`file:line: reason`; an instance that dies at start) never holds back the others: each is
reported on standard error, and a last line counts the configs and names those that failed.
The waits overlap: the instances of a few configs start (or stop) while the next are launched.

- `start`, `stop`, `restart`, `sanity`: the action of that name, for every config
  (see sr_subscribe(1) for what each does).
- `status`: one line per config, disabled ones too: its state (running, connecting, refused
  by the broker with the broker's reason, unreachable, passive, crashed, exited, stale,
  stopped, disabled, bad config), messages and files a second, the share rejected and lag,
  the depth of its broker queue, its retry queue and last file; a `!` marks those that need a
  look; then the totals. `--problems` shows only those that need a look, with each problem;
  `--json` prints it all as one JSON document for programs (its fields are listed in
  `/usr/share/doc/sarra/operations.md`).
- `observe`: serve, over HTTP, a live dashboard of every config (`/`), the same figures as
  Prometheus metrics (`/metrics`), the JSON of `status --json` (`/api/status`) and the end of
  each config's log (`/api/log/<component>/<config>`); on 127.0.0.1 port 9797 unless
  `--bind` and `--port` say otherwise. It runs until stopped (TERM, INT).
- `check`: read every config of every component, and `credentials.conf`, without running
  anything; print `ok` or `ERROR` for each, and each error as `file:line: reason`.
  `check --examples` reads the example configs shipped with sarra instead.
- `list`: every config of every component, disabled ones marked.
- `action component/config ...`: sr3's way of naming configs (`sr start subscribe/dd_swob`,
  globs too: `sr stop 'subscribe/dd_*'`): any action of `sr_<component>` (start, stop,
  restart, status, show, enable, disable, log, foreground, cleanup...) on the configs named.
- `convert component/config ...`: write a config of `~/.config/sarra` into `~/.config/sr3`
  with sr3's option names, the values of the defaults that differ written out; `--to v2`
  writes one of `~/.config/sr3` into `~/.config/sarra`. An existing file is never replaced.

Configs of sr3's tree, `~/.config/sr3/<component>/*.conf`, are found, listed (marked `sr3`)
and run like sarra's, read with sr3's option names and defaults; where both trees hold a
config of the same component and name, sarra's is run and sr3's is listed as shadowed
(see sr3-compat.md).

The package installs a systemd user unit, `sarra.service`, that runs `sr start` when the
user's service manager starts and `sr stop` when it stops.
""",
        sections=(
            (
                "Files",
                """\
| file | what it holds |
|---|---|
| `~/.config/sarra/<component>/*.conf` | the configs `sr` acts on |
| `~/.config/sr3/<component>/*.conf` | sr3's configs, acted on too (sarra's win a name in both) |
| `/usr/lib/systemd/user/sarra.service` | the systemd user unit (installed by the package) |
""",
            ),
            (
                "Exit status",
                """\
| status | meaning |
|---|---|
| 0 | done; every config read without error; nothing needs a look (`status`) |
| 1 | a config has errors (`check`), an action failed on a config, or one needs a look (`status`) |
| 2 | an action `sr` does not know |
""",
            ),
        ),
        examples="""\
    sr check                          # before starting anything
    sr start
    sr status
    sr status --problems              # only what needs a look
    sr observe                        # then open http://127.0.0.1:9797/
    systemctl --user enable --now sarra   # start every config with the user's session
    loginctl enable-linger $USER          # ... and at boot, without a login
""",
        see_also=("sr_subscribe(1)",),
    ),
    _component(
        "post",
        "announce local files on a broker",
        """\
`sr_post` publishes one notice for each file it is given (or for each file of each directory
given, recursively) and exits once the broker has confirmed them all; it exits non-zero and
names the files whose notices were not confirmed; its last line sums up (files, bytes, seconds,
rates, how many failed). On a terminal it shows its progress in one line redrawn in place
(the time left once the files are counted) and writes the line of each file to its log file
`~/.cache/sarra/log/sr_post_<config>_00.log` instead (`-v`: on the terminal too); a pipe or a
file gets every line, and no progress.

The notice carries the file's URL (`post_base_url` and its path less `post_base_dir`),
checksum (`sum`), size, times and mode; large files are announced in parts (`blocksize`).

With an action and a config, `sr_post start <config>` announces the config's `path` lines
every `sleep` seconds.
""",
        """\
    sr_post -pb amqp://feeder@localhost/ -pbu sftp://me@myhost/ -pbd /data -p /data/obs/a.xml
    find /data/new -type f | sr_post -pb amqp://feeder@localhost/ -pbu file: -pipe
""",
        ("sr_watch(1)", "sr_poll(1)"),
        (
            "sr_post [options] [-p] path ...",
            "sr_post [options] -pipe < paths",
        ),
    ),
    _component(
        "watch",
        "announce the files of directory trees as they are written",
        """\
`sr_watch` watches the directories of its config's `path` lines (with inotify, or by polling
with `force_polling`) and announces each file once, when it is complete: when it is closed
after writing or renamed into place, never for each write. Files under an inflight name
(hidden, `.tmp`) are announced when renamed. Removals, links and renames are announced too
(`events`). With `post_on_start` (the default) the existing tree is announced at start.
""",
        """\
`~/.config/sarra/watch/outgoing.conf`:

```conf watch
post_broker amqp://feeder@localhost/
post_base_url sftp://me@myhost/
post_base_dir /data/outgoing
path /data/outgoing
```

    sr_watch start outgoing
""",
        ("sr_post(1)",),
    ),
    _component(
        "poll",
        "announce the new files of a remote server",
        """\
`sr_poll` lists the remote directories of its config every `sleep` (sftp, ftp, ftps, an http
index page, or a local directory) and announces each file that is new or has changed (size,
time) once; the checksum is left to whoever downloads (`sum z,d`). What it has announced is
kept on disk, so a restart does not announce everything again. Each pass ends with a line
that sums it up (files, bytes, seconds, rates, how many failed). `sr_poll foreground` on a
terminal shows each pass's progress in one line redrawn in place, and writes the line of each
file to `~/.cache/sarra/log/sr_poll_<config>_00.log` instead (`-v`: on the terminal too).
""",
        """\
`~/.config/sarra/poll/remote.conf`: list `/outgoing` on the remote server every 5 minutes.

```conf poll
post_broker amqp://feeder@localhost/
destination sftp://me@remote.example.org/
directory /outgoing
accept .*\\.grib2$
```

    sr_poll start remote
""",
        ("sr_subscribe(1)",),
    ),
    _component(
        "subscribe",
        "download the files announced on a broker",
        """\
`sr_subscribe` downloads, into local directories, the files whose notices it receives.
"""
        + _CONSUMER
        + """
Each file is written under a temporary name (`inflight`) or in another directory (`tempdir`),
checked against the notice's checksum while written, and renamed into place when complete: a
file under its final name is always whole. A file already here with the same checksum is not
fetched again. Failed transfers are retried (`attempts`, then a retry queue on disk). With
`post_broker`, each file downloaded is announced onward.
""",
        """\
    sr_subscribe add dd_swob          # copy a shipped example into ~/.config/sarra/subscribe/
    sr_subscribe show dd_swob         # the effective options, bindings and rules
    sr_subscribe foreground dd_swob   # try it in the terminal; ctrl-C stops it
    sr_subscribe start dd_swob
    sr_subscribe log dd_swob
    sr_subscribe stop dd_swob
    sr_subscribe cleanup dd_swob      # remove its queue from the broker
""",
        ("sr(1)", "sr_sarra(1)", "sr_shovel(1)"),
    ),
    _component(
        "sarra",
        "download announced files and announce the copies: one hop of a data pump",
        """\
`sr_sarra` is the component of a pump that copies data from another: like sr_subscribe it
downloads the files announced (by default mirrored under `directory`), and then announces its
own copies on its `post_broker`, usually to the exchange `xpublic`, where subscribers find
them. As with sr_subscribe, each file is written under a temporary name (`inflight`, `.tmp`) or
in `tempdir`, and renamed into place when complete.
"""
        + _CONSUMER,
        """\
`~/.config/sarra/sarra/from_upstream.conf`: copy the observations of an upstream pump and
announce the copies.

```conf sarra
broker amqps://upstream.example.org/
exchange xpublic
subtopic observations.#
directory /var/www/html/${YYYYMMDD}
post_broker amqp://feeder@localhost/
post_exchange xpublic
post_base_url http://pump.example.org/
post_base_dir /var/www/html
```
""",
        ("sr_winnow(1)", "sr_shovel(1)", "sr_subscribe(1)"),
    ),
    _component(
        "shovel",
        "copy notices from one exchange to another, without the files",
        """\
`sr_shovel` republishes the notices it consumes, unchanged, on its `post_broker` and
`post_exchange`: it moves notices between exchanges or brokers without moving files
(`notify_only` is on).
"""
        + _CONSUMER,
        """\
Bring the notices of bulletins from an upstream pump into a local exchange:

```conf shovel
broker amqps://upstream.example.org/
exchange xpublic
subtopic bulletins.#
post_broker amqp://feeder@localhost/
post_exchange xs_upstream
```
""",
        ("sr_winnow(1)",),
    ),
    _component(
        "winnow",
        "pass on the first notice of each file and drop its duplicates",
        """\
`sr_winnow` republishes the first notice of each datum it sees and drops the later ones that
announce the same data (`suppress_duplicates`, 20 minutes by default for it;
`suppress_duplicates_basis` says what makes two notices the same). Two sources announcing the
same products can then feed one exchange: the basis of redundant reception.
"""
        + _CONSUMER,
        """\
Two sources post the same products to `xwinnow`; one copy of each goes on to `xpublic`:

```conf winnow
broker amqp://feeder@localhost/
exchange xwinnow
post_broker amqp://feeder@localhost/
post_exchange xpublic
suppress_duplicates 20m
```
""",
        ("sr_sarra(1)", "sr_shovel(1)"),
    ),
    _component(
        "sender",
        "send announced local files to a remote server",
        """\
`sr_sender` sends files to the remote server of its `destination` (sftp, ftp, ftps or a local
directory) for each notice it receives: the file is read locally (`base_dir` and the notice's
path) and written remotely under `directory`, under a temporary name (`inflight`) renamed when
complete. With `post_broker`, each file sent is announced with its remote URL.
"""
        + _CONSUMER,
        """\
Send the observations announced on the local pump to a downstream server:

```conf sender
broker amqp://feeder@localhost/
exchange xpublic
subtopic observations.#
base_dir /var/www/html
destination sftp://me@downstream.example.org/
directory /incoming
accept .*
```
""",
        ("sr_subscribe(1)",),
    ),
    _component(
        "report",
        "consume the reports of what happened to files",
        """\
`sr_report` consumes reports (topic prefix `v02.report`, exchange `xreport` by default): the
notices that subscribers, senders and pumps publish with `report_back` to say what they did
with each file (201 done, 304 already there, 499 failed...), and passes them to the
`on_report` plugins, or logs them.
"""
        + _CONSUMER,
        """\
Read the reports of the local pump:

```conf report
broker amqp://reader@localhost/
exchange xreport
accept .*
```
""",
        ("sr_subscribe(1)",),
    ),
    _move_it(
        "move_it_server",
        "announce received files over ZeroMQ and push them to the clients that ask",
        """
It watches the directory of each section's `origin` pattern, announces each new file on the
publish port, and on a client's request writes the file into the client's destination (file,
ftp, scp or sftp).
""",
        ("move_it_client(1)", "move_it_mirror(1)"),
    ),
    _move_it(
        "move_it_client",
        "have the files announced by move_it servers pushed here, first come first served",
        """
It subscribes to the servers (and mirrors) of each section, asks the first that announces a
file to push it, tells the others it has it, and announces what it received on its own
`publish_port`; a section may post the files to a Sarracenia pump as well.
""",
        ("move_it_server(1)", "move_it_mirror(1)"),
    ),
    _move_it(
        "move_it_mirror",
        "relay the announcements of move_it servers and fetch files on demand",
        """
A gateway between networks: it announces the files of the servers behind it as its own, and
when a client asks for one, has it pushed here first and then serves it.
""",
        ("move_it_server(1)", "move_it_client(1)"),
    ),
)


def by_name(name: str) -> Command:
    """The command of that name."""
    for command in COMMANDS:
        if command.name == name:
            return command
    raise KeyError(name)
