"""Agents stay inside their workdir, and secrets never reach their commands or the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import API_KEY, Runner, request

SECRETS = {
    "GITHUB_TOKEN": "ghp_sim_SECRET_github_0815",
    "DATABASE_PASSWORD": "pw-SECRET-hunter2",
    "AWS_SECRET_ACCESS_KEY": "aws-SECRET-wJalrXUt",
    "DEPLOY_KEY": "deploy-SECRET-key",
}


async def test_commands_get_no_secrets_and_history_holds_none(
    repo: Path, standin: MessagesStandIn, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "visible-value")
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "builder"},
                    "steps": [{"tool": "run_command", "input": {"command": "env"}}],
                }
            ]
        }
    )
    req = request(repo, "builder", commit_message="x")
    handle = await runner.start("agent.edit", req)
    await handle.result()

    env_output = standin.requests[1].tool_results[0]["content"]
    # The sandbox starts from an allowlist: nothing of the worker's environment is inherited.
    assert "PATH=" in env_output and "HOME=/tmp/home" in env_output
    assert "HARMLESS_SETTING" not in env_output
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    transcript = (repo / req["transcript_path"]).read_text()
    for secret in [API_KEY, *SECRETS.values()]:
        assert secret not in env_output
        assert secret not in history
        assert secret not in transcript
    for name in ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", *SECRETS]:
        assert f"\n{name}=" not in env_output


async def test_paths_that_escape_the_workdir_are_refused_to_the_model(
    repo: Path, tmp_path: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("OUTSIDE-CONTENT")
    (repo / "link-file.txt").symlink_to(outside / "secret.txt")
    (repo / "link-dir").symlink_to(outside, target_is_directory=True)
    (repo / "src" / "alias.py").symlink_to(repo / "src" / "core.py")  # inside: fine
    (repo / "design-docs/active/demo/design-reviews").mkdir()
    (repo / "design-docs/active/demo/design-reviews/old.md").write_text("## SCORE: 0.5\n")

    attempts = [
        ("read_file", {"path": "../outside/secret.txt"}, "'..' may not be used"),
        ("read_file", {"path": str(outside / "secret.txt")}, "absolute paths are not allowed"),
        ("read_file", {"path": "link-file.txt"}, "outside the working directory"),
        ("list_files", {"path": "link-dir"}, "outside the working directory"),
        (
            "search_files",
            {"pattern": "OUTSIDE", "path": "link-dir"},
            "outside the working directory",
        ),
        ("read_file", {"path": ".git/config"}, "reserved for the orchestrator"),
        (
            "read_file",
            {"path": "design-docs/active/demo/design-reviews/old.md"},
            "reviews are blind",
        ),
        ("write_file", {"path": "x.py", "content": ""}, "not available to this role"),
    ]
    steps = [{"tool": tool, "input": args} for tool, args, _ in attempts]
    steps += [
        {"tool": "read_file", "input": {"path": "src/alias.py"}},
        {"tool": "search_files", "input": {"pattern": "OUTSIDE|SCORE", "path": "."}},
        {"tool": "list_files", "input": {"recursive": True}},
    ]
    standin.reset({"rules": [{"match": {"role": "code-correctness"}, "steps": steps}]})
    await runner.run(
        "agent.review", request(repo, "code-correctness", review_path="r.md", title="t")
    )
    results = [r.tool_results[0] for r in standin.requests[1:]]
    for (tool, _, expected), result in zip(attempts, results, strict=False):
        assert result["is_error"], (tool, result)
        assert expected in result["content"], (tool, result)
    alias, search, listing = (r["content"] for r in results[len(attempts) :])
    assert "return a + b" in alias
    assert search == "no matches"  # neither the symlinked dir nor earlier reviews are searched
    assert "src/core.py" in listing and "link-dir" not in listing and "old.md" not in listing
    assert not any("OUTSIDE-CONTENT" in r["content"] for r in results)


async def test_writers_cannot_write_outside_the_workdir(
    repo: Path, tmp_path: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "link-dir").symlink_to(outside, target_is_directory=True)
    steps = [
        {"tool": "write_file", "input": {"path": "../escape.txt", "content": "x"}},
        {"tool": "write_file", "input": {"path": "link-dir/escape.txt", "content": "x"}},
        {
            "tool": "edit_file",
            "input": {"path": "/etc/hostname", "old_string": "a", "new_string": "b"},
        },
        {"tool": "write_file", "input": {"path": "ok/inside.txt", "content": "fine"}},
    ]
    standin.reset({"rules": [{"match": {"role": "design-writer"}, "steps": steps}]})
    result = await runner.run("agent.edit", request(repo, "design-writer", commit_message="x"))
    results = [r.tool_results[0] for r in standin.requests[1:]]
    assert [r["is_error"] for r in results] == [True, True, True, False]
    assert not (tmp_path / "escape.txt").exists() and not (outside / "escape.txt").exists()
    assert result["files_changed"] == ["ok/inside.txt"]


async def test_paths_a_design_names_grant_nothing_outside_the_repository(
    repo: Path, tmp_path: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """Focus files come from designs (Files Modified, `<file>`): only the repository's count."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("OUTSIDE-CONTENT")
    inside = repo / "design-docs/active/demo/overview.md"
    focus = [str(outside / "secret.txt"), "../outside/secret.txt", str(repo / ".git/config")]
    steps = [{"tool": "read_file", "input": {"path": p}} for p in [*focus, str(inside)]]
    standin.reset({"rules": [{"match": {"role": "code-correctness"}, "steps": steps}]})
    await runner.run(
        "agent.review",
        request(
            repo,
            "code-correctness",
            review_path="r.md",
            title="t",
            focus_paths=[*focus, str(inside)],
        ),
    )
    results = [r.tool_results[0] for r in standin.requests[1:5]]
    assert [r["is_error"] for r in results] == [True, True, True, False]
    assert "absolute paths are not allowed" in results[0]["content"]
    assert "'..' may not be used" in results[1]["content"]
    assert "absolute paths are not allowed" in results[2]["content"]
    assert "A tiny feature." in results[3]["content"]
    assert not any("OUTSIDE-CONTENT" in r["content"] for r in results)
