"""move_it_mirror: a gateway, a client toward the providers and a server toward its clients.

Each announcement from a provider is relayed on the mirror's PUB socket (port -p) with the
mirror's own request_address, after `delay` seconds; the same file announced by several
providers is relayed once, the others kept as fallbacks. Nothing is fetched until a downstream
client asks: its push makes the mirror fetch the file into its `destination` (a directory of its
own, by the providers' push), then push it on to the client. With `delete` or `compression`, the
copy is removed `remove_delay` seconds after it was served. Downstream clients never contact
the providers; the mirror's own fetching is not published.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from typing import Any

from sarra.eumetcast import messages
from sarra.eumetcast.client import ClientSection
from sarra.eumetcast.config import MirrorChain, Provider
from sarra.eumetcast.messages import Message
from sarra.eumetcast.server import SERVED_MAX, ServingChain
from sarra.eumetcast.sockets import Publisher, RequestServer
from sarra.transfer.confine import PathRefused

log = logging.getLogger(__name__)


class MirrorSection(ServingChain):
    """One mirror section: its inner client, its registry of announced files, its request port."""

    def __init__(self, chain: MirrorChain, publisher: Publisher) -> None:
        super().__init__(chain.server)
        self.mirror = chain
        self.publisher = publisher
        host = chain.server.request_address or socket.gethostname()
        self.request_address = f"{host}:{chain.server.request_port}"
        self.client = ClientSection(chain.client, None, announcement=self._announced)
        self.registry: OrderedDict[str, list[Message]] = OrderedDict()  # uid -> announcements
        self._registry_lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self.requests: RequestServer | None = None

    def start(self) -> None:
        port = self.chain.request_port or 0
        self.requests = RequestServer(port, self.handle, self.name).start()
        self.client.start()

    def _announced(self, message: Message, provider: Provider) -> None:
        uids = messages.uids(message.data)
        key = ",".join(sorted(uids))
        try:
            self.client.target(message.data)
        except PathRefused as err:
            log.warning("[%s] %s (not relayed, from %s)", self.name, err, provider.address)
            return
        except ValueError:
            pass  # a field missing: told if it is fetched
        with self._registry_lock:
            known = self.registry.get(key)
            if known is not None:
                known.append(message)
                return
            self.registry[key] = [message]
            while len(self.registry) > SERVED_MAX:
                self.registry.popitem(last=False)
        relayed = dict(message.data, request_address=self.request_address)
        out = messages.make(message.subject, message.type, relayed)
        if self.mirror.server.delay:
            threading.Timer(self.mirror.server.delay, self.publisher.send, args=(out,)).start()
        else:
            self.publisher.send(out)
        log.info("[%s] relayed %s from %s", self.name, key, provider.address)

    def reachable(self, path: str) -> bool:
        return True  # local_path looks the file up in the registry instead

    def local_path(self, item: dict[str, Any], request: Message) -> str:
        """The local copy of a requested file, fetched from a provider if not here yet."""
        uid = str(item.get("uid", ""))
        data = request.data if isinstance(request.data, dict) else {}
        key = ",".join(sorted(messages.uids(data))) or uid
        with self._registry_lock:
            sources = list(self.registry.get(key, []))
            lock = self._fetching.setdefault(key, threading.Lock())
        if not sources:
            raise LookupError(f"{item.get('uri', uid)} not reachable")
        with lock:
            path = self.client.local_copy(sources[0].data, uid)
            if path is None:
                self._fetch(key, sources)
                path = self.client.local_copy(sources[0].data, uid)
        with self._registry_lock:
            self._fetching.pop(key, None)
        if path is None:
            raise LookupError(f"{uid}: no provider could deliver it")
        return path

    def ack(self, message: Message) -> Message:
        """A client got the file elsewhere: our copy, if we have one, may go."""
        for item in messages.files(message.data):
            with self._registry_lock:
                sources = self.registry.get(",".join(sorted(messages.uids(message.data))), [])
            uid = str(item.get("uid"))
            path = self.client.local_copy(sources[0].data, uid) if sources else None
            if path is not None:
                self.served_once(path)
        return messages.make(message.subject, "ack", message.data)

    def removal_root(self, path: str) -> str:
        """Copies are removed from the client part's destination, never out of it."""
        return self.client.local_root or os.path.dirname(path)

    def _fetch(self, key: str, sources: list[Message]) -> None:
        started = time.monotonic()
        for number, source in enumerate(sources):
            try:
                fetched = self.client.fetch(source)
            except PathRefused as err:
                log.error("[%s] %s (%s)", self.name, err, key)
                return
            if fetched is not None:
                log.info("[%s] fetched %s in %.3f s", self.name, key, time.monotonic() - started)
                for other in sources[number + 1 :]:
                    self.client.send_ack(other)
                return

    def close(self) -> None:
        self.client.stop()
        if self.requests is not None:
            self.requests.close()
        super().close()


class Mirror:
    """Every section of a mirror config, one PUB socket for the relayed announcements."""

    def __init__(self, chains: list[MirrorChain], port: int = 9010) -> None:
        self.publisher = Publisher(port, "move_it_mirror")
        self.sections = [MirrorSection(c, self.publisher) for c in chains]

    def start(self) -> Mirror:
        self.publisher.start()
        for section in self.sections:
            section.start()
        log.info(
            "move_it_mirror publishing on port %d, %d sections",
            self.publisher.port,
            len(self.sections),
        )
        return self

    def stop(self) -> None:
        for section in self.sections:
            section.close()
        self.publisher.close()
