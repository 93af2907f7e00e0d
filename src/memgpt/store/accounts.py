"""Server accounts beside the agent store: organizations, users, API keys, who owns which
agent, user tools, and idempotency records for retried message POSTs.

API keys are `sk-memgpt-<key id>.<secret>`: the id finds the row, and only the secret's
SHA-256 is stored, compared in constant time, so neither a database leak nor response
timing gives a usable key away.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from memgpt.schemas import new_id, utcnow
from memgpt.store import Store
from memgpt.store.base import StoreError
from memgpt.store.sql.seam import Row

KEY_PREFIX = "sk-memgpt-"
# The organization and user key-less requests act as (`memgpt server --no-auth`). They
# own every agent no organization does: those made through the Python API or the CLI.
ANONYMOUS_ORG = "org-local"
ANONYMOUS_USER = "user-local"
# Agents with no owner row, but not those of an import still being written (hidden).
_UNOWNED = (
    "SELECT a.id AS agent_id, ? AS organization_id, ? AS user_id, a.name AS name,"
    " a.created_at AS created_at FROM agents a"
    " WHERE a.id NOT IN (SELECT agent_id FROM agent_owners)"
    " AND a.id NOT IN (SELECT agent_id FROM agent_imports)"
)


class Organization(BaseModel):
    id: str = Field(default_factory=lambda: new_id("org"))
    name: str
    created_at: datetime = Field(default_factory=utcnow)


class User(BaseModel):
    id: str = Field(default_factory=lambda: new_id("user"))
    organization_id: str
    name: str
    created_at: datetime = Field(default_factory=utcnow)


class AgentOwner(BaseModel):
    """The organization an agent belongs to and the name its users know it by (names are
    per organization; the agent store's own name is kept unique across them)."""

    agent_id: str
    organization_id: str
    user_id: str
    name: str


class UserTool(BaseModel):
    """A tool written by a user: Python source and the function schema derived from it."""

    id: str = Field(default_factory=lambda: new_id("tool"))
    organization_id: str
    name: str
    description: str = ""
    source_code: str
    json_schema: dict[str, Any]
    tags: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    # Agents it is attached to get a requires_approval rule for it (Letta's default).
    default_requires_approval: bool = False


class SourceOwner(BaseModel):
    """The organization a document source belongs to and its name there (the store's own
    source name is kept unique across organizations, as agents' are)."""

    source_id: str
    organization_id: str
    user_id: str
    name: str


FileStatus = Literal["pending", "parsing", "embedding", "completed", "error"]


class UploadedFile(BaseModel):
    """A file uploaded into a source over the API; its status moves as it is processed."""

    id: str = Field(default_factory=lambda: new_id("file"))
    source_id: str
    file_name: str
    file_type: str | None = None
    file_size: int
    status: FileStatus = "pending"
    error: str | None = None
    chunks: int = 0  # embedded so far; when completed, the passages it added
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AccountStore:
    """Accounts in the agent store's database, on its connections and transactions."""

    def __init__(self, store: Store):
        self.store = store

    def _now(self):
        return self.store._ts(utcnow())

    # organizations, users, keys

    def create_organization(self, name: str) -> Organization:
        org = Organization(name=name)
        self.store._run(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)",
            (org.id, org.name, self.store._ts(org.created_at)),
        )
        return org

    def create_user(self, organization_id: str, name: str) -> User:
        user = User(organization_id=organization_id, name=name)
        self.store._run(
            "INSERT INTO users (id, organization_id, name, created_at) VALUES (?, ?, ?, ?)",
            (user.id, organization_id, name, self.store._ts(user.created_at)),
        )
        return user

    def get_user(self, user_id: str) -> User | None:
        row = self.store._one("SELECT * FROM users WHERE id = ?", (user_id,))
        return self.store._record(User, row) if row else None

    def ensure_organization(self, org_id: str, name: str) -> None:
        """Create the organization with this id unless it exists (the local one)."""
        self.store._run(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (org_id, name, self._now()),
        )

    def ensure_user(self, user_id: str, organization_id: str, name: str) -> User:
        self.store._run(
            "INSERT INTO users (id, organization_id, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (user_id, organization_id, name, self._now()),
        )
        return self.get_user(user_id)

    def create_api_key(self, user_id: str, name: str = "") -> str:
        """A new key for the user; the plain key is returned once and never stored."""
        if self.get_user(user_id) is None:
            raise StoreError(f"There is no user {user_id!r} to give a key to.")
        key_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
        self.store._run(
            "INSERT INTO api_keys (id, user_id, secret_sha256, name, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key_id, user_id, _sha256(secret), name, self._now()),
        )
        return f"{KEY_PREFIX}{key_id}.{secret}"

    def authenticate(self, key: str) -> User | None:
        key_id, dot, secret = key.removeprefix(KEY_PREFIX).partition(".")
        if not key.startswith(KEY_PREFIX) or not dot:
            return None
        row = self.store._one("SELECT user_id, secret_sha256 FROM api_keys WHERE id = ?", (key_id,))
        # Hash and compare even for an unknown id, so timing does not tell ids apart.
        stored = row["secret_sha256"] if row else _sha256("")
        if not hmac.compare_digest(stored, _sha256(secret)) or row is None:
            return None
        return self.get_user(row["user_id"])

    # agents

    def set_agent_owner(self, owner: AgentOwner) -> None:
        self.store._run(
            "INSERT INTO agent_owners (agent_id, organization_id, user_id, name)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET name = excluded.name",
            (owner.agent_id, owner.organization_id, owner.user_id, owner.name),
        )

    def agent_owner(self, agent_id: str) -> AgentOwner | None:
        row = self.store._one("SELECT * FROM agent_owners WHERE agent_id = ?", (agent_id,))
        if row is None:
            row = self.store._one(
                f"{_UNOWNED} AND a.id = ?", (ANONYMOUS_ORG, ANONYMOUS_USER, agent_id)
            )
        return AgentOwner(**dict(row)) if row else None

    def owned_agents(self, organization_id: str) -> list[AgentOwner]:
        sql = (
            "SELECT o.agent_id, o.organization_id, o.user_id, o.name, a.created_at"
            " FROM agent_owners o JOIN agents a ON a.id = o.agent_id WHERE o.organization_id = ?"
        )
        params = [organization_id]
        if organization_id == ANONYMOUS_ORG:
            sql, params = f"{sql} UNION ALL {_UNOWNED}", [*params, ANONYMOUS_ORG, ANONYMOUS_USER]
        rows = self.store._query(f"{sql} ORDER BY created_at, agent_id", params)
        return [AgentOwner(**dict(r)) for r in rows]

    # blocks: each belongs to the organization that made it, whichever agents share it

    def set_block_owner(self, block_id: str, organization_id: str) -> None:
        self.store._run(
            "INSERT INTO block_owners (block_id, organization_id) VALUES (?, ?)"
            " ON CONFLICT (block_id) DO NOTHING",
            (block_id, organization_id),
        )

    def block_owner(self, block_id: str) -> str | None:
        """The organization owning the block."""
        row = self.store._one(
            "SELECT organization_id FROM block_owners WHERE block_id = ?", (block_id,)
        )
        return row["organization_id"] if row else None

    def owned_blocks(self, organization_id: str) -> list[str]:
        """The ids of the organization's blocks, oldest first."""
        rows = self.store._query(
            "SELECT o.block_id FROM block_owners o JOIN blocks b ON b.id = o.block_id"
            " WHERE o.organization_id = ? ORDER BY b.created_at, b.id",
            (organization_id,),
        )
        return [r["block_id"] for r in rows]

    # user tools

    def save_tool(self, tool: UserTool) -> None:
        self.store._run(
            "INSERT INTO user_tools (id, organization_id, name, description, source_code,"
            " json_schema, tags, created_at, default_requires_approval)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " description = excluded.description, source_code = excluded.source_code,"
            " json_schema = excluded.json_schema, tags = excluded.tags,"
            " default_requires_approval = excluded.default_requires_approval",
            (
                tool.id,
                tool.organization_id,
                tool.name,
                tool.description,
                tool.source_code,
                self.store._json(tool.json_schema),
                self.store._json(tool.tags),
                self.store._ts(tool.created_at),
                tool.default_requires_approval,
            ),
        )

    def _tool(self, row: Row) -> UserTool:
        return self.store._record(UserTool, row, json=("json_schema", "tags"))

    def get_tool(self, organization_id: str, id_or_name: str) -> UserTool | None:
        row = self.store._one(
            "SELECT * FROM user_tools WHERE organization_id = ? AND (id = ? OR name = ?)",
            (organization_id, id_or_name, id_or_name),
        )
        return self._tool(row) if row else None

    def list_tools(self, organization_id: str) -> list[UserTool]:
        rows = self.store._query(
            "SELECT * FROM user_tools WHERE organization_id = ? ORDER BY created_at, id",
            (organization_id,),
        )
        return [self._tool(r) for r in rows]

    def delete_tool(self, organization_id: str, tool_id: str) -> bool:
        return bool(
            self.store._run(
                "DELETE FROM user_tools WHERE organization_id = ? AND id = ?",
                (organization_id, tool_id),
            )
        )

    # idempotency

    def idempotent_response(self, agent_id: str, key: str) -> str | None:
        row = self.store._one(
            "SELECT response FROM idempotency_keys WHERE agent_id = ? AND key = ?",
            (agent_id, key),
        )
        return row["response"] if row else None

    def save_idempotent_response(self, agent_id: str, key: str, response: str) -> None:
        self.store._run(
            "INSERT INTO idempotency_keys (agent_id, key, response, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (agent_id, key)"
            " DO UPDATE SET response = excluded.response, created_at = excluded.created_at",
            (agent_id, key, response, self._now()),
        )

    # document sources

    def set_source_owner(self, owner: SourceOwner) -> None:
        self.store._run(
            "INSERT INTO source_owners (source_id, organization_id, user_id, name)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (source_id) DO UPDATE SET name = excluded.name",
            (owner.source_id, owner.organization_id, owner.user_id, owner.name),
        )

    def source_owner(self, source_id: str) -> SourceOwner | None:
        row = self.store._one("SELECT * FROM source_owners WHERE source_id = ?", (source_id,))
        return SourceOwner(**dict(row)) if row else None

    def owned_sources(self, organization_id: str) -> list[SourceOwner]:
        """The organization's sources, oldest first."""
        rows = self.store._query(
            "SELECT o.* FROM source_owners o JOIN sources s ON s.id = o.source_id"
            " WHERE o.organization_id = ? ORDER BY s.created_at, s.id",
            (organization_id,),
        )
        return [SourceOwner(**dict(r)) for r in rows]

    def save_uploaded_file(self, file: UploadedFile) -> None:
        """Insert the file, or update its status, error, chunks and updated_at."""
        self.store._run(
            "INSERT INTO uploaded_files (id, source_id, file_name, file_type, file_size, status,"
            " error, chunks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error,"
            " chunks = excluded.chunks, updated_at = excluded.updated_at",
            (
                file.id,
                file.source_id,
                file.file_name,
                file.file_type,
                file.file_size,
                file.status,
                file.error,
                file.chunks,
                self.store._ts(file.created_at),
                self.store._ts(file.updated_at),
            ),
        )

    def _uploaded_file(self, row: Row) -> UploadedFile:
        return self.store._record(UploadedFile, row, times=("created_at", "updated_at"))

    def uploaded_file(self, source_id: str, file_id: str) -> UploadedFile | None:
        row = self.store._one(
            "SELECT * FROM uploaded_files WHERE source_id = ? AND id = ?", (source_id, file_id)
        )
        return self._uploaded_file(row) if row else None

    def uploaded_files(self, source_id: str) -> list[UploadedFile]:
        """The source's uploaded files, oldest first."""
        rows = self.store._query(
            "SELECT * FROM uploaded_files WHERE source_id = ? ORDER BY created_at, id",
            (source_id,),
        )
        return [self._uploaded_file(r) for r in rows]


def accounts_for(store: Store) -> AccountStore:
    """The account store living beside `store`."""
    return AccountStore(store)
