"""Calibrated reviews in a real build: low issues never hold a pull request, a verified
high issue gets a fix round, an unverified one does not count.

Real Temporal, real git, the real anthropic client against the Messages stand-in
playing the reviewer, and PyGithub against the GitHub stand-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from contracts.build import BuildResult
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model
from tests.workflows.builds import ONE_REVIEWER, build, tiny_project, writes_file_rule

READ_A = [{"tool": "read_file", "input": {"path": "src/a.txt"}}]


def finding(severity: str, quote: str, **more: Any) -> dict[str, Any]:
    return {
        "severity": severity,
        "location": "src/a.txt:1",
        "quote": quote,
        "failure": "reading an empty file: the subtask's output is lost",
        "description": f"a {severity} finding",
        **more,
    }


def reviewer(round_: int, score: float, issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "match": {"role": "code-correctness", "scope": "a", "round": round_},
        "steps": READ_A,
        "submit": {"score": score, "issues": issues, "recommended_fixer": "fixer"},
    }


async def reviewed_build(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
    rules: list[dict[str, Any]],
) -> tuple[BuildResult, Any, Path]:
    fixer = {
        "match": {"role": "fixer", "scope": "a"},
        "steps": [{"tool": "write_file", "input": {"path": "src/a.txt", "content": "fixed\n"}}],
        "submit": {"summary": "fixed", "files_changed": ["src/a.txt"]},
    }
    scenario = {"rules": [*rules, fixer, writes_file_rule("a")]}
    with scripted_model(scenario, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        result = await build(client, task_queue, repo.design_dir)
    return result, messages, repo.design_dir


async def test_a_reviewer_with_only_low_issues_never_holds_the_pull_request(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It scores 0.90 for two nits; the score follows from the worst verified issue, which
    is low, so it is 0.96 and the PR opens in round 1 without a fixer."""
    nits = [finding("low", "a", description="name it better"), finding("low", "a")]
    result, messages, design = await reviewed_build(
        client, task_queue, tmp_path, github, monkeypatch, [reviewer(1, 0.90, nits)]
    )
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    (a,) = result.subtasks
    assert a.rounds == 1 and a.scores == {"code-correctness": 0.96}
    assert not [r for r in messages.requests if r.role == "fixer"]
    (review,) = (design / "build-reviews" / "a").glob("*_code-correctness.md")
    text = review.read_text()
    assert "## SCORE: 0.96" in text and "Derived: the reviewer scored 0.90" in text
    assert "0.96-1.00 ready: no verified open issue above low" in text


async def test_a_verified_high_issue_gets_a_fix_round_and_the_fixer_only_blocking_issues(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It scores 0.90 but verifies a high issue (quoting src/a.txt as the builder wrote it):
    the score is derived into the high band, a fix round runs, and the fixer hears the high
    issue with its quote and failure case, not the low one."""
    issues = [finding("high", "a"), finding("low", "a", description="a nit about naming")]
    rules = [reviewer(1, 0.90, issues), reviewer(2, 0.97, [])]
    result, messages, _ = await reviewed_build(
        client, task_queue, tmp_path, github, monkeypatch, rules
    )
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    (a,) = result.subtasks
    assert a.rounds == 2
    reviews = [r for r in messages.requests if r.role == "code-correctness" and r.round == 1]
    assert reviews and "0.50-0.79" in reviews[0].system  # the bands are in the prompt
    (fixer_prompt,) = {r.prompt for r in messages.requests if r.role == "fixer"}
    assert "[high] a high finding (src/a.txt:1)" in fixer_prompt
    assert "Fails when: reading an empty file" in fixer_prompt
    assert "a nit about naming" not in fixer_prompt


async def test_an_unverified_finding_does_not_count(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A critical finding whose quote is not in the file it names (a reviewer that did not
    read what it cites) holds nothing: no fix round, and the review file says why."""
    invented = [finding("critical", "def missing_function():")]
    result, messages, design = await reviewed_build(
        client, task_queue, tmp_path, github, monkeypatch, [reviewer(1, 0.2, invented)]
    )
    (a,) = result.subtasks
    assert a.rounds == 1 and a.scores == {"code-correctness": 0.96}
    assert not [r for r in messages.requests if r.role == "fixer"]
    (review,) = (design / "build-reviews" / "a").glob("*_code-correctness.md")
    assert "unverified: the quote is not in that file; not counted" in review.read_text()
