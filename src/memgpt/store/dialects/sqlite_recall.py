"""Recall search on SQLite: one FTS5 index of every agent's messages, ranked by BM25 over
the agent's own statistics.

An index row's rowid is its agent's number (`recall_agents`) in the high 32 bits and the
message's seq in the low ones: one agent's rows are one rowid range, which FTS5 seeks to
in each word's posting list, so counting an agent's matches costs what its own matches
cost, however busy the other agents are.

FTS5's bm25() weighs a word by how many of *all* rows hold it and normalises lengths by
the average of all rows: another agent's history would change this agent's order (and
tell it, as a side channel, what the others talk about). So BM25 is computed here, as
FTS5 computes it, from the agent's own counts: its documents and their tokens
(`recall_agents`, kept with each write) and a word's matches within its range. A
match's term frequency comes from the index's token list (`messages_fts_instances`) and
its length from FTS5's docsize table: neither re-reads the message's text.
"""

from __future__ import annotations

import math
from collections import defaultdict

from memgpt.schemas import Message
from memgpt.store.base import ranked_words, search_words
from memgpt.store.sql.seam import Row, Seam
from memgpt.store.sql.store import MESSAGE_COLUMNS

SEQ_BITS = 32  # an agent's messages: seq below 2**32; agents: numbers below 2**31
_SEQ = (1 << SEQ_BITS) - 1
# FTS5's own bm25() constants, so the order within one agent is what it computes alone.
K1 = 1.2
B = 0.75
# A word's token list holds every agent's occurrences: reading one entry cost 1.4 us,
# re-tokenizing one of the agent's matches with highlight() 18 us (1M messages, 2 cores):
# so the list is read while it has at most this many entries per match of the agent's.
LIST_PER_MATCH = 12
_MARK = "\x01"  # highlight()'s opening mark: counted to give a word's frequency
# Each connection's own scratch table, through which query words pass the tokenizer of
# messages_fts (the migrations' 'porter unicode61'), and the tokens that come out.
SCRATCH_TABLES = (
    "CREATE VIRTUAL TABLE temp.recall_words USING fts5(word, tokenize = 'porter unicode61')",
    "CREATE VIRTUAL TABLE temp.recall_word_tokens USING fts5vocab(temp, recall_words, instance)",
)


def fts_query(words: list[str]) -> str:
    """An FTS5 query that matches any of the words (see `search_words`).

    Each word is quoted, so FTS syntax and SQL in a search string are plain text.
    """
    return " OR ".join(f'"{w}"' for w in words)


