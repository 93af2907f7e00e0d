"""Full-text search over archival passages: BM25 from tantivy, with SQLite as the truth.

SQLite's FTS5 scores every passage an OR-query matches (and reads each one's length
row to do it), so at a million passages a query with a few common words costs tens
of milliseconds. tantivy keeps document frequencies in its term dictionary and
finds the top k with block-max WAND, skipping postings that cannot reach it: exact
BM25 in a few milliseconds at that size.

One index for the whole database lives beside it in `<db>.text/`; each document is
a passage's pk, its owner ("agent_id:<id>" or "source_id:<id>") and its analysed
text. The index covers every passage up to its largest pk, and it is brought up to
date from SQLite before a search whenever the database has passages above that
(pks only grow, see migration 7), so inserting costs only the SQLite write and a
crash loses nothing. Deletions are applied to the index after SQLite's commit; one
lost to a crash only leaves a document whose pk the store's join on `passages`
drops. An index that cannot be opened, or that holds pks the database does not
have, is rebuilt. Writers in other processes are kept apart by a lock file.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import tantivy

from memgpt.private import private_dir
from memgpt.store.base import content_words
from memgpt.store.sql.seam import Owner

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
    builder.add_text_field("owner", stored=False, tokenizer_name="raw")
    builder.add_text_field("text", stored=False, tokenizer_name=_ANALYZER)
    return builder.build()


def owner_term(owner: Owner) -> str:
    return f"{owner[0]}:{owner[1]}"


class TextIndex:
    def __init__(self, directory: Path, conn: Callable[[], sqlite3.Connection]):
        self.directory = directory
        self._conn = conn
        self._schema = _schema()
        self._analyzer = _analyzer()
        self._lock = threading.Lock()
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
        return self._conn().execute("SELECT COALESCE(MAX(pk), 0) FROM passages").fetchone()[0]

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
        """Index the passages above the watermark; rebuild if the index is ahead of SQLite."""
        with self._lock:
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
                rows = self._conn().execute(
                    "SELECT pk, agent_id, source_id, text FROM passages WHERE pk > ? ORDER BY pk",
                    (indexed,),
                )
                while batch := rows.fetchmany(_BATCH):
                    for pk, agent_id, source_id, text in batch:
                        owner = ("agent_id", agent_id) if agent_id else ("source_id", source_id)
                        writer.add_document(
                            tantivy.Document(pk=pk, owner=owner_term(owner), text=text)
                        )

    def forget(self, pks: list[int]) -> None:
        """Remove deleted passages from the index."""
        with self._lock, self._writer() as writer:
            for pk in pks:
                writer.delete_documents_by_term("pk", pk)

    def drop(self, owner: Owner) -> None:
        """Remove every passage of a deleted agent or source."""
        with self._lock, self._writer() as writer:
            writer.delete_documents_by_term("owner", owner_term(owner))

    # searching

    def terms(self, query: str) -> list[str]:
        """The query's content words as the index stores them (no query syntax: text is
        text). tantivy's own stopword list is short: it keeps "what", "did", "you"."""
        # Half a surrogate pair (possible in JSON) cannot cross into Rust; it is no word anyway.
        text = " ".join(content_words(query)).encode("utf-8", "replace").decode("utf-8")
        return list(dict.fromkeys(self._analyzer.analyze(text)))

    def search(
        self, query: str, k: int, owners: list[Owner] | None = None
    ) -> list[tuple[int, float]]:
        """The k best (pk, BM25 score) for the query's words, of every owner or of `owners`.

        Unrestricted is the fast path: block-max WAND prunes a plain disjunction of
        terms, but not one that is also intersected with an owner filter (about 4x
        slower at a million passages), so callers filter afterwards when they can.
        """
        terms = self.terms(query)
        if not terms or owners == []:
            return []
        self.sync()
        index, schema = self._index, self._schema
        assert index is not None
        query_ = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", t)) for t in terms]
        )
        if owners is not None:
            scope = tantivy.Query.term_set_query(schema, "owner", [owner_term(o) for o in owners])
            # The scope only filters; a constant score of 0 keeps it out of the BM25 sum.
            query_ = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, query_),
                    (tantivy.Occur.Must, tantivy.Query.const_score_query(scope, 0.0)),
                ]
            )
        searcher = index.searcher()
        hits = searcher.search(query_, k, count=False).hits
        pks = searcher.fast_field_values("pk", [address for _, address in hits])
        return [(int(pk), float(score)) for pk, (score, _) in zip(pks, hits, strict=True)]
