"""Scripted models the test server loads by name ("scripted/tests.server.policies:agent").

Commands in the user's message pick the function call, so tests drive every message
type through the real loop: plain text is echoed with send_message; "remember X"
edits core memory ("note LABEL X" the block LABEL), "archive X" saves a passage, "search X" searches archival memory,
"grep X" greps the attached folders' files, "open FILE" opens one, "use TOOL ARG" calls a tool, "mcp TOOL JSON" one with those arguments (each with a
heartbeat, then a reply quoting the result); "slow X" takes SLOW_S seconds before replying;
"meet X" replies once every party of MEETING has arrived (a test sets the barrier);
"fail X" fails as a model call does; "hold X" waits until a test sets RELEASED (having
set HOLDING), then saves X in core memory with a heartbeat, reporting fixed usage; "ask AGENT X", "tell AGENT X" and "broadcast TAG X"
message other agents (waiting, not waiting, every agent with the tag). A message from
another agent is read past its "[Incoming message ...]" header. As a sleep-time agent, it
files each "fact X" the user gave into the human block.
"""

from __future__ import annotations

import json
import threading
import time

from memgpt.llm.base import ChatMessage, FunctionSchema, LLMError, LLMReply
from memgpt.llm.scripted import call

SLOW_S = 0.5  # long enough that overlap, or its absence, shows above scheduling noise
HOLDING, RELEASED = threading.Event(), threading.Event()
MEETING = threading.Barrier(1)
MEET_TIMEOUT_S = 20  # steps not run at once never meet; this is only how long that takes to show
HELD_USAGE = {"prompt_tokens": 120, "completion_tokens": 9, "cached_prompt_tokens": 80}


def agent(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    last = messages[-1]
    packet = json.loads(last.content) if last.role == "user" else {}
    if packet.get("type") == "system_alert" and packet["text"].startswith("The conversation"):
        facts = [line[6:] for line in packet["text"].splitlines() if line.startswith("user: fact")]
        return call("core_memory_append", "Tidying.", label="human", content="\n".join(facts))
    # A heartbeat after a call (a memory-pressure alert may come after it): report the call.
    tool = next(
        (m for m in reversed(messages[-3:-1]) if m.role == "tool" and m.name != "send_message"),
        None,
    )
    if packet.get("type") in ("heartbeat", "system_alert") and tool is not None:
        result = json.loads(tool.content).get("message")  # none when it returned nothing
        return call("send_message", "The call is done; report it.", message=f"done: {result}")
    if packet.get("type") != "user_message":
        return call("send_message", "Nothing to add.", message="ok")
    text: str = packet["message"]
    if text.startswith("[Incoming message from agent"):
        text = text.partition("] ")[2]
    command, _, rest = text.partition(" ")
    if command == "remember":
        return call(
            "core_memory_append",
            "Worth keeping.",
            label="human",
            content=rest,
            request_heartbeat=True,
        )
    if command == "note":
        label, _, content = rest.partition(" ")
        return call(
            "core_memory_append", "Noting it.", label=label, content=content, request_heartbeat=True
        )
    if command == "archive":
        return call(
            "archival_memory_insert", "Saving for later.", content=rest, request_heartbeat=True
        )
    if command == "search":
        return call("archival_memory_search", "Looking it up.", query=rest, request_heartbeat=True)
    if command == "grep":
        return call("grep_files", "Grepping.", pattern=rest, request_heartbeat=True)
    if command == "open":
        return call(
            "open_files", "Opening.", file_requests=[{"file_name": rest}], request_heartbeat=True
        )
    if command == "use":
        name, _, arg = rest.partition(" ")
        return call(name, f"Calling {name}.", sides=int(arg), request_heartbeat=True)
    if command == "mcp":  # "mcp TOOL {json arguments}"
        name, _, arguments = rest.partition(" ")
        return call(name, f"Calling {name}.", **json.loads(arguments), request_heartbeat=True)
    if command in ("ask", "tell"):
        other, _, message = rest.partition(" ")
        name = {
            "ask": "send_message_to_agent_and_wait_for_reply",
            "tell": "send_message_to_agent_async",
        }[command]
        return call(name, "Asking.", message=message, other_agent_id=other, request_heartbeat=True)
    if command == "broadcast":
        tag, _, message = rest.partition(" ")
        return call(
            "send_message_to_agents_matching_tags",
            "Asking all of them.",
            message=message,
            match_all=[tag],
            match_some=[],
            request_heartbeat=True,
        )
    if command == "hold":
        HOLDING.set()
        RELEASED.wait(30)
        reply = call(
            "core_memory_append", "Held.", label="human", content=rest, request_heartbeat=True
        )
        return reply.model_copy(update=HELD_USAGE)
    if command == "slow":
        time.sleep(SLOW_S)
    if command == "meet":
        MEETING.wait(MEET_TIMEOUT_S)
    if command == "fail":  # the model's provider failing, as a backend reports it
        raise LLMError(f"The model failed on purpose ({rest}): try again later.")
    return call("send_message", f"The user said {text!r}.", message=f"echo: {text}")


def instant(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    """Replies at once, for timing the server itself."""
    return call("send_message", "Reply.", message="hi")
