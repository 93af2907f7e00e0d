"""Full-text search over archival passages: BM25 from tantivy, with SQLite as the truth.

SQLite's FTS5 scores every passage an OR-query matches (and reads each one's length
row to do it), so at a million passages a query with a few common words costs tens
of milliseconds. tantivy keeps document frequencies in its term dictionary and
finds the top k with block-max WAND, skipping postings that cannot reach it: exact
BM25 in a few milliseconds at that size.

Each owner of passages (an agent's own inserts, a document source) has its own index,
`<db>.text/<owner id>/`, as each has its own HNSW graph (`owners.py`): BM25 takes its
statistics from the index it runs in, and one index for the whole database made an
agent's ranking move with every other agent's and source's passages (and told it,
through the ranking, what they hold). An agent's scope is searched by merging its
owners' indexes with the scope's own statistics (`scope_bm25.py`). The alternative,
one index with the scope's statistics counted under an owner filter, pays for every
query's words a count of their postings in scope (2.8 ms p50 for 3 words with 100,000
passages in each of two owners, load ~10; it grows with the postings), still scores
with the whole index's average length, and an owner with passages alone (the common
case) loses tantivy's plain search, 0.3 ms p50.

An owner's index covers its passages up to its largest pk, and it is brought up to
date from SQLite before a search whenever the database has that owner's passages
above it (pks only grow, see migration 7), so inserting costs only the SQLite write
and a crash loses nothing. Deletions are applied to the index after SQLite's commit;
one lost to a crash only leaves a document whose pk the store's join on `passages`
drops. An index that cannot be opened, or that holds pks the database does not
have, is rebuilt. Writers in other processes are kept apart by a lock file. The
single index of older versions (files directly in `<db>.text/`) is removed when the
store opens; each owner's index is then built on its first search (or by
`flush_index`), logging its progress.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import tantivy

from memgpt.private import private_dir
from memgpt.store.base import content_words
from memgpt.store.indexes.scope_bm25 import Statistics, scope_top
from memgpt.store.sql.seam import Owner

log = logging.getLogger(__name__)

_ANALYZER = "memgpt_en"
_BATCH = 8192
_WRITER_HEAP = 64 * 2**20


def _analyzer() -> tantivy.TextAnalyzer:
    # Like FTS5's porter unicode61: Unicode words, case and accents folded, English
    # stems; stopwords go too, since they add no ranking signal and match nearly all.
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", stored=False, indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name=_ANALYZER)
    return builder.build()


class OwnerText:
    """One owner's passages in their own tantivy index."""

    def __init__(
        self,
        directory: Path,
        owner: Owner,
        conn: Callable[[], sqlite3.Connection],
        analyzer: tantivy.TextAnalyzer,
    ):
        column, owner_id = owner
        if column not in ("agent_id", "source_id"):
            raise ValueError(f"unknown passage owner column {column!r}")
        self.directory = directory / owner_id
        self._where, self._owner_id = f"{column} = ?", owner_id
        self._conn = conn
        self._schema = _schema()
        self._analyzer = analyzer
        self._index: tantivy.Index | None = None
        self._max_pk = 0  # the largest pk the opened index covers
        self.rebuilt = False  # whether opening had to rebuild (for tests and logs)

    # opening

    def _open(self) -> tantivy.Index:
        if self._index is None:
            private_dir(self.directory)
            try:
                index = tantivy.Index(self._schema, path=str(self.directory), reuse=True)
            except (OSError, ValueError):
                # Unreadable, or written with another schema: the database can refill it.
                shutil.rmtree(self.directory)
                private_dir(self.directory)
                index = tantivy.Index(self._schema, path=str(self.directory))
                self.rebuilt = True
            index.register_tokenizer(_ANALYZER, self._analyzer)
            self._index = index
            self._max_pk = self._indexed_max_pk()
        return self._index

    def _indexed_max_pk(self) -> int:
        assert self._index is not None
        self._index.reload()
        hits = (
            self._index.searcher()
            .search(tantivy.Query.all_query(), 1, count=False, order_by_field="pk")
            .hits
        )
        return int(hits[0][0]) if hits else 0

    def _db_max_pk(self) -> int:
        return (
            self._conn()
            .execute(
                f"SELECT COALESCE(MAX(pk), 0) FROM passages WHERE {self._where}", (self._owner_id,)
            )
            .fetchone()[0]
        )

    @contextmanager
    def _writer(self) -> Iterator[tantivy.IndexWriter]:
        """The index's one writer, across processes; its changes are committed on exit."""
        index = self._open()
        with open(self.directory / "writer.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            index.reload()
            writer = index.writer(_WRITER_HEAP, 1)
            yield writer
            writer.commit()
            # Merges run in the writer's threads; waiting for them also frees tantivy's lock.
            writer.wait_merging_threads()
        self._max_pk = self._indexed_max_pk()

    # keeping up with SQLite

    def sync(self) -> None:
        """Index the passages above the watermark; rebuild if the index is ahead of SQLite.

        A long catch-up (a bulk load, an upgrade from the single index) logs its progress.
        """
        self._open()
        db_max = self._db_max_pk()
        if db_max == self._max_pk:
            return
        with self._writer() as writer:
            indexed = self._indexed_max_pk()  # another process may have synced
            if indexed > db_max:
                writer.delete_all_documents()
                indexed = 0
                self.rebuilt = True
            where, params = f"{self._where} AND pk > ?", (self._owner_id, indexed)
            total = self._conn().execute(f"SELECT COUNT(*) FROM passages WHERE {where}", params)
            total = total.fetchone()[0]
            rows = self._conn().execute(
                f"SELECT pk, text FROM passages WHERE {where} ORDER BY pk", params
            )
            done = 0
            while batch := rows.fetchmany(_BATCH):
                for pk, text in batch:
                    writer.add_document(tantivy.Document(pk=pk, text=text))
                done += len(batch)
                if total > _BATCH:
                    log.info(
                        "Full-text index of %s: %d of %d passages", self._owner_id, done, total
                    )

    def forget(self, pks: list[int]) -> None:
        """Remove deleted passages from the index."""
        with self._writer() as writer:
            for pk in pks:
                writer.delete_documents_by_term("pk", pk)

    def drop(self) -> None:
        """Delete the index (its owner's passages are gone)."""
        self._index = None
        shutil.rmtree(self.directory, ignore_errors=True)

    # searching

    def statistics(self, terms: list[str]) -> Statistics:
        """The owner's documents and how many hold each of the terms."""
        searcher = self._open().searcher()
        return Statistics(searcher.num_docs, {t: searcher.doc_freq("text", t) for t in terms})

    def search(self, boosts: dict[str, float], k: int) -> list[tuple[int, float]]:
        """The k best (pk, BM25 score) by the owner's own statistics, each word's weight
        multiplied by its boost."""
        index, schema = self._open(), self._schema
        query = tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boost_query(tantivy.Query.term_query(schema, "text", t), b),
                )
                for t, b in boosts.items()
            ]
        )
        searcher = index.searcher()
        hits = searcher.search(query, k, count=False).hits
        pks = searcher.fast_field_values("pk", [address for _, address in hits])
        return [(int(pk), float(score)) for pk, (score, _) in zip(pks, hits, strict=True)]


