"""Text from agents stays text wherever the orchestrator writes it.

A model's words land in review files, pull-request bodies, the tracker, reports
and their tables. There they must never become structure: no heading (a second
`## SCORE:` line), no `---` rule, no table row, no fence or HTML block that
swallows what the orchestrator writes after them, no `Orchestrator-Call:` trailer
line, and in a pull request no @-mention that pings people. What the orchestrator
or a person's script parses back out of those files is only what it wrote itself.

Pure functions (workflows render PR bodies with them): `inline` for agent text
inside one line, `cell` for a table cell, `block` for agent markdown on lines of
its own, and `pr_text` for a whole pull-request body.
"""

from __future__ import annotations

import re

# A trailer the orchestrator's commits carry and its idempotency reads back.
TRAILER = "Orchestrator-Call"

# Indentation, block quotes and list markers: what a line's own content follows.
_CONTAINER = re.compile(r"(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]))[ \t]?)*[ \t]*")
# Content that would make the line structure rather than text.
_STRUCTURE = re.compile(
    r"""(
        \#                                  # ATX heading (a forged `## SCORE:`)
      | [=\-_*](?:[ \t]*[=\-_*])*[ \t]*$    # setext underline or thematic break (`---`)
      | <                                   # HTML block (a comment that hides the rest)
      | `{3,} | ~{3,}                       # a fence the orchestrator did not open
      | \|? [ \t]* :?-+:? [ \t]* \|         # a table's delimiter row
      | """
    + TRAILER
    + r"""\s*:                              # the orchestrator's trailer
    )""",
    re.VERBOSE | re.IGNORECASE,
)
# Inside an agent's code block only what line-based readers match is defused.
_READ_BACK = re.compile(rf"[ \t]*(#+[ \t]*SCORE[ \t]*:|-{{3,}}[ \t]*$|{TRAILER}[ \t]*:)", re.I)
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)$")
# GitHub's user and team mentions: `@name` or `@org/team` after a non-word character.
_MENTION = re.compile(r"(?<![0-9A-Za-z_])@[A-Za-z0-9][\w-]*(?:/[A-Za-z0-9][\w-]*(?:\.[\w-]+)*)?")
_BACKTICKS = re.compile(r"`+")
# The mention's word is the path of a URL (`https://host/@name`): a link, not a mention.
_IN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.-]+(?::[0-9]+)?/\S*$")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def one_line(text: str) -> str:
    """Every run of whitespace (any line break, tab or Unicode separator) as one space."""
    return " ".join(text.split())


def inline(text: str) -> str:
    """Agent text inside one of the orchestrator's lines (a bullet, a heading's title,
    a question): one line, and a line it starts cannot become structure."""
    return _neutral(one_line(text))


def cell(text: str) -> str:
    """Agent text in a markdown table cell (never a line's start): one line, its pipes
    escaped, so it ends no cell and starts no row."""
    return one_line(text).replace("|", "\\|")


def block(text: str) -> str:
    """Agent markdown on lines of its own (a full review, a summary): paragraphs, lists,
    emphasis, code spans and code blocks stay; headings, rules, tables, HTML blocks and
    trailers become text, and a code block it leaves open is closed."""
    out: list[str] = []
    fence: tuple[str, int] | None = None
    for line in text.strip("\n").splitlines():
        if fence is not None:
            if _closes(line, fence):
                fence = None
                out.append(line)
            else:
                out.append(f"\\{line}" if _READ_BACK.match(line) else line)
            continue
        fence = _opens(line)
        out.append(line if fence is not None else _neutral(line))
    if fence is not None:
        out.append(fence[0] * fence[1])
    return "\n".join(out)


def pr_text(text: str) -> str:
    """A whole pull-request body as it goes to the forge: outside code, every @-mention
    wrapped in code (GitHub's own way not to ping: https://docs.github.com/en/get-started/
    writing-on-github/getting-started-with-writing-and-formatting-on-github/
    basic-writing-and-formatting-syntax#mentioning-people-and-teams), every backtick that
    opens no code span on its own line escaped (so no span reaches across lines and no
    cut or wrap can expose a mention), and `<` escaped (no HTML hides text). Code blocks
    (as `block` leaves them: closed) are left alone. Idempotent."""
    out: list[str] = []
    fence: tuple[str, int] | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if fence is not None:
            fence = None if _closes(line, fence) else fence
            out.append(line)
            continue
        fence = _opens(line)
        out.append(line if fence is not None else _unmentioned(line))
    return "\n".join(out)


def _neutral(line: str) -> str:
    """`line` with a backslash before what would make it structure (after its indentation,
    quote and list markers): a backslash before ASCII punctuation shows the character."""
    prefix = _CONTAINER.match(line)
    start = prefix.end() if prefix else 0
    if _STRUCTURE.match(line, start):
        return f"{line[:start]}\\{line[start:]}"
    return line


def _opens(line: str) -> tuple[str, int] | None:
    """A code fence the line opens at the top level (not inside a list or quote)."""
    m = _FENCE.match(line)
    if m is None or (m[2][0] == "`" and "`" in m[3]):
        return None
    return m[2][0], len(m[2])


def _closes(line: str, fence: tuple[str, int]) -> bool:
    m = _FENCE.match(line)
    return bool(m and m[2][0] == fence[0] and len(m[2]) >= fence[1] and not m[3].strip())


def _unmentioned(line: str) -> str:
    """One line outside code blocks: code spans kept, the rest made mention-free."""
    out: list[str] = []
    text: list[str] = []
    after_span = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] in _PUNCTUATION:
            # An escape: the character is text. GitHub mentions `\@name` all the same,
            # so that backslash goes and the mention is wrapped like any other.
            text.append("@" if line[i + 1] == "@" else line[i : i + 2])
            i += 2
            continue
        if ch == "`":
            run = _BACKTICKS.match(line, i)
            assert run is not None
            close = _closing_run(line, run.end(), len(run[0]))
            if close is None:
                text.append("\\`" * len(run[0]))  # opens nothing: literal backticks
                i = run.end()
                continue
            out.append(_plain("".join(text), after_span, line[i:close]))
            text, after_span = [], True
            i = close
            continue
        text.append("\\<" if ch == "<" else ch)
        i += 1
    out.append(_plain("".join(text), after_span, ""))
    return "".join(out)


def _closing_run(line: str, start: int, length: int) -> int | None:
    """The end of the next run of exactly `length` backticks (CommonMark's code span)."""
    for run in _BACKTICKS.finditer(line, start):
        if len(run[0]) == length:
            return run.end()
    return None


def _plain(text: str, after_span: bool, span: str) -> str:
    """Text outside code with its mentions wrapped, then the code span that follows it.

    A wrapped mention next to a backtick gets a space: its own backticks must not merge
    with a neighbour's into one run (that would pair differently)."""

    def wrap(m: re.Match[str]) -> str:
        start, end = m.start(), m.end()
        token = max(text.rfind(" ", 0, start), text.rfind("\t", 0, start), start - 2048) + 1
        if _IN_URL.search(text, token, start):
            return m[0]  # in a URL's path (GitHub links it: no mention)
        touches_before = text[start - 1 : start] == "`" or (start == 0 and after_span)
        touches_after = text[end : end + 1] == "`" or (end == len(text) and bool(span))
        return f"{' ' * touches_before}`{m[0]}`{' ' * touches_after}"

    return _MENTION.sub(wrap, text) + span
