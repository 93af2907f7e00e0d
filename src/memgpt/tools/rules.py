"""Tool rules, in Letta's schema: constraints on which function the agent may call next.

Rules apply within one event's chain of steps (Letta's "step" for `max_count_per_step`):
the chain's calls so far decide the functions allowed next. The agent loop offers the
model only those, refuses a call outside them with a failed result, ends the chain after
a terminal function and keeps it going while a required-before-exit function is uncalled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from memgpt.errors import MemGPTError


class _Rule(BaseModel):
    # Letta's `args` (fixed arguments) and `prompt_template` are not implemented: refused.
    model_config = ConfigDict(extra="forbid")

    tool_name: str

    def names(self) -> list[str]:
        """Every function the rule names, to check that the agent has them."""
        return [self.tool_name]


class TerminalRule(_Rule):
    """Calling the tool ends the chain: no heartbeat follows."""

    type: Literal["exit_loop"] = "exit_loop"


class RunFirstRule(_Rule):
    """The chain's first call must be one of the run-first tools."""

    type: Literal["run_first"] = "run_first"


class ContinueRule(_Rule):
    """Calling the tool continues the chain, heartbeat asked for or not."""

    type: Literal["continue_loop"] = "continue_loop"


class RequiredBeforeExitRule(_Rule):
    """The chain does not end until the tool has been called in it."""

    type: Literal["required_before_exit"] = "required_before_exit"


class ChildRule(_Rule):
    """After the tool, the next call must be one of `children`."""

    type: Literal["constrain_child_tools"] = "constrain_child_tools"
    children: list[str]

    def names(self) -> list[str]:
        return [self.tool_name, *self.children]


class ParentRule(_Rule):
    """`children` may be called only right after the tool."""

    type: Literal["parent_last_tool"] = "parent_last_tool"
    children: list[str]

    def names(self) -> list[str]:
        return [self.tool_name, *self.children]


class ConditionalRule(_Rule):
    """After the tool, its result text picks the next tool from `child_output_mapping`
    (exact match; "true"/"false" match booleans in any case); otherwise `default_child`,
    or any tool, or none with `require_output_mapping`."""

    type: Literal["conditional"] = "conditional"
    child_output_mapping: dict[str, str] = Field(min_length=1)
    default_child: str | None = None
    require_output_mapping: bool = False

    def names(self) -> list[str]:
        default = [self.default_child] if self.default_child else []
        return [self.tool_name, *self.child_output_mapping.values(), *default]

    def next_tools(self, result: str | None, available: set[str]) -> set[str]:
        text = (result or "").strip()
        for key, child in self.child_output_mapping.items():
            if text == key or (key.lower() in ("true", "false") and text.lower() == key.lower()):
                return {child}
        if self.require_output_mapping:
            return set()
        return {self.default_child} if self.default_child else available


class MaxCountPerStepRule(_Rule):
    """The tool may be called at most `max_count_limit` times in one chain."""

    type: Literal["max_count_per_step"] = "max_count_per_step"
    max_count_limit: int = Field(ge=1)


class RequiresApprovalRule(_Rule):
    """A call to the tool waits for the user's approval before it runs (agent/approval.py)."""

    type: Literal["requires_approval"] = "requires_approval"


ToolRule = Annotated[
    TerminalRule
    | RunFirstRule
    | ContinueRule
    | RequiredBeforeExitRule
    | ChildRule
    | ParentRule
    | ConditionalRule
    | MaxCountPerStepRule
    | RequiresApprovalRule,
    Field(discriminator="type"),
]


class ToolRuleError(MemGPTError):
    """A rule names a function the agent does not have."""


def check(rules: Iterable[BaseModel], functions: Iterable[str]) -> None:
    """ToolRuleError naming the first function a rule names that is not among `functions`."""
    have = set(functions)
    for rule in rules:
        for name in rule.names():
            if name not in have:
                raise ToolRuleError(
                    f"A {rule.type} tool rule names {name!r}, which this agent does not have; "
                    "attach that tool first or fix the rule."
                )


class Chain:
    """The calls of one event's chain so far, and what the rules allow next."""

    def __init__(self, rules: list[_Rule], functions: Iterable[str]):
        self.rules, self.available = rules, set(functions)
        self.calls: list[str] = []
        self.last_result: str | None = None

    def allowed(self) -> set[str]:
        """The functions the model may call next."""
        parents = [r for r in self.rules if isinstance(r, ParentRule)]
        if not self.calls:
            first = {r.tool_name for r in self.rules if isinstance(r, RunFirstRule)}
            if first:
                return first & self.available
            return self.available - {c for r in parents for c in r.children}
        allowed = set(self.available)
        last = self.calls[-1]
        for rule in self.rules:
            if isinstance(rule, ChildRule) and rule.tool_name == last:
                allowed &= set(rule.children)
            elif isinstance(rule, ConditionalRule) and rule.tool_name == last:
                allowed &= rule.next_tools(self.last_result, self.available)
            elif isinstance(rule, MaxCountPerStepRule):
                if self.calls.count(rule.tool_name) >= rule.max_count_limit:
                    allowed.discard(rule.tool_name)
            elif isinstance(rule, ParentRule):
                allowed &= (
                    set(rule.children) if last == rule.tool_name else allowed - set(rule.children)
                )
        return allowed

    def record(self, name: str, result: str | None) -> None:
        self.calls.append(name)
        self.last_result = result

    def continues(self, name: str, heartbeat: bool) -> bool:
        """Whether the chain goes on after a successful call to `name`."""
        if self._named(TerminalRule, name):
            return False
        # A rule naming what comes after the tool implies that something does.
        if any(self._named(kind, name) for kind in (ContinueRule, ChildRule, ConditionalRule)):
            return True
        return heartbeat

    def ended_by_rule(self) -> bool:
        """Whether the last successful call was to a terminal function."""
        return bool(self.calls) and self._named(TerminalRule, self.calls[-1])

    def uncalled_required(self) -> list[str]:
        """Required-before-exit functions the chain has not called yet, in rule order."""
        return [
            r.tool_name
            for r in self.rules
            if isinstance(r, RequiredBeforeExitRule)
            and r.tool_name in self.available
            and r.tool_name not in self.calls
        ]

    def requires_approval(self, name: str) -> bool:
        return self._named(RequiresApprovalRule, name)

    def _named(self, kind: type[_Rule], name: str) -> bool:
        return any(isinstance(r, kind) and r.tool_name == name for r in self.rules)
