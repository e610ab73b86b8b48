"""The pattern library (seed 004): what crosses the workflow boundary.

A pattern is a finished subtask's implementation kept for later builds:
`PATTERN-NNN` in `PATTERN_LIBRARY.md`, a row in `PATTERN_INDEX.md`, in one directory
shared across projects (`[patterns] path`). Only ids, paths and short summaries travel
through history; the excerpts stay in the files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

LIBRARY_FILE = "PATTERN_LIBRARY.md"
INDEX_FILE = "PATTERN_INDEX.md"
# Written beside a subtask's reviews: the patterns its builder was offered, as quoted.
OFFERED_FILE = "PATTERNS.md"


class PatternAddRequest(BaseModel):
    """Capture one finished subtask (the commit that passed its review) as a pattern."""

    library: str | None = Field(description="[patterns] path as configured; None: the default")
    repo_root: str
    design_dir: str = Field(description="absolute")
    feature: str
    subtask: str
    base_branch: str
    dependency_branches: list[str] = Field(default_factory=list)
    pr_url: str | None = None
    remote: str = "origin"


class PatternAddResult(BaseModel):
    id: str
    outcome: Literal["added", "updated", "unchanged"]
    library_path: str = Field(description="the PATTERN_LIBRARY.md written")
    title: str
    keywords: list[str] = Field(default_factory=list)


class PatternSummary(BaseModel):
    """One library entry as `!pattern-list` shows it."""

    id: str
    title: str
    domain: str
    stack: str
    keywords: list[str] = Field(default_factory=list)
    source: str = ""


class PatternListRequest(BaseModel):
    library: str | None = None


class PatternList(BaseModel):
    library_path: str
    patterns: list[PatternSummary] = Field(default_factory=list)


class PatternOfferRequest(BaseModel):
    """The best-matching patterns for a builder, by keywords against the subtask."""

    library: str | None = None
    subtask: str
    title: str
    summary: str = ""
    files: list[str] = Field(default_factory=list)
    limit: int = Field(default=3, ge=0)
    out_path: str = Field(description="where the quoted patterns are written (absolute)")


class PatternOffer(BaseModel):
    ids: list[str] = Field(default_factory=list, description="best first")
    path: str = Field(default="", description="the quoted patterns (empty: none offered)")
    scores: dict[str, int] = Field(default_factory=dict, description="id -> keywords in common")
    note: str = Field(default="", description="why none could be offered, when the library failed")
