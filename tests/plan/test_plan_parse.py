"""Parsing subplan metadata in the variations people actually write."""

from __future__ import annotations

import pytest

from activities.plan import load_design, run_plan
from activities.plan.design_dir import parse_subplan
from tests.plan.conftest import MakeDesign, subplan


def meta_of(text: str, name: str = "02-b"):
    meta, warnings = parse_subplan(name, f"subplans/{name}.md", f"x/subplans/{name}.md", text)
    return meta, warnings


@pytest.mark.parametrize(
    "line",
    [
        "**Dependencies**: 01-a, 01-b",
        "**Dependencies:** 01-a, 01-b",
        "Dependencies: 01-a, 01-b",
        "dependencies: 01-a,01-b",
        "- Dependencies: 01-a, 01-b",
        "- **Dependencies**: 01-a.md, 01-b.md",
        "* __Depends on__: `01-a`; `01-b`",
        "**DEPENDENCIES**: 01-a and 01-b",
        "**Dependencies**: 01-a (the types), 01-b — storage",
        "**Dependencies**: subplans/01-a.md, 01-B",
    ],
)
def test_dependency_line_variations(line: str) -> None:
    meta, _ = meta_of(f"# B\n\n{line}\n")
    assert meta.dependencies == ["01-a", "01-b"]


@pytest.mark.parametrize(
    "text",
    [
        "**Dependencies**:\n- 01-a\n- 01-b\n\n**Files Modified**: x.py\n",
        "**Dependencies:**\n\n  * 01-a.md\n  * 01-b (for the parser)\n",
        "## Dependencies\n\nThese come first:\n\n- [ ] 01-a\n- 01-b\n\n## Goal\n\nstuff\n",
        "### 3. Dependencies\n\n1. 01-a\n2. 01-b\n",
        "- Dependencies:\n  - 01-a\n  - 01-b\n- Files Modified: x.py\n",
    ],
)
def test_dependency_list_form(text: str) -> None:
    meta, _ = meta_of(f"# B\n\n{text}")
    assert meta.dependencies == ["01-a", "01-b"]


@pytest.mark.parametrize(
    "value", ["None", "none", "-", "", "None.", "N/A", "none (first subtask)", "—"]
)
def test_no_dependency_spellings(value: str) -> None:
    meta, _ = meta_of(f"# B\n\n**Dependencies**: {value}\n")
    assert meta.dependencies == []


def test_heading_form_none_paragraph() -> None:
    meta, _ = meta_of("# B\n\n## Dependencies\n\nNone.\n")
    assert meta.dependencies == []


def test_sibling_list_keys_are_all_read() -> None:
    meta, _ = meta_of(
        "# B\n\n- Dependencies:\n  - 01-a\n- Files Modified: src/b.py, tests/test_b.py\n"
        "- Estimated Hours: 3\n- Complexity: High\n"
    )
    assert meta.dependencies == ["01-a"]
    assert meta.files_modified == ["src/b.py", "tests/test_b.py"]
    assert meta.estimated_hours == 3
    assert meta.complexity == "high"


def test_seed_001_phase_block() -> None:
    text = (
        "# Setup\n\n**Goal**: Initialize project structure\n**Estimated Hours**: 2\n"
        "**Complexity**: low\n**Files Modified**: src/setup.py, tests/test_setup.py\n"
        "**Dependencies**: None\n**Implementation Steps**:\n1. Create project structure\n"
        "2. Write setup tests\n3. Verify with pytest\n\n**Validation Gates**:\n"
        "- [ ] Project structure created\n- [ ] All tests passing\n"
    )
    meta, warnings = meta_of(text, "01-setup")
    assert meta.title == "Setup"
    assert meta.goal == "Initialize project structure"
    assert meta.estimated_hours == 2
    assert meta.complexity == "low"
    assert meta.files_modified == ["src/setup.py", "tests/test_setup.py"]
    assert meta.dependencies == []
    assert meta.implementation_steps == [
        "Create project structure",
        "Write setup tests",
        "Verify with pytest",
    ]
    assert meta.validation_gates == ["Project structure created", "All tests passing"]
    # The seed block has gates but no acceptance criteria: a warning, not an error.
    assert any("x/subplans/01-setup.md: no acceptance criteria" in w for w in warnings)


def test_files_modified_forms_and_dunder_names() -> None:
    meta, _ = meta_of(
        "# B\n\n**Files Modified**:\n- `pkg/__init__.py` (new)\n- ./pkg/core.py — main logic\n"
        "- tests/test_core.py\n"
    )
    assert meta.files_modified == ["pkg/__init__.py", "pkg/core.py", "tests/test_core.py"]
    meta, _ = meta_of("# B\n\nFiles: a.py (new, small), b.py\n")
    assert meta.files_modified == ["a.py", "b.py"]


