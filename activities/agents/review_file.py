"""Render a review in the seed's file format.

Everything the orchestrator reads (title, score, summary, issues, questions,
recommended fixer) sits above the `---` line; the full review for the fixer
sits below it, so `sed -n '1,/^---$/p'` and `grep '^## SCORE:'` keep working.
"""

from __future__ import annotations

import string
from pathlib import Path

from activities.agents.outputs import ReviewSubmission
from activities.files import atomic_write_text


def render_review(title: str, review: ReviewSubmission) -> str:
    lines = [f"# Review: {title}", "", f"## SCORE: {review.score:.2f}", ""]
    lines += ["## Summary (for orchestrator)"]
    lines += [f"- {_one_line(b)}" for b in review.summary]
    lines += ["", "### Key Issues"]
    if review.issues:
        for issue in review.issues:
            where = f" ({issue.location})" if issue.location else ""
            lines.append(f"- [{issue.severity.value}] {_one_line(issue.description)}{where}")
    else:
        lines.append("- None")
    lines += ["", "### Questions for Human"]
    if review.questions:
        for q in review.questions:
            options = ", ".join(
                f"{letter}) {_one_line(text)}"
                for letter, text in zip(string.ascii_uppercase, q.options, strict=False)
            )
            lines.append(f"{q.id}: {_one_line(q.text)} | Options: {options}")
    else:
        lines.append("None")
    lines += ["", "### Recommended Fixer"]
    lines.append(review.recommended_fixer.value if review.recommended_fixer else "none")
    lines += ["", "---", "", "## Full Review", "", review.full_review.strip(), ""]
    return "\n".join(lines)


def write_review(path: Path, title: str, review: ReviewSubmission) -> None:
    """Atomic: a cancelled or crashed run never leaves half a review file."""
    atomic_write_text(path, render_review(title, review))


def _one_line(text: str) -> str:
    return " ".join(text.split())
