"""Seeded long multi-session conversations with questions of five kinds, for
`memgpt bench retrieval`: harder than `synthetic.conversation` in the ways real
histories are hard.

- lexical / paraphrase: a fact stated once, asked with its own words or with none
  of them (the planted facts and paraphrases of `memgpt.bench.synthetic`);
- update: a fact that changes over the sessions ("I work as a locksmith", later "I
  quit that job, I'm a zookeeper now"); the question asks for the current value, so
  only the last statement is evidence and the older ones are distractors;
- multi_hop: two turns joined by a name ("My best friend is called Tomas", later
  "Tomas works as a piano tuner"); "What does my best friend do for a living?" needs
  both, and both are evidence;
- temporal: "When did I run the half marathon?" is answered by the date of the turn
  where it happened (the answer is that day); turns that only plan or recall the
  event are distractors;
- exact: "What is QV-2231?" names a code said once; small talk holds other codes,
  which look alike to an embedding, so only the exact term finds the turn.

Fillers are drawn from templates with a few hundred variants, and many are small
talk about the same subjects as the questions ("Took the dog to the park again")
without the answer, as real histories are. The same seed always
gives the same conversation.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from memgpt.bench.synthetic import AGENT_FILLER, FACTS, PARAPHRASES, USER_FILLER, Question, Turn

KINDS = ("lexical", "paraphrase", "update", "multi_hop", "temporal", "exact")

# (first statement, later statements, question, values): every statement after the
# first says the value changed; the question asks for the value now.
UPDATES: list[tuple[str, list[str], str, list[str]]] = [
    (
        "I work as a {a} at the moment.",
        ["I quit my old job, I'm a {a} now.", "New role this week: I'm working as a {a}."],
        "What is my job now?",
        ["locksmith", "zookeeper", "tax auditor", "piano tuner", "glassblower", "pharmacist"],
    ),
    (
        "I live in {a}, it's a nice place.",
        ["We moved house, home is {a} now.", "Big news, we've relocated to {a}."],
        "Where do I live now?",
        ["Hobart", "Galway", "Tromso", "Valparaiso", "Nelson", "Lisbon"],
    ),
    (
        "I drive a {a} these days.",
        ["I sold my old car and bought a {a}.", "Traded the car in, I've got a {a} now."],
        "What car do I drive now?",
        ["Volvo estate", "Fiat Panda", "Subaru Outback", "Tesla Model 3", "Mini Cooper"],
    ),
    (
        "My hobby right now is {a}.",
        [
            "I've given up my old hobby, it's {a} for me now.",
            "These days I spend my free time on {a}.",
        ],
        "What is my hobby these days?",
        ["rock climbing", "pottery", "birdwatching", "woodworking", "salsa dancing", "fencing"],
    ),
    (
        "I'm seeing someone called {a}.",
        ["We broke up, I'm dating {a} now.", "I've started going out with {a}."],
        "Who am I dating now?",
        ["Jonas", "Priya", "Marco", "Elif", "Sven", "Amara"],
    ),
]
# (bridge statement, statement about the bridge, question, values of the second).
# The bridge is a person's or pet's name; the question names only the relation.
MULTI_HOP: list[tuple[str, str, str, list[str]]] = [
    (
        "My best friend is called {x}.",
        "{x} works as a {y}.",
        "What does my best friend do for a living?",
        ["piano tuner", "marine biologist", "firefighter", "architect", "midwife"],
    ),
    (
        "My brother's name is {x}.",
        "{x} lives in {y} with his family.",
        "Which city does my brother live in?",
        ["Montreal", "Osaka", "Bergen", "Porto", "Adelaide"],
    ),
    (
        "My manager at the office is {x}.",
        "{x} is allergic to {y}, which makes team lunches tricky.",
        "What is my manager allergic to?",
        ["peanuts", "shellfish", "gluten", "sesame", "strawberries"],
    ),
    (
        "We named our new kitten {x}.",
        "{x} will only eat {y}, the little diva.",
        "What food does our kitten eat?",
        ["tuna flakes", "chicken liver", "salmon pate", "turkey mince", "sardines"],
    ),
    (
        "My neighbour {x} waved at me today.",
        "{x} collects {y}, the whole garage is full.",
        "What does my neighbour collect?",
        ["vintage radios", "vinyl records", "model trains", "old typewriters", "seashells"],
    ),
]
BRIDGE_NAMES = [
    "Tomas",
    "Ines",
    "Kofi",
    "Mei",
    "Rafael",
    "Lucia",
    "Oren",
    "Ada",
    "Hugo",
    "Freya",
    "Dmitri",
    "Noor",
]
# (the turn where it happened, turns that plan or recall it, question).
TEMPORAL: list[tuple[str, list[str], str]] = [
    (
        "I ran the half marathon today, finished in under two hours!",
        [
            "I'm nervous about the half marathon coming up.",
            "My legs still ache from that marathon.",
        ],
        "When did I run the half marathon?",
    ),
    (
        "Got my wisdom teeth out this morning, ouch.",
        [
            "The dentist says my wisdom teeth have to come out.",
            "My jaw still hurts from the teeth.",
        ],
        "When did I get my wisdom teeth out?",
    ),
    (
        "I passed my driving test today!",
        ["My driving test is booked, wish me luck.", "Driving alone still feels strange."],
        "When did I pass my driving test?",
    ),
    (
        "We finally visited the aquarium today, the sharks were huge.",
        ["We should visit the aquarium some time.", "I keep thinking about those aquarium sharks."],
        "When did we visit the aquarium?",
    ),
    (
        "I gave my big presentation to the board today.",
        [
            "I'm preparing a presentation for the board.",
            "The board liked my presentation, I heard.",
        ],
        "When did I give my presentation to the board?",
    ),
]
# (statement of a code, question naming it).
EXACT: list[tuple[str, str]] = [
    ("My parcel's tracking number is {c}, it should come on Friday.", "What did I say about {c}?"),
    ("The booking reference for the ferry is {c}.", "What is {c}?"),
    ("My new library card number is {c}.", "What is {c} for?"),
    ("The error code on the washing machine says {c}.", "Where did I see {c}?"),
    ("Our wifi password is {c} now.", "What is {c}?"),
]
_CODED = [
    "Order {c} was delivered, finally.",
    "Invoice {c} is paid.",
    "Seat {c} on the train again.",
]
_OPENERS = ["", "Honestly, ", "So, ", "Anyway, ", "Funny thing: ", "Not much new, but "]
_EVENTS = [
    "I watched a documentary about {t}",
    "I read an article about {t}",
    "I listened to a podcast on {t}",
    "a colleague at work told me about {t}",
    "my friend kept talking about {t}",
    "I spent the evening reading up on {t}",
]
_TOPICS = [
    "volcanoes",
    "ancient Rome",
    "deep sea fish",
    "jazz history",
    "space telescopes",
    "medieval castles",
    "bird migration",
    "chess openings",
    "urban gardening",
    "old maps",
    "sourdough baking",
    "glaciers",
]
_WHEN = ["last night", "this morning", "over the weekend", "on the train", "during lunch"]
# Small talk about the planted facts' subjects that never states one: most of what a
# person says about their dog does not name it. These crowd both rankers' top ranks.
_NEAR = [
    "Took the dog to the park again, it was muddy.",
    "The dog chewed one of my slippers.",
    "My sister called me about the weekend.",
    "The new job keeps me really busy.",
    "I miss the harbour sometimes.",
    "I'm hungry, thinking about what to cook for dinner.",
    "The car needs new tyres before winter.",
    "Practice went badly today, my fingers hurt.",
    "I read a few chapters before bed.",
    "We still need to book the flights for our trip.",
    "I had a bad reaction to something at a restaurant once.",
    "My commute to work was awful this morning.",
    "The neighbourhood where I live is quiet at night.",
    "Traffic was terrible on the drive home.",
    "I spent Saturday on my hobby again.",
    "Date night went well, we laughed a lot.",
    "My best friend and I went bowling.",
    "My brother asked me for advice about his house.",
    "Had a long meeting with my manager about deadlines.",
    "The kitten knocked a plant off the shelf.",
    "My neighbour's garden looks amazing this year.",
    "I've been running a lot to get fitter.",
    "I need to book a check-up at the dentist.",
    "I'm thinking of taking a few driving lessons.",
    "Work has been stressful since the board meeting.",
]
_REPLIES = [
    "Oh, {t}? That sounds fascinating.",
    "I've always wondered about {t}.",
    "What did you find most surprising about {t}?",
]


@dataclass
class History:
    id: str
    turns: list[Turn]
    questions: list[Question]


def _code(rng: random.Random) -> str:
    return f"{''.join(rng.choices(string.ascii_uppercase, k=2))}-{rng.randrange(1000, 10000)}"


def _filler(rng: random.Random) -> tuple[str, str]:
    """A user's small talk and the agent's answer."""
    draw = rng.random()
    if draw < 0.1:
        return rng.choice(_CODED).format(c=_code(rng)), rng.choice(AGENT_FILLER)
    if draw < 0.4:
        return rng.choice(_NEAR), rng.choice(AGENT_FILLER)
    if draw < 0.6:
        return rng.choice(USER_FILLER), rng.choice(AGENT_FILLER)
    topic = rng.choice(_TOPICS)
    event = rng.choice(_EVENTS).format(t=topic)
    opener = rng.choice(_OPENERS)
    said = f"{opener}{event} {rng.choice(_WHEN)}."
    return said[0].upper() + said[1:], rng.choice(_REPLIES).format(t=topic)


def history(
    seed: int,
    sessions: int = 10,
    turns: int = 20,
    facts: int = 5,
    updates: int = 3,
    hops: int = 3,
    events: int = 3,
    codes: int = 3,
) -> History:
    """`sessions` sessions of `turns` user turns (each answered), days apart; `facts`
    stated facts (asked lexically and paraphrased), `updates` changing facts, `hops`
    two-turn facts, `events` dated events and `codes` codes planted at random user
    turns."""
    rng = random.Random(seed)
    said: dict[int, tuple[str, list[Question]]] = {}  # user turn -> (text, questions it answers)
    questions: list[Question] = []
    free = list(range(sessions * turns))
    rng.shuffle(free)

    def slots(n: int) -> list[int]:
        if len(free) < n:
            raise SystemExit(
                "The conversation is too short for its planted facts; give it more "
                "--sessions or --turns, or fewer questions."
            )
        return sorted(free.pop() for _ in range(n))

    for fact in rng.sample(range(len(FACTS)), min(facts, len(FACTS))):
        statement, question, answers = FACTS[fact]
        answer = rng.choice(answers)
        lexical = Question(question, answer, [])
        paraphrase = Question(PARAPHRASES[question], answer, [], kind="paraphrase")
        (slot,) = slots(1)
        said[slot] = (statement.format(a=answer), [lexical, paraphrase])
        questions += [lexical, paraphrase]
    for first, later, question, values in rng.sample(UPDATES, min(updates, len(UPDATES))):
        changes = rng.randint(1, len(later))
        chosen = rng.sample(values, changes + 1)
        asked = Question(question, chosen[-1], [], kind="update")
        where = slots(changes + 1)
        statements = [first] + [rng.choice(later) for _ in range(changes)]
        for i, (slot, statement, value) in enumerate(zip(where, statements, chosen, strict=True)):
            said[slot] = (statement.format(a=value), [asked] if i == changes else [])
        questions.append(asked)
    names = rng.sample(BRIDGE_NAMES, min(hops, len(MULTI_HOP)))
    for name, (bridge, about, question, values) in zip(
        names, rng.sample(MULTI_HOP, min(hops, len(MULTI_HOP))), strict=True
    ):
        answer = rng.choice(values)
        asked = Question(question, answer, [], kind="multi_hop")
        one, two = slots(2)
        said[one] = (bridge.format(x=name), [asked])
        said[two] = (about.format(x=name, y=answer), [asked])
        questions.append(asked)
    for happened, around, question in rng.sample(TEMPORAL, min(events, len(TEMPORAL))):
        asked = Question(question, "", [], kind="temporal")
        before, at, after = slots(3)
        said[before] = (around[0], [])
        said[at] = (happened, [asked])
        said[after] = (around[1], [])
        questions.append(asked)
    for statement, question in rng.sample(EXACT, min(codes, len(EXACT))):
        code = _code(rng)
        asked = Question(question.format(c=code), code, [], kind="exact")
        (slot,) = slots(1)
        said[slot] = (statement.format(c=code), [asked])
        questions.append(asked)

    out: list[Turn] = []
    day = datetime(2023, 1, 2, 18, tzinfo=UTC) + timedelta(days=rng.randrange(365))
    for s in range(sessions):
        clock = day + timedelta(days=3 * s + rng.randrange(3))
        for t in range(turns):
            clock += timedelta(minutes=rng.randrange(1, 5))
            text, labelled = said.get(s * turns + t, (None, []))
            if text is None:
                text, reply = _filler(rng)
            else:
                reply = rng.choice(AGENT_FILLER)
            turn = Turn("user", text, clock)
            for q in labelled:
                q.evidence.append(turn.id)
                if q.kind == "temporal":
                    q.answer = clock.date().isoformat()
            out += [turn, Turn("assistant", reply, clock + timedelta(seconds=20))]
    return History(f"history-{seed}", out, questions)
