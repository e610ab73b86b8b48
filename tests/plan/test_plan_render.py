"""plan/dag.md and plan/batches.md: seed formats, byte-stable, written atomically."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from activities.plan import (
    format_plan_text,
    render_batches,
    render_dag,
    run_plan,
    write_plan_files,
)
from tests.conftest import EXAMPLE
from tests.plan.conftest import MakeDesign, subplan

EXAMPLE_DAG = """\
# Dependency DAG: link-shortener

Generated from subplans/ by the orchestrator; edit the subplans, not this file.

## Nodes

- 01-models — Data models and errors
- 02-storage — Storage
- 03-codec — Base62 codec
- 04-service — Shortener service
- 05-cli — Command-line interface

## Edges (A -> B means A depends on B)

- 02-storage -> 01-models
- 03-codec -> 01-models
- 04-service -> 02-storage
- 04-service -> 03-codec
- 05-cli -> 04-service

## Graph

```mermaid
graph TD
    n01_models["01-models: Data models and errors"]
    n02_storage["02-storage: Storage"]
    n03_codec["03-codec: Base62 codec"]
    n04_service["04-service: Shortener service"]
    n05_cli["05-cli: Command-line interface"]
    n01_models --> n02_storage
    n01_models --> n03_codec
    n02_storage --> n04_service
    n03_codec --> n04_service
    n04_service --> n05_cli
```
"""


def test_example_dag_golden() -> None:
    doc, plan = run_plan(str(EXAMPLE))
    assert render_dag(doc, plan) == EXAMPLE_DAG


def test_example_batches_key_lines() -> None:
    doc, plan = run_plan(str(EXAMPLE))
    text = render_batches(doc, plan)
    assert text.startswith("# Batches: link-shortener\n")
    for line in [
        "## Batch 1 (stage 1, 1 subtask)",
        "- 01-models (parallel: false)",
        "## Batch 2 (stage 2, 2 subtasks)",
        "- 02-storage (parallel: true)",
        "- 03-codec (parallel: true)",
        "## Batch 4 (stage 4, 1 subtask)",
        "- 05-cli (parallel: false)",
        "## Critical path",
        "01-models -> 02-storage -> 04-service -> 05-cli (13h)",
        "## File conflicts",
    ]:
        assert line in text.splitlines(), line
    assert text.endswith("## File conflicts\n\nNone.\n")


def _seed_batch_subtasks(batches: Path, number: int) -> list[str]:
    """The seed's own batches.md reader (sed/grep/cut), run for real."""
    script = (
        f'sed -n "/^## Batch {number} /,/^## Batch/p" "$1" | grep -E \'^\\- \' '
        "| sed 's/^- //' | cut -d' ' -f1"
    )
    out = subprocess.run(
        ["bash", "-c", script, "_", str(batches)], capture_output=True, text=True, check=False
    )
    return out.stdout.split()


def test_seed_batch_reader_sees_only_subtasks(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan("A", files="x.py"),
            "02-b": subplan("B", deps="01-a", files="x.py"),
            "03-c": subplan("C", deps="01-a", files="x.py"),
        }
    )
    _doc, plan = run_plan(str(root), write=True)
    assert plan.conflicts  # the conflicts section is present in the last batch's range
    batches = root / "plan" / "batches.md"
    if shutil.which("bash"):
        assert _seed_batch_subtasks(batches, 1) == ["01-a"]
        assert _seed_batch_subtasks(batches, 2) == ["02-b", "03-c"]
    assert "* stage 2: x.py is modified by 02-b, 03-c" in batches.read_text()


def test_renders_are_byte_stable(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan('Quote "this" <and> that'),
            "01-a_b": subplan("Underscore", deps="01-a"),
            "01-a.b": subplan("Dot", deps="01-a"),
        }
    )
    doc, plan = run_plan(str(root))
    assert render_dag(doc, plan) == render_dag(*run_plan(str(root)))
    assert render_batches(doc, plan) == render_batches(*run_plan(str(root)))
    dag = render_dag(doc, plan)
    # mermaid ids are sanitised and unique; labels are quoted and escaped
    assert 'n01_a["01-a: Quote #quot;this#quot; #lt;and#gt; that"]' in dag
    ids = re.findall(r"^    (\w+)\[", dag, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)) == 3


def test_empty_plan_renders_none(make_design: MakeDesign) -> None:
    root = make_design({})
    doc, plan = run_plan(str(root))
    dag = render_dag(doc, plan)
    assert "## Nodes\n\n- (none)\n" in dag
    assert "## Edges (A -> B means A depends on B)\n\n- (none)\n" in dag
    assert "## Critical path\n\nNone.\n" in render_batches(doc, plan)


def test_write_plan_files_creates_plan_dir_atomically(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A"), "02-b": subplan("B", deps="01-a")})
    doc, plan = run_plan(str(root))
    written = write_plan_files(str(root), doc, plan)
    assert written == [f"{root}/plan/dag.md", f"{root}/plan/batches.md"]
    assert (root / "plan" / "dag.md").read_text() == render_dag(doc, plan)
    assert (root / "plan" / "batches.md").read_text() == render_batches(doc, plan)
    assert sorted(os.listdir(root / "plan")) == ["batches.md", "dag.md"]  # no temp files left
    assert (root / "plan" / "dag.md").stat().st_mode & 0o777 == 0o644
    mtime = (root / "plan" / "dag.md").stat().st_mtime_ns
    assert write_plan_files(str(root), doc, plan) == written  # idempotent
    assert (root / "plan" / "dag.md").stat().st_mtime_ns == mtime


def test_run_plan_write_flag(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A")})
    run_plan(str(root), write=False)
    assert not (root / "plan").exists()
    run_plan(str(root), write=True)
    assert (root / "plan" / "dag.md").is_file()


def test_format_plan_text_for_people(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan("A", files="x.py", hours="2"),
            "02-b": subplan("B", deps="01-a", files="x.py", hours="3"),
            "03-c": subplan("C", deps="01-a", files="x.py", criteria=False),
        }
    )
    doc, plan = run_plan(str(root))
    text = format_plan_text(doc, plan)
    assert text.splitlines()[:4] == [
        "Plan: demo — 3 subtasks in 2 stages",
        "",
        "Stage 1: 01-a",
        "Stage 2 (parallel): 02-b, 03-c",
    ]
    assert "Critical path (5h): 01-a (2h) -> 02-b (3h)" in text
    assert "  stage 2: x.py — 02-b, 03-c" in text
    assert f"  {root}/subplans/03-c.md: no acceptance criteria" in text


def test_format_plan_text_example() -> None:
    doc, plan = run_plan(str(EXAMPLE))
    assert format_plan_text(doc, plan) == (
        "Plan: link-shortener — 5 subtasks in 4 stages\n"
        "\n"
        "Stage 1: 01-models\n"
        "Stage 2 (parallel): 02-storage, 03-codec\n"
        "Stage 3: 04-service\n"
        "Stage 4: 05-cli\n"
        "\n"
        "Critical path (13h): 01-models (2h) -> 02-storage (4h) -> 04-service (4h)"
        " -> 05-cli (3h)\n"
        "\n"
        "File conflicts: none\n"
        "Warnings: none\n"
    )
