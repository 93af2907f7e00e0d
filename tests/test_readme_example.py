"""The README's Python example runs as written against an OpenAI-compatible server
(a local fake, spoken to through the real `openai` SDK)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer

README = Path(__file__).parents[1] / "README.md"


def model_policy(request):
    last = request["messages"][-1]
    if not request.get("tools"):
        return {"content": "Ana introduced herself."}
    if last["role"] == "user" and json.loads(last["content"])["type"] == "user_message":
        return {
            "tool_calls": [
                {
                    "name": "core_memory_append",
                    "arguments": json.dumps(
                        {
                            "inner_thoughts": "Remember her name.",
                            "label": "human",
                            "content": "Name: Ana. Loves hiking.",
                            "request_heartbeat": True,
                        }
                    ),
                }
            ]
        }
    return {
        "tool_calls": [
            {
                "name": "send_message",
                "arguments": json.dumps(
                    {
                        "inner_thoughts": "Greet her.",
                        "message": "Nice to meet you, Ana! Where do you hike?",
                    }
                ),
            }
        ]
    }


def test_readme_example_runs_against_an_openai_compatible_server(tmp_path, monkeypatch, capsys):
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    with FakeOpenAIServer(model_policy) as server:
        # the one change: point the example's model at the local server instead of Ollama
        endpoint = f'LLMConfig(provider="openai", model="llama3.1", base_url="{server.base_url}")'
        code = example.replace('"ollama/llama3.1"', endpoint)
        assert code != example
        monkeypatch.setenv("MEMGPT_HOME", str(tmp_path))
        exec(compile("from memgpt import LLMConfig\n" + code, "README.md", "exec"), {})
        first = server.requests[0]
    out = capsys.readouterr().out
    assert "Nice to meet you, Ana!" in out
    assert "Name: Ana. Loves hiking." in out
    assert first["tools"][0]["function"]["name"] == "send_message"
    assert first["messages"][0]["role"] == "system"
    assert (tmp_path / "memgpt.db").exists()