def test_acceptance_criteria_forms() -> None:
    text = (
        "# B\n\n## Acceptance Criteria (all must hold)\n\nIntro paragraph.\n\n"
        "### Functional\n\n- [ ] returns 200\n- [x] logs the request\n  across two lines\n"
        "* plain bullet\n- Complexity: O(1) per lookup\n\n## Notes\n\n- not a criterion\n"
    )
    meta, warnings = meta_of(text)
    assert meta.acceptance_criteria == [
        "returns 200",
        "logs the request across two lines",
        "plain bullet",
        "Complexity: O(1) per lookup",
    ]
    assert meta.complexity is None
    assert not any("acceptance criteria" in w for w in warnings)


def test_bold_pseudo_heading_criteria() -> None:
    meta, _ = meta_of("# B\n\n**Acceptance Criteria**\n- [ ] one\n- [ ] two\n\nAfter.\n")
    assert meta.acceptance_criteria == ["one", "two"]


def test_code_blocks_are_ignored() -> None:
    text = "# B\n\n```\n**Dependencies**: 09-x\n# Not a title\n```\n\n**Dependencies**: 01-a\n"
    meta, _ = meta_of(text)
    assert meta.dependencies == ["01-a"]
    assert meta.title == "B"


def test_first_occurrence_of_a_key_wins() -> None:
    meta, _ = meta_of("# B\n\n**Dependencies**: 01-a\n\n## Dependencies\n\n- 01-z\n")
    assert meta.dependencies == ["01-a"]


@pytest.mark.parametrize(
    ("value", "hours"),
    [("6", 6), ("6h", 6), ("1.5 hours", 1.5), ("4-6", 6), ("2 days", 16), ("~3", 3)],
)
def test_estimated_hours(value: str, hours: float) -> None:
    meta, _ = meta_of(f"# B\n\n**Estimated Hours**: {value}\n")
    assert meta.estimated_hours == hours


def test_unparsable_hours_warns_and_defaults_to_one() -> None:
    meta, warnings = meta_of("# B\n\n**Estimated Hours**: a few\n")
    assert meta.estimated_hours is None
    assert meta.hours == 1
    assert any("x/subplans/02-b.md" in w and "'a few' is not a number" in w for w in warnings)


def test_title_falls_back_to_the_name_with_a_warning() -> None:
    meta, warnings = meta_of("**Dependencies**: None\n")
    assert meta.title == "02-b"
    assert any("no '# ' title heading" in w for w in warnings)


def test_big_subplan_and_long_estimate_warn(make_design: MakeDesign) -> None:
    big = subplan("Big") + ("word " * 16_001)
    root = make_design({"01-big": big, "02-long": subplan("Long", hours="40")})
    doc, plan = run_plan(str(root))
    joined = "\n".join(plan.warnings)
    assert f"{root}/subplans/01-big.md: about 20" in joined
    assert "over the 20K-token limit" in joined
    assert f"{root}/subplans/02-long.md: estimated 40h" in joined
    assert doc.warnings == plan.warnings


def test_missing_acceptance_criteria_is_a_warning(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A", criteria=False)})
    _doc, plan = run_plan(str(root))
    assert plan.order == ["01-a"]
    assert plan.warnings == [
        f"{root}/subplans/01-a.md: no acceptance criteria; add an '## Acceptance Criteria'"
        " section with '- [ ]' items"
    ]


def test_design_doc_fields(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("Alpha"), "02-b": subplan("Beta", deps="01-a")})
    doc = load_design(str(root))
    assert doc.feature == "demo"
    assert doc.title == "Demo feature"
    assert doc.design_dir == str(root)
    assert [(s.name, s.title, s.path) for s in doc.subplans] == [
        ("01-a", "Alpha", "subplans/01-a.md"),
        ("02-b", "Beta", "subplans/02-b.md"),
    ]


def test_no_subplans_is_an_empty_plan_with_a_warning(make_design: MakeDesign) -> None:
    root = make_design({})
    _doc, plan = run_plan(str(root))
    assert plan.order == [] and plan.stages == [] and plan.critical_path == []
    assert len(plan.warnings) == 1 and "no subplans yet" in plan.warnings[0]


def test_non_markdown_and_hidden_files_are_ignored(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A")})
    (root / "subplans" / "notes.txt").write_text("Not A Subplan")
    (root / "subplans" / ".01-a.md.swp").write_bytes(b"\x00\x01")
    _doc, plan = run_plan(str(root))
    assert plan.order == ["01-a"]


def test_prose_requirements_are_not_dependencies() -> None:
    meta, _ = meta_of("# B\n\nRequires: Python 3.11\nPrerequisites: a laptop\n")
    assert meta.dependencies == []


def test_relative_design_dir_names_the_feature(
    make_design: MakeDesign, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_design({"01-a": subplan("A")}, name="my-feature")
    monkeypatch.chdir(root)
    doc, _plan = run_plan(".")
    assert doc.feature == "my-feature"
    assert doc.subplans[0].path == "subplans/01-a.md"
