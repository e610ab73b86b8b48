"""Helpers shared by the build-loop tests: a tiny approved project, scripted builders and
reviewers, starting a build and reading git."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from activities.plan import run_plan
from activities.plan.pipeline import seed_subtask_files
from activities.tracker import update_tracker
from cli.demo_repo import DemoRepo
from contracts.build import BuildInput, BuildResult, BuildStatus, SubtaskView
from contracts.human import PendingDecision
from contracts.release import ReleaseStatus
from contracts.tracker import TrackerRow, TrackerUpdate
from simulators.messages_api import MessagesStandIn
from tests.support import (
    make_project,
    rule,
    scripted_model,
    served_status,
    status_of,
    until,
    write,
)
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.release import ReleaseWorkflow

REPO = "demo/link-shortener"
ONE_REVIEWER = '\n[reviewers]\ncode = ["code-correctness"]\n'
# Tests of a subtask's own PR: no integration PR to follow (test_integration_follow has it).
SUBTASKS_ONLY = ONE_REVIEWER + "\n[integration]\nenabled = false\n"


def approve_artifacts(design_dir: Path, root: Path) -> None:
    """What an approved design leaves behind: XML subtasks and the plan, committed."""
    seed_subtask_files(str(design_dir))
    run_plan(str(design_dir), write=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "approved"],
        cwd=root,
        check=True,
    )


def tiny_design(root: Path, subplans: dict[str, list[str]]) -> Path:
    """A design directory with the given subplans (name -> dependencies), no gates."""
    design = root / "design"
    (design / "subplans").mkdir(parents=True)
    (design / "overview.md").write_text("# Tiny\n\nA tiny feature.\n")
    for name, deps in subplans.items():
        (design / "subplans" / f"{name}.md").write_text(
            f"# {name}\n\n**Dependencies**: {', '.join(deps) or 'None'}\n"
            f"**Files Modified**: src/{name}.txt\n\n## Acceptance Criteria\n\n- [ ] exists\n"
        )
    return design


def tiny_project(
    tmp_path: Path,
    github_url: str,
    subplans: dict[str, list[str]],
    config: str,
    top: str = "",
    forge: str = "follow = false",
) -> DemoRepo:
    """A project on a tiny design (subplan name -> dependencies), its artifacts approved."""
    design = tiny_design(tmp_path / "src", subplans)
    repo = make_project(
        tmp_path / "p", github_url, config, design_source=design, top_config=top, forge_config=forge
    )
    approve_artifacts(repo.design_dir, repo.root)
    return repo


def wid() -> str:
    return f"build-link-shortener-{uuid.uuid4().hex[:6]}"


async def start_build(
    client: Client, repo: DemoRepo, task_queue: str, **inputs: Any
) -> WorkflowHandle:
    """`inputs`: more of the build's input (`max_concurrent_subtasks=1`)."""
    return await client.start_workflow(
        BuildWorkflow.run,
        BuildInput(design_dir=str(repo.design_dir), **inputs),
        id=wid(),
        task_queue=task_queue,
    )


async def build(client: Client, task_queue: str, design_dir: Path) -> BuildResult:
    async with build_worker(client, task_queue):
        handle = await client.start_workflow(
            BuildWorkflow.run,
            BuildInput(design_dir=str(design_dir)),
            id=f"build-tiny-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
        )
        return BuildResult.model_validate(await handle.result())


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    ).stdout.strip()


def writes_file_rule(name: str) -> dict:
    """The builder of `name` writes src/<name>.txt."""
    path = f"src/{name}.txt"
    return rule(
        "builder",
        [write(path, name)],
        {"summary": f"wrote {name}", "files_changed": [path]},
        scope=name,
    )


def writes_rule(role: str, scope: str, text: str, path: str = "src/a.txt") -> dict:
    """An agent of `role` on `scope` that writes `text` to `path` (a fixer, an integrator)."""
    done = {"summary": f"wrote {text!r} to {path}", "files_changed": [path]}
    return rule(role, [write(path, text)], done, scope=scope)


def passes_review(scope: str | None = None) -> dict:
    """Every review of `scope` (None: every review) scores 0.99, above any bar."""
    at = {"scope": scope} if scope is not None else {}
    return rule(submit={"score": 0.99}, kind="review", **at)


def builder(name: str, steps: list[dict]) -> dict:
    """The builder of `name` takes `steps`, then submits."""
    return rule("builder", steps, {"summary": f"built {name}"}, scope=name)


def sharing_project(tmp_path: Path, github_url: str):  # type: ignore[no-untyped-def]
    """a and b, both in stage 1, both modify src/shared.txt."""
    design = tiny_design(tmp_path / "src", {"a": [], "b": []})
    for name in ("a", "b"):
        plan = design / "subplans" / f"{name}.md"
        plan.write_text(
            plan.read_text().replace(f"src/{name}.txt", f"src/{name}.txt, src/shared.txt")
        )
    repo = make_project(tmp_path / "p", github_url, ONE_REVIEWER, design_source=design)
    approve_artifacts(repo.design_dir, repo.root)
    return repo


SHARING_RULES = [
    builder("a", [write("src/a.txt", "a\n"), write("src/shared.txt", "alpha\n")]),
    builder("b", [write("src/b.txt", "b\n"), write("src/shared.txt", "alpha\nbeta\n")]),
    passes_review("a"),
    passes_review("b"),
    passes_review("integration"),
]


