"""The pure parts of the broker layer, without a broker: names of queues and exchanges, the
kept queue name, broker URLs, what a config declares, acknowledgement frames, back-off, and the
reasons given for the broker's refusals."""

from __future__ import annotations

import random
import re
import ssl
import threading
from pathlib import Path

import pytest

from sarra.broker import naming, plan
from sarra.broker.acks import AckTracker
from sarra.broker.backoff import Backoff, Outage
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerUrlError, explain
from sarra.broker.topology import Bind, DeclareQueue, QueueSpec
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load

RANDOM_QUEUE = re.compile(r"q_bob\.sr_subscribe\.dd_swob\.\d{8}\.\d{8}")


# --- queue and exchange names


def test_subscribe_and_report_queues_end_in_two_groups_of_eight_random_digits() -> None:
    assert RANDOM_QUEUE.fullmatch(naming.queue_name("bob", "subscribe", "dd_swob"))
    named = naming.queue_name("bob", "report", "mine", suffix="x", rng=random.Random(1))
    assert re.fullmatch(r"q_bob\.sr_report\.mine\.x\.\d{8}\.\d{8}", named)
    assert naming.queue_name("bob", "subscribe", "c") != naming.queue_name("bob", "subscribe", "c")


def test_other_consumers_have_fixed_queue_names() -> None:
    assert naming.queue_name("bob", "sarra", "dd") == "q_bob.sr_sarra.dd"
    assert naming.queue_name("bob", "shovel", "dd", suffix="a") == "q_bob.sr_shovel.dd.a"
    assert naming.split_queue_name("q_bob.sr_winnow.w", 3) == "q_bob.sr_winnow.w_03"


def test_exchange_names() -> None:
    assert naming.user_exchange("bob") == "xs_bob"
    assert naming.user_exchange("bob", "out") == "xs_bob_out"
    assert naming.post_exchange_names("xs_bob") == ["xs_bob"]
    assert naming.post_exchange_names("xwinnow", 3) == ["xwinnow00", "xwinnow01", "xwinnow02"]


@pytest.mark.parametrize(
    ("name", "protected"),
    [
        ("xpublic", True),
        ("xreport", True),
        ("xs_mqtt_public", True),
        ("xwinnow", True),
        ("xwinnow07", True),
        ("xs_bob", False),
        ("xpublic2", False),
    ],
)
def test_shared_exchanges_are_protected_from_cleanup(name: str, protected: bool) -> None:
    assert naming.is_protected_exchange(name) is protected


def test_connection_name_says_whose_connection_it_is() -> None:
    name = naming.connection_name("subscribe", "dd_swob", 2, "consumer")
    assert name.startswith("sr_subscribe.dd_swob.02 consumer pid ")


# --- the kept queue name


def test_queue_name_is_kept_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "q.qname"
    first = naming.stored_queue_name(path, lambda: "q_bob.one")
    assert first == "q_bob.one"
    assert path.read_text().strip() == "q_bob.one"
    assert naming.stored_queue_name(path, lambda: "q_bob.two") == "q_bob.one"
    assert naming.stored_queue_name(tmp_path / "none.qname", None) is None
    assert list(path.parent.iterdir()) == [path]  # no scratch file left behind


def test_an_empty_kept_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "q.qname"
    path.write_text("\n")
    assert naming.stored_queue_name(path, lambda: "q_bob.new") == "q_bob.new"


