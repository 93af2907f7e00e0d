"""Fusion of the vector and text rankings: weighted RRF, the text side trusted as far
as the vector side agrees with it."""

from __future__ import annotations

import pytest

from memgpt.store.fusion import FUSION, Fusion, agreement, fuse

PLAIN_RRF = Fusion(k=60, text_weight=1.0, depth=FUSION.depth, floor=1.0)


def test_plain_rrf_is_one_setting():
    fused = dict(fuse(["a", "b"], ["b", "c"], PLAIN_RRF))
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_agreement_is_the_share_of_the_texts_first_items_the_vector_side_also_ranks_first():
    assert agreement(["a", "b", "c"], ["c", "x", "a", "y"], depth=3) == pytest.approx(2 / 3)
    assert agreement(["a"], [], depth=3) == 1.0  # no text ranking has nothing to distrust


def test_stray_text_matches_do_not_push_the_meaning_out_of_the_first_ten():
    # A paraphrase: the vector side finds the answer sixth; the text side ranks ten
    # messages that only share a stray word with the question, none of them meant.
    vector = [f"v{i}" for i in range(1, 6)] + ["answer"] + [f"v{i}" for i in range(7, 101)]
    text = [f"stray{i}" for i in range(10)]
    first_ten = [item for item, _ in fuse(vector, text)][:10]
    assert "answer" in first_ten
    # Plain RRF interleaves both lists, and the answer falls to eleventh.
    assert "answer" not in [item for item, _ in fuse(vector, text, PLAIN_RRF)][:10]


def test_a_term_only_text_find_still_ranks_ahead_of_the_vector_sides_tail():
    # An exact code the meaning misses: the floor keeps the text side's weight above
    # zero, so its match is not put after every one of the vector side's candidates.
    vector = [f"v{i}" for i in range(100)]
    ranked = [item for item, _ in fuse(vector, ["ZX81"])]
    assert ranked.index("ZX81") < len(vector) // 2
    assert [item for item, _ in fuse(vector, ["ZX81"], Fusion(3, 0.5, 10, 0.0))][-1] == "ZX81"


def test_the_text_side_alone_keeps_its_order():
    assert [item for item, _ in fuse([], ["a", "b", "c"])] == ["a", "b", "c"]
