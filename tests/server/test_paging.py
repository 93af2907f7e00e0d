"""Message and passage listings page by key: every page, in either order and from either
cursor, is the matching slice of the whole listing, with a message's parts kept together."""

from __future__ import annotations

import itertools

import httpx
import pytest


@pytest.fixture(scope="module")
def agent_id(server):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key_a}"}
    ) as http:
        agent = http.post("/v1/agents/", json={"name": "pager"}).json()["id"]
        for i in range(4):
            http.post(f"/v1/agents/{agent}/messages", json={"input": f"m{i}"}).raise_for_status()
        for i in range(5):
            http.post(f"/v1/agents/{agent}/archival-memory", json={"text": f"p{i}"})
    return agent


def _messages(http, agent_id, **params) -> list[dict]:
    response = http.get(f"/v1/agents/{agent_id}/messages", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(parts: list[dict]) -> list[str]:
    """Message ids in order, one per message (its parts share the id)."""
    out: list[str] = []
    for part in parts:
        if not out or out[-1] != part["id"]:
            out.append(part["id"])
    return out


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_after_a_cursor_make_up_the_whole_listing(http_a, agent_id, order):
    everything = _messages(http_a, agent_id, order=order, limit=1000)
    assert len(_ids(everything)) >= 8
    pages, after = [], None
    while True:
        page = _messages(
            http_a, agent_id, order=order, limit=3, **({"after": after} if after else {})
        )
        if not page:
            break
        assert len(page) <= 3 or len(_ids(page)) == 1
        pages.append(page)
        after = page[-1]["id"]
    assert [p for page in pages for p in page] == everything
    assert all(_ids(page)[-1] != _ids(nxt)[0] for page, nxt in itertools.pairwise(pages))


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_before_a_cursor_is_the_page_right_before_it(http_a, agent_id, order):
    everything = _messages(http_a, agent_id, order=order, limit=1000)
    ids = _ids(everything)
    cursor = ids[-2]
    earlier = everything[: everything.index(next(p for p in everything if p["id"] == cursor))]
    page = _messages(http_a, agent_id, order=order, limit=4, before=cursor)
    assert page == earlier[len(earlier) - len(page) :]
    assert 0 < len(page) <= 4 and _ids(page)[-1] == ids[-3]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_after_and_before_give_what_lies_between(http_a, agent_id, order):
    everything = _messages(http_a, agent_id, order=order, limit=1000)
    ids = _ids(everything)
    between = _messages(http_a, agent_id, order=order, after=ids[1], before=ids[5], limit=1000)
    assert _ids(between) == ids[2:5]


def test_an_unknown_cursor_is_404(http_a, agent_id):
    assert http_a.get(f"/v1/agents/{agent_id}/messages?after=message-nope").status_code == 404


@pytest.mark.parametrize("ascending", [True, False])
def test_passages_page_in_either_order(http_a, agent_id, ascending):
    expected = [f"p{i}" for i in range(5)]
    if not ascending:
        expected.reverse()
    texts, after = [], None
    while True:
        params = {"limit": 2, "ascending": ascending, **({"after": after} if after else {})}
        page = http_a.get(f"/v1/agents/{agent_id}/archival-memory", params=params).json()
        if not page:
            break
        texts += [p["text"] for p in page]
        after = page[-1]["id"]
    assert texts == expected
    missing = {"after": "passage-nope"}
    assert http_a.get(f"/v1/agents/{agent_id}/archival-memory", params=missing).json() == []
