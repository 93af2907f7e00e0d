"""User tools: Python source a user wrote, described and run in a separate, confined process.

The source never runs in the caller's process. Each describe or run starts a fresh
interpreter in isolated mode (`python -I`) under bubblewrap (`bwrap` 0.8 or later,
Flatpak's sandbox), which gives the tool:

- its own user, pid, ipc, uts, cgroup and network namespaces: no network at all (not even
  the host's loopback), and no sight of the host's processes (its /proc is its own). A
  tool the operator marked as needing the network (`Isolation(network=True)`, from the
  `[tools] network` setting) shares the host's network namespace and reads its name
  service files; all the rest below holds for it unchanged;
- a filesystem of only what the interpreter needs, read-only: /usr (and the /bin, /lib
  links), the Python installation, the virtual environment and the memgpt package. The
  database, $MEMGPT_HOME, the rest of the user's home, /etc and the host's /tmp are not
  there. It may write only to a fresh, empty /tmp of 64 MiB in memory (its working
  directory and home), gone when it ends;
- an empty environment: no API keys, no database URI;
- no other processes: a seccomp filter lets it start threads but refuses fork, vfork and
  clone, so `subprocess` and fork bombs fail at once with PermissionError;
- no capabilities, and no user namespaces of its own to gain some in;
- limits on its memory (address space), CPU time and the size of any file it writes (its
  answer included, so the server reads back at most that), and a wall-clock timeout,
  after which everything in the sandbox is killed.

It does not guard against kernel bugs (the tool shares the host's kernel, as in any
namespace sandbox), and it can read what the installation holds: the Python and memgpt
code, the installed packages and host-wide figures in /proc (CPU, memory, load). Outside
its namespace it is still the server's OS user, so run the server as an unprivileged user.
The limits are per call; all calls together reserve at most `TOTAL_MEMORY_BYTES`, and
a call waits for room.

Where bubblewrap is missing or cannot make namespaces, describing or running a tool fails
with a sentence saying what to do, never falling back to an unconfined run. A server that
is already alone in a container of its own can opt out (`Isolation(disabled=True)`, the
server's `--unsandboxed-tools`): tools then keep the empty environment, limits and timeout
but none of the rest.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from memgpt.errors import MemGPTError
from memgpt.tools import bubblewrap
from memgpt.tools.bubblewrap import SANDBOXED, Isolation, SandboxUnavailableError, environment
from memgpt.tools.schema import INNER_THOUGHTS, REQUEST_HEARTBEAT, Function

TIMEOUT_S = 10.0
MEMORY_BYTES = 512 * 2**20
FILE_BYTES = 16 * 2**20  # the most the tool may write to one file, its answer included
# What all sandboxes together may reserve (memory limit plus /tmp): a call waits for room
# rather than many at once taking the host's memory. The server sets its own.
TOTAL_MEMORY_BYTES = 8 * 2**30

# Runs in the child: read a request on stdin, answer one JSON object on stdout.
_RUNNER = r"""
import contextlib, inspect, io, json, sys, typing

def load(source, name):
    namespace = {"__name__": "user_tool"}
    exec(compile(source, "<tool>", "exec"), namespace)
    fn = namespace.get(name)
    if not callable(fn):
        raise LookupError(f"the source defines no function {name!r}")
    return fn

def describe(fn):
    from memgpt.tools.schema import function_from_callable
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn)
    context = inspect.Parameter("_context", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    def shim(_context, **kwargs):
        return fn(**kwargs)
    shim.__signature__ = signature.replace(parameters=[context, *signature.parameters.values()])
    shim.__annotations__ = {k: v for k, v in hints.items() if k != "return"}
    shim.__doc__, shim.__name__ = fn.__doc__, fn.__name__
    return function_from_callable(shim).schema()

request = json.load(sys.stdin)
out, err = io.StringIO(), io.StringIO()
try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        fn = load(request["source"], request["name"])
        if request["mode"] == "describe":
            answer = {"ok": True, "schema": describe(fn)}
        else:
            result = fn(**request["args"])
            answer = {"ok": True, "result": result if isinstance(result, str) else repr(result)}
except BaseException as exc:
    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
answer.update(stdout=out.getvalue(), stderr=err.getvalue())
sys.__stdout__.write(json.dumps(answer))
"""


class ToolSourceError(MemGPTError):
    """User tool source that cannot be used; one sentence saying why."""


@dataclass
class ToolRun:
    ok: bool
    result: str  # the return value as text, or the error
    stdout: str = ""
    stderr: str = ""


def function_name(source: str) -> str:
    """The tool's function: the last top-level `def` in the source (read, not run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ToolSourceError(
            f"The tool source does not parse: {exc.msg} (line {exc.lineno})."
        ) from None
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not names:
        raise ToolSourceError("The tool source defines no function; write one `def` for the tool.")
    return names[-1]


