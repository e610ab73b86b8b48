"""What each kind of agent submits through its `submit_<kind>` tool.

These models are the tools' JSON schemas: the model's answer is validated
structured data, never prose scraped for a score.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model, model_validator

from contracts.agents import Fixer, HumanQuestion, QuestionAnswer, Severity
from contracts.subtask import SubtaskSpec

OutputKind = Literal["review", "edit", "answer", "draft", "change"]
KINDS: tuple[OutputKind, ...] = ("review", "edit", "answer", "draft", "change")


class Finding(BaseModel):
    """One problem, verified: where it is, the line itself, and how it fails."""

    severity: Severity = Field(
        description="critical, high, medium or low as the rubric defines them; low never blocks"
    )
    location: str = Field(description="path:line of the file you read, e.g. src/app.py:42")
    quote: str = Field(
        description="the line(s) at location copied exactly, without read_file's line number"
    )
    failure: str = Field(
        description="a concrete case where it goes wrong: an input and what happens"
    )
    description: str = Field(description="what is wrong and what would fix it, 1-3 sentences")


class ReviewSubmission(BaseModel):
    """A reviewer's verdict: issues first, the score last (it follows from them)."""

    summary: list[str] = Field(
        min_length=1,
        max_length=5,
        description="1-3 short bullets on the overall state; do not repeat the issues",
    )
    issues: list[Finding] = Field(
        default_factory=list, description="each problem once, most severe first"
    )
    questions: list[HumanQuestion] = Field(
        default_factory=list, description="only what a person must decide; multiple choice"
    )
    recommended_fixer: Fixer | None = Field(
        default=None,
        description="builder: missing implementation; fixer: bugs and failing tests; "
        "performance-fixer: performance; design-writer: design documents",
    )
    notes: str = Field(
        default="",
        description="optional: what you checked that the issues do not say; never the issues again",
    )
    score: float = Field(
        ge=0.0, le=1.0, description="0..1 in the band of your worst verified open issue"
    )

    @model_validator(mode="after")
    def _unique_question_ids(self) -> ReviewSubmission:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError(f"question ids must be unique, got {ids}")
        return self


class EditSubmission(BaseModel):
    """What a writer, builder or fixer says it did; the activity checks git for the truth."""

    summary: str = Field(min_length=1, description="2-5 sentences on what changed and why")
    files_changed: list[str] = Field(default_factory=list, description="paths relative to workdir")


def integrator_submission(subtasks: list[str]) -> type[EditSubmission]:
    """An integrator's edit, plus the subtask a failure is attributed to: one of the build's
    subtasks (the schema lists them; the workflow checks again) or none."""
    names = Literal[tuple(subtasks)]  # type: ignore[valid-type]
    return create_model(
        "IntegratorSubmission",
        __base__=EditSubmission,
        culprit=(  # type: ignore[arg-type]
            names | None,
            Field(
                default=None,
                description="the subtask whose own work causes a failure, when you can tell",
            ),
        ),
        culprit_reason=(str, Field(default="", description="why that subtask, in 1-3 sentences")),
    )


def builder_submission(offered: list[str]) -> type[EditSubmission]:
    """A builder's edit, plus which of the offered reference patterns it drew on (the
    schema lists only those ids)."""
    ids = Literal[tuple(offered)]  # type: ignore[valid-type]
    return create_model(
        "BuilderSubmission",
        __base__=EditSubmission,
        patterns_used=(
            list[ids],  # type: ignore[valid-type]
            Field(
                default_factory=list,
                description="ids of the reference patterns (PATTERN-NNN) you drew on; empty "
                "if none helped",
            ),
        ),
    )


class AnswerSubmission(BaseModel):
    answers: list[QuestionAnswer]


# What the plan already says about a subtask: set by code from the subplan, never asked of
# (or taken from) the drafter; a model that restated them wrongly broke approved designs.
DRAFT_PINNED = ("id", "title", "dependencies", "files", "subplan")


def _draft_fields() -> dict[str, Any]:
    """SubtaskSpec's fields minus the pinned ones: a field added to the spec is asked for."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in SubtaskSpec.model_fields.items()
        if name not in DRAFT_PINNED
    }
    fields["summary"] = (
        str,
        Field(min_length=1, description="what the subtask delivers, 1-3 sentences"),
    )
    return fields


DraftSubmission = create_model(
    "DraftSubmission",
    __doc__="The subtask's content. Its id, title, dependencies and files come from the plan "
    "and are set by the orchestrator: do not restate them.",
    **_draft_fields(),
)
