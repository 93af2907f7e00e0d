"""The typed records that cross module boundaries: agent state, messages, blocks, passages.

Everything here is plain data (pydantic v2). The store persists these, the agent
loop produces them, the server and CLI render them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from memgpt.tools.rules import ToolRule


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ToolCall(BaseModel):
    """One function call requested by the model. `arguments` is the raw JSON text it wrote."""

    id: str
    name: str
    arguments: str
    asked_approval: bool = False  # put to the user before running (agent/approval.py)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only a call put to the user carries the mark: every other call is stored, counted
        # and exported exactly as before.
        data = handler(self)
        if not self.asked_approval:
            data.pop("asked_approval", None)
        return data


class EventType(StrEnum):
    """What woke the agent. Every event enters the FIFO queue as a user-role message."""

    USER_MESSAGE = "user_message"
    HEARTBEAT = "heartbeat"
    SYSTEM_ALERT = "system_alert"
    LOGIN = "login"
    APPROVAL = "approval"  # the user's answer to an approval request (agent/approval.py)


Role = Literal["user", "assistant", "tool"]


class Message(BaseModel):
    """One entry of recall storage; those still in the FIFO queue have `in_context` set.

    - role "user": an event (`event` says which), `text` is its content, and
      `memory_statistics` the statistics it was first shown with as the newest packet
      (None for events stored before they were kept): shown with them from then on, the
      prompt repeats the previous step's up to the model's reply (DESIGN invariant 7).
    - role "assistant": `text` is the inner monologue, `tool_calls` the function call.
    - role "tool": the result of the call `tool_call_id`, `text` is the packed result.
    """

    id: str = Field(default_factory=lambda: new_id("message"))
    agent_id: str = ""
    seq: int = 0
    role: Role
    event: EventType | None = None
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    in_context: bool = True
    memory_statistics: str | None = None


class Block(BaseModel):
    """A labelled section of working context, editable by the agent within `limit` characters.
    Several agents may share one block (by id): an edit by any of them is seen by all."""

    id: str = Field(default_factory=lambda: new_id("block"))
    label: str
    value: str = ""
    limit: int = 5000
    description: str = ""


class OpenFile(BaseModel):
    """A file (or a range of its lines) the agent opened into working context."""

    source_id: str
    name: str  # "<source>/<file>", as the file tools name it
    value: str  # the lines in view, numbered
    start_line: int  # 1-based, the first line in view
    end_line: int  # the last line in view
    total_lines: int
    truncated: bool = False  # cut to the file view's limits
    accessed_at: datetime = Field(default_factory=utcnow)


class BlockEdit(BaseModel):
    """One change to a block, kept so users can see who changed their agent's memory and how.
    `agent_id` is the agent that made it, or whose memory the user edited (None for a user
    edit of the block itself)."""

    block_id: str | None = None  # None only for edits recorded before blocks had ids
    agent_id: str | None
    label: str
    old_value: str
    new_value: str
    actor: Literal["agent", "user"]
    created_at: datetime = Field(default_factory=utcnow)


class Passage(BaseModel):
    """A unit of archival storage: text, its embedding, and where it came from."""

    id: str = Field(default_factory=lambda: new_id("passage"))
    agent_id: str = ""
    text: str
    embedding: list[float] | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    # Set for passages loaded from a document source: where in which file the text sits.
    source_id: str | None = None
    file: str | None = None
    page: int | None = None
    char_offset: int | None = None
    chunk_hash: str | None = None
    tags: list[str] = Field(default_factory=list)


class LLMConfig(BaseModel):
    """Which model drives the agent. `provider` picks the backend module in `memgpt.llm`;
    `provider_name` the registry entry (`memgpt.llm.providers`) whose URL and key it uses."""

    provider: Literal["openai", "anthropic", "local", "scripted"] = "openai"
    model: str = "gpt-4o-mini"
    provider_name: str | None = None  # None: saved before providers had names
    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int = 8192
    max_output_tokens: int = 1024
    temperature: float | None = None  # None: the backend's default
    timeout_s: float = 60.0

    @property
    def handle(self) -> str:
        return f"{self.provider_name or self.provider}/{self.model}"


class EmbeddingConfig(BaseModel):
    provider: Literal["openai", "local", "hash"] = "hash"
    model: str = "hash-384"
    base_url: str | None = None
    api_key_env: str | None = None
    dim: int = 384


class Usage(BaseModel):
    """Tokens the model read and wrote, over some steps (a turn's, or an agent's life)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, those a provider's cache served
    step_count: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def plus(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            step_count=self.step_count + other.step_count,
        )


