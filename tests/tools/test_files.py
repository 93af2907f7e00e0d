"""The file functions over an attached folder, driven by a scripted model: open (whole
and by lines), grep (context, pages, filters), semantic search, and the open-files
section's limits inside the context budget."""

from __future__ import annotations

import json

import pytest

from memgpt.llm.scripted import call
from memgpt.memory import files
from memgpt.tools.files import FILE_FUNCTION_NAMES

NOTES = "\n".join(
    f"line {i}: {'owls hunt at night' if i % 10 == 0 else 'nothing here'}" for i in range(1, 101)
)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text(NOTES)
    (root / "guide.md").write_text("# Gardening\n\nTomatoes need full sun.\nWater them often.\n")
    (root / "sub" / "deep.txt").write_text("alpha\nbeta\ngamma owls\ndelta\n")
    return root


@pytest.fixture
def with_folder(client, make_agent, folder):
    """make(script, **kwargs) -> (agent, llm), with the folder loaded as "docs" and attached."""

    def make(script, **kwargs):
        agent, llm = make_agent(script, **kwargs)
        client.load("docs", folder, embedding=agent.state.embedding, embedder=agent.embedder)
        agent.attach_source("docs")
        return agent, llm

    return make


def results(response) -> list[dict]:
    return [json.loads(m.text) for m in response.messages if m.role == "tool"]


def say(text: str = "done"):
    return call("send_message", message=text)


def test_attaching_gives_the_file_functions_and_detaching_the_last_takes_them(
    client, make_agent, folder
):
    agent, _ = make_agent([])
    assert not set(FILE_FUNCTION_NAMES) & set(agent.functions)
    client.load("docs", folder, embedding=agent.state.embedding, embedder=agent.embedder)
    client.create_source("more", embedding=agent.state.embedding)
    agent.attach_source("docs")
    agent.attach_source("more")
    assert set(FILE_FUNCTION_NAMES) <= set(agent.functions)
    assert "archival_memory_search" in agent.functions  # the defaults stay
    assert {s["name"] for s in agent.schemas} >= set(FILE_FUNCTION_NAMES)
    agent.detach_source("more")
    assert set(FILE_FUNCTION_NAMES) <= set(agent.functions)
    agent.detach_source("docs")
    assert not set(FILE_FUNCTION_NAMES) & set(agent.functions)
    assert not set(FILE_FUNCTION_NAMES) & set(client.get_agent("sam", llm=agent.llm).functions)


