"""`memgpt mcp add/list/remove` with the test MCP server over stdio: registered with its
tools listed, listed again, removed; a command the operator did not allow is refused in
one sentence."""

from __future__ import annotations

import shlex

from tests.cli.test_commands import env, memgpt, one_sentence_failure  # noqa: F401 - fixture
from tests.fakes.mcp_tools import STDIO_LINE


def test_add_list_remove_a_stdio_server(env):  # noqa: F811 - the fixture imported above
    line = shlex.join(STDIO_LINE)
    refused = memgpt(env, "mcp", "add", "fake", "--command", line)
    one_sentence_failure(refused, "not one this server's operator allowed", "stdio_commands")

    env = {**env, "MEMGPT_MCP_STDIO_COMMANDS": line}
    added = memgpt(env, "mcp", "add", "fake", "--command", line)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "Registered fake: add, shout, refuse, hang, crash."
    listed = memgpt(env, "mcp", "list")
    assert listed.stdout.splitlines() == [
        f"fake  stdio  {line}",
        "  tools: add, shout, refuse, hang, crash",
    ]
    assert memgpt(env, "mcp", "remove", "fake").stdout.strip() == "Removed fake."
    assert memgpt(env, "mcp", "list").stdout == ""
    one_sentence_failure(memgpt(env, "mcp", "remove", "fake"), "no MCP server 'fake'")
