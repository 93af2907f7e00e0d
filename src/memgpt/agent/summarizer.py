"""Eviction and the recursive summary.

When the queue overflows, the oldest ~half leaves main context and is folded,
with the old summary, into a new summary by an LLM call. The evicted messages
stay in recall storage. A cut never separates a function call from its result:
the queue is only cut just before an event (a user-role message).
"""

from __future__ import annotations

from collections.abc import Callable

from memgpt.agent.prompts import SUMMARIZER_INSTRUCTIONS
from memgpt.llm.base import ChatMessage, LLMClient
from memgpt.schemas import Message

EVICT_FRACTION = 0.5
LINE_CHARS = 2000  # one message's share of a summarizer prompt


def choose_cut(
    queue: list[Message], tokens: list[int], limit: int, fraction: float = EVICT_FRACTION
) -> int:
    """How many of the oldest messages to evict: about `fraction` of the queue's tokens,
    cut just before an event, and never past index `limit`. 0 means no valid cut."""
    target, running, goal = 0, 0, fraction * sum(tokens)
    while target < len(queue) and running < goal:
        running += tokens[target]
        target += 1
    cuts = [i for i in range(1, min(limit, len(queue) - 1) + 1) if queue[i].role == "user"]
    after = [i for i in cuts if i >= target]
    if after:
        return after[0]
    return cuts[-1] if cuts else 0


def transcript_line(message: Message) -> str:
    when = message.created_at.strftime("%Y-%m-%d %H:%M")
    if message.role == "user":
        line = f"[{when}] {message.event}: {message.text}"
    elif message.role == "assistant":
        calls = "; ".join(f"called {c.name}({c.arguments})" for c in message.tool_calls)
        line = f"[{when}] agent: {message.text} {calls}".strip()
    else:
        line = f"[{when}] result of {message.name}: {message.text}"
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + " [...]"


def fit(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """`text` cut at a word boundary so that it counts at most `max_tokens`."""
    if count(text) <= max_tokens:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def summarize(llm: LLMClient, old_summary: str, evicted: list[Message], max_tokens: int) -> str:
    """Fold `evicted` into `old_summary`, in as many LLM calls as the window needs."""
    count = llm.count_tokens
    brief = SUMMARIZER_INSTRUCTIONS.format(max_words=max(20, int(max_tokens * 0.6)))
    room = (
        llm.config.context_window
        - llm.config.max_output_tokens
        - count(brief)
        - max_tokens
        - 64  # the framing words and message overhead
    )
    if room < 64:
        raise ValueError("The model's context window is too small to summarize anything.")
    summary = old_summary
    chunk: list[str] = []
    used = 0
    for message in evicted:
        line = fit(transcript_line(message), room // 2, count)
        n = count(line) + 1
        if chunk and used + n > room:
            summary = _fold(llm, brief, summary, chunk, max_tokens)
            chunk, used = [], 0
        chunk.append(line)
        used += n
    if chunk:
        summary = _fold(llm, brief, summary, chunk, max_tokens)
    return summary


def _fold(llm: LLMClient, brief: str, summary: str, lines: list[str], max_tokens: int) -> str:
    prompt = "Current summary:\n" + (summary or "(none yet)") + "\n\nMessages leaving view:\n"
    reply = llm.chat(
        [
            ChatMessage(role="system", content=brief),
            ChatMessage(role="user", content=prompt + "\n".join(lines)),
        ],
        [],
        # More would be cut by `fit` below; a small local model left its whole output
        # budget (2,048 tokens) writes on for minutes.
        max_tokens=max_tokens,
    )
    text = (reply.content or "").strip()
    if not text:  # a model that says nothing must not erase what the old summary held
        text = "\n".join([summary, *lines]).strip()
    return fit(text, max_tokens, llm.count_tokens)
