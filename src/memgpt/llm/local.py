"""A local GGUF model as an `LLMClient`: the prompt in the model's chat template, and one
function call decoded under a grammar (`memgpt.llm.grammar`), streamed as it is written.

The model itself loads in a thread from the moment a client is made (`local_model`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memgpt.llm.base import (
    ChatMessage,
    FunctionSchema,
    LLMError,
    LLMReply,
    leading_system,
    output_limit,
)
from memgpt.llm.grammar import call_schema, compiled
from memgpt.llm.jump_forward import CallSkeleton
from memgpt.llm.local_model import LoadedModel, check_gguf, load, resolve_model_path
from memgpt.llm.streaming import (
    THOUGHTS,
    FieldStream,
    OnDelta,
    watched_fields,
)
from memgpt.schemas import LLMConfig, ToolCall, new_id

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

TEMPERATURE = 0.7

CALL_INSTRUCTION = (
    "You must reply by calling exactly one function. Write only a JSON object of the form "
    '{"function":"<function name>","arguments":{<the arguments>}} and nothing else. '
    "The functions you can call are:\n"
)

# Marks where a message's text goes in the rendered template; no text or template has NUL.
_SLOT = "\x00"


def _call_text(call: ToolCall) -> str:
    """An earlier call as the grammar has the model write it: the name, then the arguments
    in the order they were written."""
    try:
        arguments: Any = json.loads(call.arguments)
    except json.JSONDecodeError:
        arguments = call.arguments
    call_json = {"function": call.name, "arguments": arguments}
    return json.dumps(call_json, ensure_ascii=False, separators=(",", ":"))


def _template_messages(
    messages: list[ChatMessage], functions: list[FunctionSchema], tool_role: bool
) -> tuple[list[dict[str, str]], str]:
    """The turns for the chat template, and the text the system turn opens with that is
    the same for every agent with these instructions and tools (its cacheable head)."""
    system, rest = leading_system(messages)
    if functions:
        # Right after the instructions, ahead of the working context, so that a memory
        # edit leaves the cached prefix of instructions and schemas as it is. Compact, as
        # the model writes its call: ~8% fewer tokens than spaced JSON, which is what the
        # context compiler counts (`functions_tokens`), so the count stays an upper bound.
        # (A shorter listing of one signature a function, the shared arguments described
        # once, halved these tokens but led SmolLM2-135M into chains of core_memory_append
        # calls with made-up labels: 61 steps for 20 turns, against ~21.)
        listing = "\n".join(
            json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in functions
        )
        system.insert(1, CALL_INSTRUCTION + listing)
    head = "\n\n".join(system[:2]) if functions else ""
    # One system turn: many models' templates accept no second one.
    out = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    for m in rest:
        if m.role == "assistant" and m.tool_calls:
            out.append({"role": "assistant", "content": "\n".join(map(_call_text, m.tool_calls))})
        elif m.role == "tool" and not tool_role:
            label = f"function {m.name}" if m.name else "function"
            out.append({"role": "user", "content": f"[Result of {label}]\n{m.content}"})
        else:
            out.append({"role": m.role, "content": m.content})
    return out, head


class LocalLlama:
    """`LLMClient` over a GGUF model; `config.context_window` is the effective window."""

    def __init__(self, config: LLMConfig):
        self.model_path = resolve_model_path(config.model)
        check_gguf(self.model_path)  # a wrong file is refused now, not at first use
        self._asked = config
        self._loading = load(self.model_path, config.context_window)
        self.evaluated_tokens = 0  # prompt tokens the last call read anew (the rest was cached)
        self.generated_tokens = 0  # tokens the last call wrote
        self.resampled_tokens = 0  # of those, how many the grammar refused and were drawn again
        self.forced_tokens = 0  # of those, how many the grammar forced (fed without sampling)
        # llama.cpp decodes the last call ran one after another, the prompt's included: on
        # a CPU a step's time goes mostly to these (`memgpt.llm.decoding`)
        self.decodes = 0

    @property
    def loaded(self) -> bool:
        """Whether the model has finished loading (or failed to); until then, using it waits."""
        return self._loading.done()

    def load(self) -> None:
        """Wait until the model has loaded; LLMError when it cannot be."""
        self._loading.result()

    @property
    def _model(self) -> LoadedModel:
        return self._loading.result()

    @functools.cached_property
    def config(self) -> LLMConfig:
        """The config asked for, its window no larger than the one the model was trained on
        (read from the file, so known once the model has loaded)."""
        window = min(self._model.context_length, self._asked.context_window)
        return self._asked.model_copy(update={"context_window": window})

    @property
    def llama(self) -> Llama:
        """The underlying `llama_cpp.Llama` (shared by clients of the same file and window)."""
        return self._model.llama

    def count_tokens(self, text: str) -> int:
        # Message text is tokenized as plain text in the prompt too (see `_prompt_tokens`).
        # The vocabulary is read-only, so this needs no lock.
        return len(self._model.llama.tokenize(text.encode(), add_bos=False, special=False))

    def _prompt_tokens(
        self, messages: list[ChatMessage], functions: list[FunctionSchema]
    ) -> tuple[list[int], int]:
        """The prompt's tokens, where only the template's own text can hold control tokens,
        and how many of them make its head (instructions and schemas).

        Each message's text is rendered as a placeholder and tokenized on its own as
        plain text, so a user who types "<|im_end|>" sends those characters, never the
        token that ends a turn (which would let them write a system turn of their own).
        The head is tokenized on its own too, so its tokens never depend on what follows.
        """
        turns, head_text = _template_messages(messages, functions, self._model.tool_role)
        texts = [t["content"] for t in turns]
        slotted = [{**t, "content": f"{_SLOT}{i}{_SLOT}"} for i, t in enumerate(turns)]
        prompt = self._render(slotted)
        llama = self._model.llama
        tokens: list[int] = []
        head = 0
        for i, piece in enumerate(prompt.split(_SLOT)):
            if i % 2 == 0:
                tokens += llama.tokenize(piece.encode(), add_bos=i == 0, special=True)
                continue
            text = texts[int(piece)]
            if head_text and not head and text.startswith(head_text):
                tokens += llama.tokenize(head_text.encode(), add_bos=False, special=False)
                head, text = len(tokens), text[len(head_text) :]
            written = (
                self._model.written.get(text) if turns[int(piece)]["role"] == "assistant" else None
            )
            tokens += written or llama.tokenize(text.encode(), add_bos=False, special=False)
        bos = llama.token_bos()
        if tokens[:2] == [bos, bos]:
            tokens, head = tokens[1:], max(0, head - 1)  # the template already wrote its BOS
        return tokens, head

    streams = True  # `chat` takes on_delta

    def chat(
        self,
        messages: list[ChatMessage],
        functions: list[FunctionSchema],
        on_delta: OnDelta | None = None,
        *,
        cache_key: str | None = None,  # the prompt cache finds an agent's state by its tokens
        max_tokens: int | None = None,
    ) -> LLMReply:
        """One completion; with `on_delta`, the call's thoughts and message (or the plain
        text) are handed on token by token as the model writes them."""
        llama = self._model.llama
        tokens, head = self._prompt_tokens(messages, functions)
        n_ctx = llama.n_ctx()
        room = min(output_limit(self.config, max_tokens), n_ctx - len(tokens))
        if room < 1:
            raise LLMError(
                f"The prompt takes {len(tokens)} tokens but the local model's context holds "
                f"{n_ctx}; lower the agent's context window or shorten its memory."
            )
        grammar = None
        if functions:
            grammar = compiled(json.dumps(call_schema(functions, room)))
        temperature = TEMPERATURE if self.config.temperature is None else self.config.temperature
        with self._model.lock:
            self._model.use_free_cores()
            reused = self._model.states.restore(tokens, head)
            # What a step costs on a CPU is mostly these: the prompt tokens read anew.
            self.evaluated_tokens = len(tokens) - reused
            log.debug("prompt of %d tokens: %d evaluated", len(tokens), self.evaluated_tokens)
            from memgpt.llm.decoding import write  # imports llama_cpp, as loading the model did

            try:
                written = write(
                    llama,
                    tokens,
                    reused,
                    room,
                    temperature,
                    grammar,
                    CallSkeleton(functions) if functions else None,
                    _streamer(on_delta, functions) if on_delta else lambda _: None,
                )
            except (ValueError, RuntimeError) as exc:
                raise LLMError(
                    f"The local model failed to generate ({exc}); retry, or use a smaller context."
                ) from None
            sampler = llama.grammar_sampler
            self.resampled_tokens = sampler.refused if sampler is not None else 0
            if functions:
                self._model.keep_written(written.text, written.tokens)
        self.generated_tokens = len(written.tokens)
        self.decodes = written.decodes
        self.forced_tokens = written.forced
        reply = LLMReply(
            finish_reason=written.finish_reason,
            prompt_tokens=len(tokens),
            completion_tokens=len(written.tokens),
        )
        if not functions:
            return reply.model_copy(update={"content": written.text})
        return reply.model_copy(update=_parse_call(written.text))

    def render(self, messages: list[ChatMessage], functions: list[FunctionSchema]) -> str:
        """The prompt text the model sees for this request (chat template applied)."""
        return self._render(_template_messages(messages, functions, self._model.tool_role)[0])

    def _render(self, turns: list[dict[str, str]]) -> str:
        try:
            return self._model.formatter(messages=turns).prompt
        except Exception as exc:  # a Jinja template can raise anything, raise_exception included
            raise LLMError(
                f"The model's chat template cannot render this conversation ({exc}); use a "
                "model whose template accepts system, user and assistant turns."
            ) from None


# The opening of a call under the grammar: its name comes first.
_CALL_NAME = re.compile(r'\s*\{\s*"function"\s*:\s*"([^"]*)"')


def _streamer(on_delta: OnDelta, functions: list[FunctionSchema]) -> Callable[[str], None]:
    """What hands generated text on to `on_delta` as it comes: a call's thoughts (and
    send_message's message) inside the grammar's {"function": ..., "arguments": {...}},
    or plain text as thoughts."""
    if not functions:
        return lambda text: on_delta(THOUGHTS, text)
    texts: list[str] = []
    fields: FieldStream | None = None

    def feed(text: str) -> None:
        nonlocal fields
        if fields is not None:
            fields.feed(text)
            return
        texts.append(text)
        if named := _CALL_NAME.match("".join(texts)):
            # The name tells which fields the user sees written; the text so far may
            # hold some of them already (jump-forward writes keys in one piece).
            fields = FieldStream(watched_fields(named[1]), on_delta, level=2)
            fields.feed("".join(texts))

    return feed


def _parse_call(text: str) -> dict[str, Any]:
    """Fields of the reply for the model's output; unparsable output stays as raw content,
    which the agent loop turns into a failed call (the grammar makes this rare)."""
    try:
        call = json.loads(text)
        name, arguments = call["function"], call["arguments"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return {"content": text}
    tool_call = ToolCall(
        id=new_id("call"), name=name, arguments=json.dumps(arguments, ensure_ascii=False)
    )
    return {"tool_calls": [tool_call]}
