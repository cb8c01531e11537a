"""sr_post's own command line: `sr_post [options] [-c config] [-p path ...] [path ...]` posts
the paths once and exits, as the established tool did; `-pipe` reads more paths from standard
input, one a line. With a `vip` that is not on this host it posts nothing (the host that holds
it posts). With an action word (`sr_post start config`), it is the command line of every
component (sarra.cli.args)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from sarra.cli.args import ACTIONS, UsageError, split
from sarra.components.logs import setup_logging
from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.loader import load, resolve_config_path


def wants_action(argv: list[str]) -> bool:
    """Whether a command line names an action (either word order) rather than paths."""
    words = split(argv).positionals
    return bool(words) and (words[0] in ACTIONS or (len(words) > 1 and words[1] in ACTIONS))


def main(argv: list[str]) -> int:
    """Post the paths a command line names, with the config -c names if any; the exit status
    (see post_once)."""
    words = split(argv)
    path = None
    if words.configs:
        if len(words.configs) > 1:
            raise UsageError("name one config (-c) to post with")
        path = resolve_config_path("post", words.configs[0])
    paths_given = (("path", word) for word in words.positionals)
    config = load("post", path, overrides=[*words.overrides, *paths_given])
    if not config.path and not config.pipe:
        raise UsageError(
            "nothing to post: name files or directories (sr_post [options] -p path ...),"
            " give -pipe, or an action (sr_post help)"
        )
    for warning in config.warnings:
        print(f"sr_post: warning: {warning}", file=sys.stderr)
    logger = setup_logging(config, 0)
    if config.vip:
        from sarra.flow import vip  # a config with a vip only

        if not vip.held(config.vip):
            logger.info("passive: vip %s not on this host, nothing posted", ",".join(config.vip))
            return 0
    credentials = Credentials.load(paths.credentials_file())
    names = _piped(config.path, sys.stdin) if config.pipe else config.path
    from sarra.components.post import post_once  # the loop: not for `help` or `status`

    return post_once(config, credentials, names)


def _piped(named: Iterable[str], stdin: Iterable[str]) -> Iterator[str]:
    """The paths named, then each non-blank line of standard input (read as it comes)."""
    yield from named
    for line in stdin:
        if line.strip():
            yield line.rstrip("\n")