def _limit_child(memory_bytes: int, cpu_s: int) -> None:
    import resource

    os.setsid()  # away from the server's terminal and the signals sent to its group
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit says what happened; SIGKILL a second later if it is ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _spawn(
    command: list[str],
    fds: list[int],
    request: str,
    timeout_s: float,
    limits: Callable[[], None],
) -> tuple[int | None, str, str]:
    """Exit status (None: stopped at the timeout), stdout and stderr. Output goes to files,
    not pipes, so that the file size limit caps what comes back."""
    with (
        tempfile.TemporaryDirectory(prefix="memgpt-tool-") as workdir,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=workdir,
            env=environment(workdir),
            pass_fds=fds,
            preexec_fn=limits,
        ) as proc,
    ):
        try:
            proc.communicate(request.encode(), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return None, "", ""
        return proc.returncode, _read(out), _read(err)


def _stop(proc: subprocess.Popen) -> None:
    """Kill bwrap's child rather than bwrap: bwrap then reaps it and exits. Killed first,
    bwrap would leave its child to the host's init, which in a container may be the server
    itself, never reaping it. Everything in the sandbox dies with that child."""
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as file:
            children = [int(pid) for pid in file.read().split()]
    except OSError:  # a kernel without the file: kill bwrap itself
        children = []
    for pid in children:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1 if children else 0)
    proc.kill()  # unsandboxed, or bwrap did not exit: does nothing once it has exited


class MemoryBudget:
    """Memory reserved by running sandboxes, at most `total` bytes at once."""

    def __init__(self, total: int):
        self.total, self.used = total, 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        size = min(size, self.total)  # one call larger than the budget runs alone
        with self._changed:
            self._changed.wait_for(lambda: self.used + size <= self.total)
            self.used += size
        try:
            yield
        finally:
            with self._changed:
                self.used -= size
                self._changed.notify_all()


MEMORY = MemoryBudget(TOTAL_MEMORY_BYTES)


class _Answer(BaseModel):
    """The runner's answer. The tool shares the runner's process and can write on its
    stdout too, so nothing in the answer is taken on trust: a field missing or of another
    type makes the whole answer unreadable, a failed run."""

    model_config = ConfigDict(extra="ignore", strict=True)

    ok: bool
    result: str = ""
    error: str = "the tool gave no answer"
    tool_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    stdout: str = ""
    stderr: str = ""

    @model_validator(mode="after")
    def _complete(self) -> _Answer:
        if self.ok and not {"result", "tool_schema"} & self.model_fields_set:
            raise ValueError("a successful answer carries a result or a schema")
        return self


def _run_child(
    request: dict[str, Any], timeout_s: float, memory_bytes: int, isolation: Isolation
) -> _Answer:
    """The runner's answer. Raises `SandboxUnavailableError` when the sandbox cannot start."""
    command, fds = [sys.executable, "-I", "-c", _RUNNER], []
    cpu_s = int(timeout_s) + 1
    try:
        if not isolation.disabled:
            fds.append(bubblewrap.filter_pipe())
            command = bubblewrap.command(isolation, fds[0]) + command
        with MEMORY.hold(memory_bytes + bubblewrap.TMP_BYTES):
            returncode, stdout, stderr = _spawn(
                command,
                fds,
                json.dumps(request),
                timeout_s,
                lambda: _limit_child(memory_bytes, cpu_s),
            )
    finally:
        for fd in fds:
            os.close(fd)
    if returncode is None:
        return _Answer(ok=False, error=f"the tool ran longer than {timeout_s:g} s and was stopped")
    try:
        return _Answer.model_validate_json(stdout)
    except ValueError:
        if fds and stderr.startswith("bwrap: "):  # bwrap's own failure, before Python ran
            raise bubblewrap.failed(stderr) from None
        if returncode == 0:  # the tool wrote on the runner's own stdout, then left
            return _Answer(ok=False, error="the tool's answer could not be read", stderr=stderr)
        error = _failure(returncode, stderr, memory_bytes, cpu_s)
        return _Answer(ok=False, error=error, stderr=stderr)


