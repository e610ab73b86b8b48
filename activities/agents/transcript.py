"""The resumable record of one agent call, kept on disk beside the work.

Saved atomically after every completed turn. A retried attempt (the worker
died, the model was overloaded) loads it and continues from the last completed
turn; once the result is final, a retry returns it without calling the model.
The transcript never crosses the workflow boundary: only its path does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from activities import files
from activities.os_errors import raise_permanent
from contracts.agents import Usage

log = logging.getLogger(__name__)

VERSION = 1
# Agents never see transcripts and the edit activity never commits them: files named
# `*.transcript.json`, and anything under `.orchestrator/transcripts/`.
TRANSCRIPT_SUFFIX = ".transcript.json"
# Tool outputs too large for the conversation are kept beside the transcript (see
# context.Outputs), in `<name>.outputs/`: as hidden as the transcript, never committed.
OUTPUTS_SUFFIX = ".transcript.outputs"
TRANSCRIPT_DIR = (".orchestrator", "transcripts")
# Reused reviews (see review_cache.py) hold scores: hidden and never committed, like transcripts.
REVIEW_CACHE_DIR = (".orchestrator", "reviews")


def is_transcript(path: PurePath | str) -> bool:
    """A transcript or a cached review: orchestrator records no agent sees or commits."""
    parts = PurePath(path).parts
    if parts and parts[-1].endswith(TRANSCRIPT_SUFFIX):
        return True
    if any(part.endswith(OUTPUTS_SUFFIX) for part in parts):
        return True
    return any(
        parts[i : i + 2] in (TRANSCRIPT_DIR, REVIEW_CACHE_DIR) for i in range(len(parts) - 1)
    )


class Transcript(BaseModel):
    version: int = VERSION
    fingerprint: str = Field(description="hash of the call; another call at this path starts over")
    role: str
    scope: str
    round: int
    kind: str
    model: str
    messages: list[dict[str, Any]] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    turns: int = 0
    invalid_submissions: int = 0
    attempts: int = 0
    complete: bool = False
    result: dict[str, Any] | None = None
    files_touched: list[str] = Field(default_factory=list)
    commit: str | None = None  # set once the edit activity has committed
    # Context accounting (context.py): the API's tokens per character of the last request
    # it counted, and the window it reported when it refused one as too long.
    tokens_per_char: float | None = None
    context_window: int | None = None
    # Set when code, not the model, settled the result (the drafter's fallback): said again
    # by a retry that replays it.
    note: str | None = None


def fingerprint(call: BaseModel) -> str:
    """Identity of a call: everything the model is asked, not where the transcript lives."""
    # `reuse` changes whether the model is asked, not what: transcripts written before
    # the field existed keep their fingerprint and still resume.
    # The sandbox's settings change where commands run, not what the model is asked;
    # the token log, where its turns are counted.
    data = call.model_dump(
        mode="json",
        exclude={
            "transcript_path": True,
            "reuse": True,
            "remember": True,
            "token_log": True,
            "settings": {"sandbox"},
        },
    )
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def outputs_dir(path: Path) -> Path:
    """Where the call's large tool outputs are kept: beside its transcript, as hidden."""
    stem = path.name.removesuffix(TRANSCRIPT_SUFFIX).removesuffix(".json")
    return path.with_name(stem + OUTPUTS_SUFFIX)


def load(path: Path, expected_fingerprint: str) -> Transcript | None:
    """The saved transcript of this same call, or None to start fresh."""
    try:
        found = path.is_file()
    except OSError as err:  # a name too long, a path through a file: no retry passes
        raise_permanent(err, "reading the agent's transcript")
        raise
    if not found:
        return None
    try:
        transcript = Transcript.model_validate_json(files.read_bytes(path))
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        log.warning("ignoring unreadable transcript %s: %s", path, exc)
        return None
    if transcript.version != VERSION or transcript.fingerprint != expected_fingerprint:
        log.info("transcript %s belongs to another call; starting over", path)
        return None
    return transcript


def save(path: Path, transcript: Transcript) -> None:
    files.atomic_write_text(path, transcript.model_dump_json(indent=1))