def doc_length(docsize: bytes) -> int:
    """A body's length in tokens: the first varint of its FTS5 docsize row (SQLite's
    varint: seven bits a byte, most significant first, high bit set on all but the last)."""
    if docsize[0] < 0x80:  # under 128 tokens: most messages
        return docsize[0]
    n = 0
    for byte in docsize:
        n = (n << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return n


class SQLiteRecall(Seam):
    search_budget: int
    search_count_limit: int

    def _recall_agent(self, agent_id: str) -> Row | None:
        """The agent's number and statistics (num, documents, tokens); None: no agent."""
        return self._one(
            "SELECT num, documents, tokens FROM recall_agents WHERE agent_id = ?", (agent_id,)
        )

    def _add_messages(self, rows: list[tuple]) -> None:
        added: dict[str, list[int]] = defaultdict(list)  # agent -> its new bodies' lengths
        numbers: dict[str, int] = {}
        for row in rows:
            self._run(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                row[:-1],
            )
            agent_id, seq, body = row[1], row[2], row[-1]
            if not body:
                continue
            if agent_id not in numbers:
                numbers[agent_id] = self._recall_agent(agent_id)["num"]
            key = numbers[agent_id] << SEQ_BITS | seq
            self._run("INSERT INTO messages_fts (rowid, body) VALUES (?, ?)", (key, body))
            size = self._one("SELECT sz FROM messages_fts_docsize WHERE id = ?", (key,))
            added[agent_id].append(doc_length(size["sz"]))
        for agent_id, lengths in added.items():
            self._count_documents(agent_id, len(lengths), sum(lengths))

    def _count_documents(self, agent_id: str, documents: int, tokens: int) -> None:
        self._run(
            "UPDATE recall_agents SET documents = documents + ?, tokens = tokens + ?"
            " WHERE agent_id = ?",
            (documents, tokens, agent_id),
        )

    def _forget_messages(self, agent_id: str, message_ids: list[str] | None) -> None:
        agent = self._recall_agent(agent_id)
        if agent is None:
            return
        base = agent["num"] << SEQ_BITS
        if message_ids is None:
            where, params = "{} BETWEEN ? AND ?", [base, base | _SEQ]
        else:
            ids, values = self._any("id", message_ids)
            seqs = self._query(
                f"SELECT seq FROM messages WHERE agent_id = ? AND {ids}", (agent_id, *values)
            )
            where, params = self._any("{}", [base | r["seq"] for r in seqs])
        lengths = [
            doc_length(r["sz"])
            for r in self._query(
                f"SELECT sz FROM messages_fts_docsize WHERE {where.format('id')}", params
            )
        ]
        self._run(f"DELETE FROM messages_fts WHERE {where.format('rowid')}", params)
        self._count_documents(agent_id, -len(lengths), -sum(lengths))

    def search_messages(
        self, agent_id: str, query: str, limit: int, offset: int = 0
    ) -> tuple[list[Message], int]:
        """See `Store.search_messages`."""
        seqs, total = self._text_seqs(agent_id, query)
        return self._messages_by_seq(agent_id, seqs[offset : offset + limit]), total

    def _recall_text_ranking(self, agent_id: str, query: str, depth: int) -> list[int]:
        return self._text_seqs(agent_id, query)[0][:depth]

    def _text_seqs(self, agent_id: str, query: str) -> tuple[list[int], int]:
        """The seqs of every message `search_messages` ranks, best first, and their count
        as it reports it.

        Each word's matches among the agent's messages are counted up to the budget; the
        words kept are scored by BM25 with the agent's statistics (`_ranked`).
        """
        words = search_words(query)
        agent = self._recall_agent(agent_id)
        if not words or agent is None:
            return [], 0
        base = agent["num"] << SEQ_BITS
        mine = "messages_fts MATCH ? AND rowid BETWEEN ? AND ?"
        budget = self.search_budget
        counts = {
            w: self._one(
                f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages_fts WHERE {mine} LIMIT ?)",
                (fts_query([w]), base, base | _SEQ, budget + 1),
            )["n"]
            for w in words
        }
        ranked = ranked_words(counts, budget)
        keys = self._ranked(agent, {w: counts[w] for w in ranked}) if ranked else []
        if not keys and len(ranked) < len(words):
            # Every word is common (or the rarer ones found nothing): no BM25, which would
            # read every match, but the newest first (keys grow with seq).
            keys = [
                r["rowid"]
                for r in self._query(
                    f"SELECT rowid FROM messages_fts WHERE {mine} ORDER BY rowid DESC LIMIT ?",
                    (fts_query(words), base, base | _SEQ, budget + 1),
                )
            ]
        return [key & _SEQ for key in keys], min(len(keys), self.search_count_limit + 1)

    def _ranked(self, agent: Row, counts: dict[str, int]) -> list[int]:
        """The keys of the agent's messages holding any of the words, best first by BM25
        as FTS5 computes it (k1 1.2, b 0.75, idf floored at 1e-6) over the agent's
        documents alone: `counts` are the words' matches among them."""
        span = (agent["num"] << SEQ_BITS, agent["num"] << SEQ_BITS | _SEQ)
        frequencies: dict[str, dict[int, int]] = {}  # word -> key -> its frequency there
        sizes: dict[int, bytes] = {}  # key -> its docsize row, read with a token's list
        for word, tokens in zip(counts, self._tokens(list(counts)), strict=True):
            found = self._listed(tokens, span, LIST_PER_MATCH * counts[word] + 1, sizes)
            frequencies[word] = self._highlighted(word, span) if found is None else found
        keys = {key for found in frequencies.values() for key in found}
        if not keys:
            return []
        if unsized_keys := [key for key in keys if key not in sizes]:
            where, params = self._any("id", unsized_keys)
            sizes |= {
                r["id"]: r["sz"]
                for r in self._query(
                    f"SELECT id, sz FROM messages_fts_docsize WHERE {where}", params
                )
            }
        documents = max(agent["documents"], 1)
        average = agent["tokens"] / documents or 1.0
        # BM25's length normalisation of each match, computed once for all its words
        norm = {key: K1 * (1 - B + B * doc_length(sz) / average) for key, sz in sizes.items()}
        score = dict.fromkeys(keys, 0.0)
        lift, unsized = K1 + 1, K1 * (1 - B)  # out of the loop: it runs once per match
        for word, found in frequencies.items():
            n = counts[word]
            idf = max(math.log((documents - n + 0.5) / (n + 0.5)), 1e-6)
            for key, tf in found.items():
                score[key] += idf * tf * lift / (tf + norm.get(key, unsized))
        # Best first; ties go oldest first (a stable sort of the keys in order, which is
        # faster than sorting by a tuple per key).
        ordered = sorted(score)
        ordered.sort(key=score.__getitem__, reverse=True)
        return ordered

    def _tokens(self, words: list[str]) -> list[list[str]]:
        """Each word's tokens as the index holds them: cut, folded and stemmed by the same
        tokenizer (`SCRATCH_TABLES`)."""
        self._run("DELETE FROM temp.recall_words")
        self._run_many(
            "INSERT INTO temp.recall_words (rowid, word) VALUES (?, ?)", list(enumerate(words))
        )
        tokens: list[list[str]] = [[] for _ in words]
        for r in self._query("SELECT doc, term FROM temp.recall_word_tokens ORDER BY doc, offset"):
            tokens[r["doc"]].append(r["term"])
        return tokens

    def _listed(
        self, tokens: list[str], span: tuple[int, int], most: int, sizes: dict[int, bytes]
    ) -> dict[int, int] | None:
        """A one-token word's frequency in each of the agent's messages holding it, from the
        token's list of occurrences, with each one's docsize row (into `sizes`); None when
        it is a phrase, or its list (every agent's) is longer than `most`.

        One statement counts and sizes the matches: at 1M messages, passing each match
        through Python to count it and to look its size up took a third of a search."""
        if len(tokens) != 1:
            return None
        # The entries read are summed here, not by a window over the groups: at 1M
        # messages that window cost 0.4-1 ms a word of a 3-4 ms listing.
        rows = self._query(
            "SELECT doc, COUNT(*) AS tf, CASE WHEN doc BETWEEN ? AND ?"
            " THEN (SELECT sz FROM messages_fts_docsize WHERE id = doc) END AS sz"
            " FROM (SELECT doc FROM messages_fts_instances WHERE term = ? LIMIT ?) GROUP BY doc",
            (*span, tokens[0], most),
        )
        found, sized, listed = {}, {}, 0
        low, high = span
        for doc, tf, size in rows:  # unpacked: by name, about 0.5 ms more a search at 1M
            listed += tf
            if low <= doc <= high:
                found[doc] = tf
                if size is not None:
                    sized[doc] = size
        if listed == most:
            return None
        sizes.update(sized)
        return found

    def _highlighted(self, word: str, span: tuple[int, int]) -> dict[int, int]:
        """The word's frequency in each of the agent's messages holding it, by marking its
        occurrences in each one's text (a mark already in the text is not counted)."""
        return {
            r["rowid"]: r["marked"].count(_MARK) - r["body"].count(_MARK)
            for r in self._query(
                "SELECT rowid, highlight(messages_fts, 0, ?, '') AS marked, body FROM messages_fts"
                " WHERE messages_fts MATCH ? AND rowid BETWEEN ? AND ?",
                (_MARK, fts_query([word]), *span),
            )
        }
