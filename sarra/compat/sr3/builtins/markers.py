"""Built-ins that stand for what sarra's components do by themselves: naming them changes
nothing (sr3 configs name them; sr3 loads retry by itself)."""

from __future__ import annotations

from sarra.compat.sr3.flowcb import FlowCB


class Retry(FlowCB):
    """sr3's retry queue: here the component's own (retry, retry_ttl, attempts)."""


class GatherMessage(FlowCB):
    """Notices from the broker: the consuming components' own gathering."""


class GatherFile(FlowCB):
    """Files of a directory tree: sr_watch's (and sr_post's) own gathering."""


class PostMessage(FlowCB):
    """Posting to post_broker: every component that has one posts by itself."""