def test_instances_starting_together_agree_on_one_name(tmp_path: Path) -> None:
    path = tmp_path / "q.qname"
    names: list[str | None] = []
    start = threading.Barrier(8)

    def instance() -> None:
        start.wait()
        names.append(
            naming.stored_queue_name(path, lambda: naming.queue_name("b", "subscribe", "c"))
        )

    threads = [threading.Thread(target=instance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 1


def test_qname_file_lives_in_the_configs_state_directory(sarra_home: Path) -> None:
    path = naming.qname_file("subscribe", "dd_swob", "bob")
    assert path.name == "sr_subscribe.dd_swob.bob.qname"
    assert path.parent.parts[-2:] == ("subscribe", "dd_swob")


# --- broker URLs


def creds(text: str = "") -> Credentials:
    return Credentials.parse(text, "credentials.conf")


def test_url_with_everything() -> None:
    url = parse_broker_url("amqps://bob:s%40cret@broker.example.org:5000/prod", creds())
    assert (url.scheme, url.host, url.port, url.vhost) == (
        "amqps",
        "broker.example.org",
        5000,
        "prod",
    )
    assert (url.user, url.password, url.tls) == ("bob", "s@cret", True)


def test_url_defaults_anonymous_localhost_default_port_root_vhost() -> None:
    url = parse_broker_url("amqp://", creds())
    assert (url.user, url.password) == ("anonymous", "anonymous")
    assert (url.host, url.port, url.vhost, url.tls) == ("localhost", 5672, "/", False)
    assert parse_broker_url("amqps://u:p@h", creds()).port == 5671


@pytest.mark.parametrize(
    ("path", "vhost"), [("", "/"), ("/", "/"), ("/%2f", "/"), ("/%2F", "/"), ("/dev", "dev")]
)
def test_url_vhost(path: str, vhost: str) -> None:
    assert parse_broker_url(f"amqp://u:p@host{path}", creds()).vhost == vhost


def test_password_comes_from_credentials_when_the_url_has_none() -> None:
    store = creds("amqp://bob:fr%3Aom@broker.example.org/\n")
    assert parse_broker_url("amqp://bob@broker.example.org/", store).password == "fr:om"
    assert parse_broker_url("amqp://bob:given@broker.example.org/", store).password == "given"


def test_password_read_from_the_users_credentials_file(sarra_home: Path) -> None:
    path = sarra_home / "credentials.conf"
    path.write_text("amqp://bob:filed@broker.example.org/\n")
    path.chmod(0o600)
    assert parse_broker_url("amqp://bob@broker.example.org/").password == "filed"


def test_url_errors_never_show_the_password() -> None:
    with pytest.raises(BrokerUrlError, match="no password") as missing:
        parse_broker_url("amqp://bob@nowhere.example.org/", creds())
    assert "credentials.conf" in str(missing.value)
    with pytest.raises(BrokerUrlError, match="amqp://, amqps://, mqtt://") as scheme:
        parse_broker_url("http://bob:s3cret@host/", creds())
    with pytest.raises(BrokerUrlError, match="not a valid URL") as port:
        parse_broker_url("amqp://bob:s3cret@host:99999/", creds())
    assert "s3cret" not in str(scheme.value) + str(port.value)


def test_url_shows_no_password() -> None:
    url = parse_broker_url("amqp://bob:s3cret@host/v%2Fh", creds())
    assert str(url) == "amqp://bob@host:5672/v%2Fh"
    assert "s3cret" not in repr(url)
    assert str(parse_broker_url("amqp://u:p@[::1]/", creds())) == "amqp://u@[::1]:5672/"


def test_connection_parameters() -> None:
    url = parse_broker_url("amqp://bob:pw@host/dev", creds())
    params = ConnectionSettings(url, "name me", heartbeat=2.4).parameters()
    assert (params.host, params.port, params.virtual_host, params.heartbeat) == (
        "host",
        5672,
        "dev",
        2,
    )
    assert params.client_properties["connection_name"] == "name me"
    assert params.ssl_options is None
    assert "pw" not in repr(params)


@pytest.mark.parametrize(
    ("rigour", "verified"), [("lax", False), ("normal", True), ("strict", True)]
)
def test_tls_rigour(rigour: str, verified: bool) -> None:
    url = parse_broker_url("amqps://bob:pw@broker.example.org/", creds())
    context = ConnectionSettings(url, "n", tls_rigour=rigour).parameters().ssl_options.context
    assert context.check_hostname is verified
    assert (context.verify_mode == ssl.CERT_REQUIRED) is verified
    if rigour == "strict":
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


# --- what a config declares


def config_from(tmp_path: Path, component: str, text: str, name: str = "cfg") -> Config:
    path = tmp_path / f"{name}.conf"
    path.write_text(text)
    return load(component, path)


def test_subscriber_queue_bindings_and_arguments(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        "subscribe",
        "broker amqp://bob:pw@localhost/\nexpire 10m\nmessage_ttl 1h\n"
        "subtopic observations.#\nexchange xs_other\ntopic_prefix v03\nsubtopic a b.*\n",
    )
    spec = plan.queue_spec(config)
    assert spec is not None
    assert re.fullmatch(r"q_bob\.sr_subscribe\.cfg\.\d{8}\.\d{8}", spec.name)
    assert spec.bindings == (
        ("xpublic", "v02.post.observations.#"),
        ("xs_other", "v03.a%20b.*"),
    )
    assert spec.arguments() == {"x-expires": 600_000, "x-message-ttl": 3_600_000}
    assert plan.queue_spec(config) == spec  # the kept name is reused
    assert plan.post_exchanges(config) == []  # a subscriber posts only with a post_broker


def test_default_binding_and_subtopic_none(tmp_path: Path) -> None:
    default = config_from(tmp_path, "sarra", "broker amqp://bob:pw@localhost/\n")
    spec = plan.queue_spec(default)
    assert spec is not None
    assert spec.name == "q_bob.sr_sarra.cfg"
    assert spec.bindings == (("xs_bob", "v02.post.#"),)
    assert spec.arguments() == {"x-expires": 300_000}
    none = config_from(tmp_path, "shovel", "broker amqp://bob:pw@h/\nsubtopic None\n", "n")
    assert plan.bindings(none) == ()


def test_queue_option_overrides_and_locked_down_flags(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        "subscribe",
        "broker amqp://bob:pw@h/\nqueue q_bob.mine\ndeclare_queue off\nbind_queue off\n"
        "durable off\nexpire 0\n",
    )
    spec = plan.queue_spec(config)
    assert spec is not None
    assert (spec.name, spec.durable, spec.declare, spec.bind) == ("q_bob.mine", False, False, False)
    assert spec.arguments() == {}
    assert spec.steps() == []


def test_cleanup_does_not_invent_a_queue_name(tmp_path: Path) -> None:
    config = config_from(tmp_path, "subscribe", "broker amqp://bob:pw@h/\n")
    assert plan.queue_spec(config, create=False) is None


def test_exchange_split_gives_each_instance_its_queue_and_exchange(tmp_path: Path) -> None:
    config = config_from(
        tmp_path,
        "winnow",
        "broker amqp://bob:pw@h/\nexchange xwinnow\nexchange_split on\ninstances 2\n"
        "post_exchange xs_bob_out\npost_exchange_split 2\n",
    )
    specs = plan.queue_specs(config)
    assert [s.name for s in specs] == ["q_bob.sr_winnow.cfg_00", "q_bob.sr_winnow.cfg_01"]
    assert specs[1].bindings == (("xwinnow01", "v02.post.#"),)
    assert plan.post_exchanges(config) == ["xs_bob_out00", "xs_bob_out01"]


def test_post_exchange_defaults(tmp_path: Path) -> None:
    post = config_from(tmp_path, "post", "post_broker amqp://alice:pw@h/\n", "p")
    assert plan.post_exchanges(post) == ["xs_alice"]
    suffixed = config_from(
        tmp_path, "watch", "post_broker amqp://alice:pw@h/\npost_exchange_suffix x\n", "w"
    )
    assert plan.post_exchanges(suffixed) == ["xs_alice_x"]
    sarra = config_from(tmp_path, "sarra", "broker amqp://bob:pw@h/\n", "s")
    assert plan.post_exchanges(sarra) == ["xpublic"]


def test_steps_say_what_they_do() -> None:
    spec = QueueSpec("q_b.x", bindings=(("xs_b", "v02.post.#"),))
    assert [str(s) for s in spec.steps()] == [
        "declare queue q_b.x",
        "bind queue q_b.x to exchange xs_b with key v02.post.#",
    ]
    assert spec.steps(bindings=False) == [DeclareQueue(spec)]
    assert QueueSpec("q", bindings=(("x", "k"),), declare=False).steps() == [Bind("q", "x", "k")]


# --- acknowledgement frames


def test_contiguous_acks_make_one_multiple_frame() -> None:
    tracker = AckTracker()
    for tag in range(1, 6):
        tracker.delivered(tag)
    assert tracker.acks([2, 1, 3]) == [(3, True)]
    assert len(tracker) == 2


def test_an_ack_behind_one_in_work_goes_alone_and_is_never_repeated() -> None:
    tracker = AckTracker()
    for tag in range(1, 6):
        tracker.delivered(tag)
    assert tracker.acks([2, 4]) == [(2, False), (4, False)]
    assert tracker.acks([1]) == [(1, True)]  # covers 1 (2 is already acknowledged)
    assert tracker.acks([3]) == [(3, True)]
    assert tracker.acks([5]) == [(5, True)]
    assert len(tracker) == 0


def test_a_rejected_delivery_goes_alone_and_is_never_acknowledged() -> None:
    tracker = AckTracker()
    for tag in range(1, 5):
        tracker.delivered(tag)
    assert tracker.rejects([2, 2, 9]) == [2]
    assert tracker.acks([2]) == []  # given back already
    assert tracker.acks([1]) == [(1, True)]
    assert tracker.rejects([1]) == []  # acknowledged already
    assert tracker.acks([4, 3]) == [(4, True)]  # passes over 2, which the broker let go
    assert len(tracker) == 0


def test_unknown_and_repeated_tags_are_left_out() -> None:
    tracker = AckTracker()
    tracker.delivered(1)
    tracker.delivered(2)
    assert tracker.acks([1, 1, 7]) == [(1, True)]
    assert tracker.acks([1]) == []
    assert tracker.acks([]) == []


def test_nothing_is_acknowledged_before_it_is_asked_for() -> None:
    rng = random.Random(7)
    tracker = AckTracker()
    tags = list(range(1, 201))
    for tag in tags:
        tracker.delivered(tag)
    rng.shuffle(tags)
    covered: set[int] = set()
    asked: set[int] = set()
    while tags:
        count = rng.randint(1, 9)
        batch, tags = tags[:count], tags[count:]
        asked.update(batch)
        for tag, multiple in tracker.acks(batch):
            newly = set(range(1, tag + 1)) - covered if multiple else {tag}
            assert tag not in covered
            covered |= newly
            assert covered <= asked
    assert covered == asked == set(range(1, 201))


@pytest.mark.parametrize("seed", range(20))
def test_the_frames_settle_exactly_what_was_asked_as_deliveries_come(seed: int) -> None:
    """Deliveries arriving between acknowledgements, runs in order (one comparison) mixed with
    acknowledgements out of order, rejects and unknown or repeated tags: the broker, told the
    frames, ends with exactly the asked tags acknowledged and the rejected ones given back,
    none settled twice and none before it was asked for."""
    rng = random.Random(seed)
    tracker = AckTracker()
    delivered, broker_acked, broker_rejected, asked, rejected = 0, set(), set(), set(), set()

    def outstanding_up_to(tag: int) -> set[int]:
        return set(range(1, tag + 1)) - broker_acked - broker_rejected

    for _ in range(300):
        for _ in range(rng.randint(0, 6)):
            delivered += 1
            tracker.delivered(delivered)
        waiting = sorted(set(range(1, delivered + 1)) - asked - rejected)
        if rng.random() < 0.1:  # give some back
            chosen = [*rng.sample(waiting, min(len(waiting), rng.randint(0, 2))), delivered + 5]
            for tag in tracker.rejects(chosen):
                assert tag not in broker_acked | broker_rejected
                broker_rejected.add(tag)
            rejected.update(t for t in chosen if t <= delivered)
            continue
        if rng.random() < 0.5:  # the next ones, in the order of delivery
            chosen = waiting[: rng.randint(0, len(waiting))]
        else:
            chosen = rng.sample(waiting, rng.randint(0, len(waiting)))
        noise = rng.sample(sorted(asked), min(len(asked), 2))
        noise += [*rng.sample(sorted(rejected), min(len(rejected), 1)), delivered + 3]
        chosen += noise  # repeated, given back and unknown tags: left out
        asked.update(t for t in chosen if t <= delivered and t not in rejected)
        for tag, multiple in tracker.acks(chosen):
            newly = outstanding_up_to(tag) if multiple else {tag}
            assert newly and tag in newly and newly <= asked
            broker_acked |= newly
        assert len(tracker) == delivered - len(asked) - len(rejected)
    rest = sorted(set(range(1, delivered + 1)) - rejected - asked)
    asked.update(rest)
    for tag, multiple in tracker.acks(rest):
        newly = outstanding_up_to(tag) if multiple else {tag}
        assert newly and tag in newly and newly <= asked
        broker_acked |= newly
    assert len(tracker) == 0
    assert (broker_acked, broker_rejected) == (asked, rejected)


# --- back-off


def test_backoff_doubles_up_to_a_cap_of_4_s_and_resets() -> None:
    backoff = Backoff(first=1, jitter=0, rng=lambda: 0.5)
    assert [backoff.next() for _ in range(6)] == [1, 2, 4, 4, 4, 4]
    backoff.reset()
    assert backoff.next() == 1


def test_backoff_jitter_draws_in_the_upper_half_never_above_the_cap() -> None:
    low = Backoff(first=8, rng=lambda: 1.0)
    high = Backoff(first=8, rng=lambda: 0.0)
    assert (low.next(), high.next()) == (2, 4)
    spread = Backoff(first=8)
    delays = [spread.next() for _ in range(1000)]
    assert 2 <= min(delays) < 2.1 and 3.9 < max(delays) <= 4


def test_an_outage_is_logged_first_then_once_a_minute_and_its_length_at_the_end() -> None:
    now = [100.0]
    outage = Outage(clock=lambda: now[0])
    assert outage.recovered() is None  # no outage, nothing to say
    logged = []
    for _ in range(30):  # two minutes of attempts every 4 s
        logged.append(outage.failed("Connection refused"))
        now[0] += 4
    assert logged.count(True) == 2 and logged[0] and logged[15]
    assert outage.failed("Connection reset")  # a new reason is worth a line
    assert outage.attempts == 31 and outage.away == 120
    assert outage.recovered() == 120
    assert outage.attempts == 0 and outage.failed("Connection refused")  # a new outage


def test_refused_queue_name_gets_the_naming_hint() -> None:
    text = "ACCESS_REFUSED - access to queue 'mine' in vhost '/' refused for user 'bob'"
    assert explain(403, text) == f"(403) {text}; queue names must start with q_bob " + (
        "(remove the queue option to get the standard name)"
    )
    standard = text.replace("'mine'", "'q_bob.x'")
    assert "ask the broker's administrator" in explain(403, standard)


def test_other_hints() -> None:
    assert "declared by whoever posts" in explain(404, "NOT_FOUND - no exchange 'x' in vhost '/'")
    assert "other settings" in explain(406, "PRECONDITION_FAILED - inequivalent arg 'x-expires'")
    assert "wrong user or password" in explain(403, "ACCESS_REFUSED - Login was refused")
    assert explain(320, "CONNECTION_FORCED - bye") == "(320) CONNECTION_FORCED - bye"


@pytest.mark.parametrize(
    ("exchange", "owner"),
    [("xs_alice", "alice"), ("xs_alice_radar", "alice"), ("xpublic", None), ("xs_", None)],
)
def test_exchange_owner(exchange: str, owner: str | None) -> None:
    assert naming.exchange_owner(exchange) == owner
