"""The subtask drafter: what the plan knows is set by code, and an approved design always builds.

A real worker runs the activity against the stand-in; the XML it writes is read
back with the build's own check (`load_checked_subtasks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from activities.plan.pipeline import load_checked_subtasks
from activities.plan.subtask_xml import read_subtask
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, request

DESIGN = "design-docs/active/demo"
XML = f"{DESIGN}/subtasks/01-core.xml"


def draft_req(repo: Path, **fields: Any) -> dict:
    return request(
        repo,
        "subtask-drafter",
        scope="01-core",
        subplan_path=f"{DESIGN}/subplans/01-core.md",
        xml_path=XML,
        **fields,
    )


async def test_what_the_plan_knows_is_never_taken_from_the_model(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # The model echoes a wrong id, invents a dependency and a file, renames the subtask.
    made_up = {
        "id": "1-core",
        "title": "Something else",
        "dependencies": ["02-api"],
        "files": ["src/other.py"],
        "summary": "Adds the core adder.",
        "implementation_steps": ["Write add()"],
    }
    standin.reset({"rules": [{"match": {"kind": "draft"}, "submit": made_up}]})
    result = await runner.run("agent.draft_subtask", draft_req(repo))
    assert result["note"] == ""
    spec = read_subtask(repo / XML)
    assert (spec.id, spec.title, spec.dependencies, spec.files) == (
        "01-core",
        "01-core: Core",
        [],
        ["src/core.py"],
    )
    assert (spec.summary, spec.implementation_steps) == ("Adds the core adder.", ["Write add()"])
    (checked,) = load_checked_subtasks(str(repo / DESIGN))  # what the build applies
    assert checked == spec
    # The model was told the plan's facts, and not asked to restate them.
    prompt = standin.requests[0].prompt
    assert "Fixed by the plan" in prompt and '"id": "01-core"' in prompt
    assert '"dependencies"' not in prompt.split("<draft>", 1)[1]


async def test_a_draft_the_build_would_refuse_is_sent_back_then_replaced_by_the_seed(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # The starting draft the workflow passed disagrees with the subplan (no dependencies):
    # every submission fails the build's plan check, and the model hears why.
    standin.reset({"rules": [{"match": {"kind": "draft"}}]})
    draft = {
        "id": "01-core",
        "title": "Core",
        "summary": "The core.",
        "dependencies": ["00-base"],
        "files": ["src/core.py"],
    }
    result = await runner.run("agent.draft_subtask", draft_req(repo, draft=draft))
    told = [r.tool_results[0] for r in standin.requests[1:]]
    assert len(told) == 2 and all(t["is_error"] for t in told)
    assert "would not pass the build's plan check" in told[0]["content"]
    assert "<dependencies> lists ['00-base'] but" in told[0]["content"]
    # After the attempts: the deterministic draft from the subplan, and the fact noted.
    assert "InvalidAgentOutput" in result["note"] and "deterministic draft" in result["note"]
    assert result["usage"]["requests"] == 3
    spec = read_subtask(repo / XML)
    assert spec.dependencies == [] and spec.files == ["src/core.py"]
    load_checked_subtasks(str(repo / DESIGN))  # the approved design builds

    # A retry of the finished activity replays the fallback without the model.
    before = len(standin.requests)
    again = await runner.run("agent.draft_subtask", draft_req(repo, draft=draft))
    assert again["note"] == result["note"] and len(standin.requests) == before
    assert read_subtask(repo / XML) == spec


async def test_invalid_submissions_end_in_the_seed_not_a_failed_design(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {"match": {"kind": "draft"}, "faults": [{"type": "invalid_submission", "times": 3}]}
            ]
        }
    )
    result = await runner.run("agent.draft_subtask", draft_req(repo))
    assert "deterministic draft" in result["note"]
    assert read_subtask(repo / XML).title == "01-core: Core"
    assert [r.action for r in standin.requests] == ["submit_draft"] * 3
