"""Render a review in the seed's file format.

Everything the orchestrator reads (title, score, summary, issues, questions,
recommended fixer) sits above the `---` line; the full review for the fixer
sits below it, so `sed -n '1,/^---$/p'` and `grep '^## SCORE:'` keep working.
The reviewer's words are text (`agent_text`): above the line each field is one
line that cannot start a heading, so the only `## SCORE:` line and the first
`---` are the orchestrator's. The score is the derived one (rubric.py), with the
bands it was derived by; below the line each finding appears once in full
(location, quote, failure case), quoted lines indented and notes block-quoted.
"""

from __future__ import annotations

import string
from pathlib import Path

from activities.agent_text import cell, inline
from activities.agents.outputs import ReviewSubmission
from activities.agents.rubric import Verdict
from activities.files import atomic_write_text
from contracts.agents import ReviewIssue


def render_review(title: str, review: ReviewSubmission, verdict: Verdict) -> str:
    lines = [f"# Review: {inline(title)}", "", f"## SCORE: {verdict.score:.2f}", *_bands(verdict)]
    lines += [""]
    lines += ["## Summary (for orchestrator)"]
    lines += [f"- {inline(b)}" for b in review.summary]
    lines += ["", "### Key Issues"]
    if verdict.issues:
        for issue in verdict.issues:
            where = f" ({inline(issue.location)})" if issue.location else ""
            lines.append(
                f"- [{issue.severity.value}] {inline(issue.description)}{where}{_mark(issue)}"
            )
    else:
        lines.append("- None")
    lines += ["", "### Questions for Human"]
    if review.questions:
        for q in review.questions:
            options = ", ".join(
                f"{letter}) {cell(text)}"
                for letter, text in zip(string.ascii_uppercase, q.options, strict=False)
            )
            lines.append(f"{inline(q.id)}: {cell(q.text)} | Options: {options}")
    else:
        lines.append("None")
    lines += ["", "### Recommended Fixer"]
    lines.append(review.recommended_fixer.value if review.recommended_fixer else "none")
    lines += ["", "---", "", "## Full Review", "", *_findings(verdict, review.notes), ""]
    return "\n".join(lines)


def write_review(path: Path, title: str, review: ReviewSubmission, verdict: Verdict) -> None:
    """Atomic: a cancelled or crashed run never leaves half a review file."""
    atomic_write_text(path, render_review(title, review, verdict))


def _bands(verdict: Verdict) -> list[str]:
    """The bands the score was derived by (and why it moved, if it did)."""
    shown = " · ".join(f"{b.low:.2f}-{b.high:.2f} {b.meaning}" for b in verdict.bands)
    lines = [f"Score bands: {shown}."]
    if verdict.note:
        lines.append(f"Derived: {verdict.note}.")
    return lines


def _mark(issue: ReviewIssue) -> str:
    return "" if issue.verified else " — unverified: the quote is not in that file; not counted"


def _findings(verdict: Verdict, notes: str) -> list[str]:
    """Each finding once, in full, for the fixer."""
    lines: list[str] = []
    for n, issue in enumerate(verdict.issues, start=1):
        lines += [f"### {n}. [{issue.severity.value}] {inline(issue.description)}", ""]
        lines.append(f"- Location: {inline(issue.location or '') or 'not given'}{_mark(issue)}")
        if issue.failure.strip():
            lines.append(f"- Fails when: {inline(issue.failure)}")
        if issue.quote.strip():
            lines += ["- Quote:", "", *_indented(issue.quote)]
        lines.append("")
    if notes.strip():
        lines += ["### Notes", "", *(f"> {line}".rstrip() for line in notes.strip().splitlines())]
    return lines or ["No issues.", ""]


def _indented(text: str) -> list[str]:
    """Quoted file lines as an indented code block: none can start a `## SCORE:` line."""
    return [f"    {line}".rstrip() for line in text.rstrip().splitlines()]
