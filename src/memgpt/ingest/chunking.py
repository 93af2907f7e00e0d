"""Split document text into passages that fit a token budget.

The text is first cut into atoms: sentences, or for a sentence too big to fit,
its lines, then its words, then runs of characters. Atoms are packed greedily
into chunks of at most `max_tokens`; when a chunk is full, it ends at the
strongest boundary (paragraph > sentence > line > word > character) in its
second half, so passages rarely stop mid-thought. Consecutive chunks share up
to `overlap_tokens` of whole atoms, so a fact that straddles a cut is still
found whole in one passage.

Token counts come from the caller's `count_tokens`, because only the caller
knows which tokenizer (or upper-bound estimate) the embedder uses. Counts of
atoms are summed to plan a chunk, and each chunk is then re-counted as a whole,
so a tokenizer whose counts do not add up exactly still never yields a chunk
over the limit (unless a single character is over it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from memgpt.ingest.loaders import Segment

TokenCounter = Callable[[str], int]

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at . ! ? or … (plus closing quotes/brackets) before whitespace,
# or at CJK full stops, which are not followed by spaces.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+")
_LAST_WORD = re.compile(r"(\w+)\W*$")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_LINE = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")
# A period after these does not end a sentence. Lower-case; single letters
# (initials like "J. Smith") are handled separately.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "eg",
        "ie",
        "al",
        "fig",
        "figs",
        "no",
        "nos",
        "vol",
        "pp",
        "ed",
        "eds",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    path: str
    page: int | None  # 1-based page for paginated sources, else None
    char_offset: int  # where the chunk starts: in the page for PDFs, else in the document
    index: int  # position of the chunk within its document
    token_count: int
    content_hash: str  # sha256 of `text`: the same passage is recognisable on re-load


@dataclass(frozen=True, slots=True)
class _Atom:
    start: int
    end: int
    tokens: int
    strength: int  # how strong the boundary before this atom is; higher is a better cut


def chunk_text(
    segments: Iterable[Segment],
    count_tokens: TokenCounter,
    max_tokens: int = 300,
    overlap_tokens: int = 50,
    path: str = "",
) -> list[Chunk]:
    """Split segments into chunks of at most `max_tokens`, overlapping by up to `overlap_tokens`.

    Chunks never span two segments, so each keeps one page number. No chunk is empty.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"overlap_tokens must be at least 0 and below max_tokens ({max_tokens}), "
            f"got {overlap_tokens}."
        )
    chunks: list[Chunk] = []
    for seg in segments:
        atoms: list[_Atom] = []
        _atomize(seg.text, 0, len(seg.text), 0, _STRONGEST, count_tokens, max_tokens, atoms)
        for start, end, tokens in _pack(seg.text, atoms, count_tokens, max_tokens, overlap_tokens):
            text = seg.text[start:end]
            chunks.append(
                Chunk(
                    text=text,
                    path=path,
                    page=seg.page,
                    char_offset=seg.char_offset + start,
                    index=len(chunks),
                    token_count=tokens,
                    content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
    return chunks


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding whitespace, or None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split_at(text: str, start: int, end: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    spans = []
    prev = start
    for cut in [*cuts, end]:
        span = _trimmed(text, prev, cut)
        if span:
            spans.append(span)
        prev = cut
    return spans


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return _split_at(
        text, start, end, (m.start() for m in _PARAGRAPH_BREAK.finditer(text, start, end))
    )


def _ends_sentence(text: str, start: int, match: re.Match[str]) -> bool:
    punct = match.group()
    if punct[0] in "。！？":
        return True
    if punct.startswith(".") and len(punct.rstrip("\"'”’)]")) == 1:
        # Abbreviations are short: look only at the few characters before the period.
        word = _LAST_WORD.search(text, max(start, match.start() - 20), match.start())
        if word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1):
            return False
    # "e.g. the" or "3 p.m. on": a lower-case continuation is not a new sentence.
    nxt = _NEXT_CHAR.match(text, match.end())
    return not (nxt and nxt.group(1).islower())


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cuts = (
        m.end() for m in _SENTENCE_END.finditer(text, start, end) if _ends_sentence(text, start, m)
    )
    return _split_at(text, start, end, cuts)


def _matches(pattern: re.Pattern[str]) -> Callable[[str, int, int], list[tuple[int, int]]]:
    def split(text: str, start: int, end: int) -> list[tuple[int, int]]:
        return [s for m in pattern.finditer(text, start, end) if (s := _trimmed(text, *m.span()))]

    return split


# Each level splits a span into finer spans; the boundary between two spans made
# at level d has strength len(_LEVELS) - d, so paragraph breaks are the strongest.
_LEVELS = (_paragraphs, _sentences, _matches(_LINE), _matches(_WORD))
_STRONGEST = len(_LEVELS)
_SENTENCE_DEPTH = 2  # spans at this depth and below are sentences or finer


def _atomize(
    text: str,
    start: int,
    end: int,
    depth: int,
    strength: int,
    count: TokenCounter,
    max_tokens: int,
    out: list[_Atom],
) -> None:
    # Paragraphs are always split into sentences, so overlap can be whole sentences.
    if depth >= _SENTENCE_DEPTH:
        tokens = count(text[start:end])
        if tokens <= max_tokens:
            out.append(_Atom(start, end, tokens, strength))
            return
    if depth == len(_LEVELS):
        _split_characters(text, start, end, count, max_tokens, out)
        return
    for i, (a, b) in enumerate(_LEVELS[depth](text, start, end)):
        child_strength = strength if i == 0 else _STRONGEST - depth
        _atomize(text, a, b, depth + 1, child_strength, count, max_tokens, out)


def _split_characters(
    text: str, start: int, end: int, count: TokenCounter, max_tokens: int, out: list[_Atom]
) -> None:
    """Last resort for one 'word' over the limit (a URL, base64): longest prefixes that fit."""
    while start < end:
        lo, hi = 1, end - start  # invariant: a prefix of length lo is kept even if it is over
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[start : start + mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(_Atom(start, start + lo, count(text[start : start + lo]), 0))
        start += lo


def _pack(
    text: str, atoms: list[_Atom], count: TokenCounter, max_tokens: int, overlap_tokens: int
) -> Iterable[tuple[int, int, int]]:
    """Yield (start, end, tokens) of each chunk over the atoms."""
    n = len(atoms)
    i = 0
    while i < n:
        total, j = 0, i
        while j < n and (j == i or total + atoms[j].tokens <= max_tokens):
            total += atoms[j].tokens
            j += 1
        if j < n:
            j = _best_cut(atoms, i, j, max_tokens)
        tokens = count(text[atoms[i].start : atoms[j - 1].end])
        # Token counts need not add up; drop atoms until the whole chunk really fits.
        while tokens > max_tokens and j - i > 1:
            j -= 1
            tokens = count(text[atoms[i].start : atoms[j - 1].end])
        yield atoms[i].start, atoms[j - 1].end, tokens
        if j >= n:
            return
        i = _overlap_start(atoms, i, j, max_tokens, overlap_tokens)


def _best_cut(atoms: list[_Atom], i: int, j: int, max_tokens: int) -> int:
    """End the chunk atoms[i:j] early at the latest strongest boundary in its second half."""
    best, best_strength = j, atoms[j].strength
    total = sum(a.tokens for a in atoms[i:j])
    for k in range(j - 1, i, -1):
        total -= atoms[k].tokens  # now the tokens of atoms[i:k]
        if total < max_tokens // 2:
            break
        if atoms[k].strength > best_strength:
            best, best_strength = k, atoms[k].strength
    return best


def _overlap_start(atoms: list[_Atom], i: int, j: int, max_tokens: int, overlap_tokens: int) -> int:
    """First atom of the next chunk: trailing atoms of this one worth at most overlap_tokens.

    The start always moves past i, and leaves room for atom j, so packing advances.
    """
    k, carried = j, 0
    while k - 1 > i and carried + atoms[k - 1].tokens <= overlap_tokens:
        k -= 1
        carried += atoms[k].tokens
    while k < j and carried + atoms[j].tokens > max_tokens:
        carried -= atoms[k].tokens
        k += 1
    return k
