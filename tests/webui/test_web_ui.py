"""What a person sees in the Temporal Web UI, checked in a real (headless) Chromium.

The embedded dev server serves the UI; the loops run for real (stand-ins for
the model and GitHub); Chromium renders the UI's pages and the test reads what
it shows: the design and build workflows by id, the subtask children, the
activity summaries and the current-details status.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from temporalio.client import Client

from cli.summaries import loop_metadata
from contracts.build import BuildInput, BuildResult
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.support import make_project, scripted_model, status_of, until
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


async def text_of(browser: Browser, url: str, expect: str) -> str:
    """The page's visible text once the UI has rendered `expect` (or after 30 s)."""
    page = await browser.new_page(viewport={"width": 1600, "height": 2000})
    try:
        await page.goto(url)
        try:
            await page.get_by_text(expect).first.wait_for(timeout=30_000)
        except PlaywrightTimeout:
            # Not in the main document: give frames (rendered markdown) a moment to fill.
            await page.wait_for_timeout(3000)
        # Markdown (current details, summaries) is rendered in sandboxed frames.
        texts = [await page.inner_text("body")]
        for frame in page.frames[1:]:
            try:
                texts.append(await frame.inner_text("body"))
            except PlaywrightError:
                continue
        return "\n".join(texts)
    finally:
        await page.close()


@pytest.mark.skipif(CHROMIUM is None, reason="run tests/setup.sh (./run test does) for Chromium")
async def test_a_person_sees_the_loops_in_the_web_ui(
    client: Client,
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    browser: Browser,
) -> None:
    ui = temporal_server.ui_url + "/namespaces/default/workflows"
    suffix = task_queue.removeprefix("test-")
    design_id, build_id = f"design-ui-{suffix}", f"build-ui-{suffix}"
    with (
        GitHubStandIn() as github,
        scripted_model(link_shortener_scenario(), monkeypatch, github.url),
    ):
        repo = make_project(tmp_path, github.url)
        async with build_worker(client, task_queue):
            design = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id=design_id,
                task_queue=task_queue,
            )

            async def gate() -> bool:
                st = await status_of(design, DesignStatus)
                for q in st.open_questions:
                    await design.execute_update(
                        DesignReviewWorkflow.answer_question,
                        AnswerInput(question_id=q.id, choice="A"),
                    )
                return st.phase == "awaiting-approval"

            await until(gate, what="the approval gate")
            run_id = (await design.describe()).run_id
            # While it waits for a person, the UI shows why, in the workflow's current details.
            details = await text_of(
                browser, f"{ui}/{design_id}/{run_id}/user-metadata", "awaiting-approval"
            )
            assert "awaiting-approval" in details
            assert "waiting for: approved or request_changes" in details

            await design.signal(DesignReviewWorkflow.approved)
            DesignResult.model_validate(await design.result())
            build = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=build_id,
                task_queue=task_queue,
                **loop_metadata("build", str(repo.design_dir)),  # as the CLI starts it
            )
            BuildResult.model_validate(await build.result())

            listing = await text_of(browser, ui, build_id + "-05-cli")
            for workflow_id in (design_id, build_id, *(f"{build_id}-{n}" for n in (
                "01-models", "02-storage", "03-codec", "04-service", "05-cli"))):  # fmt: skip
                assert workflow_id in listing, workflow_id
            assert "DesignReviewWorkflow" in listing and "SubtaskWorkflow" in listing

            child = client.get_workflow_handle(f"{build_id}-03-codec")
            child_run = (await child.describe()).run_id
            history = await text_of(
                browser, f"{ui}/{build_id}-03-codec/{child_run}/history", "review 03-codec"
            )
            for summary in (
                "review 03-codec · code-correctness",
                "review 03-codec · code-performance",
                "gates 03-codec · round 2",
                "pull request feat/03-codec",
            ):
                assert summary in history, summary

            build_run = (await build.describe()).run_id
            relations = await text_of(
                browser, f"{ui}/{build_id}/{build_run}/relationships", f"{build_id}-04-service"
            )
            assert f"{build_id}-04-service" in relations  # the subtask children, by id
            status = await text_of(
                browser, f"{ui}/{build_id}/{build_run}/user-metadata", "pr_created"
            )
            assert "01-models (batch 1): pr_created" in status
            assert "05-cli (batch 4): pr_created" in status
            # Once it has ended: its result and report stay, and the summary set at its start.
            assert "ended: ALL_SUBTASKS_PR_CREATED" in status
            assert "build-reviews/REPORT.md" in status
            assert "build link-shortener in repo: every subtask to a pull request" in status
