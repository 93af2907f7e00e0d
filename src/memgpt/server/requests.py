"""Request bodies in Letta's shapes. A field memgpt does not implement is refused, never
accepted and ignored (`extra="forbid"`; the app answers 400 naming it): an application
that sends `identity_ids` must learn that they do nothing here.

Text in a body never holds NUL (refused: PostgreSQL cannot store it) or a lone surrogate
(JSON can carry one, UTF-8 cannot: it becomes U+FFFD, as in `Agent.send`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from memgpt.agent.approval import Answer
from memgpt.schemas import storable_text
from memgpt.server.bounds import BlockLimit, ContextWindow, OutputTokens
from memgpt.tools.rules import ToolRule

NUL_REFUSED = "Text may not contain NUL characters (\\u0000); remove them and send it again."
# Deeper JSON is refused: walking it (here, in pydantic, in json.dumps) on top of the
# server's own stack would hit Python's recursion limit, a 500.
MAX_DEPTH = 100


def clean_text(value: Any, depth: int = 0) -> Any:
    """`value` (JSON data) with lone surrogates replaced; ValueError for a NUL or for
    nesting deeper than MAX_DEPTH."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(NUL_REFUSED)
        return storable_text(value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise ValueError(f"The JSON is nested more than {MAX_DEPTH} levels deep; flatten it.")
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v, depth + 1) for v in value]
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        return clean_text(data)


class ModelSettings(_Body):
    """Letta's `llm_config`. The fields below are honoured; any other that is set is
    refused by name (`memgpt.server.models`), never ignored."""

    model_config = ConfigDict(extra="allow")

    handle: str | None = None
    model: str | None = None
    provider_name: str | None = None
    model_endpoint_type: str | None = None
    model_endpoint: str | None = None  # must be the provider's own: a request names no URL
    context_window: ContextWindow | None = None
    max_tokens: OutputTokens | None = None
    temperature: float | None = Field(None, ge=0, le=2)


class EmbeddingSettings(_Body):
    """Letta's `embedding_config`, honoured or refused as `llm_config` is."""

    model_config = ConfigDict(extra="allow")

    handle: str | None = None
    embedding_endpoint_type: str | None = None
    embedding_endpoint: str | None = None
    embedding_model: str | None = None
    embedding_dim: int | None = Field(None, gt=0)


class CreateBlock(_Body):
    label: str = Field(min_length=1)  # it names the block in working context
    value: str = ""
    limit: BlockLimit | None = None
    description: str | None = None


class CreateAgent(_Body):
    name: str | None = None
    memory_blocks: list[CreateBlock] | None = None
    block_ids: list[str] | None = None  # existing blocks to share
    system: str | None = None
    model: str | None = None  # a handle: "openai/gpt-4o-mini", "scripted/module:policy"
    embedding: str | None = None  # a handle: "openai/text-embedding-3-small", "hash/hash-384"
    llm_config: ModelSettings | None = None
    embedding_config: EmbeddingSettings | None = None
    context_window_limit: ContextWindow | None = None
    max_tokens: OutputTokens | None = None
    tags: list[str] | None = None
    tool_ids: list[str] | None = None
    tools: list[str] | None = None  # tool names
    tool_rules: list[ToolRule] | None = None
    # Every memgpt agent has the base memory functions; only the default is accepted.
    include_base_tools: Literal[True] = True
    enable_sleeptime: bool | None = None  # a sleep-time memory agent sharing its blocks
    heartbeat_interval_s: float | None = Field(None, gt=0)  # memgpt's own: timed heartbeats


class UpdateAgent(_Body):
    name: str | None = None
    heartbeat_interval_s: float | None = Field(None, ge=0)  # 0 turns timed heartbeats off
    system: str | None = None
    tags: list[str] | None = None
    model: str | None = None
    llm_config: ModelSettings | None = None
    context_window_limit: ContextWindow | None = None
    max_tokens: OutputTokens | None = None
    embedding: str | None = None
    embedding_config: EmbeddingSettings | None = None
    tool_ids: list[str] | None = None
    tool_rules: list[ToolRule] | None = None


class TextContent(_Body):
    type: Literal["text"] = "text"
    text: str


class MessageCreate(_Body):
    role: Literal["user", "system", "assistant"] = "user"
    content: str | list[TextContent]
    otid: str | None = None  # client-chosen id: a retry reusing it is not a new message

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ApprovalReturn(_Body):
    """1.x's way to answer: the call's id. Client-side tool returns (`type: "tool"`) are
    not implemented, so only approvals are taken."""

    type: Literal["approval"] = "approval"
    tool_call_id: str
    approve: bool
    reason: str | None = None


