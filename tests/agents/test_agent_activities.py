"""The agent activities in a real worker, with the real anthropic client and a scripted model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import UNREAD_SCORE, Runner, git, request
from tests.support import edit_file, rule, shell, write

REVIEW_FORMAT = re.compile(
    r"\A# Review: (?P<title>.+)\n\n## SCORE: (?P<score>[01]\.\d\d)\n(?P<bands>Score bands: .+\n)"
    r"(?P<derived>Derived: .+\n)?\n"
    r"## Summary \(for orchestrator\)\n(?P<summary>(- .+\n)+)\n"
    r"### Key Issues\n(?P<issues>(- .+\n)+)\n"
    r"### Questions for Human\n(?P<questions>(.+\n)+)\n"
    r"### Recommended Fixer\n(?P<fixer>.+)\n\n---\n\n## Full Review\n\n(?P<full>.+)",
    re.DOTALL,
)


async def test_reviewer_reads_focus_files_and_writes_a_seed_format_review(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "design-requirements"},
                    "submit": {
                        "score": 0.7,
                        "summary": ["Covers R1", "Error cases missing"],
                        "issues": [
                            {
                                "severity": "high",
                                "description": "no error cases",
                                "location": "design-docs/active/demo/overview.md:3",
                                "quote": "A tiny feature.",
                                "failure": "an empty request: nothing says what is answered",
                            }
                        ],
                        "questions": [
                            {"id": "Q1", "text": "Persist links?", "options": ["File", "Memory"]}
                        ],
                        "recommended_fixer": "design-writer",
                        "notes": "## Detail\nNothing says what happens on bad input.",
                    },
                }
            ]
        }
    )
    overview = "design-docs/active/demo/overview.md"
    result = await runner.run(
        "agent.review",
        request(
            repo,
            "design-requirements",
            focus_paths=[overview],
            review_path="design-docs/active/demo/design-reviews/overview_2026_design-requirements.md",
            title="demo overview",
        ),
    )

    assert result["score"] == 0.7
    assert result["recommended_fixer"] == "design-writer"
    assert result["questions"][0]["id"] == "Q1"
    assert result["usage"]["requests"] == 2 and result["usage"]["cost_usd"] > 0
    # The reviewer really read the focus file through its tool...
    first, second = standin.requests
    assert first.action == "read_file" and second.action == "submit_review"
    assert "A tiny feature." in second.tool_results[0]["content"]
    # ...could not write, and was told nothing about earlier rounds.
    assert "write_file" not in first.tools and "submit_review" in first.tools
    # The stand-in knows the call from the request's metadata; the prompt carries no header.
    assert (first.role, first.scope, first.round, first.kind) == (
        "design-requirements",
        "demo",
        1,
        "review",
    )
    assert "[orchestrator]" not in first.prompt and "role=" not in first.prompt
    assert "score" not in first.prompt.lower()
    # The stable prefix is cached: turn 2 reads what turn 1 wrote.
    assert first.usage["cache_creation_input_tokens"] > 0
    assert second.usage["cache_read_input_tokens"] >= first.usage["cache_creation_input_tokens"]

    text = (repo / result["review_path"]).read_text()
    parsed = REVIEW_FORMAT.match(text)
    assert parsed, text
    assert parsed["title"] == "demo overview" and parsed["score"] == "0.70"
    assert parsed["summary"] == "- Covers R1\n- Error cases missing\n"
    assert parsed["issues"] == "- [high] no error cases (design-docs/active/demo/overview.md:3)\n"
    assert parsed["questions"] == "Q1: Persist links? | Options: A) File, B) Memory\n"
    assert parsed["fixer"] == "design-writer"
    assert not parsed["derived"]  # 0.82 is in the high band: kept as given
    # Below the line each finding once, in full; the reviewer's notes can forge no score line.
    assert parsed["full"].startswith("### 1. [high] no error cases\n")
    assert "- Fails when: an empty request" in parsed["full"]
    assert "    A tiny feature." in parsed["full"]
    assert "> ## Detail" in parsed["full"] and "\n## Detail" not in parsed["full"]


async def test_builder_writes_files_and_the_activity_commits_them(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    steps = [
        write("src/mul.py", "def mul(a, b):\n    return a * b\n"),
        edit_file("src/core.py", "a + b", "b + a"),
        shell("grep -c 'return a \\* b' src/mul.py"),
    ]
    done = {"summary": "Added mul", "files_changed": ["src/mul.py", "src/core.py"]}
    standin.reset({"rules": [rule("builder", steps, done)]})
    req = request(repo, "builder", scope="01-core", commit_message="01-core: build")
    result = await runner.run("agent.edit", req)

    assert standin.requests[3].tool_results[0]["content"] == "exit code: 0\n1\n"
    head = git(repo, "rev-parse", "HEAD")
    assert result["commit"] == head
    assert result["files_changed"] == ["src/core.py", "src/mul.py"]
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Orchestrator <orchestrator@localhost>"
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("01-core: build\n\nFiles: src/core.py, src/mul.py")
    # The transcript sits in the worktree but is never committed.
    assert (repo / req["transcript_path"]).is_file()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == (
        f"?? {req['transcript_path']}"
    )

    # Retrying a finished call (same request) returns the same commit without the model.
    calls = len(standin.requests)
    again = await runner.run("agent.edit", req)
    assert again["commit"] == head and len(standin.requests) == calls
    assert git(repo, "rev-parse", "HEAD") == head


async def test_an_editor_sees_issues_and_review_paths_but_never_scores(
    repo: Path, tmp_path: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # Reviews live in the main checkout while the fixer works in a worktree: the listed
    # review files are readable by their absolute path, their neighbours are not.
    worktree = repo / ".worktrees" / "01-core"
    git(repo, "worktree", "add", "-q", "-b", "feat/01-core", str(worktree))
    reviews = repo / "design-docs/active/demo/build-reviews/01-core"
    reviews.mkdir(parents=True)
    review = reviews / "r1_code-correctness.md"
    review.write_text("# Review: x\n\n## SCORE: 0.41\n\n## Summary\n- weak\n---\nDetails\n")
    (reviews / "r1_code-performance.md").write_text("## SCORE: 0.33\n")
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "fixer"},
                    "steps": [
                        {"tool": "read_file", "input": {"path": str(review)}},
                        {
                            "tool": "read_file",
                            "input": {"path": str(reviews / "r1_code-performance.md")},
                        },
                    ],
                }
            ]
        }
    )
    result = await runner.run(
        "agent.edit",
        request(
            worktree,
            "fixer",
            scope="01-core",
            round=2,
            commit=False,
            commit_message="unused",
            issues=[{"severity": "high", "description": "no error cases", "location": "core.py:3"}],
            review_paths=[str(review)],
        ),
    )
    assert result["commit"] is None
    first, second, third = standin.requests
    assert "[high] no error cases (core.py:3)" in first.prompt
    assert str(review) in first.prompt
    assert "0.41" not in first.prompt and "score" not in first.prompt.lower()
    seen = second.tool_results[0]["content"]
    assert "## SCORE: (hidden)" in seen and "0.41" not in seen and "Details" in seen
    refused = third.tool_results[0]
    assert refused["is_error"] and "absolute paths are not allowed" in refused["content"]


async def test_an_invalid_submission_is_returned_to_the_model_and_corrected(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "code-correctness"},
                    "steps": [],
                    "faults": [{"type": "invalid_submission"}],
                }
            ]
        }
    )
    result = await runner.run(
        "agent.review",
        request(repo, "code-correctness", review_path="reviews/r.md", title="t"),
    )
    assert result["score"] == UNREAD_SCORE
    first, second = standin.requests
    assert first.action == second.action == "submit_review"
    rejection = second.tool_results[0]
    assert rejection["is_error"]
    assert "submit_review rejected" in rejection["content"]
    assert "score: Input should be less than or equal to 1" in rejection["content"]


async def test_answers_drafts_and_change_analysis(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {
                    "match": {"kind": "answer"},
                    "submit": {
                        "answers": [
                            {
                                "id": " q1",  # the workflow's id is kept, not the model's
                                "answered": True,
                                "choice": "b",
                                "reasoning": "src/core.py:1",
                            },
                            {"id": "Q2", "answered": False, "reasoning": "preference"},
                        ]
                    },
                },
                {
                    "match": {"kind": "change"},
                    "submit": {
                        "touched": [
                            {"subtask": "01-core", "reason": "API grows", "files": ["src/core.py"]}
                        ],
                        "scope": "Medium",
                        "summary": "One subtask changes.",
                    },
                },
            ]
        }
    )
    questions = [
        {"id": "Q1", "text": "Sync or async?", "options": ["async", "sync"]},
        {"id": "Q2", "text": "Colour?", "options": ["red", "blue"]},
    ]
    answers = await runner.run(
        "agent.answer_questions", request(repo, "question-answerer", questions=questions)
    )
    assert [(a["id"], a["answered"], a["choice"]) for a in answers["answers"]] == [
        ("Q1", True, "B"),
        ("Q2", False, None),
    ]
    assert "- Q2: Colour? | Options: A) red, B) blue" in standin.requests[0].prompt

    draft = {
        "id": "01-core",
        "title": "Core",
        "summary": "The core adder.",
        "dependencies": [],
        "files": ["src/core.py"],
        "commands": ["pytest -q"],
        "subplan": "subplans/01-core.md",
    }
    xml_path = "design-docs/active/demo/subtasks/01-core.xml"
    drafted = await runner.run(
        "agent.draft_subtask",
        request(
            repo,
            "subtask-drafter",
            scope="01-core",
            subplan_path="design-docs/active/demo/subplans/01-core.md",
            xml_path=xml_path,
            draft=draft,
        ),
    )
    assert drafted["xml_path"] == xml_path and drafted["note"] == ""
    from activities.plan.subtask_xml import read_subtask

    spec = read_subtask(repo / xml_path)
    assert (spec.id, spec.title, spec.files, spec.commands) == (
        "01-core",
        "Core",
        ["src/core.py"],
        ["pytest -q"],
    )

    # Without a draft, the activity seeds one from the subplan's declared metadata.
    await runner.run(
        "agent.draft_subtask",
        request(
            repo,
            "subtask-drafter",
            scope="01-core",
            round=2,
            subplan_path="design-docs/active/demo/subplans/01-core.md",
            xml_path=xml_path,
        ),
    )
    assert "<draft>" in standin.requests[-1].prompt
    assert read_subtask(repo / xml_path).files == ["src/core.py"]

    change = await runner.run(
        "agent.analyze_change",
        request(
            repo,
            "change-analyst",
            scope="change-1",
            description="add mul",
            design_dir="design-docs/active/demo",
            subtasks=["01-core"],
        ),
    )
    assert change["scope"] == "Medium"
    assert change["touched"][0]["subtask"] == "01-core"


@pytest.mark.parametrize("role", ["no-such-role"])
async def test_an_unknown_role_fails_at_once_naming_the_known_ones(
    repo: Path, standin: MessagesStandIn, runner: Runner, role: str
) -> None:
    from temporalio.client import WorkflowFailureError

    with pytest.raises(WorkflowFailureError) as info:
        await runner.run("agent.review", request(repo, role, review_path="r.md", title="t"))
    cause = info.value.cause.cause
    assert cause.type == "UnknownRole" and cause.non_retryable
    assert (
        "design-requirements" in cause.message
        and ".orchestrator/agents/no-such-role.md" in cause.message
    )
    assert standin.requests == []


async def test_a_model_that_stops_without_submitting_is_asked_to_submit(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {"match": {"role": "code-performance"}, "steps": [{"text": "Looks fine to me."}]}
            ]
        }
    )
    result = await runner.run(
        "agent.review", request(repo, "code-performance", review_path="r.md", title="t")
    )
    assert result["score"] == UNREAD_SCORE
    stopped, nudged = standin.requests
    assert stopped.action == "text" and nudged.action == "submit_review"
    assert "without calling submit_review" in nudged.last_text
