"""The Web UI's Summary and Details of a loop, set when it starts (they stay after it ends).

Without them the Web UI said "No summary available": a person looking at a list
of workflow ids could not tell which repository or feature each one was for.
"""

from __future__ import annotations

import os
from pathlib import Path

SHORT = {
    "design": "design review to approval, then XML subtasks and the plan",
    "build": "every subtask to a pull request, then integration",
    "release": "the gates !critic, !security, !verify, each sent by a person; then SHIPPED",
}
WHAT = {
    "design": "design review: reviewers score each subplan, a writer revises, a person answers "
    "questions and approves; then XML subtasks and the plan",
    "build": "build: every subtask in its own worktree and branch, built, reviewed and fixed "
    "until it clears the bar, one pull request each; then integration",
    "release": "release: on the integration branch, critics, a security review and a "
    "verification, each opened by a person (!critic, !security, !verify); SHIPPED or NOT_SHIPPED",
}


def repository_name(design_dir: str) -> str:
    """The checkout holding the design directory, or the directory itself outside one."""
    from activities.config import repository_of

    root = repository_of(Path(design_dir).expanduser().resolve())
    return str(root) if root is not None else os.path.abspath(design_dir)


def loop_metadata(kind: str, design_dir: str) -> dict[str, str]:
    """`static_summary` and `static_details` for `client.start_workflow`."""
    feature = Path(design_dir).resolve().name
    repo = repository_name(design_dir)
    return {
        "static_summary": f"{kind} {feature} in {Path(repo).name}: {SHORT[kind]}",
        "static_details": "\n".join(
            [
                f"**{kind} loop of {feature}**",
                f"- repository: `{repo}`",
                f"- design directory: `{os.path.abspath(design_dir)}`",
                f"- what it does: {WHAT[kind]}",
                f"- follow it: `orchestrator status {os.path.abspath(design_dir)}`",
            ]
        ),
    }
