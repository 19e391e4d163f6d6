"""A seeded bAbI-style world simulator: the stories (facts, question, answer) behind every task.

No bAbI files are read. The vocabulary and world rules follow the released bAbI v1.2 data (Weston et al. 2015,
tasks qa1-qa5) and the fact templates of the RMT 1M-token paper (Bulatov et al. 2023, arXiv 2304.11062):

- an actor always has a true location; moving goes to a *different* location and carries what the actor holds;
- picking up needs the object on the floor at the actor's location; putting down or giving needs the actor to hold
  it; giving needs the receiver at the giver's location;
- the reader (and so the question) only knows what the facts state: an actor's location from their last movement
  fact, an object's location from its holder's known location or from where it was put down. Questions are only
  asked when that knowledge answers them.

Every story function takes a `numpy.random.Generator` and is deterministic given its state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


ACTORS = ("Mary", "John", "Daniel", "Sandra")
QA5_ACTORS = ("Bill", "Fred", "Jeff", "Mary")
LOCATIONS = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
OBJECTS = ("apple", "football", "milk")
DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
MOVE_VERBS = ("moved to", "went to", "went back to", "journeyed to", "travelled to")
GET_VERBS = ("got", "grabbed", "picked up", "took")
DROP_VERBS = ("dropped", "put down", "discarded", "left")
GIVE_VERBS = ("gave", "handed", "passed")

# Noise sentences that look like task facts would contradict the story, so the noise pool drops them.
_DISTRACTOR = re.compile(
    r"\b(?:{names})\b.*\b(?:{things})\b|\b(?:{dirs}) of the\b".format(
        names="|".join(sorted(set(ACTORS + QA5_ACTORS))),
        things="|".join(LOCATIONS + OBJECTS),
        dirs="|".join(DIRECTIONS),
    ),
    re.IGNORECASE,
)

# bAbI asks a question after at least this many new statements, then with probability 1/2 (Lua `WhereIsObject`).
_MIN_STATEMENTS_BEFORE_QUESTION = 3
_MAX_STATEMENTS = 400


@dataclass(frozen=True)
class Story:
    """One question over a sequence of facts.

    Args:
        facts (`tuple[str, ...]`): Fact sentences in story order, each ending with ".".
        question (`str`): The question, ending with "?".
        answer (`str`): The one-word answer (a location, a name or an object).
        supporting (`tuple[int, ...]`): Indices into `facts` of the facts that establish the answer.
    """

    facts: tuple[str, ...]
    question: str
    answer: str
    supporting: tuple[int, ...]


def looks_like_fact(sentence: str) -> bool:
    """Whether a noise sentence could be read as a task fact (an actor's name next to a place or object word, or a
    "<direction> of the" relation); such sentences are kept out of the noise."""
    return _DISTRACTOR.search(sentence) is not None


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _move_fact(rng: np.random.Generator, actor: str, location: str) -> str:
    return f"{actor} {_pick(rng, MOVE_VERBS)} the {location}."


def memorize_story(rng: np.random.Generator) -> Story:
    """The RMT 1M-token paper's single fact: "<name> <verb> to the <place>." and "Where is <name>?"."""
    actor, location = _pick(rng, ACTORS), _pick(rng, LOCATIONS)
    return Story((_move_fact(rng, actor, location),), f"Where is {actor}?", location, (0,))


def two_arg_relations_story(rng: np.random.Generator) -> Story:
    """bAbI qa4 (two-argument relations), the 1M paper's Reasoning task.

    Two facts "The <a> is <dir> of the <b>." share one location; the question is "What is <dir> of the <b>?" or
    "What is the <a> <dir> of?", possibly needing the inverse of a stated direction, and always has one answer.
    """
    while True:
        first, shared, third = (LOCATIONS[i] for i in rng.choice(len(LOCATIONS), size=3, replace=False))
        facts, relations = [], set()
        for other in (first, third):
            direction = _pick(rng, DIRECTIONS)
            a, b = (other, shared) if rng.random() < 0.5 else (shared, other)
            facts.append(f"The {a} is {direction} of the {b}.")
            relations |= {(a, direction, b), (b, OPPOSITE[direction], a)}
        a, direction, b = sorted(relations)[int(rng.integers(len(relations)))]
        if rng.random() < 0.5:  # "What is <dir> of the <b>?" -> a
            if sum(1 for r in relations if r[1:] == (direction, b)) == 1:
                question, answer = f"What is {direction} of the {b}?", a
                break
        elif sum(1 for r in relations if r[:2] == (a, direction)) == 1:  # "What is the <a> <dir> of?" -> b
            question, answer = f"What is the {a} {direction} of?", b
            break
    supporting = tuple(i for i, fact in enumerate(facts) if a in fact and b in fact)
    return Story(tuple(facts), question, answer, supporting)