class TextIndex:
    """The per-owner indexes of one store, opened on first use; one lock serialises them."""

    def __init__(self, directory: Path, conn: Callable[[], sqlite3.Connection]):
        self.directory = directory
        self._conn = conn
        self._analyzer = _analyzer()
        self._lock = threading.Lock()
        self._owners: dict[Owner, OwnerText] = {}
        if (directory / "meta.json").exists():
            # The one index of older versions: each owner's is rebuilt from SQLite instead.
            log.info("Replacing the archival text index %s with one index per owner.", directory)
            for path in directory.iterdir():
                if path.is_file():
                    path.unlink()

    def _get(self, owner: Owner) -> OwnerText:
        if owner not in self._owners:
            private_dir(self.directory)
            self._owners[owner] = OwnerText(self.directory, owner, self._conn, self._analyzer)
        return self._owners[owner]

    def owner(self, owner: Owner) -> OwnerText:
        with self._lock:
            return self._get(owner)

    def sync(self, owners: list[Owner]) -> None:
        """Bring the owners' indexes up to date now (after a bulk load)."""
        with self._lock:
            for owner in owners:
                self._get(owner).sync()

    def forget(self, owner: Owner, pks: list[int]) -> None:
        with self._lock:
            self._get(owner).forget(pks)

    def drop(self, owner: Owner) -> None:
        with self._lock:
            self._get(owner).drop()
            del self._owners[owner]

    def terms(self, query: str) -> list[str]:
        """The query's content words as the index stores them (no query syntax: text is
        text). tantivy's own stopword list is short: it keeps "what", "did", "you"."""
        # Half a surrogate pair (possible in JSON) cannot cross into Rust; it is no word anyway.
        text = " ".join(content_words(query)).encode("utf-8", "replace").decode("utf-8")
        return list(dict.fromkeys(self._analyzer.analyze(text)))

    def search(self, query: str, k: int, owners: list[Owner]) -> list[tuple[int, float]]:
        """The k best (pk, BM25 score) for the query's words among the owners' passages,
        by the statistics of those passages alone."""
        terms = self.terms(query)
        if not terms or not owners:
            return []
        with self._lock:  # searching needs no lock: other agents' searches run meanwhile
            indexes = [self._get(o) for o in owners]
            for ix in indexes:
                ix.sync()
            parts = [(ix, ix.statistics(terms)) for ix in indexes]
        parts = [(ix, stats) for ix, stats in parts if stats.documents]
        if len(parts) == 1:  # the owner's own statistics are the scope's
            return parts[0][0].search(dict.fromkeys(terms, 1.0), k)
        return scope_top([(ix.search, stats) for ix, stats in parts], k)
