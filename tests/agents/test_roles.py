"""Roles: built-ins, repository overrides in Claude Code's agent-file format, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.agents.roles import DEFAULT_MODEL, builtin_roles, resolve_role
from contracts.agents import AgentSettings
from tests.agents.steps import agent_file

DESIGN_REVIEWERS = ["design-requirements", "design-performance", "design-architecture"]
CODE_REVIEWERS = ["code-correctness", "code-performance", "code-architecture"]


def test_built_in_roles_cover_both_loops_and_only_editors_write(tmp_path: Path) -> None:
    roles = builtin_roles()
    for name in [*DESIGN_REVIEWERS, *CODE_REVIEWERS]:
        resolved = resolve_role(name, "review", tmp_path, AgentSettings())
        assert not resolved.tools & {"write_file", "edit_file"}
        assert resolved.model == DEFAULT_MODEL
    for name in ["design-writer", "subplan-splitter", "builder", "fixer", "performance-fixer"]:
        assert roles[name].kind == "edit"
        assert {"write_file", "edit_file"} <= resolve_role(
            name, "edit", tmp_path, AgentSettings()
        ).tools
    assert "run_command" in resolve_role("builder", "edit", tmp_path, AgentSettings()).tools
    assert (
        "run_command" not in resolve_role("design-writer", "edit", tmp_path, AgentSettings()).tools
    )
    assert {roles[n].kind for n in ["question-answerer", "subtask-drafter", "change-analyst"]} == {
        "answer",
        "draft",
        "change",
    }
    assert "**Dependencies**" in roles["subplan-splitter"].prompt


def test_a_repository_overrides_a_role_and_keeps_its_kind(tmp_path: Path) -> None:
    agent_file(
        tmp_path,
        "fixer",
        "---\nname: fixer\nreplaces: fixer\ndescription: Our fixer\nmodel: opus\n"
        "tools: Read, Grep, Edit, Bash, WebFetch\n---\nFix it our way.\n",
    )
    resolved = resolve_role("fixer", "edit", tmp_path, AgentSettings())
    assert resolved.role.prompt == "Fix it our way."
    assert resolved.kind == "edit" and resolved.role.kind == "edit"
    assert resolved.model == "claude-opus-5-5"  # Claude Code's alias: the current Opus
    assert resolved.tools == {"read_file", "search_files", "edit_file", "run_command"}
    # The run's model setting wins over the file's.
    assert (
        resolve_role("fixer", "edit", tmp_path, AgentSettings(model="sim-model-1")).model
        == "sim-model-1"
    )


def test_a_new_role_used_as_a_reviewer_is_a_read_only_reviewer(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the agents dir is found from the repository root
    agent_file(
        tmp_path,
        "security",
        "---\nname: security-reviewer\ndescription: Looks for vulnerabilities\n"
        "tools: [read_file, write_file, search_files]\n---\nFind the holes.\n",
    )
    worktree_subdir = tmp_path / "pkg"
    worktree_subdir.mkdir()
    resolved = resolve_role("security-reviewer", "review", worktree_subdir, AgentSettings())
    assert resolved.kind == "review"
    assert resolved.tools == {"read_file", "search_files"}  # reviewers never write
    assert resolved.role.source.endswith("security.md")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter here\n", "does not start with YAML front matter"),
        ("---\nname: [x\n---\nbody\n", "not valid YAML"),
        ("---\ndescription: d\n---\nbody\n", "`name` is missing"),
        ("---\nname: x\n---\nbody\n", "`description` is missing"),
        ("---\nname: x\ndescription: d\ntools: Teleport\n---\nbody\n", "unknown tool 'Teleport'"),
        ("---\nname: x\ndescription: d\nkind: poem\n---\nbody\n", "`kind` is 'poem'"),
        ("---\nname: x\ndescription: d\n---\n\n", "the prompt"),
    ],
)
def test_malformed_agent_files_fail_for_good_naming_file_and_fix(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = agent_file(tmp_path, "broken", text)
    with pytest.raises(ApplicationError) as info:
        resolve_role("design-requirements", "review", tmp_path, AgentSettings())
    error = info.value
    assert error.non_retryable and error.type == "RoleDefinitionError"
    assert str(path) in error.message and problem in error.message
    assert "name: my-reviewer" in error.message  # shows the expected format


def test_a_role_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ApplicationError) as info:
        resolve_role("builder", "review", tmp_path, AgentSettings())
    assert info.value.type == "RoleKindMismatch" and info.value.non_retryable
    assert "kind: review" in info.value.message
