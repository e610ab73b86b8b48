"""Design paths are confined to the repository, like the agents' tool paths.

What a design names becomes an agent's reading (focus files, `<file>` elements),
so a design file that is a symlink out of the repository, or a file path that
leaves it, is refused with the file and the fix, before anything is planned.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.plan import load_subtasks, plan_design, seed_subtasks
from contracts.plan import PlanRequest, SeedSubtasksRequest
from tests.plan.conftest import OVERVIEW, subplan

run = ActivityEnvironment().run


@pytest.fixture
def design(tmp_path: Path) -> Path:
    """design-docs/active/demo inside a git repository, with one good subplan."""
    repo = tmp_path / "repo"
    root = repo / "design-docs" / "active" / "demo"
    (root / "subplans").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (root / "overview.md").write_text(OVERVIEW)
    (root / "subplans" / "01-core.md").write_text(subplan("Core", files="src/core.py"))
    return root


def refusal(design: Path) -> str:
    with pytest.raises(ApplicationError) as err:
        run(plan_design, PlanRequest(design_dir=str(design)))
    assert err.value.type == "PlanError" and err.value.non_retryable
    return str(err.value)


def test_a_subplan_symlinked_out_of_the_repository_is_refused(design: Path, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "notes.md"
    secret.parent.mkdir()
    secret.write_text(subplan("Stolen", files="src/x.py"))
    (design / "subplans" / "02-stolen.md").symlink_to(secret)
    text = refusal(design)
    assert f"{design}/subplans/02-stolen.md" in text
    assert f"is a symlink to {secret}, outside the repository {tmp_path / 'repo'}" in text
    assert "replace the link with the file itself" in text


def test_an_overview_symlinked_out_of_the_repository_is_refused(
    design: Path, tmp_path: Path
) -> None:
    (tmp_path / "overview.md").write_text(OVERVIEW)
    (design / "overview.md").unlink()
    (design / "overview.md").symlink_to(tmp_path / "overview.md")
    assert f"{design}/overview.md" in refusal(design)


def test_a_symlink_inside_the_repository_is_followed(design: Path) -> None:
    shared = design.parent.parent / "shared-subplan.md"
    shared.write_text(subplan("Shared", files="src/shared.py"))
    (design / "subplans" / "02-shared.md").symlink_to(shared)
    result = run(plan_design, PlanRequest(design_dir=str(design)))
    assert [s.name for s in result.subtasks] == ["01-core", "02-shared"]


def test_a_fifo_among_the_subplans_is_refused_without_blocking(design: Path) -> None:
    os.mkfifo(design / "subplans" / "02-pipe.md")
    text = refusal(design)
    assert "02-pipe.md" in text and "is not a regular file" in text


@pytest.mark.parametrize("named", ["../../../../outside.py", "/etc/passwd", "~/.ssh/id_rsa"])
def test_files_modified_outside_the_repository_are_refused(design: Path, named: str) -> None:
    (design / "subplans" / "02-leak.md").write_text(subplan("Leak", files=f"src/a.py, {named}"))
    text = refusal(design)
    assert f"Files Modified names {named!r}" in text and "02-leak.md" in text
    assert "relative to the repository root" in text


def test_subtask_xml_paths_and_links_out_of_the_repository_are_refused(
    design: Path, tmp_path: Path
) -> None:
    run(seed_subtasks, SeedSubtasksRequest(design_dir=str(design)))
    xml = design / "subtasks" / "01-core.xml"
    text = xml.read_text()
    assert "<file>src/core.py</file>" in text
    xml.write_text(text.replace("<file>src/core.py</file>", "<file>/etc/shadow</file>"))
    with pytest.raises(ApplicationError) as err:
        run(load_subtasks, str(design))
    assert "<files> names '/etc/shadow', which is an absolute path" in str(err.value)

    outside = tmp_path / "01-core.xml"
    outside.write_text(text)
    xml.unlink()
    xml.symlink_to(outside)
    with pytest.raises(ApplicationError) as err:
        run(load_subtasks, str(design))
    assert f"is a symlink to {outside}, outside the repository" in str(err.value)
