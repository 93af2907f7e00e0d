"""Speed of the local llama.cpp model on this machine: prompt processing, generation,
and whole grammar-constrained function calls.

Run: `python -m memgpt.bench.local_llm [--model PATH] [--runs N]`; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

from memgpt.llm.base import ChatMessage
from memgpt.llm.local import LocalLlama
from memgpt.schemas import LLMConfig

FILLER = "The quick brown fox jumps over the lazy dog while the agent pages memory. "
SEND_MESSAGE = {
    "name": "send_message",
    "description": "Send a message to the user.",
    "parameters": {
        "type": "object",
        "properties": {
            "inner_thoughts": {"type": "string", "description": "Private thoughts."},
            "message": {"type": "string", "description": "The message to send."},
        },
        "required": ["inner_thoughts", "message"],
    },
}
CONVERSATION = [
    ChatMessage(role="system", content="You are a helpful assistant."),
    ChatMessage(role="user", content="Hi! What is your name?"),
]

CALL_TOKENS = 256
T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def measure(
    model: str = "smollm2", runs: int = 3, prompt_tokens: int = 512, gen_tokens: int = 64
) -> dict[str, Any]:
    """Median tokens/s for prompt processing and generation, and seconds per function call."""
    # The call budget is separate from gen_tokens: below about 100 tokens the JSON
    # structure leaves the strings almost no room (see memgpt.llm.grammar.call_schema).
    client = LocalLlama(LLMConfig(provider="local", model=model, max_output_tokens=CALL_TOKENS))
    llama = client.llama
    filler = llama.tokenize(FILLER.encode(), add_bos=False)
    prompt = (filler * (prompt_tokens // len(filler) + 1))[:prompt_tokens]
    # Generation must not stop early at end-of-sequence, or the token count is not gen_tokens.
    no_eos = {llama.token_eos(): float("-inf")}

    pp, tg, calls, parsed = [], [], [], 0
    for _ in range(runs):
        llama.reset()  # forget the cached prefix so the whole prompt is processed
        _, seconds = _timed(lambda: llama.eval(prompt))
        pp.append(prompt_tokens / seconds)
        # The prompt is now cached, so this times generation alone.
        out, seconds = _timed(
            lambda: llama.create_completion(prompt, max_tokens=gen_tokens, logit_bias=no_eos)
        )
        tg.append(out["usage"]["completion_tokens"] / seconds)  # type: ignore[index]
        reply, seconds = _timed(lambda: client.chat(CONVERSATION, [SEND_MESSAGE]))
        calls.append(seconds)
        parsed += len(reply.tool_calls) == 1
    return {
        "model": str(client.model_path),
        "context_window": client.config.context_window,
        "threads": llama.n_threads,
        "runs": runs,
        "prompt_tokens": prompt_tokens,
        "gen_tokens": gen_tokens,
        "prompt_tokens_per_s": round(statistics.median(pp), 1),
        "gen_tokens_per_s": round(statistics.median(tg), 1),
        "function_call_s": round(statistics.median(calls), 2),
        "function_calls_parsed": f"{parsed}/{runs}",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2", help='GGUF path or "smollm2"')
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--gen-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.runs, args.prompt_tokens, args.gen_tokens), indent=2))


if __name__ == "__main__":
    main()
