"""Semantic recall: every message of the conversation embedded with the agent's embedder,
behind the step, so conversation_search finds what was meant as well as what was said.

A step commits its messages first and is acknowledged; then the agent hands its id to
this process's embedding worker, a background thread, so the step never waits for an
embedding. The database is the worker's to-do list: each agent has a mark (the seq up
to which its messages were looked at), and the worker embeds the messages above it
and stores their vectors with the new mark in one transaction. A process killed
between the commit and the embedding leaves the messages above the mark, and opening
the agent again (or `memgpt recall reindex`) embeds them: none is ever lost.

What is embedded is what full-text search sees (`searchable_text`): the user's words,
the agent's inner monologue and the text it sent. Function results are not: they are
status lines ("None", "Sent message") or, for a search, old messages repeated, which
would make the next search find its own earlier results instead of the messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from memgpt.embeddings.base import Embedder
from memgpt.store import Store
from memgpt.store.sql.store import searchable_text

log = logging.getLogger(__name__)

BATCH = 256  # messages embedded and committed together (a backlog: a few per step)


def catch_up(
    store: Store,
    embedder: Embedder,
    agent_id: str,
    progress: Callable[[int], None] = lambda n: None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Embed every message of the agent above its mark, a batch at a time (each one
    durable on its own, so an interrupted catch-up resumes where it stopped); returns
    how many messages it looked at. `progress` hears of each batch; `stop` ends it early."""
    done = 0
    while not stop() and (batch := store.messages_to_embed(agent_id, BATCH)):
        todo = [(m.id, text) for m in batch if (text := searchable_text(m))]
        vectors = embedder.embed([text for _, text in todo]) if todo else []
        store.add_message_vectors(
            agent_id,
            [(message_id, v) for (message_id, _), v in zip(todo, vectors, strict=True)],
            batch[-1].seq,
        )
        done += len(batch)
        progress(len(batch))
    if done:
        store.index_message_vectors(agent_id)
    return done


class EmbeddingWorker:
    """One background thread embedding the new messages of the agents handed to it, one
    agent at a time; an agent handed over again while waiting is embedded once."""

    def __init__(self) -> None:
        self._pending: dict[tuple[int, str], tuple[Store, Embedder, str]] = {}
        self._running: tuple[int, str] | None = None
        self._closing: set[int] = set()  # stores whose work stops at the next batch
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, store: Store, embedder: Embedder, agent_id: str) -> None:
        with self._changed:
            self._closing.discard(id(store))
            self._pending[(id(store), agent_id)] = (store, embedder, agent_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="memgpt-recall-embedding", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending)
                key = next(iter(self._pending))
                store, embedder, agent_id = self._pending.pop(key)
                self._running = key
            try:
                catch_up(store, embedder, agent_id, stop=partial(self._closed, key[0]))
            except Exception:  # the messages stay above the mark: the next hand-over retries
                log.warning(
                    "Embedding agent %s's new messages failed; they will be embedded at its"
                    " next step or open.",
                    agent_id,
                    exc_info=True,
                )
            finally:
                del store, embedder  # a closed store or an agent's model is not kept alive
                with self._changed:
                    self._running = None
                    self._changed.notify_all()

    def _closed(self, store_id: int) -> bool:
        return store_id in self._closing

    def wait(self, store: Store | None = None, timeout: float | None = None) -> bool:
        """Wait until no work (of `store`, or of any) is pending or running; False on timeout."""

        def idle() -> bool:
            keys = [*self._pending, *([self._running] if self._running else [])]
            return not any(store is None or k[0] == id(store) for k in keys)

        with self._changed:
            return self._changed.wait_for(idle, timeout)

    def forget(self, store: Store) -> None:
        """Before the store closes: drop its pending work, and let its running catch-up end
        after the batch in hand (what is left is done at the agents' next open)."""
        with self._changed:
            self._closing.add(id(store))
            for key in [k for k in self._pending if k[0] == id(store)]:
                del self._pending[key]
        self.wait(store)


WORKER = EmbeddingWorker()
