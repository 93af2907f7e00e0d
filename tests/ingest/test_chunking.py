"""Chunks fit the token budget, cut at natural boundaries, overlap, and are never empty."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgpt.ingest.chunking import Chunk, chunk_text
from memgpt.ingest.loaders import Segment


def words(text: str) -> int:
    return len(text.split())


def chars4(text: str) -> int:
    # A typical upper-bound estimate: about four characters per token.
    return (len(text) + 3) // 4


def sentence(i: int, n_words: int = 8) -> str:
    return " ".join([f"S{i}"] + [f"w{i}x{j}" for j in range(n_words - 2)] + ["end."])


def check_invariants(chunks: list[Chunk], segments: list[Segment], count, max_tokens: int) -> None:
    by_page = {s.page: s for s in segments}
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text.strip() == c.text and c.text
        assert count(c.text) == c.token_count <= max_tokens
        assert c.content_hash == hashlib.sha256(c.text.encode()).hexdigest()
        seg = by_page[c.page]
        local = c.char_offset - seg.char_offset
        assert seg.text[local : local + len(c.text)] == c.text


def test_short_text_is_one_chunk() -> None:
    [c] = chunk_text([Segment("  Just one line.  ")], words, path="f.txt")
    assert (c.text, c.path, c.page, c.char_offset, c.index) == (
        "Just one line.",
        "f.txt",
        None,
        2,
        0,
    )


def test_empty_and_whitespace_segments_give_no_chunks() -> None:
    assert chunk_text([Segment(""), Segment(" \n\n\t ")], words) == []


def test_prefers_paragraph_then_sentence_boundaries() -> None:
    para1 = " ".join(sentence(i) for i in range(3))  # 24 words
    para2 = " ".join(sentence(i) for i in range(3, 6))
    text = f"{para1}\n\n{para2}"
    chunks = chunk_text([Segment(text)], words, max_tokens=40, overlap_tokens=0)
    # 48 words do not fit in 40; the cut falls at the paragraph break, not after sentence 4.
    assert [c.text for c in chunks] == [para1, para2]
    chunks = chunk_text([Segment(para1 + " " + para2)], words, max_tokens=20, overlap_tokens=0)
    assert all(c.text.endswith("end.") for c in chunks)  # whole sentences only


def test_overlap_repeats_whole_trailing_sentences() -> None:
    text = " ".join(sentence(i) for i in range(10))
    chunks = chunk_text([Segment(text)], words, max_tokens=32, overlap_tokens=10)
    assert len(chunks) > 1
    for a, b in zip(chunks, chunks[1:], strict=False):
        last = re.findall(r"S\d+ [^.]*end\.", a.text)[-1]
        assert b.text.startswith(last)  # the last sentence (8 words <= 10) is carried over
        assert words(b.text) > words(last)  # and the next chunk still moves forward
    assert chunks[-1].text.endswith(sentence(9))


def test_no_overlap_when_zero() -> None:
    text = " ".join(sentence(i) for i in range(10))
    chunks = chunk_text([Segment(text)], words, max_tokens=16, overlap_tokens=0)
    assert " ".join(c.text for c in chunks) == text


def test_giant_sentence_is_split_by_words() -> None:
    text = " ".join(f"word{i}" for i in range(1000)) + "."
    chunks = chunk_text([Segment(text)], words, max_tokens=100, overlap_tokens=10)
    check_invariants(chunks, [Segment(text)], words, 100)
    assert chunks[0].text.split()[-10:] == chunks[1].text.split()[:10]
    covered = set()
    for c in chunks:
        covered.update(c.text.split())
    assert covered == set(text.split())


def test_giant_word_is_split_by_characters() -> None:
    blob = "A" * 5000
    chunks = chunk_text([Segment(blob)], chars4, max_tokens=300, overlap_tokens=0)
    assert "".join(c.text for c in chunks) == blob
    assert all(c.token_count <= 300 for c in chunks)


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = "Dr. Smith met J. Doe at 3 p.m. on Monday. They talked, e.g. about cats. Fin."
    # One word per token, 12 max: Dr. Smith's sentence (9 words) must stay whole.
    chunks = chunk_text([Segment(text)], words, max_tokens=12, overlap_tokens=0)
    assert chunks[0].text == "Dr. Smith met J. Doe at 3 p.m. on Monday."


def test_cjk_sentences_split_without_spaces() -> None:
    text = "这是第一句。这是第二句！这是第三句？"
    chunks = chunk_text([Segment(text)], len, max_tokens=7, overlap_tokens=0)
    assert [c.text for c in chunks] == ["这是第一句。", "这是第二句！", "这是第三句？"]


def test_pages_are_kept_and_chunks_never_span_segments() -> None:
    segs = [Segment("Page one text.", page=1), Segment("Page two text.", page=2)]
    chunks = chunk_text(segs, words, max_tokens=50, overlap_tokens=5, path="x.pdf")
    assert [(c.page, c.text, c.index) for c in chunks] == [
        (1, "Page one text.", 0),
        (2, "Page two text.", 1),
    ]


def test_char_offsets_include_segment_offset() -> None:
    seg = Segment("Alpha beta.\n\nGamma delta.", char_offset=100)
    chunks = chunk_text([seg], words, max_tokens=2, overlap_tokens=0)
    assert [(c.text, c.char_offset) for c in chunks] == [
        ("Alpha beta.", 100),
        ("Gamma delta.", 113),
    ]


def test_same_text_gives_same_hashes() -> None:
    text = " ".join(sentence(i) for i in range(20))
    a = chunk_text([Segment(text)], words, max_tokens=30, overlap_tokens=8)
    b = chunk_text([Segment(text)], words, max_tokens=30, overlap_tokens=8)
    assert [c.content_hash for c in a] == [c.content_hash for c in b]


def test_non_additive_tokenizer_still_respects_limit() -> None:
    # Counts the whole text as more than the sum of its pieces (e.g. separator tokens).
    def lumpy(text: str) -> int:
        return len(text.split()) + text.count(" ")

    text = " ".join(sentence(i, 4) for i in range(30))
    chunks = chunk_text([Segment(text)], lumpy, max_tokens=20, overlap_tokens=5)
    check_invariants(chunks, [Segment(text)], lumpy, 20)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_parameters(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text([Segment("text")], words, max_tokens=max_tokens, overlap_tokens=overlap)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("abc XYZ.!?\n\n\t,'\"é中。")), min_size=0, max_size=400
    ),
    max_tokens=st.integers(1, 40),
    overlap_frac=st.floats(0, 0.9),
)
def test_invariants_hold_for_any_text(text: str, max_tokens: int, overlap_frac: float) -> None:
    overlap = min(max_tokens - 1, int(max_tokens * overlap_frac))
    segs = [Segment(text, page=1)]
    chunks = chunk_text(segs, chars4, max_tokens=max_tokens, overlap_tokens=overlap)
    check_invariants(chunks, segs, chars4, max_tokens)
    # Every non-space character of the input is in some chunk.
    covered = [False] * len(text)
    for c in chunks:
        for k in range(c.char_offset, c.char_offset + len(c.text)):
            covered[k] = True
    assert all(covered[k] for k, ch in enumerate(text) if not ch.isspace())
