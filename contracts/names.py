"""Names a person gives (features, subtasks, roles) and the characters hidden in them.

A name becomes part of branch names (`feat/<subtask>`, `integration/<feature>`),
workflow ids (`build-<feature>-<subtask>`) and file names with suffixes around it
(`<scope>_<timestamp>_<reviewer>.md`, `c<cycle>-<scope>-<role>-r<round>.json`, and
the `.<name>.XXXXXXXX.tmp` of an atomic write). A file name holds 255 bytes, so the
bounds below leave room for the longest of those suffixes; a name past them would be
accepted by `plan` and then fail with "File name too long" hours into a loop.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 100  # a feature or subtask name, in characters (slugs are ASCII: bytes too)
MAX_ROLE_NAME = 64  # a role's name (reviewers name their review files and transcripts)

_FEATURE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Characters people paste by accident, and the ASCII one each is mistaken for.
LOOKS_LIKE = {
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u00a0": " ",
    "\u2024": ".",
    "\u00b7": ".",
    "\u2019": "'",
    # Cyrillic letters drawn like Latin ones
    "\u0430": "a",
    "\u0435": "e",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0445": "x",
    "\u0443": "y",
    "\u0456": "i",
    "\u0455": "s",
    "\u0410": "A",
    "\u0412": "B",
    "\u0415": "E",
    "\u041a": "K",
    "\u041c": "M",
    "\u041d": "H",
    "\u041e": "O",
    "\u0420": "P",
    "\u0421": "C",
    "\u0422": "T",
    "\u0425": "X",
}


def character(ch: str) -> str:
    """`U+2010 HYPHEN`: how to name a character a person cannot see or tell apart."""
    name = unicodedata.name(ch, "") or f"a {unicodedata.category(ch)} character"
    if ch == "\ufeff":
        name += " (a byte-order mark)"
    return f"U+{ord(ch):04X} {name}"


def odd_characters(text: str) -> str:
    """Why `text` is not what it looks like: each non-ASCII character by code point, and
    the ASCII character it imitates or that it is invisible; '' for plain ASCII."""
    said = []
    for ch in dict.fromkeys(c for c in text if not c.isascii()):
        twin = LOOKS_LIKE.get(ch) or unicodedata.normalize("NFKD", ch)
        if unicodedata.category(ch) in ("Cf", "Cc"):
            said.append(f"{character(ch)}, which is invisible")
        elif twin.isascii() and twin:
            said.append(f"{character(ch)} where {twin!r} (U+{ord(twin[0]):04X}) looks the same")
        else:
            said.append(character(ch))
    return "; ".join(said)


def with_odd_characters(problem: str, text: str) -> str:
    """`problem`, followed by what hides in `text`, when something does."""
    odd = odd_characters(text)
    return f"{problem} (it holds {odd})" if odd else problem


def ascii_twin(text: str) -> str:
    """`text` with each look-alike replaced by its ASCII twin and invisible characters dropped."""
    out = []
    for ch in text:
        twin = LOOKS_LIKE.get(ch) or unicodedata.normalize("NFKD", ch)
        if ch.isascii():
            out.append(ch)
        elif unicodedata.category(ch) not in ("Cf", "Cc"):
            out.append("".join(c for c in twin if c.isascii()))
    return "".join(out)


def length_problem(kind: str, name: str, limit: int = MAX_NAME) -> str | None:
    """Why `name` is too long to become part of a file name with the orchestrator's suffixes."""
    if len(name.encode("utf-8")) <= limit:
        return None
    return (
        f"{kind} {name[:40]!r}... is {len(name)} characters, more than {limit}: it becomes part "
        "of branch, worktree, review and transcript file names, which the file system caps "
        "at 255 bytes with the orchestrator's suffixes"
    )


def feature_name_problem(name: str) -> str | None:
    """Why the design directory's name cannot be a feature name, or None.

    It names the workflows (`design-<feature>`), the integration branch
    (`integration/<feature>`) and the tracker's section (`## <feature>`), so git's
    and the tracker's rules apply: no spaces, '#', newlines or other characters git
    refuses in a branch name.
    """
    if not _FEATURE.match(name) or ".." in name or name.endswith((".", ".lock")):
        return with_odd_characters(
            f"the feature name {name!r} (the design directory's name) is not a plain name: it "
            "becomes the branch integration/<feature>, the workflow ids and the tracker's "
            "section, so only letters, digits, '.', '_' and '-' (starting with a letter or "
            "digit, no '..', not ending in '.' or '.lock')",
            name,
        )
    return length_problem("the feature name", name)


def suggest_name(name: str) -> str:
    """A plain name close to `name`, for fix messages."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_twin(name))
    text = re.sub(r"\.{2,}", ".", re.sub(r"-{2,}", "-", text)).strip("-._")
    return (text.removesuffix(".lock") or "my-feature")[:MAX_NAME]
