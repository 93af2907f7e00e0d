"""`python -m memgpt.server [serve options]` or `python -m memgpt.server create-key ...`."""

from __future__ import annotations

import argparse
import sys

from memgpt.errors import MemGPTError
from memgpt.server.connections import (
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    MAX_CONNECTIONS,
    ConnectionLimits,
)
from memgpt.server.serve import create_key, serve
from memgpt.server.settings import DEFAULT_PORT


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["create-key"]:
        parser = argparse.ArgumentParser(prog="memgpt server create-key")
        parser.add_argument("--org", required=True, help="name of the new organization")
        parser.add_argument("--user", required=True, help="name of the new user in it")
        parser.add_argument("--database", help="SQLite file (default: the user's memgpt database)")
        args = parser.parse_args(argv[1:])
        org_id, user_id, key = create_key(args.org, args.user, database=args.database)
        print(f"organization {org_id}\nuser {user_id}\napi key {key}  (shown once; keep it)")
        return 0
    parser = argparse.ArgumentParser(prog="memgpt server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--database", help="SQLite file (default: the user's memgpt database)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="accept requests without an API key (loopback addresses only)",
    )
    parser.add_argument(
        "--model", help="model for agents created without one, e.g. openai/gpt-4o-mini"
    )
    parser.add_argument("--embedding", help="embedding for new agents: local, openai or hash")
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        help="largest document upload accepted, in MiB (default 50); larger ones get 413",
    )
    parser.add_argument(
        "--max-json-mb",
        type=float,
        help="largest JSON request body accepted, in MiB (default 8); larger ones get 413",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT_S,
        help=f"seconds a client has to send a request's headers (default {HEADER_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=BODY_TIMEOUT_S,
        help=f"longest pause within a request's body, in seconds (default {BODY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=MAX_CONNECTIONS,
        help=f"open connections past which new ones are closed (default {MAX_CONNECTIONS})",
    )
    parser.add_argument(
        "--unsandboxed-tools",
        action="store_true",
        help="run user tools without bubblewrap, with the server's files and network in "
        "reach: only when the server already runs alone in a container of its own",
    )
    parser.add_argument(
        "--agent-message-depth",
        type=int,
        help="most messages deep one exchange between agents may go (default 3)",
    )
    parser.add_argument(
        "--agent-fan-out",
        type=int,
        help="most agents one agent's tag broadcast may reach (default 8)",
    )
    parser.add_argument(
        "--sleeptime-frequency",
        type=int,
        help="user turns after which a sleep-time agent tidies its main agent's memory (default 5)",
    )
    parser.add_argument(
        "--sleeptime-idle",
        type=float,
        help="seconds a main agent must be idle before its sleep-time agent reads the "
        "turns it has not yet (default 60)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            database=args.database,
            allow_anonymous=args.no_auth,
            model=args.model,
            embedding=args.embedding,
            max_upload_bytes=int(args.max_upload_mb * 2**20) if args.max_upload_mb else None,
            max_json_bytes=int(args.max_json_mb * 2**20) if args.max_json_mb else None,
            connection_limits=ConnectionLimits(
                args.header_timeout, args.body_timeout, args.max_connections
            ),
            unsandboxed_tools=args.unsandboxed_tools,
            agent_message_depth=args.agent_message_depth,
            agent_fan_out=args.agent_fan_out,
            sleeptime_frequency=args.sleeptime_frequency,
            sleeptime_idle_s=args.sleeptime_idle,
            log_level=args.log_level,
        )
    except MemGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
