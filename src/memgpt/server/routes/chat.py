"""OpenAI-compatible chat: `model` names an agent, so any OpenAI client talks to a stateful
agent. The agent keeps its own history, so only the newest user message is sent to it;
the reply is what it said to the user (its send_message calls)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from memgpt.schemas import new_id
from memgpt.server.deps import Caller, Service, Steps
from memgpt.server.requests import ChatCompletion

router = APIRouter(tags=["chat"])


def _chunk(
    cid: str, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletion, p: Caller, service: Service, steps: Steps):
    user = [m for m in body.messages if m.role == "user"]
    if not user:
        raise HTTPException(400, "Send at least one message with role 'user'.")
    agent_id = await steps.run(service.resolve, p, body.model)
    text = user[-1].text()

    def work(on_messages, on_delta=None):
        return service.send(p, agent_id, text, on_messages=on_messages, on_delta=on_delta)

    cid = new_id("chatcmpl")
    if not body.stream:
        result = await steps.call(agent_id, work)
        said = [
            m["content"] for m in result["messages"] if m["message_type"] == "assistant_message"
        ]
        return {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "\n".join(said)},
                    "finish_reason": "stop",
                }
            ],
        }

    async def events():
        import json

        yield f"data: {json.dumps(_chunk(cid, body.model, {'role': 'assistant', 'content': ''}))}\n\n"
        async for event in steps.stream(agent_id, work, tokens=True, ping_s=None):
            if event.get("message_type") == "assistant_message":
                yield f"data: {json.dumps(_chunk(cid, body.model, {'content': event['content']}))}\n\n"
        yield f"data: {json.dumps(_chunk(cid, body.model, {}, 'stop'))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
