"""Check that a virtual environment holds exactly what the lock says, as `pip freeze` sees it.

Run with the environment's own Python, given `uv export` of the same extras and groups
on stdin: every locked package whose marker holds here must be installed at its locked
version, and nothing else may be installed.
"""

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

locked = {}
for line in sys.stdin:
    line = line.strip()
    if not line or line.startswith(("#", "-e", "--")):
        continue
    req = Requirement(line)
    if req.marker is None or req.marker.evaluate():
        locked[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")

installed = {
    canonicalize_name(d.metadata["Name"]): d.version
    for d in metadata.distributions()
    if canonicalize_name(d.metadata["Name"]) != "memgpt"
}
problems = [
    f"{name}: locked {locked.get(name, '(not locked)')}, installed {installed.get(name, '(none)')}"
    for name in sorted(locked.keys() | installed.keys())
    if locked.get(name) != installed.get(name)
]
if problems:
    print(f"{sys.prefix} differs from uv.lock; run scripts/setup again:", file=sys.stderr)
    print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"{sys.prefix}: {len(installed)} packages, exactly as locked.")
