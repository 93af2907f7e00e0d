"""`memgpt bench dmr`: deep memory retrieval (Packer et al. 2023, 3.1.1).

Earlier sessions of a multi-session conversation sit in recall storage, out of main
context; a new session asks about something said in them. The agent must find it with
conversation_search. Each answer is judged by exact match, by whether it contains the
gold answer, by ROUGE-L recall against it, and by an LLM judge when `--judge` names one.

Data: the seeded synthetic generator (memgpt.bench.synthetic), or `--msc FILE`, a
MSC-Self-Instruct JSONL file (the paper's data set), one conversation per line:

    {"previous_dialogs": [{"dialog": [{"text": "..."}, {"text": "..."}, ...]}, ...],
     "self_instruct": {"B": "the question", "A": "the gold answer"}}

Speakers alternate within each earlier session, the first one taking the user's part;
sessions are placed a week apart. Other fields are ignored.

`--model oracle` searches with the question's content words and answers with the best
hit's text: a harness check (its ROUGE-L recall must be 1.0 on synthetic data).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memgpt.bench import common, synthetic
from memgpt.llm.base import ChatMessage, FunctionSchema, LLMClient, LLMReply
from memgpt.llm.scripted import ScriptedLLM, call

PROMPT = "Thinking back to our earlier chats: {question}"
JUDGE = (
    "You grade answers to questions about a past conversation. Reply with one word: "
    "CORRECT if the response gives the gold answer (wording may differ), else WRONG."
)
JUDGE_QUESTION = "Question: {question}\nGold answer: {answer}\nResponse: {response}"


def oracle(messages: list[ChatMessage], functions: list[FunctionSchema]) -> LLMReply:
    start, packet = common.last_user_event(messages)
    question = packet.get("message", "").split(": ", 1)[-1]
    searches = common.searches_since(messages, start)
    if not searches:
        query = common.content_words(question)
        return call(
            "conversation_search", "it was said before", query=query, request_heartbeat=True
        )
    said = [h["text"] for h in searches[-1][1] if h.get("from") == "user"]
    return call("send_message", "found it", message=said[0] if said else "I don't remember.")


def oracle_llm() -> LLMClient:
    return ScriptedLLM(oracle)


def load_msc(path: Path, limit: int) -> Iterator[synthetic.Conversation]:
    """Conversations from a MSC-Self-Instruct JSONL file (see the module docstring)."""
    start = datetime(2023, 1, 2, 18, tzinfo=UTC)
    with path.open(encoding="utf-8") as lines:
        for n, line in zip(range(limit), lines, strict=False):
            try:
                row = json.loads(line)
                dialogs = [[t["text"] for t in d["dialog"]] for d in row["previous_dialogs"]]
                question, answer = row["self_instruct"]["B"], row["self_instruct"]["A"]
            except (ValueError, KeyError, TypeError) as exc:
                raise SystemExit(
                    f"{path} line {n + 1} is not MSC-Self-Instruct JSONL ({exc!r}); each line needs "
                    "previous_dialogs[].dialog[].text and self_instruct.A/B."
                ) from None
            sessions = [
                [
                    synthetic.Turn(
                        "user" if i % 2 == 0 else "assistant",
                        text,
                        start + timedelta(days=7 * s, minutes=i),
                    )
                    for i, text in enumerate(dialog)
                ]
                for s, dialog in enumerate(dialogs)
            ]
            yield synthetic.Conversation(
                f"msc-{n}", sessions, [synthetic.Question(question, answer, [])]
            )


def judge(llm: LLMClient, question: str, answer: str, response: str) -> bool:
    messages = [
        ChatMessage(role="system", content=JUDGE),
        ChatMessage(
            role="user",
            content=JUDGE_QUESTION.format(question=question, answer=answer, response=response),
        ),
    ]
    return (llm.chat(messages, []).content or "").strip().upper().startswith("CORRECT")


def ask(client, llm, embedding, embedder, conversation, question, name: str, judge_llm) -> dict:
    agent = client.create_agent(name, llm=llm, embedding=embedding, embedder=embedder)
    client.store.append_messages(agent.id, common.as_messages(agent.id, conversation.turns))
    began = time.perf_counter()
    response = agent.send(PROMPT.format(question=question.text))
    elapsed = time.perf_counter() - began
    reply = common.reply_text(response)
    evidence = {t.text for t in conversation.turns if t.id in question.evidence}
    seen = " ".join(m.text for m in response.messages if m.role == "tool")
    return {
        "exact_match": common.exact_match(reply, question.answer),
        "contains": common.contains(reply, question.answer),
        "rouge_l_recall": common.rouge_l_recall(reply, question.answer),
        "judge": judge(judge_llm, question.text, question.answer, reply) if judge_llm else None,
        # Did a search result the agent read hold the labelled evidence message?
        "evidence_seen": bool(evidence) and all(json.dumps(e)[1:-1] in seen for e in evidence),
        "steps": response.steps,
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memgpt bench dmr", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help='model string, or "oracle" (default: the configured model)')
    parser.add_argument("--embedding", help="local, openai or hash (default: the configured one)")
    parser.add_argument("--judge", help="model string of an LLM judge (default: none)")
    parser.add_argument(
        "--msc", type=Path, help="a MSC-Self-Instruct JSONL file instead of synthetic data"
    )
    parser.add_argument(
        "--conversations", type=int, default=10, help="conversations (or MSC lines) to use"
    )
    parser.add_argument(
        "--sessions", type=int, default=5, help="earlier sessions per synthetic conversation"
    )
    parser.add_argument("--turns", type=int, default=10, help="user turns per synthetic session")
    parser.add_argument(
        "--questions", type=int, default=3, help="planted facts (questions) per conversation"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the scratch database goes (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.msc:
        conversations = list(load_msc(args.msc, args.conversations))
    else:
        conversations = [
            synthetic.conversation(args.seed + i, args.sessions, args.turns, args.questions)
            for i in range(args.conversations)
        ]
    llm = common.make_llm(args.model, oracle_llm)
    judge_llm = common.make_llm(args.judge, oracle_llm) if args.judge else None
    embedding, embedder = common.make_embedder("hash" if args.model == "oracle" else args.embedding)
    rows = []
    with common.scratch_client(args.workdir) as client:
        for c, conversation in enumerate(conversations):
            for q, question in enumerate(conversation.questions):
                rows.append(
                    ask(
                        client,
                        llm,
                        embedding,
                        embedder,
                        conversation,
                        question,
                        f"dmr-{c}-{q}",
                        judge_llm,
                    )
                )
    n = len(rows)
    result = {
        "benchmark": "dmr",
        "data": str(args.msc)
        if args.msc
        else f"synthetic(seed={args.seed}, sessions={args.sessions}, turns={args.turns})",
        "model": "oracle"
        if args.model == "oracle"
        else f"{llm.config.provider}/{llm.config.model}",
        "judge": args.judge,
        "questions": n,
        "exact_match": sum(r["exact_match"] for r in rows) / n,
        "contains": sum(r["contains"] for r in rows) / n,
        "rouge_l_recall": sum(r["rouge_l_recall"] for r in rows) / n,
        "judge_accuracy": sum(r["judge"] for r in rows) / n if judge_llm else None,
        "evidence_seen": sum(r["evidence_seen"] for r in rows) / n,
        "mean_steps": sum(r["steps"] for r in rows) / n,
        "median_s": common.median([r["seconds"] for r in rows]),
    }
    keys = [
        "exact_match",
        "contains",
        "rouge_l_recall",
        "judge_accuracy",
        "evidence_seen",
        "mean_steps",
        "median_s",
    ]
    common.emit(result, [(k, result[k]) for k in keys], ["metric", "value"])
    return 0
