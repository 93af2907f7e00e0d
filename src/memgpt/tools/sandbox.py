"""User tools: Python source a user wrote, described and run in a separate, limited process.

The source never runs in the caller's process. Each describe or run starts a fresh
interpreter in isolated mode (`python -I`) with an empty environment (no API keys, no
database path), a throwaway working directory, limits on memory and CPU time and a wall
clock timeout. It runs as the server's OS user: to keep it off the database file as well,
run the server as a user of its own whose files only it may read, in a container.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, create_model

from memgpt.errors import MemGPTError
from memgpt.tools.schema import INNER_THOUGHTS, REQUEST_HEARTBEAT, Function

TIMEOUT_S = 10.0
MEMORY_BYTES = 512 * 2**20

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

    os.setsid()  # its own process group, so a timeout kills whatever it started too
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run_child(request: dict[str, Any], timeout_s: float, memory_bytes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memgpt-tool-") as workdir:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", _RUNNER],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=workdir,
                env={"PATH": os.defpath, "HOME": workdir, "PYTHONDONTWRITEBYTECODE": "1"},
                preexec_fn=lambda: _limit_child(memory_bytes, int(timeout_s) + 1),
            )
        except subprocess.TimeoutExpired:
            return {
                "ok": False,
                "error": f"the tool ran longer than {timeout_s:g} s and was stopped",
            }
    try:
        return json.loads(proc.stdout)
    except ValueError:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        if "MemoryError" in proc.stderr or proc.returncode in (-9, 137):
            tail = [f"the tool exceeded its memory limit of {memory_bytes // 2**20} MB"]
        return {"ok": False, "error": tail[0], "stderr": proc.stderr}


def describe(
    source: str, name: str | None = None, *, timeout_s: float = TIMEOUT_S
) -> dict[str, Any]:
    """The tool's function schema as the model sees it ({name, description, parameters},
    with the inner thoughts and heartbeat arguments every function has), made in the sandbox."""
    name = name or function_name(source)
    answer = _run_child(
        {"mode": "describe", "source": source, "name": name}, timeout_s, MEMORY_BYTES
    )
    if not answer["ok"]:
        raise ToolSourceError(f"The tool source could not be loaded: {answer['error']}.")
    return answer["schema"]


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
) -> ToolRun:
    answer = _run_child(
        {"mode": "run", "source": source, "name": name, "args": args}, timeout_s, memory_bytes
    )
    result = answer["result"] if answer["ok"] else answer["error"]
    return ToolRun(answer["ok"], result, answer.get("stdout", ""), answer.get("stderr", ""))


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


def user_function(name: str, source: str, schema: dict[str, Any]) -> Function:
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
        outcome = run(source, name, kwargs)
        if not outcome.ok:
            raise ToolRunError(outcome.result)
        return outcome.result

    return UserFunction(
        name, schema.get("description", ""), call, arguments, heartbeat=True, stored_schema=schema
    )
