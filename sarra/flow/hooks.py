"""The hooks of the loop: the points where plugins run, as the flow sees them.

The flow knows no plugin interface. It calls an object that has this shape (sarra.compat
implements it for v2 plugins and sr3 flow callbacks alike, and the components layer passes it
in); without one, the loop runs its stages alone. Entry points are named as v2 named them, plus
the sr3 points v2 had no name for:

    on_start, on_stop, on_heartbeat         events (failures are logged, nothing stops)
    gather                                   notices to add to the flow (sr3 gather)
    after_gather                             each notice gathered (from a queue, the retry
                                             queue, a gather hook, a path: not a poll's
                                             listing), before the filter
    on_message, destfn_script                after the filter: each notice, with its placement
    do_task, do_download, do_get,           the transfer itself, instead of the built-in one
    do_send, do_put, do_poll
    on_part, on_file                         after a download
    after_work                               after the work of each notice, whatever became of
                                             it (the status of its Outcome)
    on_post, after_post                      before and after a publish
    on_report                                before a report

A hook that raises is logged by the hooks object and reported to the loop as PluginFailed.
"""

from __future__ import annotations

from typing import Any, Protocol


class PluginFailed(Exception):
    """A plugin raised while it handled a notice (already logged); `later` when it asked for
    the notice to be retried later (RetryLater), which is no error; `permanent` when the
    notice can never pass (a plugin made it into no notice): it is dropped at once."""

    def __init__(self, reason: str, later: bool = False, permanent: bool = False) -> None:
        super().__init__(reason)
        self.later = later
        self.permanent = permanent


class RetryLater(Exception):
    """Raised by a plugin (as parent.RetryLater) to send the notice to the retry queue
    without an error: it is not ready yet (msg_fdelay)."""


class NoticeView(Protocol):
    """What plugins make of one notice, as the loop reads it back."""

    new_dir: str | None
    new_file: str | None
    local_file: str | None
    new_relpath: str | None
    """The relPath of the onward notice of the file at new_dir/new_file (sr_subscribe,
    sr_sarra, sr_sender): as a plugin set it, else that file's path below the post_base_dir
    the plugins left (sarra.flow.placement.Onward); None when no file is placed."""
    new_baseurl: str | None
    """Its base URL: as a plugin set it, else post_base_url's (None: posted as received)."""

    def to_notice(self) -> Any:
        """The notice as the plugins left it (a sarra.message.notice.Notice); raises
        MalformedNotice when they made it into no notice."""
        ...


class Hooks(Protocol):
    """The plugins of one config, loaded, as the loop calls them."""

    def has(self, entry: str) -> bool:
        """Whether anything runs at an entry point."""
        ...

    def message(
        self,
        notice: Any,
        *,
        new_dir: str | None = None,
        new_file: str | None = None,
        is_retry: bool = False,
        follows: NoticeView | None = None,
    ) -> NoticeView:
        """The view of a notice that the hooks of one notice share; `follows`: the view of the
        same notice at an earlier point (the notice before it was posted), whose placement and
        what plugins noted on it carry over."""
        ...

    def run(self, entry: str, msg: NoticeView | None = None, *args: Any) -> bool:
        """Run an entry point on a notice: False when the notice stops here. Raises
        PluginFailed."""
        ...

    def transfer(self, entry: str, scheme: str, msg: NoticeView | None) -> bool | None:
        """A transfer by a plugin: True done, False failed, None left to the built-in one.
        Raises PluginFailed."""
        ...

    def transform(self, data: bytes) -> bytes:
        """Downloaded data as on_data plugins change it."""
        ...

    def gather(self, count: int) -> tuple[bool, list[Any]]:
        """Notices that gather hooks add (at most about `count`), and whether the component's
        own gathering goes on this pass."""
        ...

    def event(self, entry: str) -> None:
        """Run an entry point that concerns no notice; failures are logged."""
        ...

    def metrics(self) -> dict[str, Any]:
        """What the plugins report of themselves (sr3 metricsReport), by plugin."""
        ...

    def attach(self, **state: Any) -> None:
        """Show the component's state to the plugins (counts, retry, nodupe)."""
        ...
