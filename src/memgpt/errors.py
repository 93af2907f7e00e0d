"""Errors a user can cause. Each message is one sentence saying what to do."""


class MemGPTError(Exception):
    """Base for every error the CLI and server show to a user as one line."""


class AgentNotFoundError(MemGPTError):
    pass


class InputTooLargeError(MemGPTError):
    """An input that could never fit the context window; it is rejected before the LLM sees it."""


class ContextTooSmallError(MemGPTError):
    """The system instructions and working context leave no room for conversation."""