class _World:
    """True world state plus the reader's knowledge, updated fact by fact."""

    def __init__(self, rng: np.random.Generator, actors: tuple[str, ...]):
        self.rng, self.actors = rng, actors
        self.location = {a: _pick(rng, LOCATIONS) for a in actors}  # true
        self.holder: dict[str, str | None] = dict.fromkeys(OBJECTS)
        self.floor = {o: _pick(rng, LOCATIONS) for o in OBJECTS}  # true location while not held
        self.known_actor: dict[str, tuple[str, int] | None] = dict.fromkeys(actors)  # (location, fact index)
        self.known_floor: dict[str, tuple[str | None, tuple[int, ...]]] = {o: (None, ()) for o in OBJECTS}
        self.picked_at: dict[str, int] = {}
        self.history: dict[str, list[tuple[str | None, tuple[int, ...]]]] = {o: [] for o in OBJECTS}
        self.gives: list[tuple[str, str, str, int]] = []  # (giver, object, receiver, fact index)
        self.facts: list[str] = []

    def known_object(self, obj: str) -> tuple[str | None, tuple[int, ...]]:
        """The object's location as the facts tell it, and the facts that tell it."""
        holder = self.holder[obj]
        if holder is None:
            return self.known_floor[obj]
        known = self.known_actor[holder]
        return (None, ()) if known is None else (known[0], (self.picked_at[obj], known[1]))

    def step(self, kinds: tuple[str, ...]) -> None:
        """Add one random valid fact of a kind drawn uniformly from `kinds` (redrawn while none is valid)."""
        while True:
            kind = _pick(self.rng, kinds)
            if kind == "move":
                actor = _pick(self.rng, self.actors)
                self._move(actor, _pick(self.rng, [x for x in LOCATIONS if x != self.location[actor]]))
                break
            if kind == "get":
                options = [(a, o) for a in self.actors for o in OBJECTS if self.holder[o] is None]
                options = [(a, o) for a, o in options if self.floor[o] == self.location[a]]
            elif kind == "drop":
                options = [(self.holder[o], o) for o in OBJECTS if self.holder[o] is not None]
            else:  # give
                options = [
                    (self.holder[o], o, b)
                    for o in OBJECTS
                    if self.holder[o] is not None
                    for b in self.actors
                    if b != self.holder[o] and self.location[b] == self.location[self.holder[o]]
                ]
            if options:
                getattr(self, f"_{kind}")(*_pick(self.rng, options))
                break
        for obj in OBJECTS:
            location, support = self.known_object(obj)
            if not self.history[obj] or self.history[obj][-1][0] != location:
                self.history[obj].append((location, support))

    def _there(self) -> str:
        return " there" if self.rng.random() < 0.5 else ""

    def _move(self, actor: str, location: str) -> None:
        self.location[actor] = location
        self.known_actor[actor] = (location, len(self.facts))
        self.facts.append(_move_fact(self.rng, actor, location))

    def _get(self, actor: str, obj: str) -> None:
        self.holder[obj], self.picked_at[obj] = actor, len(self.facts)
        self.facts.append(f"{actor} {_pick(self.rng, GET_VERBS)} the {obj}{self._there()}.")

    def _drop(self, actor: str, obj: str) -> None:
        self.holder[obj], self.floor[obj] = None, self.location[actor]
        known = self.known_actor[actor]
        self.known_floor[obj] = (None, ()) if known is None else (known[0], (len(self.facts), known[1]))
        self.facts.append(f"{actor} {_pick(self.rng, DROP_VERBS)} the {obj}{self._there()}.")

    def _give(self, giver: str, obj: str, receiver: str) -> None:
        self.holder[obj], self.picked_at[obj] = receiver, len(self.facts)
        self.gives.append((giver, obj, receiver, len(self.facts)))
        self.facts.append(f"{giver} {_pick(self.rng, GIVE_VERBS)} the {obj} to {receiver}.")


