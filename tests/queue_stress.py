"""A retry queue (either driver) under concurrent use, as a loop uses it: worker threads put,
take, put again and finish entries while a housekeeping thread compacts and counts every few
milliseconds. Shared by the tests of the disk and the Redis queue."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from sarra.flow.retry import Retries, RetryEntry

LATER = 10_000.0
"""Seconds ahead the workers look, so that every entry is due (the queues' ttl is longer)."""


def entry(number: int) -> RetryEntry:
    """A distinct failed notice."""
    return RetryEntry(f"v02.post.stress.f{number:05d}", b"{}", {"sum": "d,1"}, None, "xpublic")


class Stress:
    """Drives `queue` with `workers` threads and one housekeeping thread; every exception
    raised in any of them, and every wrong count seen, is collected in `problems`."""

    def __init__(self, queue: Retries, workers: int = 4, entries: int = 200) -> None:
        self.queue = queue
        self.workers = workers
        self.entries = entries
        self.problems: list[str] = []
        self.finished: Counter[str] = Counter()
        self._finished_lock = threading.Lock()
        self.compactions = 0

    def _run(self, work: Callable[[int], None], expect: Callable[[int], bool], what: str) -> None:
        """Run `work(worker)` in every worker while the housekeeping compacts and checks that
        `expect(len(queue))` holds."""
        done = threading.Event()

        def housekeeping() -> None:
            while not done.is_set():
                try:
                    self.queue.compact()
                    self.compactions += 1
                    count = len(self.queue)
                    if not expect(count):
                        self.problems.append(f"{what}: the queue counted {count}")
                except Exception as err:
                    self.problems.append(f"{what}: compact or len raised {err!r}")
                time.sleep(0.002)

        def guarded(worker: int) -> None:
            try:
                work(worker)
            except Exception as err:
                self.problems.append(f"{what}: worker {worker} raised {err!r}")

        keeper = threading.Thread(target=housekeeping)
        keeper.start()
        threads = [threading.Thread(target=guarded, args=(n,)) for n in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        done.set()
        keeper.join(30)

    def put_all(self) -> None:
        """Every worker puts its share of new entries (failed deliveries)."""
        share = range(self.entries)

        def work(worker: int) -> None:
            for number in share[worker :: self.workers]:
                self.queue.put(entry(number))

        self._run(work, lambda count: 0 <= count <= self.entries, "put")

    def churn(self, rounds: int = 50) -> None:
        """Every worker takes entries and puts them back (failed again): the number of
        entries known never changes, whatever the interleaving."""

        def work(_worker: int) -> None:
            for _ in range(rounds):
                taken = self.queue.take(time.time() + LATER)
                if taken is not None:
                    taken.attempts += 1
                    self.queue.put(taken)

        self._run(work, lambda count: count == self.entries, "churn")

    def drain(self) -> None:
        """Every worker takes entries and finishes them (delivered) until none is left."""

        def work(_worker: int) -> None:
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < 0.5:
                taken = self.queue.take(time.time() + LATER)
                if taken is None:
                    time.sleep(0.001)
                    continue
                idle_since = time.monotonic()
                with self._finished_lock:
                    self.finished[taken.routing_key] += 1
                self.queue.done(taken)

        self._run(work, lambda count: 0 <= count <= self.entries, "drain")

    def lost_and_twice(self) -> tuple[list[str], list[str]]:
        """The entries never finished, and those finished more than once."""
        expected = {entry(n).routing_key for n in range(self.entries)}
        lost = sorted(expected - set(self.finished))
        twice = sorted(key for key, count in self.finished.items() if count > 1)
        return lost, twice
