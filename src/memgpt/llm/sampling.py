"""Grammar-constrained sampling that asks the grammar about one token, not the vocabulary.

llama-cpp-python puts the grammar first in its sampler chain, so every generated token
is checked against all ~49k tokens of SmolLM2's vocabulary (about 23 ms a token on two
cores, as much as the model's own forward pass at 1k tokens of context). llama.cpp's own
`common_sampler_sample` does otherwise: it samples with the plain chain, asks the grammar
about the chosen token alone, and only if the grammar refuses it samples again with the
grammar applied to every candidate first. The model's choice mostly fits (the grammar
forces what the instructions show), so most tokens cost one check instead of 49k.

A refused draw is redrawn from the allowed tokens in proportion, so each allowed token
comes out as likely as with the grammar first, except that top-k and top-p cut the first
draw from all candidates rather than the allowed ones; greedy decoding picks the same
token either way.

Imported only where a model loads: it imports llama_cpp.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar
from llama_cpp._internals import LlamaContext, LlamaSampler, LlamaTokenDataArray


class LazyGrammarLlama(Llama):
    """A `Llama` whose grammar checks the sampled token, resampling only when it is refused."""

    # The sampler of the last grammar-constrained generation (for its refusal count).
    grammar_sampler: LazyGrammarSampler | None = None

    def _init_sampler(self, *args: Any, grammar: LlamaGrammar | None = None, **kwargs: Any) -> Any:
        # The same chain llama-cpp-python builds (penalties, top-k, top-p, temperature,
        # seed), without the grammar in front of it.
        chain = super()._init_sampler(*args, **kwargs)
        self.grammar_sampler = None if grammar is None else LazyGrammarSampler(self, chain, grammar)
        return self.grammar_sampler or chain


class LazyGrammarSampler:
    """Stands in for llama-cpp-python's sampler during one generation (`sample`)."""

    def __init__(self, llama: Llama, chain: LlamaSampler, grammar: LlamaGrammar):
        self.chain = chain
        self.grammar = LlamaSampler()
        self.grammar.add_grammar(llama._model, grammar)
        self.n_vocab = llama.n_vocab()
        self.candidates = LlamaTokenDataArray(n_vocab=self.n_vocab)
        self.refused = 0  # tokens the grammar refused, each one resampled

    def sample(self, ctx: LlamaContext, idx: int) -> int:
        """The next token from the `idx`-th logits, accepted by the grammar and the chain."""
        token = self._draw(ctx, idx, self.chain)
        if not self._allows(token):
            self.refused += 1
            token = self._draw(ctx, idx, self.grammar, self.chain)
        self.grammar.accept(token)
        self.chain.accept(token)
        return token

    def take(self, tokens: list[int]) -> int:
        """Accept `tokens`, written without sampling (`memgpt.llm.decoding`), as far as
        the grammar allows them; return how many it took."""
        for i, token in enumerate(tokens):
            if not self._allows(token):
                return i
            self.grammar.accept(token)
            self.chain.accept(token)
        return len(tokens)

    def _draw(self, ctx: LlamaContext, idx: int, *samplers: LlamaSampler) -> int:
        logits = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        self.candidates.copy_logits(np.ctypeslib.as_array(logits, shape=(self.n_vocab,)))
        array = self.candidates.candidates
        array.selected = -1
        for sampler in samplers:
            llama_cpp.llama_sampler_apply(sampler.sampler, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            raise RuntimeError("the sampler chain selected no token")
        return int(array.data[array.selected].id)

    def _allows(self, token: int) -> bool:
        one = llama_cpp.llama_token_data(id=token, logit=1.0, p=0.0)
        array = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(one), size=1, selected=-1, sorted=False
        )
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(array))
        return one.logit != -math.inf
