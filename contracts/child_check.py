"""What the server says about a workflow already running under a child's id.

A build that starts a subtask and finds its id taken asks the server (an
activity: workflow code does no I/O) what holds it, and decides from the answer:
adopt a healthy child of this build, replace a stale one, or ask a person.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from contracts.build import SubtaskResult

# free: nothing runs under the id now; adopt: this build's child, alive; stale: this build's
# child, but nothing will ever run it; foreign: not started by this build.
ChildVerdict = Literal["free", "adopt", "stale", "foreign"]


class ChildProbe(BaseModel):
    workflow_id: str
    build_id: str = Field(description="the build asking: a child of any of its runs is its own")
    run_id: str = Field(default="", description="a run adopted earlier, followed to its end")


class ChildCheck(BaseModel):
    verdict: ChildVerdict
    run_id: str = ""
    task_queue: str = ""
    found: str = Field(default="", description="what holds the id, in words, for notes")
    closed: str = Field(default="", description="how the probed run ended (adopted runs)")
    result: SubtaskResult | None = Field(default=None, description="its result, if it completed")


class ChildEnd(BaseModel):
    workflow_id: str
    run_id: str
    reason: str


class BuildProbe(BaseModel):
    """A child asks whether its build is gone (workflows/build_child.py)."""

    build_id: str
    run_id: str = Field(description="the build run that started the child")
