"""The broker actions of the command line: declare, setup and cleanup of a config.

- declare: the queue(s) and the post exchanges, no bindings;
- setup: the queue(s), their bindings and the post exchanges;
- cleanup: delete the queue(s), and the post exchanges if no queue is bound to them (never the
  shared ones: xpublic, xreport, xs_mqtt_public, xwinnow*).

The queues (sessions) are those of `broker` and of each `also_broker`.

declare_queue, bind_queue and declare_exchange set to False leave their part alone. Each action
returns one line per thing done or left alone; a refusal of the broker raises BrokerError with
the broker's reason and a hint, meant to be printed as is (no traceback).

On an MQTT broker the queue of each instance is its session (see mqtt_admin): declare and setup
create and subscribe the sessions, cleanup and reset remove them; there are no exchanges.
"""

from __future__ import annotations

import pika
from pika import exceptions as pika_exceptions

from sarra.broker import kinds, naming, plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerError, describe, explain
from sarra.broker.steps import Step, exchange_steps
from sarra.broker.topology import DeleteExchange, DeleteQueue
from sarra.config.credentials import Credentials
from sarra.config.loader import Config


def declare(config: Config, *, credentials: Credentials | None = None) -> list[str]:
    """Declare the queue(s) of the config and its post exchanges, without bindings."""
    return _act(config, credentials, bindings=False)


def setup(config: Config, *, credentials: Credentials | None = None) -> list[str]:
    """Declare the queue(s) of the config, bind them, and declare its post exchanges."""
    return _act(config, credentials, bindings=True)


def cleanup(config: Config, *, credentials: Credentials | None = None) -> list[str]:
    """Delete the queue(s) of the config, and its post exchanges when unused and not shared."""
    lines: list[str] = []
    if plan.consumes(config) and not config.declare_queue:
        lines.append("declare_queue is off: the queue is left alone")
    elif plan.consumes(config):
        for one in plan.each_broker(config):  # also_broker: the queue on each broker
            lines += _remove_queues(one, credentials, say_none=True)
    exchanges = plan.post_exchanges(config)
    if exchanges and not _has_exchanges(plan.post_broker(config)):
        lines.append("no exchanges on an MQTT broker: nothing to delete")
    elif exchanges and not config.declare_exchange:
        lines.append("declare_exchange is off: the post exchanges are left alone")
    elif exchanges:
        kept = [name for name in exchanges if naming.is_protected_exchange(name)]
        lines += [f"kept exchange {name}: shared by all users" for name in kept]
        steps = [DeleteExchange(name) for name in exchanges if name not in kept]
        lines += _run(_settings(config, plan.post_broker(config), credentials), steps)
    return lines


def reset(config: Config, *, credentials: Credentials | None = None) -> list[str]:
    """Delete the queue(s) of the config, so that they are declared anew (option reset)."""
    return [
        line
        for one in plan.each_broker(config)
        for line in _remove_queues(one, credentials, say_none=False)
    ]


def _remove_queues(config: Config, credentials: Credentials | None, *, say_none: bool) -> list[str]:
    """Delete the queue(s) or sessions of the config on its `broker`; `say_none`: a line saying
    so when no queue name is kept."""
    if _is_mqtt(config.broker):
        return _remove_sessions(config, credentials)
    specs = plan.queue_specs(config, create=False)
    lines = (
        ["no queue name kept for this config: no queue to delete"] if say_none and not specs else []
    )
    steps: list[Step] = [DeleteQueue(spec.name) for spec in specs]
    return lines + _run(_settings(config, config.broker, credentials), steps)


