"""User tools run under bubblewrap: none of the server's files, secrets, network or
processes; bounded time, memory and output; and one clear sentence where it cannot run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import memgpt
from memgpt.tools import bubblewrap, sandbox

pytestmark = pytest.mark.usefixtures("bwrap")

MISSING = sandbox.Isolation(bwrap="/nonexistent/bwrap")


def tool(body: str, **kwargs) -> sandbox.ToolRun:
    """Run `def tool() -> str:` with this body in the sandbox."""
    source = "def tool() -> str:\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return sandbox.run(source, "tool", {}, **kwargs)


# Run in the tool: what each attempt gave, as {label: result or exception name}.
PROBE = """
import json, os
def attempt(action):
    try:
        return action()
    except Exception as exc:
        return type(exc).__name__
"""


def probe(attempts: dict[str, str], **kwargs) -> dict[str, object]:
    lines = ",\n".join(
        f"    {label!r}: attempt(lambda: {code})" for label, code in attempts.items()
    )
    outcome = tool(PROBE + "return json.dumps({\n" + lines + "\n})\n", **kwargs)
    assert outcome.ok, outcome.result
    return json.loads(outcome.result)


def test_an_ordinary_tool_is_described_and_runs():
    source = (
        "def add(a: int, b: int = 2) -> str:\n"
        '    """Add two numbers.\n\n    Args:\n        a: the first\n        b: the second\n    """\n'
        "    print('adding')\n"
        "    return str(a + b)\n"
    )
    schema = sandbox.describe(source)
    assert schema["name"] == "add" and schema["description"] == "Add two numbers."
    assert schema["parameters"]["properties"]["a"] == {
        "description": "the first",
        "type": "integer",
    }
    outcome = sandbox.run(source, "add", {"a": 40})
    assert outcome == sandbox.ToolRun(True, "42", "adding\n", "")


def test_errors_and_output_come_back():
    source = "def loud(n: int) -> str:\n    print('working')\n    return str(1 // n)\n"
    assert sandbox.run(source, "loud", {"n": 1}).stdout == "working\n"
    failed = sandbox.run(source, "loud", {"n": 0})
    assert not failed.ok and failed.result.startswith("ZeroDivisionError")


def test_the_source_runs_only_in_the_sandbox(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\n\ndef f(x: int) -> int:\n    return x\n"
    with pytest.raises(sandbox.ToolSourceError, match="FileNotFoundError"):
        sandbox.describe(source)
    assert not marker.exists()
    assert tool("import os\nreturn str(os.getpid())").result != str(os.getpid())


def test_the_servers_files_are_not_there(tmp_path):
    database = tmp_path / "data" / "memgpt.db"
    database.parent.mkdir()
    database.write_text("every message ever")
    memgpt_home = tmp_path / "memgpt-home"
    memgpt_home.mkdir()
    (memgpt_home / "config.toml").write_text("[llm]\nmodel = 'openai/gpt-4o-mini'\n")
    seen = probe(
        {
            "database": f"open({str(database)!r}).read()",
            "database folder": f"os.listdir({str(database.parent)!r})",
            "MEMGPT_HOME": f"os.listdir({str(memgpt_home)!r})",
            "home": f"sorted(os.listdir({str(Path.home())!r}))",
            "etc": "os.listdir('/etc')",
            "root": "sorted(os.listdir('/'))",
        }
    )
    assert seen["database"] == seen["database folder"] == seen["MEMGPT_HOME"] == "FileNotFoundError"
    assert seen["etc"] == "FileNotFoundError"
    # Of the user's home, only the way to the Python installation, when it lives there.
    installed = {sys.prefix, sys.base_prefix, os.path.dirname(memgpt.__file__)}
    under_home = {
        Path(p).relative_to(Path.home()).parts[0]
        for p in installed
        if Path(p).is_relative_to(Path.home())
    }
    assert seen["home"] == "FileNotFoundError" or set(seen["home"]) <= under_home
    system = set("bin dev lib lib32 lib64 libx32 proc sbin tmp usr".split())
    assert set(seen["root"]) <= system | {Path(p).parts[1] for p in installed}


def test_secrets_in_the_environment_do_not_reach_the_tool(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    outcome = tool(
        """
        import glob, os
        seen = repr(dict(os.environ))
        for path in glob.glob('/proc/*/environ'):
            try:
                seen += open(path).read()
            except OSError:
                pass
        return seen
        """
    )
    assert outcome.ok and "/tmp" in outcome.result
    assert "OPENAI_API_KEY" not in outcome.result and "sk-test-secret" not in outcome.result


def test_there_is_no_network():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        seen = probe(
            {
                "connect": f"__import__('socket').create_connection(('127.0.0.1', {port}), 2) and 'connected'",
                "dns": "__import__('socket').getaddrinfo('example.com', 80) and 'resolved'",
            }
        )
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody came
    assert seen["connect"] == "ConnectionRefusedError" and seen["dns"] == "gaierror"


def test_writes_go_only_to_its_own_tmp(tmp_path):
    name = f"memgpt-sandbox-{uuid.uuid4().hex}"
    package = os.path.dirname(memgpt.__file__)
    seen = probe(
        {
            "root": "open('/x', 'w')",
            "package": f"open({package + '/x.py'!r}, 'w')",
            "venv": f"open({sys.prefix + '/x'!r}, 'w')",
            "dev": "open('/dev/x', 'w')",
            "host path": f"open({str(tmp_path / 'x')!r}, 'w')",
            "tmp": f"open('/tmp/{name}', 'w').write('mine')",
        }
    )
    refused = {k: v for k, v in seen.items() if k != "tmp"}
    assert set(refused.values()) <= {"OSError", "FileNotFoundError"}, seen
    assert seen["tmp"] == 4 and not (Path("/tmp") / name).exists()
    assert not (tmp_path / "x").exists() and not os.path.exists(package + "/x.py")


def test_its_tmp_and_its_files_are_bounded():
    filled = tool(
        """
        import errno
        written = 0
        try:
            for i in range(20):  # 20 files of 8 MiB: more than /tmp holds
                with open(f'/tmp/{i}', 'wb') as f:
                    f.write(bytes(8 * 2**20))
                written += 8
        except OSError as exc:
            return f'{errno.errorcode[exc.errno]} after {written} MiB'
        return 'all written'
        """
    )
    assert filled.ok and filled.result.startswith("ENOSPC")
    assert int(filled.result.split()[2]) <= bubblewrap.TMP_BYTES // 2**20
    big_file = tool(
        f"""
        with open('/tmp/big', 'wb') as f:
            for _ in range({sandbox.FILE_BYTES // 2**20 + 1}):
                f.write(bytes(2**20))
        return 'written'
        """
    )
    assert not big_file.ok and "File too large" in big_file.result
    big_answer = tool(f"return 'x' * {sandbox.FILE_BYTES + 1}")
    assert not big_answer.ok and big_answer.result == "the tool's answer was larger than 16 MB"


def test_memory_is_limited():
    outcome = tool("return str(len(bytearray(2 * 2**30)))", memory_bytes=256 * 2**20)
    assert not outcome.ok and "MemoryError" in outcome.result


def test_a_runaway_tool_is_stopped():
    outcome = tool("while True:\n    pass", timeout_s=1)
    assert not outcome.ok and outcome.result == "the tool ran longer than 1 s and was stopped"


def test_a_tool_stopped_for_cpu_time_is_told_so():
    outcome = tool(
        """
        import resource
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (1, hard))
        while True:
            pass
        """
    )
    assert not outcome.ok and "s of CPU time and was stopped" in outcome.result


def test_it_cannot_start_processes_but_can_start_threads():
    seen = probe(
        {
            "fork": "[os.fork() or os._exit(0) for _ in range(100)]",
            "subprocess": "__import__('subprocess').run(['true'])",
            "spawn": "os.posix_spawn('/usr/bin/true', ['true'], {})",
            "thread": "[t.start() or t.join() for t in [__import__('threading').Thread(target=print)]]",
        }
    )
    assert seen["fork"] == seen["subprocess"] == seen["spawn"] == "PermissionError"
    assert seen["thread"] == [None]


def test_without_bubblewrap_tools_fail_with_one_sentence():
    outcome = tool("return 'ran'", isolation=MISSING)
    assert outcome == sandbox.ToolRun(
        False,
        "User tools cannot run because bubblewrap (/nonexistent/bwrap) is not installed; "
        "install it (Debian and Ubuntu: apt-get install bubblewrap).",
    )
    with pytest.raises(sandbox.SandboxUnavailableError, match="is not installed"):
        sandbox.describe("def f() -> str:\n    return 'ran'\n", isolation=MISSING)


def test_without_user_namespaces_tools_fail_with_one_sentence():
    # Not a mock: the server below runs in a user namespace that may not make another, as
    # on a host that forbids them.
    script = "from memgpt.tools import sandbox\nprint(sandbox.run('def f() -> str:\\n    return 1\\n', 'f', {}).result)"
    shell = [shutil.which("bwrap"), "--unshare-user", "--disable-userns", "--dev-bind", "/", "/"]
    done = subprocess.run([*shell, sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.startswith(
        "User tools cannot run because bubblewrap could not make the sandbox (bwrap: "
    )
    assert "needs bubblewrap 0.8 or later and unprivileged user namespaces" in done.stdout


def test_the_explicit_opt_out_runs_tools_unconfined_but_limited(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    outcome = tool(
        "import os\nreturn repr((os.path.isdir('/etc'), dict(os.environ)))",
        isolation=sandbox.Isolation(bwrap="/nonexistent/bwrap", disabled=True),
    )
    assert (
        outcome.ok
        and outcome.result.startswith("(True, ")
        and "sk-test-secret" not in outcome.result
    )
