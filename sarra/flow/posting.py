"""The post stage, once for every component: on_post before a publish, the publish through one
confirming publisher, after_post after it. The loop publishes through it (sarra.flow.settle),
for every component; each job is settled its own way once the broker confirmed it (a queue's
delivery is acknowledged; a source's job is settled by the source: sr_poll remembers the file,
sr_watch forgets it, sr_post counts what the broker refused)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from sarra.broker import Confirmation, Message
from sarra.flow.hooks import Hooks, NoticeView, PluginFailed
from sarra.flow.publish import NoticePublisher
from sarra.message.notice import Notice


class Posting:
    """Publishes notices as the on_post plugins leave them, and shows them to after_post."""

    def __init__(self, publisher: NoticePublisher, plugins: Hooks | None) -> None:
        self.publisher = publisher
        self.plugins = plugins
        self.before = plugins is not None and plugins.has("on_post")
        self.after = plugins is not None and plugins.has("after_post")

    def on_post(
        self, notice: Notice, follows: NoticeView | None = None, local_file: str | None = None
    ) -> Notice | None:
        """The notice as the on_post plugins leave it (`follows`: its view at an earlier
        point; `local_file`: the file it announces); None when one returned False. Raises
        PluginFailed, or MalformedNotice when a plugin made it into no notice."""
        if not self.before:
            return notice
        assert self.plugins is not None
        msg = self.plugins.message(notice, follows=follows)
        if local_file is not None:
            msg.local_file = local_file
        return msg.to_notice() if self.plugins.run("on_post", msg) else None

    def publish(
        self,
        notices: Sequence[Notice],
        messages: Sequence[Message] | None = None,
        *,
        follows: NoticeView | None = None,
        is_retry: bool = False,
    ) -> list[Confirmation]:
        """Publish notices (or `messages`, them already encoded: then `notices` serve only
        after_post, and may be left empty when there is none), then run after_post on each
        notice (its failures are logged by the plugins, nothing more); each Confirmation
        settles when the broker has its message. Raises NotEncodable, nothing published."""
        if messages is None:
            messages = [self.publisher.message(notice) for notice in notices]
        confirmations = self.publisher.publish_many(messages)
        self.after_post(notices, follows=follows, is_retry=is_retry)
        return confirmations

    def after_post(
        self, notices: Sequence[Notice], *, follows: NoticeView | None, is_retry: bool
    ) -> None:
        """Run after_post on each notice published (its failures are logged by the plugins,
        nothing more)."""
        if not self.after:
            return
        assert self.plugins is not None
        for notice in notices:
            msg = self.plugins.message(notice, is_retry=is_retry, follows=follows)
            with contextlib.suppress(PluginFailed):
                self.plugins.run("after_post", msg)
