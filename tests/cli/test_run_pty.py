"""`memgpt run` in a real pseudo-terminal, as a user types it, with a scripted model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from memgpt.client import MemGPT
from memgpt.schemas import EmbeddingConfig

ROOT = Path(__file__).resolve().parents[2]
MEMGPT = str(Path(sys.executable).with_name("memgpt"))
PROMPT = "you: "
TIMEOUT_S = 20


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "MEMGPT_HOME": str(tmp_path),
        "MEMGPT_MODEL": "scripted/tests.cli.policy:policy",
        "MEMGPT_EMBEDDING": "hash",
        # This checkout's sources, and the tests so the child can import the policy.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "PROMPT_TOOLKIT_NO_CPR": "1",  # pexpect does not answer cursor-position queries
        "TERM": "xterm",
    }


def spawn(env: dict[str, str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        MEMGPT, ["run", *args], env=env, encoding="utf-8", timeout=TIMEOUT_S, dimensions=(50, 220)
    )
    return child


def send(child: pexpect.spawn, line: str, *expected: str) -> None:
    child.expect_exact(PROMPT)
    child.sendline(line)
    for text in expected:
        child.expect_exact(text)


def exit_chat(child: pexpect.spawn) -> None:
    send(child, "/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_chat_slash_commands_exit_and_resume(env, tmp_path):
    child = spawn(env, "--agent", "sam")
    child.expect_exact("Created agent 'sam'")
    child.expect_exact("model scripted/tests.cli.policy:policy")
    # Styles split a line into runs between escape codes: each run is matched on its own.
    child.expect_exact("someone arrived")  # the inner monologue
    child.expect_exact("Hello! I'm Sam.")  # the reply sent with send_message
    send(child, "my name is Ana", "memory", "[human] + 'Name: Ana'", "Nice to meet you!")
    send(child, "/memory", "[human]", "Name: Ana", "messages in recall storage")
    send(child, "/context", "main context:", "working_context", "queue", "window")
    send(child, "hello", "You said: hello")
    send(child, "/retry", "You said: hello")
    send(child, "/pop 1", "Popped 3 messages")
    send(child, "/dump 2", "Nice to meet you!")
    send(child, "/rewrite Lovely to meet you, Ana!", "Rewrote the agent's last message.")
    send(child, "/dump 2", "Lovely to meet you, Ana!")
    send(child, "/help", "/rethink TEXT", "/memorywarning", "/attach SOURCE")
    send(child, "/attach notes", "There is no source named 'notes'")
    send(child, "/nonsense", "There is no command /nonsense; /help lists them.")
    exit_chat(child)

    # A new process resumes the same agent, memory and all; --first: no greeting step.
    child = spawn(env, "--agent", "sam", "--first")
    child.expect_exact(PROMPT)
    assert "someone arrived" not in child.before
    child.sendline("/memory")
    child.expect_exact("Name: Ana")
    send(child, "/dump 2", "Lovely to meet you, Ana!")
    exit_chat(child)

    listed = subprocess.run(
        [MEMGPT, "list", "agents", "--json"], env=env, capture_output=True, text=True, check=True
    )
    [agent] = json.loads(listed.stdout)
    assert agent["name"] == "sam" and agent["model"] == "scripted/tests.cli.policy:policy"


def test_ctrl_c_interrupts_a_step_and_the_agent_goes_on(env, tmp_path):
    child = spawn(env, "--agent", "sam", "--first")
    send(child, "slow", "sam is thinking")
    child.sendintr()
    child.expect_exact("Interrupted: finished steps are saved, the unfinished one was discarded.")
    send(child, "hello", "You said: hello")
    exit_chat(child)

    client = MemGPT(tmp_path / "memgpt.db")
    agent = client.get_agent("sam")
    texts = [m.text for m in client.store.list_messages(agent.id)]
    assert "slow" not in texts, "the interrupted step left nothing behind"
    assert "hello" in texts
    calls = {c.id for m in agent.queue for c in m.tool_calls}
    assert calls == {m.tool_call_id for m in agent.queue if m.role == "tool"}
    client.close()


def test_piped_input_works_without_a_terminal(env, tmp_path):
    client = MemGPT(tmp_path / "memgpt.db")
    client.create_source("notes", embedding=EmbeddingConfig(provider="hash"))
    client.close()
    lines = ["hi there", "/attach notes", "/rethink a deeper thought", "/dump 2", "/memorywarning", "/heartbeat",
             "/summarize", "/save", "/pop x", "/exit"]  # fmt: skip
    chat = subprocess.run(
        [MEMGPT, "run", "--agent", "pipe", "--first"],
        input="\n".join(lines) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "pipe: You said: hi there" in out
    assert "Attached 'notes'" in out
    assert "thinking: a deeper thought" in out  # /rethink, seen through /dump
    assert "! system: Memory pressure" in out and "pipe: Saving what matters." in out
    assert "pipe: Just thinking." in out  # /heartbeat
    assert "Summarized " in out and "Summary of earlier conversation" in out
    assert "Saved: each step is committed to" in out
    assert "Give a positive number: /pop [N]." in out


def test_the_prompt_comes_first_and_an_agent_that_cannot_open_ends_it(env):
    """With --first and a named agent the prompt is up before the agent opens; should
    opening fail, the prompt ends with the one sentence and exit status 1."""
    child = spawn(env, "--agent", "sam", "--first", "--model", "bogus/nothing")
    child.expect_exact(PROMPT)
    child.expect_exact("Unknown provider 'bogus'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
