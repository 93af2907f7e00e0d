"""`memgpt bench tokens`: what MemGPT's own machinery costs in prompt tokens.

Counted with the model's tokenizer (`--model`; the configured model by default, its
safe upper-bound estimate where it has no tokenizer): the system instructions, the
function schemas and the memory blocks of a new agent, then the prompt tokens each
user turn costs over a scripted conversation (every model call of the turn summed:
a turn that saves a fact takes two). The scripted user and agent come from the
synthetic generator: the agent saves each planted fact to working context.
"""

from __future__ import annotations

import argparse
import json

from memgpt.agent.context import functions_tokens, message_tokens
from memgpt.bench import common, synthetic
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call

FACT_OPENINGS = tuple(statement.split("{a}")[0] for statement, _, _ in synthetic.FACTS)


def policy(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """Save a stated fact to working context (then reply), else just reply."""
    packet = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    text = packet.get("message", "")
    if packet.get("type") == "user_message" and text.startswith(FACT_OPENINGS):
        return call(
            "core_memory_append",
            "worth keeping",
            label="human",
            content=text,
            request_heartbeat=True,
        )
    return call("send_message", "reply", message="I hear you. Tell me more!")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memgpt bench tokens", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", help="whose tokenizer and window to use (default: the configured model)"
    )
    parser.add_argument(
        "--turns", type=int, default=50, help="user turns in the scripted conversation"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    args = parser.parse_args(argv)
    counter = common.make_llm(args.model, lambda: ScriptedLLM(policy))
    llm = ScriptedLLM(policy, context_window=counter.config.context_window)
    llm.count_tokens = counter.count_tokens  # the real model's tokenizer, the scripted choices
    sessions = -(-args.turns // 10)
    conversation = synthetic.conversation(args.seed, sessions, 10, facts=10)
    user_turns = [t.text for t in conversation.turns if t.role == "user"][: args.turns]
    embedding, embedder = common.make_embedder("hash")
    with common.scratch_client(args.workdir) as client:
        agent = client.create_agent("tokens", llm=llm, embedding=embedding, embedder=embedder)
        fixed = agent.compile().sections
        per_turn = []
        for text in user_turns:
            before = len(llm.requests)
            agent.send(text)
            per_turn.append(
                sum(
                    sum(message_tokens(m, counter.count_tokens) for m in msgs)
                    + functions_tokens(fns, counter.count_tokens)
                    for msgs, fns in llm.requests[before:]
                )
            )
    result = {
        "benchmark": "tokens",
        "tokenizer": f"{counter.config.provider}/{counter.config.model}",
        "context_window": counter.config.context_window,
        "system_instructions": fixed["system_instructions"],
        "function_schemas": fixed["functions"],
        "working_context": fixed["working_context"],
        "memory_statistics": fixed["memory_statistics"],
        "turns": len(per_turn),
        "per_turn": per_turn,
        "per_turn_median": common.median(per_turn),
        "per_turn_max": max(per_turn),
        "total": sum(per_turn),
    }
    keys = [
        "system_instructions",
        "function_schemas",
        "working_context",
        "per_turn_median",
        "per_turn_max",
        "total",
    ]
    common.emit(result, [(k, result[k]) for k in keys], ["tokens", "count"])
    return 0
