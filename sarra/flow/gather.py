"""Gather, the first stage of the loop, for the components fed from a queue (the others gather
from a source: sarra.flow.sources): deliveries from the consumer (in its connection's thread as
they arrive, or in batches in the loop's thread), notices that gather plugins bring and notices
due again in the retry queue; each decoded (a malformed one logged and acknowledged) and taken
to the filter (sarra.flow.filtering)."""

from __future__ import annotations

import logging
import time

from sarra.broker import Delivery, naming
from sarra.config.credentials import redact_url
from sarra.flow.job import Job
from sarra.flow.loop_state import LoopState
from sarra.message import decode_any
from sarra.message.errors import MalformedNotice
from sarra.message.notice import Notice
from sarra.message.reason import Reason

logger = logging.getLogger("sarra.flow")

BATCH = 1000
"""Most deliveries taken from the consumer at once."""

TOPIC_KINDS = 20
"""Kinds of routing key matching no topic prefix that are logged; more are only counted."""

ROOM_MARGIN = 1000
"""Room a publisher keeps beyond a batch for the connection's thread to post it (workers post
too): with less, the batch goes to the loop's thread, which may wait."""


class Gathering(LoopState):
    """Gathering notices: from the queue, from gather plugins, from the retry queue."""

    def _arrived(self, batch: list[Delivery]) -> list[Delivery]:
        """The deliveries of one read, in the consuming connection's thread: gathered and
        filtered there; those left to the loop's thread (stopping: never taken, so the broker
        delivers them again; or a publisher short of room) are returned."""
        with self._taking:
            if not self._open or self.stop.is_set():
                return batch
            count = len(batch) + ROOM_MARGIN
            if any(p is not None and p.room < count for p in (self.publisher, self.reporter)):
                return batch
            self._arrivals += 1
            self._gathered(batch)
        return []

    def _gathered(self, batch: list[Delivery]) -> None:
        """Decode each delivery of a batch (received together), and take it through."""
        self._count("received", len(batch))
        received = time.time()
        values = self.config.values  # read once per batch, on the hot path
        validation, own_source = values["wis2_validation"], values["source_from_exchange"]
        source = None if values["source_from_message"] else values["source"]
        pubtimes: list[str] = []
        under_prefix, reasons, take = self.topics.match, self._wis2_reasons, self._take
        for delivery in batch:
            key = delivery.routing_key
            if not under_prefix(key):
                self._unmatched_topic(key)
            try:
                notice = decode_any(
                    key, delivery.body, delivery.headers, delivery.content_type,
                    wis2_validation=validation, on_wis2_reasons=reasons,
                )  # fmt: skip
            except MalformedNotice as err:
                self._count("malformed")
                self.bad_input.log(logging.WARNING, "malformed notice",
                                   "malformed notice dropped (%s): %s", delivery.routing_key,
                                   err.reason)  # fmt: skip
                self.consumer.ack(delivery)  # type: ignore[union-attr]
                continue
            notice.exchange = delivery.exchange
            pubtimes.append(notice.pubtime)
            if own_source:
                # A source cannot pass for another: its exchange, not its notice, says who it is.
                notice.source = naming.exchange_owner(delivery.exchange) or notice.source
            elif source:  # source_from_message off (sr3's way): the config names the source
                notice.source = source
            take(Job(notice, delivery, None))
        self.recorder.received(pubtimes, received)

    def _plugin_gather(self) -> None:
        """Notices that gather plugins bring: through the flow like those from the queue
        (with nothing to acknowledge)."""
        assert self.plugins is not None
        _, notices = self.plugins.gather(BATCH)
        for notice in notices:
            self._count("received")
            self._take(Job(notice, None, None))

    def _unmatched_topic(self, routing_key: str) -> None:
        """Count a notice whose routing key starts with no topic prefix of the config (the
        queue has bindings the config does not make); log the first of each kind."""
        self._count("unmatched topic")
        words = len(self.topic_prefixes[0].split("."))
        kind = ".".join(routing_key.split(".", words)[:words])
        if kind in self._unmatched_kinds or len(self._unmatched_kinds) > TOPIC_KINDS:
            return
        self._unmatched_kinds.add(kind)
        if len(self._unmatched_kinds) > TOPIC_KINDS:
            logger.warning("more kinds of routing key match no topic prefix: counted only")
            return
        logger.warning("notice under routing key %s matches no topic prefix (%s): handled all"
                       " the same; more like it are counted as 'unmatched topic'", routing_key,
                       ", ".join(self.topic_prefixes))  # fmt: skip

    def _wis2_reasons(self, notice: Notice, reasons: list[Reason]) -> None:
        """What the validator found in a WIS2 message that was taken: each kind of fault is
        logged at warning level the first time, at debug level after (a peer's steady fault
        would flood the log)."""
        for reason in reasons:
            first = reason.code not in self._wis2_seen
            self._wis2_seen.add(reason.code)
            logger.log(logging.WARNING if first else logging.DEBUG, "WIS2 message %s (%s): %s%s",
                       notice.extra.get("id", "-"), redact_url(notice.url), reason.text,
                       " (more of this kind at debug level)" if first else "")  # fmt: skip

    def _retry_some(self) -> None:
        for _ in range(10):
            entry = self.retry.take()
            if entry is None:
                return
            try:
                notice = decode_any(entry.routing_key, entry.body, entry.headers,
                                    entry.content_type,
                                    wis2_validation=self.config.wis2_validation)  # fmt: skip
            except MalformedNotice as err:  # kept by an older version, held to today's checks
                self._count("malformed")
                self.bad_input.log(logging.WARNING, "malformed notice",
                                   "malformed notice dropped from the retry queue (%s): %s",
                                   entry.routing_key, err.reason)  # fmt: skip
                self.retry.done(entry)
                continue
            notice.exchange = entry.exchange
            self._count("retried")
            self._take(Job(notice, None, entry))
