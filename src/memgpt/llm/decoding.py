"""The local model's generation loop, with jump-forward decoding.

llama-cpp-python's `create_completion` runs one llama.cpp decode per generated token,
and on a CPU a decode's cost is mostly reading the context's attention cache, which a
batch of a few tokens reads once. So where the call's grammar leaves no choice
(`memgpt.llm.jump_forward`: the JSON around the arguments, the rest of a name, the keys
of required properties), the forced text is tokenized and evaluated in the same batch as
the sampled token before it: a send_message call takes 19 fewer decodes (18 forced
tokens, and none for the end, which only the closing braces lead to).

Imported only where a model loads: it imports llama_cpp.
"""

from __future__ import annotations

import codecs
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import llama_cpp
from llama_cpp import LlamaGrammar

from memgpt.llm.jump_forward import CallSkeleton
from memgpt.llm.sampling import LazyGrammarLlama


@dataclass
class Written:
    tokens: list[int]  # every token written, sampled or forced, in order
    text: str
    finish_reason: str  # "stop" at the end of the text or call, "length" at max_tokens
    decodes: int  # llama.cpp decodes run one after another, the prompt's included
    forced: int  # tokens the grammar forced, fed without being sampled


def write(
    llama: LazyGrammarLlama,
    prompt: list[int],
    cached: int,
    max_tokens: int,
    temperature: float,
    grammar: LlamaGrammar | None,
    skeleton: CallSkeleton | None,
    on_text: Callable[[str], None],
) -> Written:
    """Generate after `prompt`, whose first `cached` tokens the context already holds,
    handing each new piece of text to `on_text`."""
    # A fresh seed for each call, as create_completion draws one.
    llama.set_seed(random.Random(llama._seed).randint(0, 2**32))
    sampler = llama._init_sampler(temp=temperature, grammar=grammar)
    # At least the prompt's last token is evaluated: its logits give the first token.
    llama.n_tokens = min(cached, len(prompt) - 1)
    batch = prompt[llama.n_tokens :]
    tokens: list[int] = []
    new: list[int] = []  # written since the last decode
    text = ""
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    decodes = forced = 0
    while True:
        ends = False
        if skeleton is not None:
            # The text so far with the new tokens', the decoder left as it was.
            state = utf8.getstate()
            fixed, ends = skeleton.forced(text + utf8.decode(llama.detokenize(new)))
            utf8.setstate(state)
            if fixed:
                more = llama.tokenize(fixed.encode(), add_bos=False, special=False)
                taken = sampler.take(more[: max_tokens - len(tokens) - len(new)])
                ends = ends and taken == len(more)
                new += more[:taken]
                forced += taken
        tokens += new
        piece = utf8.decode(llama.detokenize(new))
        text += piece
        if piece:
            on_text(piece)
        if ends:
            return Written(tokens, text, "stop", decodes, forced)
        if len(tokens) >= max_tokens:
            return Written(tokens, text, "length", decodes, forced)
        batch += new
        decodes += math.ceil(len(batch) / llama.n_batch)
        llama.eval(batch)
        token = sampler.sample(llama._ctx, -1)
        if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
            return Written(tokens, text, "stop", decodes, forced)
        batch, new = [], [token]
