"""Recall search on PostgreSQL: each message's searchable text is a tsvector column
(`body`, GIN-indexed), ranked by ts_rank within the same budget as SQLite's BM25.

An agent's ranking depends on its own messages alone: ts_rank reads only the message it
scores (no corpus statistics), and words are counted against the budget among the
agent's rows."""

from __future__ import annotations

from memgpt.schemas import Message
from memgpt.store.base import ranked_words, search_words
from memgpt.store.sql.seam import Row, Seam
from memgpt.store.sql.store import MESSAGE_COLUMNS


class PostgresRecall(Seam):
    search_budget: int
    search_count_limit: int

    def _add_messages(self, rows: list[tuple]) -> None:
        self._run_many(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}, body) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, to_tsvector('memgpt', ?))",
            rows,
        )

    def _forget_messages(self, agent_id: str, message_ids: list[str] | None) -> None:
        """Nothing to do: the tsvector goes with its row."""

    def search_messages(
        self, agent_id: str, query: str, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        """See `Store.search_messages`: ts_rank plays BM25's part, within the same budget,
        and matches are counted among the agent's own messages (the GIN index and the
        agent's rows are read together)."""
        rows, total = self._text_rows(agent_id, query, limit, offset, MESSAGE_COLUMNS)
        return [self._message(r) for r in rows], total

    def _recall_text_ranking(self, agent_id: str, query: str, depth: int) -> list[int]:
        return [r["seq"] for r in self._text_rows(agent_id, query, depth, 0, "seq")[0]]

    def _text_rows(
        self, agent_id: str, query: str, limit: int, offset: int, columns: str
    ) -> tuple[list[Row], int]:
        """A page of `search_messages`' ranking, as rows of `columns`, and its count."""
        words = search_words(query)
        # Each word goes through plainto_tsquery as a bound parameter, so SQL and tsquery
        # syntax in the search text are plain words. Its tsquery comes back as text and
        # goes into each query as a constant: the planner sees it (and picks the GIN index
        # or a scan by how common the word is), and no row parses it again.
        lexemes = {
            r["w"]: r["q"]
            for r in self._query(
                "SELECT w, plainto_tsquery('memgpt', w)::text AS q FROM unnest(?::text[]) AS w",
                (words,),
            )
        }
        words = [w for w in words if lexemes.get(w)]  # none: no letters it could match
        if not words:
            return [], 0
        budget = self.search_budget

        def any_of(chosen: list[str]) -> str:
            return " | ".join(f"({lexemes[w]})" for w in chosen)

        def page(tsquery: str, newest: bool = False) -> tuple[list[Row], int]:
            return self._page(agent_id, tsquery, limit, offset, columns, newest=newest)

        # Most queries match few messages: then one query ranks and counts them all.
        rows, total = page(any_of(words))
        if total > budget:
            one = (
                "(SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE agent_id = ?"
                " AND body @@ ?::tsquery LIMIT ?) s)"
            )
            counts = self._query(
                "SELECT " + ", ".join(f"{one} AS n{i}" for i in range(len(words))),
                [p for w in words for p in (agent_id, lexemes[w], budget + 1)],
            )[0]
            ranked = ranked_words(dict(zip(words, counts.values(), strict=True)), budget)
            rows, total = page(any_of(ranked)) if ranked else ([], 0)
            if not total:
                # Every word is common (or the rarer ones found nothing): the newest first,
                # which the (agent_id, seq) index gives without ranking every match.
                rows, total = page(any_of(words), newest=True)
        # Counted exactly up to the budget here, but shown as SQLite can afford to count.
        return rows, min(total, self.search_count_limit + 1)

    def _page(
        self,
        agent_id: str,
        tsquery: str,
        limit: int,
        offset: int,
        columns: str,
        *,
        newest: bool = False,
    ) -> tuple[list[Row], int]:
        """A page of the agent's messages matching the tsquery (rows of `columns`), best
        first by ts_rank (or newest first), and how many match, counted up to the budget + 1."""
        where = "WHERE agent_id = ? AND body @@ ?::tsquery"
        if newest:
            matches = f"SELECT {columns} FROM messages {where} ORDER BY seq DESC LIMIT ?"
            params: list = [agent_id, tsquery, self.search_budget + 1]
            order = "seq DESC"
        else:
            matches = f"SELECT {columns}, ts_rank(body, ?::tsquery, 1) AS score"
            matches += f" FROM messages {where} LIMIT ?"
            params = [tsquery, agent_id, tsquery, self.search_budget + 1]
            order = "score DESC, seq"
        # The count is a window over the matches, taken before the page is cut from them.
        rows = self._query(
            f"SELECT *, COUNT(*) OVER () AS total FROM ({matches}) m"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        if rows:
            return rows, rows[0]["total"]
        # Past the last page, or nothing matched: the count on its own.
        counted = self._one(
            f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages {where} LIMIT ?) m",
            (agent_id, tsquery, self.search_budget + 1),
        )
        return [], counted["n"]
