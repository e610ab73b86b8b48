"""Order, stages, critical path and file conflicts: what the build schedules from."""

from __future__ import annotations

import json

from activities.plan import analyze, load_design, run_plan
from tests.conftest import EXAMPLE
from tests.plan.conftest import MakeDesign, subplan


def test_example_plan() -> None:
    doc, plan = run_plan(str(EXAMPLE))
    assert doc.feature == "link-shortener"
    assert plan.order == ["01-models", "02-storage", "03-codec", "04-service", "05-cli"]
    assert plan.stages == [["01-models"], ["02-storage", "03-codec"], ["04-service"], ["05-cli"]]
    assert plan.critical_path == ["01-models", "02-storage", "04-service", "05-cli"]
    assert plan.conflicts == []
    assert plan.warnings == []
    deps = {s.name: s.dependencies for s in doc.subplans}
    assert deps["04-service"] == ["02-storage", "03-codec"]  # the diamond, list form


def test_example_public_json_is_exact() -> None:
    _doc, plan = run_plan(str(EXAMPLE))
    text = plan.to_public_json()
    assert list(json.loads(text)) == ["order", "stages", "critical_path", "conflicts", "warnings"]
    assert text == json.dumps(
        {
            "order": ["01-models", "02-storage", "03-codec", "04-service", "05-cli"],
            "stages": [["01-models"], ["02-storage", "03-codec"], ["04-service"], ["05-cli"]],
            "critical_path": ["01-models", "02-storage", "04-service", "05-cli"],
            "conflicts": [],
            "warnings": [],
        },
        indent=2,
    )


def test_stages_are_generations_not_declaration_order(make_design: MakeDesign) -> None:
    # 01-z depends on a later-numbered subtask; the stage follows the graph, not the number.
    root = make_design(
        {
            "01-z": subplan("Z", deps="03-b"),
            "02-a": subplan("A"),
            "03-b": subplan("B"),
            "04-c": subplan("C", deps="02-a, 01-z"),
        }
    )
    _doc, plan = run_plan(str(root))
    assert plan.stages == [["02-a", "03-b"], ["01-z"], ["04-c"]]
    # lexicographic among ready subtasks
    assert plan.order == ["02-a", "03-b", "01-z", "04-c"]


def test_stage_is_one_plus_latest_dependency(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "a": subplan("a"),
            "b": subplan("b", deps="a"),
            "c": subplan("c", deps="b"),
            "d": subplan("d", deps="a, c"),  # long and short paths: stage 4, not 2
        }
    )
    _doc, plan = run_plan(str(root))
    assert plan.stage_of() == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_critical_path_uses_hours_with_default_one(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan("A", hours="2"),
            "02-fast": subplan("fast", deps="01-a", hours="1"),
            "03-slow": subplan("slow", deps="01-a", hours="8"),
            "04-end": subplan("end", deps="02-fast, 03-slow", hours=None),
            "05-lone": subplan("lone", hours="10"),
        }
    )
    doc, plan = run_plan(str(root))
    assert plan.critical_path == ["01-a", "03-slow", "04-end"]  # 2 + 8 + 1(default) = 11 > 10
    assert doc.by_name()["04-end"].hours == 1


def test_critical_path_tie_break_is_lexicographic(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "a": subplan("a", hours="3"),
            "b": subplan("b", hours="3"),
            "c": subplan("c", deps="a, b", hours="1"),
            "x": subplan("x", hours="2"),
            "y": subplan("y", deps="x", hours="2"),
        }
    )
    _doc, plan = run_plan(str(root))
    assert plan.critical_path == ["a", "c"]  # a-c, b-c and x-y all take 4h


def test_file_conflicts_in_the_same_stage(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-base": subplan("base", files="shared.py"),
            "02-a": subplan("a", deps="01-base", files="shared.py, a.py, ./common/util.py"),
            "03-b": subplan("b", deps="01-base", files="b.py, common/util.py"),
            "04-c": subplan("c", deps="01-base", files="shared.py"),
            "05-late": subplan("late", deps="02-a", files="a.py, shared.py"),
        }
    )
    _doc, plan = run_plan(str(root))
    assert [c.model_dump() for c in plan.conflicts] == [
        {"stage": 2, "file": "common/util.py", "subtasks": ["02-a", "03-b"]},
        {"stage": 2, "file": "shared.py", "subtasks": ["02-a", "04-c"]},
    ]
    public = json.loads(plan.to_public_json())
    assert public["conflicts"][1] == {"stage": 2, "file": "shared.py", "subtasks": ["02-a", "04-c"]}


def test_analysis_is_deterministic(make_design: MakeDesign) -> None:
    root = make_design(
        {f"{i:02d}-t": subplan(str(i), deps="00-t" if i else "None") for i in range(12)}
    )
    doc = load_design(str(root))
    first = analyze(doc)
    reversed_doc = doc.model_copy(update={"subplans": list(reversed(doc.subplans))})
    assert analyze(reversed_doc) == first