class ApprovalCreate(_Body):
    """The user's answer to an approval request: by the request's id (`approve`,
    `approval_request_id`, `reason`) or, as 1.x sends it, in `approvals`."""

    type: Literal["approval"] | None = "approval"  # 0.1.x may send null
    approve: bool | None = None
    approval_request_id: str | None = None
    reason: str | None = None
    approvals: list[ApprovalReturn] | None = Field(None, min_length=1, max_length=1)

    @model_validator(mode="after")
    def _one_way(self) -> ApprovalCreate:
        by_request = self.approve is not None and self.approval_request_id is not None
        if by_request == bool(self.approvals):
            raise ValueError(
                "An approval gives either `approve` with `approval_request_id`, or one entry in "
                "`approvals`; only one call waits for approval at a time."
            )
        return self

    def answer(self) -> Answer:
        if self.approvals:
            (one,) = self.approvals
            return Answer(request_id=one.tool_call_id, approve=one.approve, reason=one.reason)
        assert self.approval_request_id is not None and self.approve is not None
        return Answer(request_id=self.approval_request_id, approve=self.approve, reason=self.reason)


def _message_kind(value: Any) -> str:
    # Letta tells an approval from a message by its `type`; 0.1.x may leave it out.
    if isinstance(value, dict):
        approval = value.get("type") == "approval" or "approve" in value or "approvals" in value
    else:
        approval = isinstance(value, ApprovalCreate)
    return "approval" if approval else "message"


AnyMessage = Annotated[
    Annotated[MessageCreate, Tag("message")] | Annotated[ApprovalCreate, Tag("approval")],
    Discriminator(_message_kind),
]


class SendMessage(_Body):
    messages: list[AnyMessage] | None = None
    input: str | list[TextContent] | None = None  # 1.x shorthand for one user message
    max_steps: int | None = Field(None, ge=1)  # at most the agent's own chain bound
    streaming: bool = False  # 1.x: stream from POST /messages
    stream_tokens: bool = False
    include_pings: bool = False

    @model_validator(mode="after")
    def _approval_alone(self) -> SendMessage:
        kinds = [isinstance(m, ApprovalCreate) for m in self.messages or []]
        if any(kinds) and (len(kinds) > 1 or self.input is not None):
            raise ValueError("Send an approval alone, as the only message of its request.")
        return self

    def answer(self) -> Answer | None:
        """The user's answer to an approval request, when that is what was sent."""
        first = (self.messages or [None])[0]
        return first.answer() if isinstance(first, ApprovalCreate) else None

    def text(self) -> str:
        if self.messages:
            return "\n".join(m.text() for m in self.messages)
        if isinstance(self.input, str):
            return self.input
        return "\n".join(part.text for part in self.input or [])

    def otid(self) -> str | None:
        ids = [m.otid for m in self.messages or [] if isinstance(m, MessageCreate) and m.otid]
        return "|".join(ids) or None


class CancelRuns(_Body):
    run_ids: list[str] | None = None  # None: every unfinished run of the agent


class ResetMessages(_Body):
    add_default_initial_messages: bool = False


class UpdateMessage(_Body):
    """Letta's message edit. 0.1.x sends no `message_type`: `reasoning` then edits a step's
    inner monologue, and `content` a user message's words or what the agent sent."""

    message_type: (
        Literal["user_message", "assistant_message", "reasoning_message", "system_message"] | None
    ) = None
    content: str | list[TextContent] | None = None
    reasoning: str | None = None

    @model_validator(mode="after")
    def _one_text(self) -> UpdateMessage:
        if (self.content is None) == (self.reasoning is None):
            raise ValueError("Give either `content` or `reasoning` (for a reasoning_message).")
        reasoning = self.message_type == "reasoning_message"
        if self.message_type is not None and reasoning != (self.reasoning is not None):
            raise ValueError("A reasoning_message edit takes `reasoning`; others take `content`.")
        return self

    def part(self) -> str:
        """Which part of a memgpt message to edit (`Agent.edit`)."""
        if self.reasoning is not None:
            return "reasoning"
        return self.message_type.removesuffix("_message") if self.message_type else "content"

    def text(self) -> str:
        if self.reasoning is not None:
            return self.reasoning
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content or [])


class UpdateBlock(_Body):
    value: str | None = None
    limit: BlockLimit | None = None
    description: str | None = None
    label: str | None = Field(None, min_length=1)


class CreatePassage(_Body):
    text: str
    tags: list[str] | None = None


class CreateSource(_Body):
    name: str
    description: str | None = None
    embedding: str | None = None  # a handle, as for agents; default: the server's
    embedding_config: EmbeddingSettings | None = None


class CreateTool(_Body):
    source_code: str
    description: str | None = None
    tags: list[str] | None = None
    source_type: str | None = None
    default_requires_approval: bool = False


class UpdateTool(_Body):
    source_code: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    default_requires_approval: bool | None = None


class ToolApproval(_Body):
    requires_approval: bool


class RunToolFromSource(_Body):
    source_code: str
    args: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None


class RunTool(_Body):
    args: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(_Body):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(
                str(p.get("text", "")) for p in self.content if p.get("type") == "text"
            )
        return self.content or ""


class ChatCompletion(_Body):
    model: str  # the agent: its id or name
    messages: list[ChatMessage]
    stream: bool = False
