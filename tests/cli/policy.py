"""The scripted model the CLI tests run under, chosen with the model string
"scripted/tests.cli.policy:policy" so that a real `memgpt` process can load it."""

from __future__ import annotations

import json
import time

from memgpt.llm.scripted import call

SLOW_S = 60  # long enough for a test to press Ctrl-C while the model "thinks"


def policy(messages, functions):
    last = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    kind = last.get("type")
    if kind == "login":
        return call("send_message", "someone arrived", message="Hello! I'm Sam.")
    if kind == "system_alert":
        return call("send_message", "memory is filling", message="Saving what matters.")
    if kind == "heartbeat":
        if "request_heartbeat" in last.get("text", ""):
            return call("send_message", "saved, now answer", message="Nice to meet you!")
        return call("send_message", "a quiet moment", message="Just thinking.")
    text = last.get("message", "")
    if text.startswith("my name is "):
        name = text.removeprefix("my name is ")
        return call(
            "core_memory_append",
            "a name worth keeping",
            label="human",
            content=f"Name: {name}",
            request_heartbeat=True,
        )
    if text == "slow":
        time.sleep(SLOW_S)
    return call("send_message", f"they said {text}", message=f"You said: {text}")


def shout(messages, functions):
    """Another "model", to check that an agent moves to it with its memory."""
    last = json.loads(messages[-1].content) if messages[-1].role == "user" else {}
    return call("send_message", "loudly", message=str(last.get("message", "")).upper())
