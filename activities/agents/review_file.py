"""Render a review in the seed's file format.

Everything the orchestrator reads (title, score, summary, issues, questions,
recommended fixer) sits above the `---` line; the full review for the fixer
sits below it, so `sed -n '1,/^---$/p'` and `grep '^## SCORE:'` keep working.
The reviewer's words are text (`agent_text`): above the line each field is one
line that cannot start a heading, so the only `## SCORE:` line and the first
`---` are the orchestrator's; below it no line of the full review can be one.
"""

from __future__ import annotations

import string
from pathlib import Path

from activities.agent_text import block, cell, inline
from activities.agents.outputs import ReviewSubmission
from activities.files import atomic_write_text


def render_review(title: str, review: ReviewSubmission) -> str:
    lines = [f"# Review: {inline(title)}", "", f"## SCORE: {review.score:.2f}", ""]
    lines += ["## Summary (for orchestrator)"]
    lines += [f"- {inline(b)}" for b in review.summary]
    lines += ["", "### Key Issues"]
    if review.issues:
        for issue in review.issues:
            where = f" ({inline(issue.location)})" if issue.location else ""
            lines.append(f"- [{issue.severity.value}] {inline(issue.description)}{where}")
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
    lines += ["", "---", "", "## Full Review", "", block(review.full_review), ""]
    return "\n".join(lines)


def write_review(path: Path, title: str, review: ReviewSubmission) -> None:
    """Atomic: a cancelled or crashed run never leaves half a review file."""
    atomic_write_text(path, render_review(title, review))
