"""`memgpt bench prompt-cache`: how much of each request a prefix cache can reuse.

Main context runs from stable to volatile (DESIGN invariant 7), so each step's
prompt should repeat the previous step's up to its newest messages. Over a
scripted conversation (the synthetic generator's user; a scripted agent that
edits memory, searches and inserts among its replies, in a window small enough
to evict) this reports the share of each request's tokens that is a prefix of
the request before it, and the tokens a cache holding that request and the reply
the model wrote to it still reads. Then, on the embedded model (unless `--no-local`), the
same user turns with the model choosing: prompt tokens evaluated per step (the
rest came from llama.cpp's cache) and wall time per turn, including the first
turn of a second agent.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from memgpt.bench import common, synthetic
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call


def prefix_share(previous: str, current: str, count: Callable[[str], int]) -> float:
    """The share of `current`'s tokens that lie in its common prefix with `previous`."""
    return count(os.path.commonprefix([previous, current])) / max(1, count(current))


def unread_tokens(held: str, current: str, count: Callable[[str], int]) -> int:
    """The tokens of `current` after its common prefix with `held`: what a prefix cache
    holding `held` still has to read."""
    return count(current) - count(os.path.commonprefix([held, current]))


def request_text(messages: list[dict[str, Any]], functions: list[FunctionSchema]) -> str:
    """A request laid out as a chat template lays it out: the function schemas, then each
    message's role, text and calls (the text as the model reads it, not JSON-escaped)."""
    parts = [json.dumps(functions)]
    for m in messages:
        parts += [m["role"], m.get("content") or "", json.dumps(m.get("tool_calls") or [])]
    return "\n".join(parts)


