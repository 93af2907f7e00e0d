"""User tools run in a separate process: no server secrets, bounded time and memory."""

from __future__ import annotations

import os

from memgpt.tools import sandbox


def test_tools_do_not_see_the_servers_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    source = "def peek() -> str:\n    import os\n    return repr(sorted(os.environ))\n"
    result = sandbox.run(source, "peek", {})
    assert result.ok and "OPENAI_API_KEY" not in result.result


def test_tools_run_in_another_process():
    result = sandbox.run("def pid() -> int:\n    import os\n    return os.getpid()\n", "pid", {})
    assert result.ok and int(result.result) != os.getpid()


def test_a_runaway_tool_is_stopped():
    result = sandbox.run(
        "def spin() -> None:\n    while True:\n        pass\n", "spin", {}, timeout_s=1
    )
    assert not result.ok and "longer than 1 s" in result.result


def test_memory_is_limited():
    source = "def hog() -> str:\n    return str(len(bytearray(2 * 2**30)))\n"
    result = sandbox.run(source, "hog", {}, memory_bytes=256 * 2**20)
    assert not result.ok and "MemoryError" in result.result


def test_errors_and_output_come_back():
    source = "def loud(n: int) -> str:\n    print('working')\n    return str(1 // n)\n"
    assert sandbox.run(source, "loud", {"n": 1}).stdout == "working\n"
    failed = sandbox.run(source, "loud", {"n": 0})
    assert not failed.ok and failed.result.startswith("ZeroDivisionError")


def test_describe_does_not_run_the_source_in_this_process(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\nimport os\nPID = os.getpid()\n\ndef f(x: int) -> int:\n    return x\n"
    schema = sandbox.describe(source)
    assert schema["name"] == "f" and marker.exists()  # it ran, in the child
    assert schema["parameters"]["properties"]["x"]["type"] == "integer"
