"""The loops the CLI talks to, as their classes: signals, queries and updates are sent by
method reference (`handle.signal(BuildWorkflow.pause)`), so a renamed or retyped handler
breaks here, in the type checker and the tests, not in a person's terminal."""

from __future__ import annotations

from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow
from workflows.release import ReleaseWorkflow
from workflows.subtask import SubtaskWorkflow

LoopClass = type[DesignReviewWorkflow] | type[BuildWorkflow] | type[ReleaseWorkflow]
LOOP_CLASSES: dict[str, LoopClass] = {
    "design": DesignReviewWorkflow,
    "build": BuildWorkflow,
    "release": ReleaseWorkflow,
}

__all__ = [
    "LOOP_CLASSES",
    "BuildWorkflow",
    "DesignReviewWorkflow",
    "LoopClass",
    "ReleaseWorkflow",
    "SubtaskWorkflow",
]
