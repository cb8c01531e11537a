"""Broker errors, and one-line reasons for people: what the broker said, and what to do about it.

Every text that leaves this module goes through `redact_text`, so no password reaches a log line
or an exception message.
"""

from __future__ import annotations

import re

from pika import exceptions as pika_exceptions
from pika.adapters.utils import connection_workflow

from sarra.config.credentials import redact_text

# searched only when the broker says no: compiled then (re keeps them), not at every start
_QUOTED_QUEUE = r"\bqueue '(?P<queue>[^']*)'"
_QUOTED_EXCHANGE = r"\bexchange '(?P<exchange>[^']*)'"
_QUOTED_USER = r"\buser '(?P<user>[^']*)'"
_CONNECTION_FORCED = 320


class BrokerError(Exception):
    """A broker operation failed; the message is meant for people and holds no secret."""


class BrokerUrlError(BrokerError):
    """A broker URL that cannot be used (wrong scheme, bad port, no password)."""


class PublishError(BrokerError):
    """The broker did not take a published notice (nack, refused exchange, publisher closed)."""


def explain(code: int, text: str) -> str:
    """The broker's reply `(code) TEXT` with a hint for the usual user mistakes."""
    reason = f"({code}) {text}"
    hint = _hint(code, text)
    return redact_text(f"{reason}; {hint}" if hint else reason)


def _hint(code: int, text: str) -> str:
    if code == 403 and "Login was refused" in text:
        return "wrong user or password (check the URL or credentials.conf)"
    if code == 403:
        queue, user = re.search(_QUOTED_QUEUE, text), re.search(_QUOTED_USER, text)
        if queue and user and not queue["queue"].startswith(f"q_{user['user']}"):
            return (
                f"queue names must start with q_{user['user']} "
                "(remove the queue option to get the standard name)"
            )
        return "the broker user lacks this permission; ask the broker's administrator"
    if code == 404 and re.search(_QUOTED_EXCHANGE, text):
        return "the exchange does not exist (yet): it is declared by whoever posts to it"
    if code == 404 and re.search(_QUOTED_QUEUE, text):
        return "the queue does not exist: declare it (declare_queue on, or the declare action)"
    if code == 406 and "inequivalent arg 'x-queue-type'" in text:
        return (
            "the queue exists with another queue_type: delete it with the cleanup action "
            "(its notices go with it), then start again"
        )
    if code == 406 and "inequivalent arg" in text:
        return (
            "the queue exists with other settings: use the same options, "
            "or delete it with the cleanup action"
        )
    if code == 530 and "vhost" in text:
        return "the virtual host in the broker URL does not exist or is not allowed to this user"
    return ""


def describe(error: BaseException) -> str:
    """A one-line reason for any failure of a connection or channel (pika's or the socket's)."""
    error = _innermost(error)
    if isinstance(error, pika_exceptions.ConnectionClosedByBroker | pika_exceptions.ChannelClosed):
        return explain(error.reply_code, error.reply_text)
    if isinstance(error, pika_exceptions.ProbableAuthenticationError):
        return explain(403, "ACCESS_REFUSED - Login was refused")
    if isinstance(error, pika_exceptions.AMQPHeartbeatTimeout):
        return "no heartbeat from the broker: the connection is dead"
    if isinstance(error, connection_workflow.AMQPConnectorStackTimeout):
        return "timed out while connecting"
    if isinstance(error, OSError) and error.strerror:
        return redact_text(error.strerror)
    text = str(error) or repr(error)
    return redact_text(" ".join(text.split()))


def refused_by_broker(error: BaseException) -> bool:
    """Whether the broker answered and said no (login, vhost, permission, a missing exchange),
    rather than could not be reached or was lost."""
    error = _innermost(error)
    if isinstance(error, pika_exceptions.ConnectionClosedByBroker):
        return error.reply_code != _CONNECTION_FORCED  # 320: the broker shutting down
    refusals = (
        pika_exceptions.ChannelClosedByBroker,
        pika_exceptions.ProbableAuthenticationError,
        pika_exceptions.ProbableAccessDeniedError,
    )
    return isinstance(error, refusals)


def _innermost(error: BaseException) -> BaseException:
    """The exception that says what happened, out of pika's wrappers around it."""
    for _ in range(10):
        inner: object = None
        if isinstance(error, connection_workflow.AMQPConnectionWorkflowFailed) and error.exceptions:
            inner = error.exceptions[-1]
        elif isinstance(error, connection_workflow.AMQPConnectorPhaseErrorBase):
            inner = error.exception
        elif isinstance(error, pika_exceptions.ProbableAccessDeniedError):
            inner = _closed_by_broker(error)
        elif type(error) is pika_exceptions.AMQPConnectionError and error.args:
            inner = error.args[0]
        if not isinstance(inner, BaseException):
            return error
        error = inner
    return error


def _closed_by_broker(error: BaseException) -> BaseException | None:
    """The broker's refusal that pika gives as text: `ConnectionClosedByBroker: (530) '...'`."""
    match = re.search(r"\((?P<code>\d+)\) '(?P<text>.*)'", str(error))
    if match is None:
        return None
    return pika_exceptions.ConnectionClosedByBroker(int(match["code"]), match["text"])


def refused_exchange(error: BaseException | None) -> str | None:
    """The exchange a channel was closed for (missing or forbidden), if that is why it closed."""
    if not isinstance(error, pika_exceptions.ChannelClosedByBroker):
        return None
    if error.reply_code not in (403, 404):
        return None
    match = re.search(_QUOTED_EXCHANGE, error.reply_text)
    return match["exchange"] if match else None
