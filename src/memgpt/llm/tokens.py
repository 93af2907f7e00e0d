"""Offline token counting: a conservative estimate, and tiktoken when its files are already here.

The context compiler must never overflow the model's window (DESIGN invariant 1),
so when a model's own tokenizer is unknown we count with `estimate_tokens`, which
is built to over-count for byte-level BPE tokenizers (cl100k, o200k, Llama 3,
SmolLM2, ...). It charges, per piece of text:

- ASCII letters: one token per run of up to 4 letters, a new run starting at
  each upper-case letter (camelCase and rare words split there);
- ASCII digits: one token each (SmolLM2 and Llama split every digit), plus the
  space before a digit, which such tokenizers split off;
- a run of letters and digits mixed (hex, UUID parts, random IDs, base64): one
  token per character, since BPE finds few merges in it;
- ASCII punctuation and symbols: one token each;
- whitespace: a space followed by a non-space is free (BPE glues it to what
  follows); every other whitespace character costs one token;
- any non-ASCII character: one token per UTF-8 byte, the most a byte-level
  BPE can ever produce for it (accents: 2, CJK: 3, emoji: 4 per code point).

On English it comes to about 1.4-1.5x cl100k/o200k counts and 1.35x SmolLM2's;
tests/llm/test_tokens.py checks the bound on varied text against real tokenizers.
It is not a proof: long random runs of letters alone can tokenize worse.

tiktoken fetches its encoding files from the internet on first use, which fails
offline and must never happen mid-conversation, so `tiktoken_counter` only hands
out a counter whose file is already in tiktoken's local cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable

TokenCounter = Callable[[str], int]

# Each match of this pattern is charged one token; see the module docstring.
# Non-ASCII characters match once here and their extra UTF-8 bytes are added after.
_PIECE = re.compile(
    r"[A-Z]?[a-z]{1,4}|[A-Z]{1,4}"  # letters
    r"|[0-9]| (?=[0-9])"  # digits, and the space SmolLM2-style tokenizers split off before one
    r"|[^\x00-\x7f]"  # non-ASCII
    r"|[^\S ]|[ ](?!\S)"  # whitespace other than a space glued to what follows
    r"|[^A-Za-z0-9\s]"  # punctuation and symbols
)

# A run of letters and digits holding both: hex, UUID parts, random IDs, base64.
# Anchored at run starts so each run is scanned once (linear time).
_SOUP = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]+")


def estimate_tokens(text: str) -> int:
    """A conservative (upper-bound in practice) token count for `text`, with no tokenizer."""
    if not text:
        return 0
    # Each soup run becomes one digit (charged 1 by _PIECE) and is charged per character instead.
    rest, n_soups = _SOUP.subn("0", text)
    soup_chars = len(text) - len(rest) + n_soups
    non_ascii_extra_bytes = len(text.encode("utf-8")) - len(text)
    return len(_PIECE.findall(rest)) - n_soups + soup_chars + non_ascii_extra_bytes


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads cached encodings from, mirroring `tiktoken.load`."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    # An empty value disables tiktoken's cache: every use would download.
    return cache_dir or None


# Where tiktoken downloads each encoding from; the cache file is named by the URL's SHA-1.
_ENCODING_URLS = {
    name: f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    for name in ("r50k_base", "p50k_base", "cl100k_base", "o200k_base")
}


def tiktoken_counter(model: str) -> TokenCounter | None:
    """An exact counter for an OpenAI `model`, or None unless tiktoken can work fully offline."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        encoding_name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None  # not an OpenAI model: cl100k would not be a bound for it
    url = _ENCODING_URLS.get(encoding_name)
    cache_dir = _tiktoken_cache_dir()
    if url is None or cache_dir is None:
        return None
    cache_file = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    if not os.path.isfile(cache_file):
        return None
    try:
        encoding = tiktoken.get_encoding(encoding_name)
    except Exception:
        # A corrupt cache file makes tiktoken try to re-download; offline that fails here.
        return None

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count
