"""Confinement for user tools: the bubblewrap (`bwrap`) command line that runs the tool's
interpreter in namespaces of its own, on a read-only view of the Python installation, with
a seccomp filter that allows threads but no new processes. `sandbox.py` says what this
guarantees and runs the tools.
"""

from __future__ import annotations

import errno
import functools
import os
import platform
import shutil
import struct
import sys
from dataclasses import dataclass

from memgpt.errors import MemGPTError

TMP_BYTES = 64 * 2**20  # the tool's /tmp, which lives in memory


class SandboxUnavailableError(MemGPTError):
    """User tools cannot run on this host as configured; one sentence saying what to do."""


@dataclass(frozen=True)
class Isolation:
    """How user tools are confined (the server's `tool_isolation` setting)."""

    bwrap: str = "bwrap"  # bubblewrap: a command on PATH, or a path
    # Run tools without bubblewrap: they keep the empty environment, limits and timeout, but
    # run as the server's OS user, with its files and the network in reach. Only for a
    # server that is already alone in a container of its own, where bubblewrap cannot
    # make namespaces.
    disabled: bool = False
    # Share the host's network namespace, for a tool the operator marked as needing the
    # network; everything else stays confined.
    network: bool = False


SANDBOXED = Isolation()


def environment(home: str) -> dict[str, str]:
    return {"PATH": os.defpath, "HOME": home, "PYTHONDONTWRITEBYTECODE": "1"}


# Per machine: the audit architecture, clone's number and the calls that only make
# processes. clone3 (435 on both) keeps its flags in memory, out of a filter's sight, so it
# answers ENOSYS and the C library falls back to clone.
_SYSCALLS = {"x86_64": (0xC000003E, 56, (57, 58)), "aarch64": (0xC00000B7, 220, ())}
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # classic BPF opcodes
_ALLOW, _EPERM, _ENOSYS = 0x7FFF0000, 0x50000 | errno.EPERM, 0x50000 | errno.ENOSYS
_CLONE_THREAD = 0x10000


@functools.cache
def _no_processes_filter(machine: str) -> bytes:
    """A seccomp program, as `bwrap --seccomp` reads it: threads yes, processes no."""
    arch, clone, forks = _SYSCALLS[machine]
    body = [
        (_LD, 0, 0, 4),  # seccomp_data.arch
        (_JEQ, 0, _EPERM, arch),  # another ABI (i386 calls on x86_64): refuse them all
        (_LD, 0, 0, 0),  # seccomp_data.nr
        (_JGE, _EPERM, 0, 0x40000000),  # the x32 ABI
        (_JEQ, _ENOSYS, 0, 435),  # clone3
        *[(_JEQ, _EPERM, 0, nr) for nr in forks],
        (_JEQ, 0, _ALLOW, clone),
        (_LD, 0, 0, 16),  # clone's flags: the low half of seccomp_data.args[0]
        (_JSET, _ALLOW, 0, _CLONE_THREAD),  # else fall through to the refusal
    ]
    ends = [_EPERM, _ALLOW, _ENOSYS]  # after the body; a jump of 0 goes to the next line

    def jump(line: int, target: int) -> int:
        return target and len(body) + ends.index(target) - line - 1

    program = [(op, jump(i, yes), jump(i, no), k) for i, (op, yes, no, k) in enumerate(body)]
    program += [(_RET, 0, 0, value) for value in ends]
    return b"".join(struct.pack("=HBBI", *line) for line in program)


def _read_only_dirs() -> list[str]:
    """/usr, the Python installation, the virtual environment, the interpreter's real
    directory and the memgpt package (which `describe` imports), none inside another."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    wanted = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    kept = ["/usr"]
    for path in sorted(wanted | {package}):  # a parent sorts before its children
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


# What resolving names and checking TLS certificates read: no secrets, and without them a
# tool given the network could reach addresses only.
_NAME_SERVICE = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
)


@functools.cache
def _filesystem(network: bool) -> tuple[str, ...]:
    # /tmp first, so that a virtual environment under the host's /tmp is bound over it.
    args = ["--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):  # merged /usr: keep the link, not a second copy
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _read_only_dirs():
        args += ["--ro-bind", path, path]
    if network:
        args += [a for p in _NAME_SERVICE if os.path.exists(p) for a in ("--ro-bind", p, p)]
    # Last: the root and /dev that bwrap made, in memory, must not take the tool's writes.
    return (*args, "--remount-ro", "/", "--remount-ro", "/dev")


def command(isolation: Isolation, filter_fd: int) -> list[str]:
    bwrap = shutil.which(isolation.bwrap)
    if bwrap is None:
        raise SandboxUnavailableError(
            f"User tools cannot run because bubblewrap ({isolation.bwrap}) is not installed; "
            "install it (Debian and Ubuntu: apt-get install bubblewrap)."
        )
    env = [arg for k, v in environment("/tmp").items() for arg in ("--setenv", k, v)]
    return [
        bwrap,
        # Run by root, bwrap would keep every capability inside the user namespace, enough
        # to remount the read-only binds writable: drop them all.
        *("--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"),
        *(("--share-net",) if isolation.network else ()),  # the network namespace alone
        *("--die-with-parent", "--new-session", "--clearenv", *env),
        *_filesystem(isolation.network),
        *("--chdir", "/tmp", "--seccomp", str(filter_fd), "--"),
    ]


def filter_pipe() -> int:
    machine = platform.machine()
    if machine not in _SYSCALLS:
        raise SandboxUnavailableError(
            f"User tools are sandboxed on x86_64 and aarch64 Linux only, not {machine}; "
            "run the server on one of those."
        )
    read, write = os.pipe()
    os.write(write, _no_processes_filter(machine))  # a few hundred bytes: fits the pipe
    os.close(write)
    return read


def failed(stderr: str) -> SandboxUnavailableError:
    return SandboxUnavailableError(
        f"User tools cannot run because bubblewrap could not make the sandbox "
        f"({stderr.strip().splitlines()[0]}); it needs bubblewrap 0.8 or later and "
        "unprivileged user namespaces on this host, or, if the server already runs alone in "
        "a container of its own, start the server with --unsandboxed-tools."
    )