def policy(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """Every user turn, one of: a memory edit, a search, an archival insert, or none;
    then a reply."""
    packet = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    if packet.get("type") != "user_message":
        return call("send_message", "reply", message="I hear you. Tell me more!")
    text, chain = packet["message"], {"request_heartbeat": True}
    kind = sum(m.role == "user" for m in messages) % 4
    if kind == 0:
        return call("core_memory_append", "keep", label="human", content=text[:80], **chain)
    if kind == 1:
        return call("conversation_search", "look", query=text.split()[-1], **chain)
    if kind == 2:
        return call("archival_memory_insert", "note", content=text, **chain)
    return call("send_message", "reply", message="I hear you. Tell me more!")


def layout(model: str | None, user_turns: list[str], window: int) -> dict[str, Any]:
    counter = common.make_llm(model, lambda: ScriptedLLM(policy))
    llm = ScriptedLLM(policy, context_window=window)
    llm.count_tokens = counter.count_tokens  # the real model's tokenizer, the scripted choices
    embedding, embedder = common.make_embedder("hash")
    with common.scratch_client(None) as client:
        agent = client.create_agent("layout", llm=llm, embedding=embedding, embedder=embedder)
        for text in user_turns:
            agent.send(text)
        evicted = bool(agent.state.summary)
    shares, unread, broken, previous, evicting = [], [], [], None, False
    for messages, functions in llm.requests:
        if not functions:  # the summarizer: an eviction is under way
            evicting = True
            continue
        text = request_text([m.model_dump() for m in messages], functions)
        if previous is not None:
            shares.append(round(prefix_share(previous[1], text, counter.count_tokens), 3))
            # llama.cpp holds the last prompt and the reply it wrote to it: reading only
            # what is new takes the reply shown back exactly where it was written.
            reply = messages[len(previous[0]) : len(previous[0]) + 1]
            held = request_text([m.model_dump() for m in [*previous[0], *reply]], functions)
            unread.append(unread_tokens(held, text, counter.count_tokens))
            # A memory edit or an eviction changes what follows the instructions, once.
            broken.append(evicting or messages[:2] != previous[0][:2])
        previous, evicting = (messages, text), False
    steady = [s for s, b in zip(shares, broken, strict=True) if not b]
    steady_unread = [n for n, b in zip(unread, broken, strict=True) if not b]
    return {
        "tokenizer": f"{counter.config.provider}/{counter.config.model}",
        "context_window": window,
        "requests": len(shares) + 1,
        "evicted": evicted,
        "prefix_share": shares,
        "prefix_share_median": common.median(shares),
        "after_edit_or_eviction": sum(broken),
        "prefix_share_min_otherwise": min(steady, default=None),
        "requests_below_90pct": sum(s < 0.9 for s in shares),
        # what a cache holding the last request and its reply still reads: ideally the
        # function's result and the new event
        "unread_tokens": unread,
        "unread_tokens_median_otherwise": common.median(steady_unread),
    }


def embedded(user_turns: list[str]) -> dict[str, Any]:
    from memgpt.llm.local import LocalLlama
    from memgpt.llm.providers import LOCAL_DEFAULT_MODEL, Providers

    embedding, embedder = common.make_embedder("hash")
    evaluated: list[int] = []
    generated: list[int] = []
    decodes: list[int] = []
    forced: list[int] = []
    threads: list[int] = []

    def step(llm: Any) -> None:
        evaluated.append(llm.evaluated_tokens)
        generated.append(llm.generated_tokens)
        decodes.append(llm.decodes)
        forced.append(llm.forced_tokens)
        threads.append(llm.llama.n_threads)

    def turn(agent: Any, text: str) -> float:
        start = time.perf_counter()
        agent.send(text, lambda _: step(agent.llm))
        return time.perf_counter() - start

    with common.scratch_client(None) as client:
        first, second = (
            client.create_agent(
                name,
                # The embedded default as `memgpt run` configures it (its window and the
                # output budget local models get), not LLMConfig's hosted defaults.
                llm=LocalLlama(Providers().config(f"local/{LOCAL_DEFAULT_MODEL}")),
                embedding=embedding,
                embedder=embedder,
            )
            for name in ("first", "second")
        )
        seconds = [turn(first, text) for text in user_turns]
        second_first = turn(second, user_turns[0])
    later = sorted(seconds[1:])
    return {
        "turns": len(seconds),
        "steps": len(evaluated),
        "evaluated_tokens_per_step": evaluated,
        "evaluated_tokens_median": common.median(evaluated),
        "generated_tokens_per_step": generated,
        "generated_tokens_median": common.median(generated),
        # llama.cpp decodes run one after another per step, the prompt's batch included;
        # jump-forward decoding feeds the tokens the grammar forces in one batch
        "decodes_per_step": decodes,
        "decodes_median": common.median(decodes),
        "forced_tokens_per_step": forced,
        # llama.cpp threads per step: the cores other processes left free (llm/cores.py)
        "threads_per_step": threads,
        "turn_s": [round(s, 2) for s in seconds],
        "first_turn_s": round(seconds[0], 2),
        "turn_s_median": round(common.median(later), 2),
        "turn_s_p90": round(common.percentile(later, 90), 2) if later else None,
        "second_agent_first_turn_s": round(second_first, 2),
        "load_average": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="memgpt bench prompt-cache", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--model", help="whose tokenizer to count with (default: the configured model)"
    )
    parser.add_argument("--turns", type=int, default=20, help="user turns of the conversation")
    parser.add_argument("--window", type=int, default=6000, help="the scripted agent's window")
    parser.add_argument("--local-turns", type=int, help="turns on the embedded model (--turns)")
    parser.add_argument("--no-local", action="store_true", help="skip the embedded model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    conversation = synthetic.conversation(args.seed, -(-args.turns // 10), 10, facts=10)
    user_turns = [t.text for t in conversation.turns if t.role == "user"][: args.turns]
    result: dict[str, Any] = {
        "benchmark": "prompt-cache",
        "layout": layout(args.model, user_turns, args.window),
    }
    if not args.no_local:
        result["embedded"] = embedded(user_turns[: args.local_turns or args.turns])
    rows = [(k, v) for k, v in result["layout"].items() if not isinstance(v, list)]
    rows += [(k, v) for k, v in result.get("embedded", {}).items() if not isinstance(v, list)]
    common.emit(result, rows, ["figure", "value"])
    return 0
