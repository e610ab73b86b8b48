"""Reuse keywords: the words a pattern is found by, and how well it matches a subtask.

Deterministic: the same title, summary and files always give the same words, and the
same library the same ranking (keywords in common, then the older pattern first).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

MAX_KEYWORDS = 12
_WORD = re.compile(r"[a-z][a-z0-9]+")
# Words every subtask has (and file-path noise): they would match everything.
STOPWORDS = frozenset(
    """
    a an the and or of for to in on at by with from into onto over under as is are be
    it its this that these those each every all any one two three new add adds added
    implement implements implemented implementation make makes use uses using via per
    not no yes can should must will may has have had was were do does done so than then
    there their them they we you your our out up down off only also more most less
    subtask subtasks task tasks file files code test tests testing src lib py md txt
    json toml yaml yml init main index readme docs doc example examples tmp misc util
    utils helper helpers module modules package packages spec step steps work part
    """.split()
)


def words(*texts: str) -> list[str]:
    """Lowercase words (camelCase and snake_case split), stopwords and short ones left out."""
    out: list[str] = []
    for text in texts:
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
        for word in _WORD.findall(spaced.lower()):
            if len(word) >= 3 and word not in STOPWORDS:
                out.append(word)
    return out


def keywords(title: str, summary: str, paths: Iterable[str]) -> list[str]:
    """A pattern's reuse keywords: title words first, then the most frequent others."""
    found = words(title, summary, *paths)
    counts = Counter(found)
    first = {w: i for i, w in reversed(list(enumerate(found)))}
    titled = set(words(title))
    ranked = sorted(counts, key=lambda w: (w not in titled, -counts[w], first[w]))
    return ranked[:MAX_KEYWORDS]


def score(pattern_keywords: Iterable[str], subtask_words: set[str]) -> list[str]:
    """The pattern's keywords the subtask has too (their number is the score)."""
    return sorted({k for k in pattern_keywords if k in subtask_words})