def _act(config: Config, credentials: Credentials | None, *, bindings: bool) -> list[str]:
    lines: list[str] = []
    if plan.consumes(config):
        for one in plan.each_broker(config):  # also_broker: the queue on each broker
            lines += _declare_queues(one, credentials, bindings=bindings)
    exchanges = plan.post_exchanges(config)
    if exchanges and not _has_exchanges(plan.post_broker(config)):
        lines.append("no exchanges on an MQTT broker: topics need no declaration")
    elif exchanges and not config.declare_exchange:
        lines.append("declare_exchange is off: the post exchanges are not declared")
    elif exchanges:
        settings = _settings(config, plan.post_broker(config), credentials)
        lines += _run(settings, exchange_steps(exchanges))
    return lines


def _declare_queues(
    config: Config, credentials: Credentials | None, *, bindings: bool
) -> list[str]:
    """Declare (and bind) the queue(s) or sessions of a config on its `broker`."""
    if _is_mqtt(config.broker):
        return _declare_sessions(config, credentials)
    steps = [step for spec in plan.queue_specs(config) for step in spec.steps(bindings=bindings)]
    lines = []
    if not config.declare_queue:
        lines.append("declare_queue is off: the queue is not declared")
    if bindings and not config.bind_queue:
        lines.append("bind_queue is off: the queue is not bound")
    return lines + _run(_settings(config, config.broker, credentials), steps)


def _is_mqtt(url: str | None) -> bool:
    return url is not None and kinds.kind(url) is kinds.MQTT


def _has_exchanges(url: str | None) -> bool:
    return url is None or kinds.kind(url).can(kinds.EXCHANGES)


def _declare_sessions(config: Config, credentials: Credentials | None) -> list[str]:
    """Create and subscribe each instance's session, so that the broker keeps its messages."""
    from sarra.broker import mqtt_admin  # paho only where MQTT is used: Debian has no paho 2

    settings = _settings(config, config.broker, credentials)
    lines = []
    if not config.bind_queue:
        lines.append("bind_queue is off: the sessions are not subscribed")
    for spec in plan.mqtt_sessions(config):
        lines += mqtt_admin.declare_session(settings, spec, config.mqtt_protocol)
    return lines


def _remove_sessions(config: Config, credentials: Credentials | None) -> list[str]:
    """Remove each instance's session, and what the broker kept for it."""
    from sarra.broker import mqtt_admin  # paho only where MQTT is used: Debian has no paho 2

    specs = plan.mqtt_sessions(config, create=False)
    if not specs:
        return ["no queue name kept for this config: no session to remove"]
    settings = _settings(config, config.broker, credentials)
    return [
        line
        for spec in specs
        for line in mqtt_admin.remove_session(settings, spec.client_id, config.mqtt_protocol)
    ]


def _settings(
    config: Config, url: str | None, credentials: Credentials | None
) -> ConnectionSettings:
    assert url is not None
    return plan.connection_settings(config, url, "admin", credentials=credentials)


def _run(settings: ConnectionSettings, steps: list[Step]) -> list[str]:
    """Run the steps on a blocking connection; one line per step."""
    if not steps:
        return []
    connection, url, failures = None, settings.url, []
    for node, url in enumerate(settings.nodes):  # the first node of a cluster that answers
        try:
            connection = pika.BlockingConnection(settings.parameters(node))
            break
        except (pika_exceptions.AMQPError, OSError) as error:
            failures.append(f"{url}: cannot connect: {describe(error)}")
    if connection is None:
        raise BrokerError("; ".join(failures))
    lines = []
    try:
        channel = connection.channel()
        for step in steps:
            try:
                step.run(channel)
            except pika_exceptions.ChannelClosedByBroker as error:
                if isinstance(step, DeleteExchange) and error.reply_code == 406:
                    lines.append(f"kept exchange {step.name}: queues are bound to it")
                    channel = connection.channel()
                    continue
                reason = explain(error.reply_code, error.reply_text)
                raise BrokerError(f"{url}: cannot {step}: {reason}") from None
            lines.append(f"{url}: {step}")
    except pika_exceptions.AMQPConnectionError as error:
        raise BrokerError(f"{url}: connection lost: {describe(error)}") from None
    finally:
        if connection.is_open:
            connection.close()
    return lines
