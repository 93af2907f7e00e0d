"""Server accounts in the PostgreSQL store: the same `AccountStore` as `SQLiteAccounts`
(see accounts.py for the model and the API key scheme), on the store's connections and
transactions, so the server runs unchanged on either database."""

from __future__ import annotations

import hmac
import secrets
import uuid

from psycopg.types.json import Jsonb

from memgpt.schemas import utcnow
from memgpt.store.accounts import (
    KEY_PREFIX,
    AgentOwner,
    Organization,
    SourceOwner,
    UploadedFile,
    User,
    UserTool,
    _sha256,
)
from memgpt.store.base import StoreError
from memgpt.store.postgres import PostgresStore, Row, utc


class PostgresAccounts:
    def __init__(self, store: PostgresStore):
        self.store = store

    # organizations, users, keys

    def create_organization(self, name: str) -> Organization:
        org = Organization(name=name)
        self.store._run(
            "INSERT INTO organizations (id, name, created_at) VALUES (%s, %s, %s)",
            (org.id, org.name, org.created_at),
        )
        return org

    def create_user(self, organization_id: str, name: str) -> User:
        user = User(organization_id=organization_id, name=name)
        self.store._run(
            "INSERT INTO users (id, organization_id, name, created_at) VALUES (%s, %s, %s, %s)",
            (user.id, organization_id, name, user.created_at),
        )
        return user

    def get_user(self, user_id: str) -> User | None:
        row = self.store._one("SELECT * FROM users WHERE id = %s", (user_id,))
        if row is None:
            return None
        return User(
            id=row["id"],
            organization_id=row["organization_id"],
            name=row["name"],
            created_at=utc(row["created_at"]),
        )

    def ensure_organization(self, org_id: str, name: str) -> None:
        self.store._run(
            "INSERT INTO organizations (id, name, created_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (org_id, name, utcnow()),
        )

    def ensure_user(self, user_id: str, organization_id: str, name: str) -> User:
        self.store._run(
            "INSERT INTO users (id, organization_id, name, created_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (user_id, organization_id, name, utcnow()),
        )
        return self.get_user(user_id)

    def create_api_key(self, user_id: str, name: str = "") -> str:
        if self.get_user(user_id) is None:
            raise StoreError(f"There is no user {user_id!r} to give a key to.")
        key_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
        self.store._run(
            "INSERT INTO api_keys (id, user_id, secret_sha256, name, created_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (key_id, user_id, _sha256(secret), name, utcnow()),
        )
        return f"{KEY_PREFIX}{key_id}.{secret}"

    def authenticate(self, key: str) -> User | None:
        key_id, dot, secret = key.removeprefix(KEY_PREFIX).partition(".")
        if not key.startswith(KEY_PREFIX) or not dot:
            return None
        row = self.store._one(
            "SELECT user_id, secret_sha256 FROM api_keys WHERE id = %s", (key_id,)
        )
        # Hash and compare even for an unknown id, so timing does not tell ids apart.
        stored = row["secret_sha256"] if row else _sha256("")
        if not hmac.compare_digest(stored, _sha256(secret)) or row is None:
            return None
        return self.get_user(row["user_id"])

    # agents

    def set_agent_owner(self, owner: AgentOwner) -> None:
        self.store._run(
            "INSERT INTO agent_owners (agent_id, organization_id, user_id, name)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (agent_id) DO UPDATE SET name = excluded.name",
            (owner.agent_id, owner.organization_id, owner.user_id, owner.name),
        )

    def agent_owner(self, agent_id: str) -> AgentOwner | None:
        row = self.store._one("SELECT * FROM agent_owners WHERE agent_id = %s", (agent_id,))
        return AgentOwner(**row) if row else None

    def owned_agents(self, organization_id: str) -> list[AgentOwner]:
        rows = self.store._query(
            "SELECT o.* FROM agent_owners o JOIN agents a ON a.id = o.agent_id"
            " WHERE o.organization_id = %s ORDER BY a.created_at, a.id",
            (organization_id,),
        )
        return [AgentOwner(**r) for r in rows]

    # user tools

    def save_tool(self, tool: UserTool) -> None:
        self.store._run(
            "INSERT INTO user_tools (id, organization_id, name, description, source_code,"
            " json_schema, tags, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " description = excluded.description, source_code = excluded.source_code,"
            " json_schema = excluded.json_schema, tags = excluded.tags",
            (
                tool.id,
                tool.organization_id,
                tool.name,
                tool.description,
                tool.source_code,
                Jsonb(tool.json_schema),
                Jsonb(tool.tags),
                tool.created_at,
            ),
        )

    @staticmethod
    def _tool(row: Row) -> UserTool:
        return UserTool(**{**row, "created_at": utc(row["created_at"])})

    def get_tool(self, organization_id: str, id_or_name: str) -> UserTool | None:
        row = self.store._one(
            "SELECT * FROM user_tools WHERE organization_id = %s AND (id = %s OR name = %s)",
            (organization_id, id_or_name, id_or_name),
        )
        return self._tool(row) if row else None

    def list_tools(self, organization_id: str) -> list[UserTool]:
        rows = self.store._query(
            "SELECT * FROM user_tools WHERE organization_id = %s ORDER BY created_at, id",
            (organization_id,),
        )
        return [self._tool(r) for r in rows]

    def delete_tool(self, organization_id: str, tool_id: str) -> bool:
        return bool(
            self.store._run(
                "DELETE FROM user_tools WHERE organization_id = %s AND id = %s",
                (organization_id, tool_id),
            )
        )

    # idempotency

    def idempotent_response(self, agent_id: str, key: str) -> str | None:
        row = self.store._one(
            "SELECT response FROM idempotency_keys WHERE agent_id = %s AND key = %s",
            (agent_id, key),
        )
        return row["response"] if row else None

    def save_idempotent_response(self, agent_id: str, key: str, response: str) -> None:
        self.store._run(
            "INSERT INTO idempotency_keys (agent_id, key, response, created_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (agent_id, key)"
            " DO UPDATE SET response = excluded.response, created_at = excluded.created_at",
            (agent_id, key, response, utcnow()),
        )

    # document sources

    def set_source_owner(self, owner: SourceOwner) -> None:
        self.store._run(
            "INSERT INTO source_owners (source_id, organization_id, user_id, name)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (source_id) DO UPDATE SET name = excluded.name",
            (owner.source_id, owner.organization_id, owner.user_id, owner.name),
        )

    def source_owner(self, source_id: str) -> SourceOwner | None:
        row = self.store._one("SELECT * FROM source_owners WHERE source_id = %s", (source_id,))
        return SourceOwner(**row) if row else None

    def owned_sources(self, organization_id: str) -> list[SourceOwner]:
        rows = self.store._query(
            "SELECT o.* FROM source_owners o JOIN sources s ON s.id = o.source_id"
            " WHERE o.organization_id = %s ORDER BY s.created_at, s.id",
            (organization_id,),
        )
        return [SourceOwner(**r) for r in rows]

    def save_uploaded_file(self, file: UploadedFile) -> None:
        self.store._run(
            "INSERT INTO uploaded_files (id, source_id, file_name, file_type, file_size, status,"
            " error, chunks, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
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
                file.created_at,
                file.updated_at,
            ),
        )

    @staticmethod
    def _uploaded_file(row: Row) -> UploadedFile:
        return UploadedFile(
            **{**row, "created_at": utc(row["created_at"]), "updated_at": utc(row["updated_at"])}
        )

    def uploaded_file(self, source_id: str, file_id: str) -> UploadedFile | None:
        row = self.store._one(
            "SELECT * FROM uploaded_files WHERE source_id = %s AND id = %s", (source_id, file_id)
        )
        return self._uploaded_file(row) if row else None

    def uploaded_files(self, source_id: str) -> list[UploadedFile]:
        rows = self.store._query(
            "SELECT * FROM uploaded_files WHERE source_id = %s ORDER BY created_at, id",
            (source_id,),
        )
        return [self._uploaded_file(r) for r in rows]
