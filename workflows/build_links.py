"""What the build's steps on its running children (`!reset`, `!replay`, `!fork`) share.

Each is composed by `BuildWorkflow` and bound to the same parts of it, so the build
gives them one `BuildLinks` instead of wiring each alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import BuildState
    from contracts.config import ProjectContext
    from workflows.build_children import BuildChildren
    from workflows.loop_control import LoopControl


@dataclass(frozen=True)
class BuildLinks:
    """The build's state and context (read through callables: continue-as-new and a
    restored state replace them), its children (cancelled and awaited, or joined by a
    fork's group), its control (notices, the activity step) and `changed` (wakes the
    scheduling loop)."""

    state: Callable[[], BuildState]
    ctx: Callable[[], ProjectContext]
    children: BuildChildren
    control: LoopControl
    changed: Callable[[], None]
