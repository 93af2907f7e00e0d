"""Document QA end to end: load a folder of documents in several formats, ask a question whose
answer sits in one passage, and the agent's archival_memory_search finds it on the first page
and the answer reaches the user."""

from __future__ import annotations

import json
import re

from memgpt.llm.scripted import call
from memgpt.schemas import StopReason
from tests.ingest.docs import good_folder, make_docx, make_pdf

QUESTION = "What is the launch code for Project Bluebird?"
FILLER = " ".join(
    f"Section {i} of the handbook covers routine maintenance of pumps." for i in range(40)
)


def policy(messages, functions):
    last = json.loads(messages[-1].content)
    if last.get("type") == "user_message":
        return call(
            "archival_memory_search",
            "check the documents",
            query=last["message"],
            request_heartbeat=True,
        )
    # The newest function result: alerts (memory pressure) may follow it.
    tool = next((m for m in reversed(messages) if m.role == "tool"), None)
    result = json.loads(tool.content) if tool else {}
    text = result.get("message", "")
    if text.startswith("Showing results"):
        for row in json.loads(text.split("\n", 1)[1]):
            found = re.search(r"launch code for Project Bluebird is (\d+)", row["text"])
            if found:
                where = f"{row['file'].rsplit('/', 1)[-1]}, page {row['page']}"
                return call("send_message", message=f"The code is {found.group(1)} ({where}).")
    return call("send_message", message="I could not find it.")


def test_answer_from_a_loaded_folder_reaches_the_user(client, make_agent, tmp_path):
    folder = good_folder(tmp_path / "docs")
    (folder / "handbook.md").write_text(FILLER)
    (folder / "memo.docx").write_bytes(make_docx(["Quarterly numbers are up.", FILLER]))
    pages = [
        "Introduction to the Bluebird handbook.",
        "Page two: the launch code for Project Bluebird is 7421. Keep it private.",
        "Appendix: pump part numbers.",
    ]
    (folder / "bluebird.pdf").write_bytes(make_pdf(pages))

    agent, llm = make_agent(policy)
    summary = client.load(
        "manuals", folder, embedding=agent.state.embedding, embedder=agent.embedder
    )
    assert summary.count("failed") == 0 and summary.count("loaded") == 10
    agent.attach_source("manuals")

    response = agent.send(QUESTION)
    assert response.stop_reason == StopReason.END_TURN
    assert response.text == "The code is 7421 (bluebird.pdf, page 2)."
    # The search was the agent's first call, and the answer was on its first page.
    first_call = next(m for m in response.messages if m.role == "assistant").tool_calls[0]
    assert first_call.name == "archival_memory_search"
    assert json.loads(first_call.arguments).get("page", 0) == 0
