"""Saved llama.cpp states, so that a prompt whose beginning was read once is not read again.

llama.cpp keeps one KV cache per context and already skips the longest common
prefix of what it holds and the next prompt. That is enough for one agent, whose
prompts grow by their tail (DESIGN invariant 7), but not for two: agents share a
loaded model, and switching to another agent would throw this one's state away.
And every new process would read the instructions and function schemas again,
a few thousand tokens that take the embedded model 10-20 s on 2 cores.

So a state about to be thrown away is kept in memory (least recently used first
out, bounded in bytes), and a prompt sharing more with a kept state than with the
live one loads it. The state after the shared head (instructions and schemas,
the same for every agent on the default tools) is also written to disk once, so
a new agent, or a new process, starts from it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memgpt import config

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaState

log = logging.getLogger(__name__)

MEMORY_BYTES = 512 << 20
# Head states on disk (tens of MB each; one per set of instructions and tools in use).
MAX_FILES = 4
# A live state differing from the next prompt by fewer tokens than this is not kept: that
# is one agent's own previous step (its statistics and reply), which it never needs again.
MIN_KEPT_TOKENS = 256


def _common(a: tuple[int, ...] | list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PromptStates:
    def __init__(self, llama: Llama, model_path: Path):
        self.llama = llama
        self._kept: OrderedDict[tuple[int, ...], LlamaState] = OrderedDict()
        import llama_cpp

        # A state fits only the model file, context size and llama.cpp build that made it.
        stat = model_path.stat()
        self._identity = (
            f"{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:"
            f"{llama.n_ctx()}:{llama_cpp.__version__}"
        ).encode()

    def restore(self, tokens: list[int], head: int) -> int:
        """Bring the state sharing most of `tokens` into the model, the shared head at
        least (the first `head` tokens); return how many tokens of `tokens` it holds."""
        llama = self.llama
        live_tokens = tuple(llama.input_ids[: llama.n_tokens].tolist())
        live = _common(live_tokens, tokens)
        if len(live_tokens) - live >= MIN_KEPT_TOKENS:
            self._keep(live_tokens)
        key = max(self._kept, key=lambda k: _common(k, tokens), default=())
        if _common(key, tokens) > live:
            llama.load_state(self._kept[key])
            self._kept.move_to_end(key)
            live = _common(key, tokens)
        if live < head:
            live = self._head(tokens[:head])
        return live

    def _keep(self, key: tuple[int, ...]) -> None:
        state = self.llama.save_state()
        # The model samples from llama.cpp's own logits (logits_all is off), so `scores`
        # is unused: one row (broadcast back on load) instead of a ~100 MB copy.
        state.scores = state.scores[:1].copy()
        # A kept state that is a prefix of this one is of no further use.
        for old in [k for k in self._kept if key[: len(k)] == k]:
            del self._kept[old]
        self._kept[key] = state
        while sum(s.llama_state_size for s in self._kept.values()) > MEMORY_BYTES:
            self._kept.popitem(last=False)

    def _head(self, head: list[int]) -> int:
        """Load the head's state from disk, or evaluate it and write it there."""
        llama, directory = self.llama, config.home() / "prompt-cache"
        digest = hashlib.sha256(self._identity + np.asarray(head, np.int32).tobytes()).hexdigest()
        path = directory / f"{digest[:32]}.npz"
        if path.exists():
            try:
                with np.load(path) as saved:
                    llama.load_state(self._state(saved, head))
                os.utime(path)  # the least recently used files go first
                log.debug("prompt head of %d tokens loaded from %s", len(head), path)
                return len(head)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                log.warning("ignoring the unusable prompt cache file %s (%s)", path, exc)
                llama.reset()
        llama.reset()
        llama.eval(head)
        state = llama.save_state()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            with partial.open("wb") as f:
                np.savez(f, state=np.frombuffer(state.llama_state, np.uint8), seed=state.seed)
            partial.replace(path)  # whole or absent, even with several processes writing
            files = sorted(directory.glob("*.npz"), key=lambda p: p.stat().st_mtime)
            for old in files[:-MAX_FILES]:
                old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only home only costs the next process the head again
            log.warning("cannot write the prompt cache file %s (%s)", path, exc)
        return len(head)

    def _state(self, saved: np.lib.npyio.NpzFile, tokens: list[int]) -> LlamaState:
        from llama_cpp import LlamaState

        llama, data = self.llama, saved["state"].tobytes()
        input_ids = np.zeros(llama.n_ctx(), dtype=np.intc)
        input_ids[: len(tokens)] = tokens
        return LlamaState(
            input_ids=input_ids,
            scores=np.zeros((1, llama.n_vocab()), dtype=np.single),
            n_tokens=len(tokens),
            llama_state=data,
            llama_state_size=len(data),
            seed=int(saved["seed"]),
        )
