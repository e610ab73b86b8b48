"""What the build, which knows the plan, sends a loop that follows its PR with `[forge]
merge = "auto"`: leave to merge, a dependency's merge, or why it will not merge by itself.

Declared once; `SubtaskWorkflow` and `IntegrationWorkflow` assign them in their class
body (`follow_messages()`), so the build tells either child with one reference
(`SubtaskWorkflow.may_merge`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.inputs import checked_signal
    from workflows.loop_control import LoopControl

if TYPE_CHECKING:
    from workflows.pr_follow import PullFollow


class FollowMessages:
    """Not a base class: the holder of the handlers, bound to a loop's `pull`."""

    control: LoopControl
    pull: PullFollow

    @checked_signal("may_merge")
    def may_merge(self) -> None:
        """Every dependency merged and it is this PR's turn: merge it once clean."""
        self.pull.allow_merge()

    @checked_signal("merge_declined", str)
    def merge_declined(self, why: str) -> None:
        """A dependency's PR ended unmerged: this one ends mergeable, for a person to merge."""
        self.pull.decline(why)

    @checked_signal("dependency_merged", str)
    def dependency_merged(self, dependency: str) -> None:
        """A dependency's PR merged: retarget this PR and bring it up to date."""
        self.pull.dependency_merged(dependency)


def follow_messages() -> tuple[Any, Any, Any]:
    """`may_merge, merge_declined, dependency_merged`."""
    m = FollowMessages
    return m.may_merge, m.merge_declined, m.dependency_merged