class AgentState(BaseModel):
    """Everything needed to rebuild an agent's main context, except its messages and passages."""

    id: str = Field(default_factory=lambda: new_id("agent"))
    name: str
    system: str
    blocks: list[Block]
    summary: str = ""
    llm: LLMConfig = Field(default_factory=LLMConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    memory_warning_fraction: float = 0.7
    max_chained_steps: int = 10
    tool_names: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    tool_rules: list[ToolRule] = Field(default_factory=list)
    # The open-files section of working context and its limits (Letta's names).
    open_files: list[OpenFile] = Field(default_factory=list)
    max_files_open: int = 5
    per_file_view_window_char_limit: int = 15_000
    created_at: datetime = Field(default_factory=utcnow)
    memory_edited_at: datetime = Field(default_factory=utcnow)
    memory_warning_issued: bool = False
    heartbeats_paused_until: datetime | None = None
    usage: Usage = Field(default_factory=Usage)  # summed over every step, saved with each
    # A main agent's sleep-time companion, and the companion's main agent with how far
    # into its messages the companion has read (agent/sleeptime.py).
    sleeptime_agent_id: str | None = None
    sleeptime_of: str | None = None
    sleeptime_read_seq: int = 0
    heartbeat_interval_s: float | None = None  # timed heartbeats, from the server's scheduler

    @property
    def archival_id(self) -> str:
        """Whose archival storage its functions use: a sleep-time agent files into its
        main agent's."""
        return self.sleeptime_of or self.id

    def block(self, label: str) -> Block:
        for b in self.blocks:
            if b.label == label:
                return b
        raise KeyError(label)


class StopReason(StrEnum):
    """Why the agent stopped processing an event."""

    END_TURN = "end_turn"  # the agent yielded: it sent a message or chose not to continue
    TOOL_RULE = "tool_rule"  # a terminal tool rule ended the chain (Letta's stop reason)
    MAX_STEPS = "max_steps"  # the chain of heartbeats hit its bound
    LLM_ERROR = "llm_error"  # the model could not be reached or refused
    INVALID_FUNCTION_CALL = "invalid_function_call"  # too many bad outputs in a row
    CONTEXT_TOO_SMALL = "context_too_small"  # nothing more can be evicted to make room
    CANCELLED = "cancelled"  # the run was cancelled; it stopped between two steps
    REQUIRES_APPROVAL = "requires_approval"  # a call waits for the user's approval


class Response(BaseModel):
    """What one event produced: the messages in order, and why processing stopped."""

    messages: list[Message]
    stop_reason: StopReason
    steps: int
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)  # of the steps that reached the model

    @property
    def sent(self) -> list[str]:
        """The messages the agent sent to the user with send_message."""
        failed = failed_calls(self.messages)
        return [text for m in self.messages for text in sent_texts(m, failed)]

    @property
    def text(self) -> str:
        return "\n".join(self.sent)

    @property
    def thoughts(self) -> list[str]:
        return [t for m in self.messages if m.role == "assistant" if (t := inner_thoughts(m))]


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        args = json.loads(call.arguments)
    except ValueError:
        return {}
    return args if isinstance(args, dict) else {}


def inner_thoughts(message: Message) -> str:
    """The agent's monologue: free text it wrote, else the thoughts inside its call."""
    if message.text:
        return message.text
    return next(
        (str(t) for c in message.tool_calls if (t := _arguments(c).get("inner_thoughts"))), ""
    )


def sent_texts(message: Message, failed: frozenset[str] = frozenset()) -> list[str]:
    """What an assistant message delivered to the user through send_message: none of the
    calls in `failed` (a call the tool rules refused delivered nothing)."""
    return [
        str(_arguments(c).get("message", ""))
        for c in message.tool_calls
        if c.name == "send_message" and c.id not in failed and "message" in _arguments(c)
    ]


def failed_calls(messages: list[Message]) -> frozenset[str]:
    """The ids of the calls whose results, among `messages`, say they failed."""
    return frozenset(
        m.tool_call_id
        for m in messages
        if m.role == "tool" and m.tool_call_id and not function_succeeded(m)
    )


def _result_packet(result: Message) -> dict[str, Any]:
    """A function result as `agent.events.function_result` packs it; {} for other text."""
    try:
        packet = json.loads(result.text)
    except ValueError:
        return {}
    return packet if isinstance(packet, dict) else {}


def function_succeeded(result: Message) -> bool:
    """Whether a function result says the call succeeded; text that is not such a packet
    counts as success."""
    return _result_packet(result).get("status", "OK") == "OK"


def function_return(result: Message) -> str | None:
    """What a function result says the function returned: None for nothing (a packet
    without a message); text that is not such a packet, as it is."""
    packet = _result_packet(result)
    if "status" not in packet and "message" not in packet:
        return result.text
    return None if packet.get("message") is None else str(packet["message"])


def storable_text(text: str) -> str:
    """`text` with each unpaired UTF-16 surrogate and each NUL replaced by U+FFFD: JSON can
    carry both, UTF-8 cannot encode the first and PostgreSQL cannot store the second."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def storable_json(value: Any) -> Any:
    """Decoded JSON with `storable_text` applied to every string in it."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value


def storable_arguments(raw: str) -> str:
    """A call's raw argument text whose decoded strings are all storable; unchanged unless
    a JSON escape in it decodes to a NUL or half a surrogate pair."""
    raw = storable_text(raw)
    try:
        data = json.loads(raw)
    except ValueError:
        return raw  # not JSON: the agent loop reports that to the model
    clean = storable_json(data)
    return raw if clean == data else json.dumps(clean, ensure_ascii=False)
