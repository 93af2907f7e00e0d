"""Events: what wakes the agent, and how each enters the FIFO queue.

Every event becomes a user-role message whose content is a small JSON packet, so
the model can tell a person's words from a heartbeat or a system alert.
"""

from __future__ import annotations

import json

from memgpt.schemas import EventType, Message, storable_text


def _event(kind: EventType, text: str) -> Message:
    # JSON (an API body) can carry half a surrogate pair or a NUL, which cannot be stored.
    return Message(role="user", event=kind, text=storable_text(text))


def user_message(text: str) -> Message:
    return _event(EventType.USER_MESSAGE, text)


def heartbeat(reason: str) -> Message:
    return _event(EventType.HEARTBEAT, reason)


def system_alert(text: str) -> Message:
    return _event(EventType.SYSTEM_ALERT, text)


def login() -> Message:
    return _event(EventType.LOGIN, "The user logged in.")


HEARTBEAT_REQUESTED = "You asked to continue (request_heartbeat was true)."
HEARTBEAT_AFTER_FAILURE = "Your last function call failed; read the error and try again."
TIMED_HEARTBEAT = "Timed heartbeat: a chance to reflect or reorganise your memory."
MEMORY_PRESSURE = (
    "Memory pressure: your context window is {percent}% full. Older messages will soon leave "
    "view and be summarized. Save anything important to working context or archival memory now."
)
CALL_DENIED = "The user denied your function call; read their reason and go on without it."
REQUIRED_BEFORE_EXIT = "Before you finish, the tool rules require a call to: {}."
NO_FUNCTION_CALLED = (
    "Your reply called no function. Every reply must be exactly one function call; "
    "to talk to the user, call send_message."
)


# To the minute: a small model's tokenizer spends a token on every digit, and every
# event in the queue carries a time.
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"


def pack(message: Message, statistics: str | None = None) -> str:
    """The content of an event's packet; the model's also carries memory `statistics`."""
    packet = {"type": str(message.event), "time": message.created_at.strftime(TIME_FORMAT)}
    packet["message" if message.event == EventType.USER_MESSAGE else "text"] = message.text
    if statistics is not None:
        packet["memory_statistics"] = statistics
    return json.dumps(packet, ensure_ascii=False)


def function_result(ok: bool, text: str | None) -> str:
    """The packed result of a function call, as stored and shown to the model: whether it
    succeeded, and what it returned if anything. No time: the call answers the event
    before it, which carries one."""
    packet = {"status": "OK" if ok else "Failed"}
    if text is not None:
        packet["message"] = text
    return json.dumps(packet, ensure_ascii=False)
