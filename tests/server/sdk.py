"""The same flows through whichever line of the official SDK is installed.

Both lines import as `letta_client`; the 0.1.x line (Fern) and the 1.x line (Stainless)
differ in method names and argument order. Each flow test calls this adapter, which
calls the SDK exactly as a user of that line would.
"""

from __future__ import annotations

import io
import json
import time
from importlib.metadata import version
from typing import Any

import letta_client

SDK_VERSION = version("letta-client")
LEGACY = SDK_VERSION.startswith("0.")
# What each line raises for an error status (both carry `status_code`).
APIError = letta_client.core.api_error.ApiError if LEGACY else letta_client.APIStatusError


class SDK:
    def __init__(self, base_url: str, key: str):
        if LEGACY:
            self.client = letta_client.Letta(base_url=base_url, token=key)
        else:
            self.client = letta_client.Letta(base_url=base_url, api_key=key)
        self.agents = self.client.agents

    def create_agent(
        self, name: str, *, human: str = "", tags: list[str] | None = None, model=None, **extra
    ):
        blocks = [
            {"label": "human", "value": human},
            {"label": "persona", "value": "A test agent."},
        ]
        if LEGACY:
            from letta_client import CreateBlock

            blocks = [CreateBlock(**b) for b in blocks]
        kwargs: dict[str, Any] = {
            "name": name,
            "memory_blocks": blocks,
            "tags": tags or [],
            **extra,
        }
        if model:
            kwargs["model"] = model
        return self.agents.create(**kwargs)

    @staticmethod
    def tool_rule(kind: str, **fields):
        """A tool rule of Letta's `type` `kind`: a dict for 1.x, the SDK's model for 0.1.x."""
        if not LEGACY:
            return {"type": kind, **fields}
        models = {
            "exit_loop": "TerminalToolRule",
            "run_first": "InitToolRule",
            "constrain_child_tools": "ChildToolRule",
            "continue_loop": "ContinueToolRule",
            "required_before_exit": "RequiredBeforeExitToolRule",
            "max_count_per_step": "MaxCountPerStepToolRule",
            "parent_last_tool": "ParentToolRule",
            "conditional": "ConditionalToolRule",
            "requires_approval": "RequiresApprovalToolRule",
        }
        return getattr(letta_client, models[kind])(**fields)

    def list_agents(self, **filters):
        return list(self.agents.list(**filters))

    def rename(self, agent_id: str, name: str):
        return (self.agents.modify if LEGACY else self.agents.update)(agent_id, name=name)

    def send(self, agent_id: str, text: str, **kwargs):
        if LEGACY:
            from letta_client import MessageCreate

            messages = [MessageCreate(role="user", content=text)]
        else:
            messages = [{"role": "user", "content": text}]
        return self.agents.messages.create(agent_id, messages=messages, **kwargs)

    def answer(self, agent_id: str, request_id: str, approve: bool, reason: str | None = None):
        """Approve or deny the call waiting for approval, as each line's users send it."""
        if LEGACY:
            from letta_client import ApprovalCreate

            answer = ApprovalCreate(approve=approve, approval_request_id=request_id, reason=reason)
        else:
            answer = {"type": "approval", "approve": approve, "approval_request_id": request_id}
            if reason is not None:
                answer["reason"] = reason
        return self.agents.messages.create(agent_id, messages=[answer])

    def set_approval(self, agent_id: str, tool_name: str, required: bool):
        if LEGACY:
            return self.agents.tools.modify_approval(
                agent_id, tool_name, requires_approval=required
            )
        return self.agents.tools.update_approval(
            tool_name, agent_id=agent_id, body_requires_approval=required
        )

    def send_async(self, agent_id: str, text: str):
        """The run of a message sent to be processed in the background."""
        if LEGACY:
            from letta_client import MessageCreate

            return self.agents.messages.create_async(
                agent_id, messages=[MessageCreate(role="user", content=text)]
            )
        return self.agents.messages.create_async(
            agent_id, messages=[{"role": "user", "content": text}]
        )

    def stream(self, agent_id: str, text: str, *, tokens: bool = False) -> list:
        if LEGACY:
            from letta_client import MessageCreate

            chunks = self.agents.messages.create_stream(
                agent_id, messages=[MessageCreate(role="user", content=text)], stream_tokens=tokens
            )
        else:
            chunks = self.agents.messages.create(
                agent_id,
                messages=[{"role": "user", "content": text}],
                streaming=True,
                stream_tokens=tokens,
            )
        return list(chunks)

    def list_messages(self, agent_id: str, **kwargs) -> list:
        """One page, oldest first (1.x would fetch every later page when iterated)."""
        if LEGACY:
            return self.agents.messages.list(agent_id, **kwargs)
        return self.agents.messages.list(agent_id, order="asc", **kwargs).items

    def get_block(self, agent_id: str, label: str):
        if LEGACY:
            return self.agents.blocks.retrieve(agent_id, label)
        return self.agents.blocks.retrieve(label, agent_id=agent_id)

    def set_block(self, agent_id: str, label: str, value: str):
        if LEGACY:
            return self.agents.blocks.modify(agent_id, label, value=value)
        return self.agents.blocks.update(label, agent_id=agent_id, value=value)

    # blocks shared between agents

    def create_block(self, label: str, value: str):
        return self.client.blocks.create(label=label, value=value)

    def retrieve_block(self, block_id: str):
        return self.client.blocks.retrieve(block_id)

    def update_shared_block(self, block_id: str, value: str):
        return (self.client.blocks.modify if LEGACY else self.client.blocks.update)(
            block_id, value=value
        )

    def list_blocks(self, **filters) -> list:
        return list(self.client.blocks.list(**filters))

    def delete_block(self, block_id: str):
        return self.client.blocks.delete(block_id)

    def block_agents(self, block_id: str) -> list:
        return list(self.client.blocks.agents.list(block_id))

    def attach_block(self, agent_id: str, block_id: str):
        if LEGACY:
            return self.agents.blocks.attach(agent_id, block_id)
        return self.agents.blocks.attach(block_id, agent_id=agent_id)

    def detach_block(self, agent_id: str, block_id: str):
        if LEGACY:
            return self.agents.blocks.detach(agent_id, block_id)
        return self.agents.blocks.detach(block_id, agent_id=agent_id)

    def agent_block_labels(self, agent_id: str) -> list[str]:
        return [b.label for b in self.agents.blocks.list(agent_id)]

    def insert_passage(self, agent_id: str, text: str):
        return self.agents.passages.create(agent_id, text=text)

    def list_passages(self, agent_id: str) -> list:
        return list(self.agents.passages.list(agent_id))

    def search_passages(self, agent_id: str, query: str):
        return self.agents.passages.search(agent_id, query=query)

    def delete_passage(self, agent_id: str, passage_id: str):
        if LEGACY:
            return self.agents.passages.delete(agent_id, passage_id)
        return self.agents.passages.delete(passage_id, agent_id=agent_id)

    def create_tool(self, source: str):
        return self.client.tools.create(source_code=source)

    def attach_tool(self, agent_id: str, tool_id: str):
        if LEGACY:
            return self.agents.tools.attach(agent_id, tool_id)
        return self.agents.tools.attach(tool_id, agent_id=agent_id)

    def detach_tool(self, agent_id: str, tool_id: str):
        if LEGACY:
            return self.agents.tools.detach(agent_id, tool_id)
        return self.agents.tools.detach(tool_id, agent_id=agent_id)

    def add_mcp_server(self, name: str, config: dict[str, Any]):
        """Register a server; `config` in 1.x's shape (`mcp_server_type`, ...)."""
        if LEGACY:
            from letta_client import StdioServerConfig, StreamableHttpServerConfig

            kind = config.pop("mcp_server_type")
            model = StdioServerConfig if kind == "stdio" else StreamableHttpServerConfig
            return self.client.tools.add_mcp_server(
                request=model(server_name=name, type=kind, **config)
            )
        return self.client.mcp_servers.create(server_name=name, config=config)

    def mcp_server_names(self) -> list[str]:
        if LEGACY:
            return list(self.client.tools.list_mcp_servers())
        return [s.server_name for s in self.client.mcp_servers.list()]

    def mcp_tool_ids(self, name: str) -> dict[str, str]:
        """The server's tools, name -> the id an agent attaches (0.1.x adds each first)."""
        if LEGACY:
            listed = self.client.tools.list_mcp_tools_by_server(name)
            return {t.name: self.client.tools.add_mcp_tool(name, t.name).id for t in listed}
        server = next(s for s in self.client.mcp_servers.list() if s.server_name == name)
        return {t.name: t.id for t in self.client.mcp_servers.tools.list(server.id)}

    def agent_tool_names(self, agent_id: str) -> list[str]:
        return [t.name for t in self.agents.tools.list(agent_id)]

    def run_tool(self, agent_id: str, name: str, source: str, args: dict) -> str:
        """0.1.x runs source directly; 1.x runs an agent's tool by name."""
        if LEGACY:
            return self.client.tools.run_tool_from_source(source_code=source, args=args).tool_return
        return str(self.agents.tools.run(name, agent_id=agent_id, args=args).func_return)

    def export(self, agent_id: str) -> str:
        exported = self.agents.export_file(agent_id)
        return exported if isinstance(exported, str) else json.dumps(exported)

    def import_(self, text: str, name: str | None = None) -> list[str]:
        """0.1.x cannot rename on import; the copy keeps the exported name."""
        upload = ("agent.af", io.BytesIO(text.encode()), "application/json")
        if LEGACY or name is None:
            return self.agents.import_file(file=upload).agent_ids
        return self.agents.import_file(file=upload, name=name).agent_ids

    # document sources: "sources" in 0.1.x, "folders" in 1.x

    def create_source(self, name: str):
        return (self.client.sources if LEGACY else self.client.folders).create(name=name)

    def list_sources(self) -> list:
        return list((self.client.sources if LEGACY else self.client.folders).list())

    def delete_source(self, source_id: str):
        return (self.client.sources if LEGACY else self.client.folders).delete(source_id)

    def upload(self, source_id: str, name: str, text: str):
        upload = (name, io.BytesIO(text.encode()), "text/plain")
        if LEGACY:
            return self.client.sources.files.upload(source_id, file=upload)
        return self.client.folders.files.upload(source_id, file=upload)

    def file(self, source_id: str, file_id: str):
        if LEGACY:
            return self.client.sources.get_file_metadata(source_id, file_id)
        return self.client.folders.files.retrieve(file_id, folder_id=source_id)

    def wait_processed(self, source_id: str, file_id: str, timeout_s: float = 20):
        """Poll the file until processing ends, as the SDK's documentation does."""
        deadline = time.monotonic() + timeout_s
        while True:
            file = self.file(source_id, file_id)
            if file.processing_status in ("completed", "error"):
                return file
            assert time.monotonic() < deadline, f"{file_id} is still {file.processing_status}"
            time.sleep(0.05)

    def list_files(self, source_id: str) -> list:
        if LEGACY:
            return self.client.sources.files.list(source_id)
        return list(self.client.folders.files.list(source_id))

    def attach_source(self, agent_id: str, source_id: str):
        if LEGACY:
            return self.agents.sources.attach(agent_id, source_id)
        return self.agents.folders.attach(source_id, agent_id=agent_id)

    def detach_source(self, agent_id: str, source_id: str):
        if LEGACY:
            return self.agents.sources.detach(agent_id, source_id)
        return self.agents.folders.detach(source_id, agent_id=agent_id)

    def agent_source_ids(self, agent_id: str) -> list[str]:
        listed = (self.agents.sources if LEGACY else self.agents.folders).list(agent_id)
        return [s.id for s in listed]