async def a_done_b_building(handle: WorkflowHandle, messages: MessagesStandIn) -> None:
    """Until a has its PR and b's builder has asked the model (a build of a, b <- a)."""

    async def ready() -> bool:
        st = await status_of(handle, BuildStatus)
        a = next((v for v in st.subtasks if v.name == "a"), None)
        asked = any(r.role == "builder" and r.scope == "b" for r in messages.requests)
        return bool(a and a.status == "pr_created" and asked)

    await until(ready, limit=180, what="a's PR and b building")


async def notice_with(handle: WorkflowHandle, start: str) -> str | None:
    """The build's notice when it starts with `start` (a probe for `until`)."""
    text = (await status_of(handle, BuildStatus)).notice
    return text if text.startswith(start) else None


async def notice_having(handle: WorkflowHandle, part: str) -> str | None:
    """The build's notice when it holds `part` (a probe for `until`)."""
    text = (await status_of(handle, BuildStatus)).notice
    return text if part in text else None


async def conflict_question(handle: WorkflowHandle) -> tuple[BuildStatus, PendingDecision]:
    async def asked() -> tuple[BuildStatus, PendingDecision] | None:
        st = await status_of(handle, BuildStatus)
        found = next((d for d in st.decisions if d.scope == "file-conflicts"), None)
        return (st, found) if found else None

    return await until(asked, what="the file-conflict question")


@contextlib.asynccontextmanager
async def held_at_conflicts(
    env: Any, tmp_path: Path, github_url: str, monkeypatch: Any
) -> AsyncIterator[WorkflowHandle]:
    """A build (on `env`, a WorkflowEnvironment) held at its file-conflict question: nothing
    runs or has finished, until the test answers it."""
    queue = f"held-{uuid.uuid4().hex[:8]}"
    with scripted_model({"rules": SHARING_RULES}, monkeypatch, github_url):
        repo = sharing_project(tmp_path, github_url)
        async with build_worker(env.client, queue):
            handle = await start_build(env.client, repo, queue)
            await conflict_question(handle)
            yield handle


BRANCH = "integration/link-shortener"


def integrated(
    tmp_path: Path, github_url: str, suite: str, release: str = "", top: str = ""
) -> DemoRepo:
    """A project whose build integrated: its integration branch and INTEGRATION.md (`top`:
    top-level configuration lines)."""
    config = f'{ONE_REVIEWER}\n[gates]\nintegration = ["{suite}"]\n\n[release]\n{release}\n'
    repo = tiny_project(tmp_path, github_url, {"a": []}, config, top=top)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "branch", BRANCH], cwd=repo.root, check=True)
    report = repo.design_dir / "build-reviews" / "INTEGRATION.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        f"# Integration: link-shortener\n\n- Branch: `{BRANCH}`\n- Outcome: **passed**\n"
    )
    (repo.root / "src").mkdir(exist_ok=True)
    (repo.root / "src" / "app.py").write_text("def shorten(url: str) -> str:\n    return url\n")
    subprocess.run([*git, "add", "-A"], cwd=repo.root, check=True)
    subprocess.run([*git, "commit", "-qm", "integrated"], cwd=repo.root, check=True)
    row = TrackerRow(subtask="a", batch=1, status="pr_created", pr="https://x/pull/1")
    update_tracker(TrackerUpdate(repo_root=str(repo.root), feature="link-shortener", rows=[row]))
    return repo


def push_to_main(tmp_path: Path, repo: DemoRepo, path: str, text: str) -> None:
    """Someone else's commit on the base, pushed to the forge."""
    other = tmp_path / "other"
    assert git_out(tmp_path, "clone", "-q", str(repo.origin), str(other)) == ""
    (other / path).parent.mkdir(parents=True, exist_ok=True)
    (other / path).write_text(text)
    git_out(other, "add", path)
    git_out(other, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"main: {path}")
    git_out(other, "push", "-q", "origin", "HEAD:main")


async def row(handle: WorkflowHandle, name: str) -> SubtaskView | None:
    """A row of the build's status (a subtask, or `integration`), served once it answers."""
    st = await served_status(handle, BuildStatus)
    return next((v for v in st.subtasks if v.name == name), None) if st else None


def forge_hold(
    handle: WorkflowHandle, name: str
) -> Callable[[], Awaitable[PendingDecision | None]]:
    """A probe: `name`'s decision about its PR, once its loop holds for a person."""

    async def probe() -> PendingDecision | None:
        v = await row(handle, name)
        d = v.decision if v else None
        return d if d is not None and d.kind == "forge" else None

    return probe


async def release_status(handle: WorkflowHandle) -> ReleaseStatus:
    return await handle.query(ReleaseWorkflow.status)


async def waits_for(handle: WorkflowHandle, gate: str, limit: float = 120) -> ReleaseStatus:
    """The release's status once it waits for a person to send `gate`."""

    async def probe() -> ReleaseStatus | None:
        st = await release_status(handle)
        return st if st.next_gate == gate else None

    found: ReleaseStatus = await until(probe, limit=limit, what=f"waiting for {gate}")
    return found