def test_open_a_whole_file_then_a_range_of_its_lines(with_folder):
    agent, _ = with_folder(
        [
            # null is what Letta's models send for a default
            call(
                "open_files",
                file_requests=[{"file_name": "docs/guide.md", "offset": None, "length": None}],
                request_heartbeat=True,
            ),
            call(
                "open_files",
                file_requests=[{"file_name": "docs/notes.txt", "offset": 19, "length": 3}],
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    out = results(agent.send("read the files"))
    assert out[0]["status"] == "OK" and "docs/guide.md (lines 1-4)" in out[0]["message"]
    assert "docs/notes.txt (lines 20-22)" in out[1]["message"]
    section = agent.compile().messages[1].content
    assert "### Open files" in section
    assert "1: # Gardening" in section and "4: Water them often." in section
    assert "20: line 20: owls hunt at night" in section and "22: line 22" in section
    assert "19: line 19" not in section and "23: line 23" not in section
    assert [f.name for f in agent.state.open_files] == ["docs/guide.md", "docs/notes.txt"]
    assert agent.compile().sections["open_files"] > 0


def test_opening_a_file_not_attached_is_a_failed_result_naming_the_files(with_folder):
    agent, _ = with_folder(
        [
            call(
                "open_files",
                file_requests=[{"file_name": "docs/missing.txt"}],
                request_heartbeat=True,
            ),
            call(
                "open_files",
                file_requests=[{"file_name": "docs/guide.md", "offset": 50}],
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    out = results(agent.send("open it"))
    assert out[0]["status"] == "Failed"
    assert "docs/sub/deep.txt" in out[0]["message"] and "docs/guide.md" in out[0]["message"]
    assert out[1]["status"] == "Failed" and "has 4 lines" in out[1]["message"]
    assert agent.state.open_files == []


def test_grep_with_context_lines_pages_and_filters(with_folder):
    agent, _ = with_folder(
        [
            call("grep_files", pattern="OWLS", context_lines=1, request_heartbeat=True),
            call("grep_files", pattern="owls", offset=20, request_heartbeat=True),
            call(
                "grep_files",
                pattern="owls",
                include="*.txt",
                context_lines=0,
                request_heartbeat=True,
            ),
            call("grep_files", pattern="owls", include="sub/", request_heartbeat=True),
            call("grep_files", pattern="line 1(", request_heartbeat=True),  # not a regex: text
            call(
                "grep_files",
                pattern="gamma",
                include=None,
                context_lines=None,
                offset=None,
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    out = [r["message"] for r in results(agent.send("search"))[:-1]]  # the greps
    first = out[0]
    assert first.startswith(
        "Found 11 matches in 2 files: docs/notes.txt (10), docs/sub/deep.txt (1)"
    )
    assert "=== docs/notes.txt:10 ===" in first
    assert "  9: line 9: nothing here" in first and "> 10: line 10: owls hunt at night" in first
    assert "  11: line 11: nothing here" in first
    assert "> 3: gamma owls" in first
    assert "More matches" not in first  # 11 fit in a page of 20
    assert "No matches from offset 20; there are 11." in out[1]
    assert "11 matches" in out[2] and "9: line 9" not in out[2]
    assert out[3].startswith("Found 1 matches in 1 files: docs/sub/deep.txt")
    assert out[4].startswith("No matches for 'line 1('")
    assert "  2: beta" in out[5] and "> 3: gamma owls" in out[5]  # nulls take the defaults


def test_grep_pages_twenty_matches_at_a_time():
    text = "\n".join(f"hit {i}" for i in range(45))
    page, matched = files.grep([("d/f.txt", text)], "hit", context_lines=0)
    assert page.count("=== d/") == files.GREP_PAGE and "offset=20" in page
    assert matched == {"d/f.txt"}
    last, _ = files.grep([("d/f.txt", text)], "hit", context_lines=0, offset=40)
    assert last.count("=== d/") == 5 and "More matches" not in last and "> 45: hit 44" in last


def test_semantic_search_names_files_as_open_files_takes_them(with_folder):
    agent, _ = with_folder(
        [call("semantic_search_files", query="tomatoes sun", request_heartbeat=True), say()]
    )
    message = results(agent.send("find"))[0]["message"]
    rows = json.loads(message.split("\n", 1)[1])
    assert rows[0]["file"] == "docs/guide.md" and "Tomatoes" in rows[0]["text"]
    assert rows[0]["source"] == "docs"


def test_least_recently_used_file_is_closed_past_the_limit(with_folder):
    agent, _ = with_folder(
        [
            call(
                "open_files", file_requests=[{"file_name": "docs/guide.md"}], request_heartbeat=True
            ),
            call(
                "open_files",
                file_requests=[{"file_name": "docs/notes.txt"}],
                request_heartbeat=True,
            ),
            call("grep_files", pattern="tomatoes", request_heartbeat=True),  # guide.md used again
            call(
                "open_files",
                file_requests=[{"file_name": "docs/sub/deep.txt"}],
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    agent.state.max_files_open = 2
    agent.store.save_agent(agent.state)
    out = results(agent.send("open three"))
    assert "Closed, least recently used first: docs/notes.txt" in out[3]["message"]
    assert [f.name for f in agent.state.open_files] == ["docs/guide.md", "docs/sub/deep.txt"]


def test_a_file_over_the_character_limit_is_cut_and_says_so(with_folder):
    agent, _ = with_folder(
        [
            call(
                "open_files",
                file_requests=[{"file_name": "docs/notes.txt"}],
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    agent.state.per_file_view_window_char_limit = 200
    agent.store.save_agent(agent.state)
    agent.send("open")
    (entry,) = agent.state.open_files
    assert len(entry.value) <= 200 and entry.truncated and entry.end_line < 100
    assert "cut to fit" in files.render(agent.state)


def test_the_open_files_section_stays_within_its_share_of_the_context(with_folder, folder):
    (folder / "big.txt").write_text("\n".join(f"row {i} of the big file" for i in range(2000)))
    agent, _ = with_folder(
        [
            call(
                "open_files",
                file_requests=[{"file_name": "docs/guide.md"}, {"file_name": "docs/big.txt"}],
                request_heartbeat=True,
            ),
            say(),
        ]
    )
    response = agent.send("open both")
    assert response.stop_reason == "end_turn"
    context = agent.compile()
    assert 0 < context.sections["open_files"] <= files.room(agent.state)
    assert context.total <= context.budget
    # big.txt (about 16,000 tokens) does not fit beside guide.md: guide.md, the least
    # recently used, is closed and big.txt cut to what fits, saying so.
    assert "Closed, least recently used first: docs/guide.md" in results(response)[0]["message"]
    (big,) = agent.state.open_files
    assert big.truncated and 1 < big.end_line < 2000
    assert f"{big.end_line}: row {big.end_line - 1} " in files.render(agent.state)


def test_open_files_close_before_main_context_would_overflow(with_folder):
    agent, _ = with_folder(
        [
            call(
                "open_files",
                file_requests=[{"file_name": "docs/notes.txt"}],
                request_heartbeat=True,
            ),
            # The full window brings memory-pressure alerts: more steps to answer them.
            say(),
            say(),
        ],
        context_window=6500,
    )
    # Functions and instructions leave less room than the section's share here: the
    # step closes the file rather than overflow or stop.
    response = agent.send("open")
    assert response.stop_reason == "end_turn", response.error
    context = agent.compile()
    assert context.total <= context.budget
    assert agent.state.open_files == []


def test_detaching_closes_the_folders_files(with_folder):
    agent, _ = with_folder(
        [
            call(
                "open_files", file_requests=[{"file_name": "docs/guide.md"}], request_heartbeat=True
            ),
            say(),
        ]
    )
    agent.send("open")
    assert agent.state.open_files
    agent.detach_source("docs")
    assert agent.state.open_files == []
    assert agent.compile().sections["open_files"] == 0
    assert agent.store.get_agent(agent.id).open_files == []
