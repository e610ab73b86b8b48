"""Reviews of identical input are reused (resume, never redo); any change asks again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from activities.agents.transcript import fingerprint
from contracts.agents import ReviewRequest
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, git, request

OVERVIEW = "design-docs/active/demo/overview.md"
SUBPLAN = "design-docs/active/demo/subplans/01-core.md"
REVIEWS = "design-docs/active/demo/design-reviews"


def review(repo: Path, round: int, **fields: Any) -> dict:
    given = {
        "focus_paths": [SUBPLAN, OVERVIEW],
        "instructions": "Review the subplan 01-core against the overview.",
        "review_path": f"{REVIEWS}/01-core_2026-01-0{round}_design-requirements.md",
        "title": "demo 01-core",
        "reuse": True,
        **fields,
    }
    return request(repo, "design-requirements", scope="01-core", round=round, **given)


async def test_an_identical_review_is_reused_and_any_change_asks_the_model_again(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    first = await runner.run("agent.review", review(repo, 1))
    asked = len(standin.requests)
    assert asked >= 1 and first["usage"]["requests"] == asked
    assert (repo / first["review_path"]).is_file()

    # Same input in a later round (another transcript, another review path): no request.
    again = await runner.run("agent.review", review(repo, 2))
    assert len(standin.requests) == asked
    assert again["score"] == first["score"] and again["review_path"] == first["review_path"]
    assert again["issues"] == first["issues"] and again["round"] == 2
    assert again["usage"]["requests"] == 0 and again["usage"]["cost_usd"] == 0
    assert not (repo / review(repo, 2)["review_path"]).exists()

    # One byte of one focus file changes: a fresh review.
    subplan = repo / SUBPLAN
    subplan.write_bytes(subplan.read_bytes() + b"\n")
    fresh = await runner.run("agent.review", review(repo, 3))
    assert len(standin.requests) > asked
    assert fresh["review_path"] == review(repo, 3)["review_path"]
    assert fresh["usage"]["requests"] >= 1

    # The cache holds scores: nothing an agent may read, nothing `git add -A` picks up.
    entry = next((repo / ".orchestrator" / "reviews").glob("*.json"))
    git(repo, "add", "-A")
    assert ".orchestrator/reviews" not in git(repo, "diff", "--cached", "--name-only")
    rel = entry.relative_to(repo).as_posix()
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "fixer"},
                    "steps": [
                        {"tool": "read_file", "input": {"path": rel}},
                        {"tool": "list_files", "input": {"path": ".orchestrator"}},
                    ],
                }
            ]
        }
    )
    await runner.run("agent.edit", request(repo, "fixer", commit=False, commit_message="unused"))
    refused, listed = (r.tool_results[0] for r in standin.requests[1:3])
    assert refused["is_error"] and "reserved for the orchestrator" in refused["content"]
    assert "reviews" not in listed["content"]


async def test_other_instructions_a_deleted_review_file_or_no_reuse_ask_again(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    first = await runner.run("agent.review", review(repo, 1))
    count = len(standin.requests)

    await runner.run("agent.review", review(repo, 2, instructions="Check performance too."))
    assert len(standin.requests) > count
    count = len(standin.requests)

    (repo / first["review_path"]).unlink()
    again = await runner.run("agent.review", review(repo, 3))
    assert len(standin.requests) > count
    assert again["review_path"] == review(repo, 3)["review_path"]
    count = len(standin.requests)

    await runner.run("agent.review", review(repo, 4, reuse=False))
    assert len(standin.requests) > count


async def test_the_model_and_the_title_are_part_of_the_key(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    await runner.run("agent.review", review(repo, 1))
    count = len(standin.requests)
    await runner.run("agent.review", review(repo, 2, settings={"model": "sim-model-2"}))
    assert len(standin.requests) > count
    count = len(standin.requests)
    await runner.run("agent.review", review(repo, 3, title="demo 01-core (again)"))
    assert len(standin.requests) > count


def test_reuse_leaves_the_transcript_fingerprint_unchanged(repo: Path) -> None:
    """Transcripts written before `reuse` existed still resume."""
    req = ReviewRequest.model_validate(review(repo, 1))
    assert fingerprint(req) == fingerprint(req.model_copy(update={"reuse": False}))
