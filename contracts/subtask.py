"""The subtask contract: what a builder is asked to do, as stored in `subtasks/NN-name.xml`."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from contracts.plan import slug_problem

# Characters XML 1.0 cannot carry; dropped so every spec can be written and read back.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(value: str) -> str:
    """Strip surrounding whitespace and characters XML cannot hold."""
    return _XML_INVALID.sub("", value).strip()


class SubtaskSpec(BaseModel):
    """One buildable subtask. Text is normalised (stripped, no empty items) so that
    writing a spec to XML and reading it back yields an equal spec."""

    id: str = Field(description="slug; equals the subplan's file stem and the XML file stem")
    title: str
    summary: str = ""
    scope_in: list[str] = Field(default_factory=list)
    scope_out: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    implementation_steps: list[str] = Field(default_factory=list)
    tests_to_add: list[str] = Field(default_factory=list)
    commands: list[str] = Field(
        default_factory=list, description="shell commands run as gates, e.g. `pytest -q tests/x.py`"
    )
    acceptance_criteria: list[str] = Field(default_factory=list)
    safety_notes: list[str] = Field(default_factory=list)
    estimated_hours: float | None = None
    complexity: str | None = None
    subplan: str = Field(default="", description="source subplan, relative to the design dir")

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        problem = slug_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("title", "summary", "subplan")
    @classmethod
    def _clean_str(cls, value: str) -> str:
        return clean_text(value)

    @field_validator("complexity")
    @classmethod
    def _clean_optional(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return clean_text(value) or None

    @field_validator(
        "scope_in",
        "scope_out",
        "dependencies",
        "files",
        "implementation_steps",
        "tests_to_add",
        "commands",
        "acceptance_criteria",
        "safety_notes",
    )
    @classmethod
    def _clean_list(cls, values: list[str]) -> list[str]:
        return [c for c in (clean_text(v) for v in values) if c]
