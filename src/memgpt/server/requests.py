"""Request bodies in Letta's shapes. Fields memgpt does not use are accepted and ignored
(`extra="ignore"`), so SDK calls that send them still work."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateBlock(_Body):
    label: str
    value: str = ""
    limit: int | None = None
    description: str | None = None


class CreateAgent(_Body):
    name: str | None = None
    memory_blocks: list[CreateBlock] | None = None
    system: str | None = None
    model: str | None = None  # a handle: "openai/gpt-4o-mini", "scripted/module:policy"
    embedding: str | None = None  # a handle: "openai/text-embedding-3-small", "hash/hash-384"
    llm_config: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    tags: list[str] | None = None
    tool_ids: list[str] | None = None
    tools: list[str] | None = None  # tool names


class UpdateAgent(_Body):
    name: str | None = None
    system: str | None = None
    tags: list[str] | None = None
    model: str | None = None
    llm_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    tool_ids: list[str] | None = None


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


class SendMessage(_Body):
    messages: list[MessageCreate] | None = None
    input: str | list[TextContent] | None = None  # 1.x shorthand for one user message
    max_steps: int | None = None
    streaming: bool = False  # 1.x: stream from POST /messages
    stream_tokens: bool = False
    include_pings: bool = False

    def text(self) -> str:
        if self.messages:
            return "\n".join(m.text() for m in self.messages)
        if isinstance(self.input, str):
            return self.input
        return "\n".join(part.text for part in self.input or [])

    def otid(self) -> str | None:
        ids = [m.otid for m in self.messages or [] if m.otid]
        return "|".join(ids) or None


class UpdateBlock(_Body):
    value: str | None = None
    limit: int | None = None
    description: str | None = None


class CreatePassage(_Body):
    text: str
    tags: list[str] | None = None


class CreateSource(_Body):
    name: str
    description: str | None = None
    embedding: str | None = None  # a handle, as for agents; default: the server's
    embedding_config: dict[str, Any] | None = None


class CreateTool(_Body):
    source_code: str
    description: str | None = None
    tags: list[str] | None = None
    source_type: str | None = None


class UpdateTool(_Body):
    source_code: str | None = None
    description: str | None = None
    tags: list[str] | None = None


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
