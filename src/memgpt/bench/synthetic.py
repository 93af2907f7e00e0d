"""Seeded synthetic data for the paper's experiments: multi-session conversations with
planted facts (deep memory retrieval) and document collections with planted answers
(document QA). The same seed always gives the same data, so figures are comparable.

Fillers avoid every word a question asks about, so the labelled evidence is the only
message or passage that answers it: a retrieval miss is the system's, not the data's.

Each question comes in two kinds. A lexical one reuses the evidence's words ("What is
the name of my dog?" for "my dog is called Mochi"), so word matching finds it. A
paraphrase asks the same with other words ("What name did I give my pet pooch?"): it
shares no content word, stemmed, with its evidence or with any filler (a test checks
this), so word matching has only function words like "my" to go on. A document's
paraphrase keeps the town's name (see DOC_PARAPHRASES).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from memgpt.schemas import new_id

# (statement the user makes, question about it, possible answers)
FACTS: list[tuple[str, str, list[str]]] = [
    (
        "By the way, my dog is called {a}.",
        "What is the name of my dog?",
        ["Biscuit", "Pepper", "Juniper", "Mochi", "Waffles", "Pickles"],
    ),
    (
        "My sister {a} just moved in with me.",
        "What is my sister's name?",
        ["Clara", "Imogen", "Beatriz", "Yuki", "Ottilie", "Nadia"],
    ),
    (
        "I started a new job as a {a} last month.",
        "What job did I start last month?",
        ["marine biologist", "locksmith", "tax auditor", "piano tuner", "zookeeper", "glassblower"],
    ),
    (
        "I grew up in {a}, right by the harbour.",
        "Which town did I grow up in?",
        ["Tromso", "Valparaiso", "Hobart", "Galway", "Split", "Nelson"],
    ),
    (
        "Honestly, {a} is my favourite food.",
        "What is my favourite food?",
        ["ramen", "paella", "pierogi", "shakshuka", "bibimbap", "moussaka"],
    ),
    (
        "I finally bought a {a} car.",
        "What colour is the car I bought?",
        ["turquoise", "mustard yellow", "burgundy", "olive green", "silver", "coral"],
    ),
    (
        "I've been learning to play the {a} on weekends.",
        "Which instrument am I learning to play?",
        ["cello", "banjo", "oboe", "ukulele", "harp", "trombone"],
    ),
    (
        "I'm reading a novel called {a}.",
        "What is the novel I'm reading called?",
        [
            "The Salt Orchard",
            "Northern Lanterns",
            "A Map of Quiet",
            "The Copper Tide",
            "Glass Rivers",
            "Winter Almanac",
        ],
    ),
    (
        "We're planning a trip to {a} in the spring.",
        "Where are we planning a trip to in the spring?",
        ["Patagonia", "Kyoto", "Iceland", "Morocco", "Tasmania", "Sicily"],
    ),
    (
        "I'm allergic to {a}, so I have to be careful.",
        "What am I allergic to?",
        ["peanuts", "shellfish", "penicillin", "bee stings", "sesame", "kiwi fruit"],
    ),
]
# The same facts asked without their statements' words (keyed by the lexical question).
PARAPHRASES = {
    "What is the name of my dog?": "What name did I give my pet pooch?",
    "What is my sister's name?": "Which sibling of mine lives with me now?",
    "What job did I start last month?": "What profession did I recently take on?",
    "Which town did I grow up in?": "Where did I spend my childhood?",
    "What is my favourite food?": "Which dish do I enjoy eating most?",
    "What colour is the car I bought?": "What shade is the vehicle I purchased?",
    "Which instrument am I learning to play?": "What instrument am I practising?",
    "What is the novel I'm reading called?": "Which book am I currently in the middle of?",
    "Where are we planning a trip to in the spring?": (
        "Where are we heading on holiday once the weather warms?"
    ),
    "What am I allergic to?": "Which substance must I avoid because my body reacts badly?",
}
USER_FILLER = [
    "Hey, how are you doing today?",
    "It rained all morning here.",
    "I watched a documentary last night, pretty good.",
    "Work was busy but fine.",
    "I should really go to bed earlier.",
    "Do you like thunderstorms?",
    "I cooked something new yesterday and it turned out okay.",
    "The weekend went by too fast.",
    "I'm feeling a bit tired, honestly.",
    "Any tips for staying focused?",
    "I went for a long walk this afternoon.",
    "My neighbour was playing loud music again.",
    "I might repaint the kitchen at some point.",
    "Coffee or tea, what would you pick?",
    "I tried a new podcast during my commute.",
]
AGENT_FILLER = [
    "That sounds like quite a day!",
    "I'm glad you told me about it.",
    "Tell me more, I'm curious.",
    "That makes a lot of sense.",
    "Ha, I know exactly what you mean.",
    "Hopefully tomorrow is calmer.",
    "Good to know, thanks for sharing.",
    "I'd love to hear how that goes.",
]


@dataclass
class Turn:
    role: str  # "user" or "assistant"
    text: str
    time: datetime
    id: str = field(default_factory=lambda: new_id("message"))


@dataclass
class Question:
    text: str
    answer: str
    evidence: list[str]  # ids of the turns (or passages' documents) that hold the answer
    kind: str = "lexical"  # or "paraphrase": see the module's docstring


@dataclass
class Conversation:
    id: str
    sessions: list[list[Turn]]
    questions: list[Question]  # lexical, one per planted fact
    paraphrases: list[Question] = field(default_factory=list)  # the same facts, reworded

    @property
    def turns(self) -> list[Turn]:
        return [t for s in self.sessions for t in s]


def conversation(seed: int, sessions: int = 5, turns: int = 10, facts: int = 5) -> Conversation:
    """`sessions` sessions of `turns` user turns (each answered), days apart, with `facts`
    facts planted at random user turns; one question per fact, and one paraphrase."""
    rng = random.Random(seed)
    planted = rng.sample(range(len(FACTS)), min(facts, len(FACTS)))
    slots = rng.sample(range(sessions * turns), len(planted))
    where = dict(zip(slots, planted, strict=True))
    day = datetime(2023, 1, 2, 18, tzinfo=UTC) + timedelta(days=rng.randrange(365))
    history: list[list[Turn]] = []
    questions, paraphrases = [], []
    for s in range(sessions):
        clock = day + timedelta(days=7 * s)
        session = []
        for t in range(turns):
            clock += timedelta(minutes=rng.randrange(1, 5))
            if (fact := where.get(s * turns + t)) is not None:
                statement, question, answers = FACTS[fact]
                answer = rng.choice(answers)
                turn = Turn("user", statement.format(a=answer), clock)
                questions.append(Question(question, answer, [turn.id]))
                paraphrases.append(
                    Question(PARAPHRASES[question], answer, [turn.id], kind="paraphrase")
                )
            else:
                turn = Turn("user", rng.choice(USER_FILLER), clock)
            session.append(turn)
            session.append(
                Turn("assistant", rng.choice(AGENT_FILLER), clock + timedelta(seconds=20))
            )
        history.append(session)
    return Conversation(f"synthetic-{seed}", history, questions, paraphrases)


# --- documents ---

_SYLLABLES = [
    "ka",
    "lo",
    "ve",
    "mir",
    "tan",
    "sor",
    "qui",
    "bel",
    "dra",
    "nor",
    "ush",
    "fen",
    "gal",
    "rho",
    "zet",
    "wim",
]
_REGIONS = [
    "the northern highlands",
    "a coastal valley",
    "the eastern plains",
    "an island chain",
    "a desert plateau",
    "the river delta",
]
_FOUNDERS = [
    "Ada Lindqvist",
    "Tomas Okafor",
    "Mei Hartmann",
    "Rafael Quint",
    "Ines Varga",
    "Oren Castell",
    "Lucia Brandt",
    "Kofi Mensah",
]
_EXPORTS = [
    "saffron",
    "copper wire",
    "woollen cloth",
    "salted fish",
    "porcelain",
    "cedar timber",
    "glass beads",
    "olive oil",
]


@dataclass
class Document:
    id: str
    name: str
    text: str
    facts: dict[str, str]  # attribute -> planted answer


DOC_QUESTIONS = {
    "founded": "In which year was {name} founded?",
    "founder": "Who founded {name}?",
    "export": "What is the main export of {name}?",
}
# The town's name is the only thing that tells one of many articles from another, so
# a paraphrase keeps it and rewords the rest: it tests the relation, not the lookup.
DOC_PARAPHRASES = {
    "founded": "When was {name} established?",
    "founder": "Which person started {name}?",
    "export": "What goods does {name} chiefly sell to other places?",
}


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        if name not in taken:
            taken.add(name)
            return name


def documents(seed: int, count: int) -> list[Document]:
    """`count` short articles about invented towns, each planting a year, a founder and an
    export. Names are unique; every other fact repeats across towns, as in real corpora."""
    rng = random.Random(seed)
    taken: set[str] = set()
    docs = []
    for i in range(count):
        name = _name(rng, taken)
        facts = {
            "founded": str(rng.randrange(1200, 1950)),
            "founder": rng.choice(_FOUNDERS),
            "export": rng.choice(_EXPORTS),
        }
        text = (
            f"{name} is a small town in {rng.choice(_REGIONS)}. "
            f"It was founded in {facts['founded']} by {facts['founder']}, who built the first mill "
            f"on its river. Today about {rng.randrange(2, 90)} thousand people live in {name}. "
            f"The town's main export is {facts['export']}, shipped mostly by rail. "
            f"Visitors come for its market square and its {rng.randrange(2, 12)} old bridges."
        )
        docs.append(Document(f"doc-{i:05d}", name, text, facts))
    return docs


def doc_questions(
    docs: list[Document], count: int, kind: str = "lexical"
) -> list[tuple[Document, Question]]:
    """`count` questions (of `kind`, lexical or paraphrase) cycling over the first documents
    and their attributes, so the same questions are asked whatever the corpus size (as
    long as it holds those documents)."""
    templates = DOC_PARAPHRASES if kind == "paraphrase" else DOC_QUESTIONS
    attributes = list(templates)
    out = []
    for i in range(count):
        doc = docs[(i // len(attributes)) % len(docs)]
        attribute = attributes[i % len(attributes)]
        question = Question(
            templates[attribute].format(name=doc.name), doc.facts[attribute], [doc.id], kind
        )
        out.append((doc, question))
    return out
