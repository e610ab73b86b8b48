"""Gate hints (seed 004, "Natural Language Gate Hints"): does what a person said sound
like a gate?

`heard("looks good to me")` -> `Heard(intent="proceed", words="looks good")`. Pure and
deterministic, so a workflow may call it: no regular expressions, one pass over a
bounded text (`MAX_HEARD` characters), then a scan of its words against a short list
of phrases. It only recognises; what a loop suggests is `contracts.gate_hints`'s, and
nothing here (or there) ever advances a gate.

Conservative by design, since a hint that should not be there misleads: a sentence
that negates ("doesn't look good", "not ready to ship"), asks ("looks good?", "are we
ready to ship"), hedges ("almost ready", "if the tests pass") or turns ("looks good
but ...") suggests nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Intent = Literal["proceed", "build", "ship", "security"]

# What is read of a text: a hint is about a short remark, and the handler refuses more
# than MAX_SIGNAL_TEXT anyway; this keeps the scan small whatever arrives.
MAX_HEARD = 2_000

# (intent, phrase): the seed's phrases and reasonable variants, as lower-case words.
# More specific intents first: "looks good, let's build" is about building.
PHRASES: tuple[tuple[Intent, str], ...] = (
    ("security", "check security"),
    ("security", "check the security"),
    ("security", "security review"),
    ("security", "security check"),
    ("security", "security audit"),
    ("security", "audit security"),
    ("security", "review security"),
    ("ship", "ready to ship"),
    ("ship", "ready to release"),
    ("ship", "ready for release"),
    ("ship", "looks shippable"),
    ("ship", "shippable"),
    ("ship", "ship it"),
    ("ship", "let's ship"),
    ("ship", "let us ship"),
    ("ship", "we're done"),
    ("ship", "we are done"),
    ("ship", "release it"),
    ("build", "let's build"),
    ("build", "let us build"),
    ("build", "start building"),
    ("build", "start the build"),
    ("build", "go ahead and build"),
    ("build", "ready to build"),
    ("build", "build it"),
    ("proceed", "looks good"),
    ("proceed", "look good"),
    ("proceed", "looks great"),
    ("proceed", "looks fine"),
    ("proceed", "looks right"),
    ("proceed", "look right"),
    ("proceed", "happy with this"),
    ("proceed", "happy with it"),
    ("proceed", "happy with that"),
    ("proceed", "good to go"),
    ("proceed", "lgtm"),
    ("proceed", "let's proceed"),
    ("proceed", "ready to proceed"),
    ("proceed", "i approve"),
    ("proceed", "approve it"),
)

# Words that make a sentence say the opposite, or not yet.
NEGATIONS = frozenset(
    "not no never nothing nor hardly barely neither none cannot without".split()
    + "almost nearly yet if unless until once when before after maybe perhaps".split()
    + "might probably wish hope should would could later".split()
    # "n't" written without its apostrophe
    + "dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt".split()
    + "havent hasnt aint".split()
)
# A sentence that turns ("looks good, but ...") is not a go-ahead.
TURNS = frozenset("but however though although except apart".split())
# A sentence that starts with one of these asks ("is it ready to ship").
QUESTION_STARTS = frozenset(
    "is are was were am do does did can could should shall will would may might must "
    "has have had what why how when where which who whether".split()
)
# Words that only weigh the phrase: "looks really good" is "looks good".
FILLERS = frozenset("really very pretty quite so totally all just now fully".split())
_ENDS = ".!?;\n"
# Common spellings of the same words: "lets build" is "let's build".
_SPELLED = {"lets": "let's", "thats": "that's", "lookin": "looking", "im": "i'm"}
_APOSTROPHES = "'\u2019\u2018`"


@dataclass(frozen=True)
class Heard:
    intent: Intent
    words: str  # the phrase that matched, as the person wrote it


def _sentences(text: str) -> list[tuple[list[str], list[str], bool]]:
    """(normalised words, words as written, ends with `?`) per sentence; one pass."""
    out: list[tuple[list[str], list[str], bool]] = []
    norm: list[str] = []
    raw: list[str] = []
    word: list[str] = []

    def end_word() -> None:
        if word:
            written = "".join(word)
            raw.append(written)
            lower = written.lower().replace("\u2019", "'").replace("\u2018", "'").strip("'")
            norm.append(_SPELLED.get(lower, lower))
            word.clear()

    for ch in text:
        if ch.isalnum() or ch in _APOSTROPHES or (ch == "-" and word):
            word.append("'" if ch == "`" else ch)
            continue
        end_word()
        if ch in _ENDS:
            if norm:
                out.append((norm, raw, ch == "?"))
            norm, raw = [], []
    end_word()
    if norm:
        out.append((norm, raw, False))
    return out


def _negated(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def _phrases() -> list[tuple[Intent, tuple[str, ...]]]:
    return [(intent, tuple(p.split())) for intent, p in PHRASES]


_WORDS = _phrases()


def heard(text: str) -> Heard | None:
    """The gate a text sounds like, with the words that say so; None when none does."""
    found: list[tuple[int, int, Heard]] = []  # (rank of the phrase, position, heard)
    for norm, raw, asked in _sentences(text[:MAX_HEARD]):
        if asked or norm[0] in QUESTION_STARTS:
            continue
        if any(_negated(w) or w in TURNS for w in norm):
            continue
        kept = [i for i, w in enumerate(norm) if w not in FILLERS]
        words = [norm[i] for i in kept]
        for rank, (intent, phrase) in enumerate(_WORDS):
            at = _find(words, phrase)
            if at is not None:
                said = " ".join(raw[kept[at] : kept[at + len(phrase) - 1] + 1])
                found.append((rank, len(found), Heard(intent, said)))
    return min(found, key=lambda f: (f[0], f[1]))[2] if found else None


def _find(words: list[str], phrase: tuple[str, ...]) -> int | None:
    """Where `phrase` starts in `words` (whole words only); None if it does not occur."""
    n = len(phrase)
    first = phrase[0]
    for i, w in enumerate(words):
        if w == first and tuple(words[i : i + n]) == phrase:
            return i
    return None
