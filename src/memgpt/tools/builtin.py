"""The functions memgpt provides itself, composed in one place: the base memory
functions, the multi-agent ones, the file ones, and the web ones where the operator
turns them on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from memgpt.tools.base import BASE_FUNCTIONS
from memgpt.tools.files import FILE_FUNCTIONS
from memgpt.tools.multi_agent import MULTI_AGENT_FUNCTIONS
from memgpt.tools.schema import Function
from memgpt.tools.web import WebSettings, functions

if TYPE_CHECKING:
    from memgpt.config import Settings

# The functions memgpt always provides.
BUILTIN_FUNCTIONS: dict[str, Function] = {
    **BASE_FUNCTIONS,
    **MULTI_AGENT_FUNCTIONS,
    **FILE_FUNCTIONS,
}


def builtin(settings: Settings) -> dict[str, Function]:
    """Every function memgpt provides under these settings: the base and multi-agent ones,
    and the web ones the settings turn on."""
    return {**BUILTIN_FUNCTIONS, **functions(WebSettings.from_settings(settings))}


def default_names(functions: Iterable[str]) -> list[str]:
    """The functions an agent has when it names none: all of these but the multi-agent
    ones, which let it reach other agents and so are given only by name, and the file
    ones, which attaching a folder gives."""
    return [
        name
        for name in functions
        if name not in MULTI_AGENT_FUNCTIONS and name not in FILE_FUNCTIONS
    ]