def _failure(returncode: int, stderr: str, memory_bytes: int, cpu_s: int) -> str:
    """Why a tool ended without an answer. A signal shows as -N, or as 128+N through bwrap."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if "MemoryError" in stderr:
        return f"the tool exceeded its memory limit of {memory_bytes // 2**20} MB"
    if number == signal.SIGXCPU:
        return f"the tool used more than {cpu_s} s of CPU time and was stopped"
    if number == signal.SIGKILL:
        return (
            f"the tool was killed at its limits ({memory_bytes // 2**20} MB of memory, "
            f"{cpu_s} s of CPU time)"
        )
    if "[Errno 27]" in stderr:  # EFBIG: the runner could not write the answer
        return f"the tool's answer was larger than {FILE_BYTES // 2**20} MB"
    tail = stderr.strip().splitlines()[-1:] or [f"exit status {returncode}"]
    return tail[0]


def describe(
    source: str,
    name: str | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
    isolation: Isolation = SANDBOXED,
) -> dict[str, Any]:
    """The tool's function schema as the model sees it ({name, description, parameters},
    with the inner thoughts and heartbeat arguments every function has), made in the sandbox.
    Raises `ToolSourceError`, or `SandboxUnavailableError` when tools cannot run here."""
    name = name or function_name(source)
    answer = _run_child(
        {"mode": "describe", "source": source, "name": name}, timeout_s, MEMORY_BYTES, isolation
    )
    if not answer.ok:
        raise ToolSourceError(f"The tool source could not be loaded: {answer.error}.")
    if not isinstance(answer.tool_schema.get("name"), str):
        raise ToolSourceError("The tool source could not be loaded: it gave no usable schema.")
    return answer.tool_schema


def public_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without the arguments the agent loop adds to every function."""
    parameters = schema.get("parameters", {})
    loop_args = {INNER_THOUGHTS, REQUEST_HEARTBEAT}
    return {
        **schema,
        "parameters": {
            **parameters,
            "properties": {
                k: v for k, v in parameters.get("properties", {}).items() if k not in loop_args
            },
            "required": [r for r in parameters.get("required", []) if r not in loop_args],
        },
    }


def run(
    source: str,
    name: str,
    args: dict[str, Any],
    *,
    timeout_s: float = TIMEOUT_S,
    memory_bytes: int = MEMORY_BYTES,
    isolation: Isolation = SANDBOXED,
) -> ToolRun:
    """The tool's result, or its failure as one line; a sandbox that cannot start is a
    failure too, saying what to do."""
    request = {"mode": "run", "source": source, "name": name, "args": args}
    try:
        answer = _run_child(request, timeout_s, memory_bytes, isolation)
    except SandboxUnavailableError as exc:
        return ToolRun(False, str(exc))
    result = answer.result if answer.ok else answer.error
    return ToolRun(answer.ok, result, answer.stdout, answer.stderr)


_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}


class ToolRunError(Exception):
    """A user tool failed; the agent loop turns the text into a failed function result."""


@dataclass(frozen=True)
class UserFunction(Function):
    """A user tool as the agent loop sees it: the stored schema, calls run in the sandbox."""

    stored_schema: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.stored_schema))


def user_function(
    name: str, source: str, schema: dict[str, Any], isolation: Isolation = SANDBOXED
) -> Function:
    """A `Function` for the agent loop. Arguments are checked against the schema's basic
    types here; the function's own annotations check the rest when it runs."""
    parameters = schema.get("parameters", {})
    required = set(parameters.get("required", [])) - {INNER_THOUGHTS}
    fields: dict[str, Any] = {}
    for arg, prop in parameters.get("properties", {}).items():
        kind = _JSON_TYPES.get(prop.get("type"), Any)
        fields[arg] = (kind, ...) if arg in required else (kind | None, Field(prop.get("default")))
    arguments = create_model(f"{name}_arguments", __config__=ConfigDict(extra="ignore"), **fields)

    def call(_context: object, **kwargs: Any) -> str:
        outcome = run(source, name, kwargs, isolation=isolation)
        if not outcome.ok:
            raise ToolRunError(outcome.result)
        return outcome.result

    return UserFunction(
        name, schema.get("description", ""), call, arguments, heartbeat=True, stored_schema=schema
    )
