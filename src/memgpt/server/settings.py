"""What a server process needs to know: where to listen, which database, who may call it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from memgpt.errors import MemGPTError
from memgpt.ingest.loaders import DEFAULT_MAX_BYTES
from memgpt.server.fairness import IMPORT_WORKERS, IMPORTS_PER_ORG, TOOL_WORKERS, TOOLS_PER_ORG
from memgpt.tools.sandbox import SANDBOXED, TOTAL_MEMORY_BYTES, Isolation

DEFAULT_PORT = 8283  # Letta's port, so SDK code written for it needs no change
# Ample for any message, tool source or block a context window can hold.
DEFAULT_MAX_JSON_BYTES = 8 * 2**20


class ServerConfigError(MemGPTError):
    """A server setting that cannot work; one sentence saying what to change."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    database: Path | None = None  # None: the user's memgpt database
    # Requests without an API key act as one local user. Only allowed on loopback: on a
    # reachable address anyone on the network would be that user.
    allow_anonymous: bool = False
    model: str | None = None  # for agents created without a model; None: the user's config
    embedding: str | None = None  # embedding provider likewise (local, openai, hash)
    step_workers: int = 32  # threads running agent steps (LLM calls) at once
    ping_interval_s: float = 5.0  # keep-alive pings on a stream, when the client asks
    # Larger uploads are refused with 413 before they are read; the loader's own limit.
    max_upload_bytes: int = DEFAULT_MAX_BYTES
    # Larger JSON bodies are refused with 413 as soon as they pass it (`edge`).
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    # Bounded pools for direct tool runs and agent-file imports, and how many of each one
    # organization may have at once (429 past that); see `fairness`.
    tool_workers: int = TOOL_WORKERS
    tools_per_org: int = TOOLS_PER_ORG
    import_workers: int = IMPORT_WORKERS
    imports_per_org: int = IMPORTS_PER_ORG
    # Memory all tool sandboxes together may reserve; a tool call waits for room.
    sandbox_memory_bytes: int = TOTAL_MEMORY_BYTES
    # User tools run under bubblewrap (`bwrap`); without it they cannot run at all.
    # `Isolation(disabled=True)` (`--unsandboxed-tools`) runs them without it, as the
    # server's OS user with its files and the network in reach: only for a server that is
    # already alone in a container of its own, where bubblewrap cannot make namespaces.
    tool_isolation: Isolation = SANDBOXED
    # Agents messaging agents: how deep one exchange may go, and how many agents one tag
    # broadcast may reach (`memgpt.agent.multi_agent`).
    agent_message_depth: int = 3
    agent_fan_out: int = 8
    # A main agent's sleep-time agent wakes after this many unread user turns, or once the
    # main agent has been idle this long with any; the scheduler looks every tick, and
    # also sends agents their timed heartbeats (`memgpt.server.scheduler`).
    sleeptime_frequency: int = 5
    sleeptime_idle_s: float = 60.0
    scheduler_tick_s: float = 5.0

    def check(self) -> None:
        if self.sleeptime_frequency < 1 or self.sleeptime_idle_s < 0 or self.scheduler_tick_s <= 0:
            raise ServerConfigError(
                "A sleep-time agent needs at least 1 turn and 0 idle seconds before it wakes; "
                "set --sleeptime-frequency to 1 or more and --sleeptime-idle to 0 or more."
            )
        if self.agent_message_depth < 1 or self.agent_fan_out < 1:
            raise ServerConfigError(
                "Agent messaging bounds must be at least 1; set --agent-message-depth and "
                "--agent-fan-out to 1 or more."
            )
        if self.allow_anonymous and not is_loopback(self.host):
            raise ServerConfigError(
                f"Requests without an API key are only allowed when the server listens on a "
                f"loopback address, not {self.host}; bind to 127.0.0.1 or require keys."
            )
