"""make_delivery, the AMQP consumer's quick way to a Delivery, makes what Delivery(...) makes."""

from __future__ import annotations

from sarra.broker.interface import Delivery, make_delivery


def test_make_delivery_is_delivery_by_name():
    fields = ("v02.post.a", "xpublic", b"body", {"sum": "d,00"}, "text/plain", True, 7, 2, 0)
    made = make_delivery(fields)
    by_name = Delivery(
        routing_key="v02.post.a",
        exchange="xpublic",
        body=b"body",
        headers={"sum": "d,00"},
        content_type="text/plain",
        redelivered=True,
        delivery_tag=7,
        generation=2,
    )
    assert type(made) is Delivery
    assert made == by_name
    assert len(fields) == len(Delivery._fields)  # every field, in order
    assert made._replace(source=1).source == 1