def _run_until_question(rng: np.random.Generator, actors, kinds, ask) -> Story:
    """Run a world until its k-th question (k uniform in 1..5, as BABILong takes one of a bAbI story's 5 questions).

    `ask(world)` returns a `(question, answer, supporting)` triple when the reader can answer a question now, else
    `None`. Questions before the k-th only set the pace and are not part of the sample.
    """
    n_questions = int(rng.integers(1, 6))
    while True:
        world, since_last = _World(rng, actors), 0
        while len(world.facts) < _MAX_STATEMENTS:
            world.step(kinds)
            since_last += 1
            if since_last < _MIN_STATEMENTS_BEFORE_QUESTION or rng.random() < 0.5:
                continue
            qa = ask(world)
            if qa is None:
                continue
            n_questions -= 1
            since_last = 0
            if n_questions == 0:
                return Story(tuple(world.facts), *qa)


def qa1_story(rng: np.random.Generator) -> Story:
    """bAbI qa1 (single supporting fact): movements only, then "Where is <actor>?".

    As in bAbI, a question follows every two movements; the story stops at its k-th question (k uniform in 1..5), so
    a sample has 2 to 10 facts.
    """
    world = _World(rng, ACTORS)
    for _ in range(2 * int(rng.integers(1, 6))):
        world.step(("move",))
    known = [a for a in ACTORS if world.known_actor[a] is not None]
    actor = _pick(rng, known)
    location, index = world.known_actor[actor]
    return Story(tuple(world.facts), f"Where is {actor}?", location, (index,))


def _ask_where_is(world: _World):
    options = [o for o in OBJECTS if world.known_object(o)[0] is not None]
    if not options:
        return None
    obj = _pick(world.rng, options)
    location, support = world.known_object(obj)
    return f"Where is the {obj}?", location, tuple(sorted(set(support)))


def qa2_story(rng: np.random.Generator) -> Story:
    """bAbI qa2 (two supporting facts): movements, pick-ups and put-downs, then "Where is the <object>?"."""
    return _run_until_question(rng, ACTORS, ("move", "get", "drop"), _ask_where_is)


def _ask_where_was(world: _World):
    options = [o for o in OBJECTS if len(h := world.history[o]) >= 2 and h[-1][0] is not None and h[-2][0] is not None]
    if not options:
        return None
    obj = _pick(world.rng, options)
    (before, support_before), (now, support_now) = world.history[obj][-2:]
    return f"Where was the {obj} before the {now}?", before, tuple(sorted(set(support_before + support_now)))


def qa3_story(rng: np.random.Generator) -> Story:
    """bAbI qa3 (three supporting facts): same world as qa2, then "Where was the <object> before the <place>?".

    `<place>` is the object's current known location and the answer is the known location right before it (bAbI's
    reading: the previous entry of the object's location history).
    """
    return _run_until_question(rng, ACTORS, ("move", "get", "drop"), _ask_where_was)


def _ask_about_give(world: _World):
    if not world.gives:
        return None
    giver, obj, receiver, index = world.gives[-1]
    question, answer = [
        (f"What did {giver} give to {receiver}?", obj),
        (f"Who gave the {obj} to {receiver}?", giver),
        (f"Who did {giver} give the {obj} to?", receiver),
        (f"Who received the {obj}?", receiver),
        (f"Who gave the {obj}?", giver),
    ][int(world.rng.integers(5))]
    return question, answer, (index,)


def qa5_story(rng: np.random.Generator) -> Story:
    """bAbI qa5 (three-argument relations): qa2's world plus "<giver> gave the <object> to <receiver>.".

    The question asks about the latest give (what, who gave, who received); the answer is a name or an object.
    """
    return _run_until_question(rng, QA5_ACTORS, ("move", "get", "drop", "give"), _ask_about_give)
