"""Bounds on every number a caller or an agent file gives, shared by the request bodies
and the agent-file import, so that no stored value can break an agent later: an
oversized integer would overflow the database's 64-bit columns, an output budget larger
than the window leaves the agent no room at all, and an endless timeout never returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

# The largest context windows models offer today are around 10M tokens.
MAX_CONTEXT_WINDOW = 10_000_000
# A block is part of main context: at most about as many characters as the window allows.
MAX_BLOCK_CHARS = 4 * MAX_CONTEXT_WINDOW
MAX_TIMEOUT_S = 3600.0  # an LLM call waited on for longer than an hour is not coming back

BlockLimit = Annotated[int, Field(gt=0, le=MAX_BLOCK_CHARS)]
ContextWindow = Annotated[int, Field(gt=0, le=MAX_CONTEXT_WINDOW)]
OutputTokens = Annotated[int, Field(gt=0, le=MAX_CONTEXT_WINDOW)]
TimeoutS = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)]


def _in_utc(value: datetime) -> datetime:
    # Year 1 with a zone east of UTC lies before datetime.min once converted.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is out of range once converted to UTC") from None


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def check_output_budget(context_window: int, max_output_tokens: int) -> str | None:
    """Why a model's output budget cannot work with its window, or None when it can: the
    reply is reserved out of the window, and the prompt needs at least half of it."""
    if max_output_tokens > context_window // 2:
        return (
            f"max_output_tokens ({max_output_tokens}) is more than half the context window "
            f"({context_window}); lower it or use a larger window"
        )
    return None
