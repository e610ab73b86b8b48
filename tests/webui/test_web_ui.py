"""What a person sees in the Temporal Web UI, checked in a real (headless) Chromium.

The embedded dev server serves the UI; the loops run for real (stand-ins for
the model and GitHub); Chromium renders the UI's pages and the test reads what
it shows: a design waiting at its gate, and the demo's loops (the last demo of the
shared sequence in tests/demo_runs.py, run to the end): the design and build
workflows by id, the subtask children, the activity summaries and the
current-details status.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError
from temporalio.client import Client

from contracts.build import ALL_SUBTASKS_MERGEABLE
from contracts.design import DesignInput, DesignResult, DesignStatus
from runtime.server import DevServer
from tests.demo_runs import InterruptedDemos
from tests.support import make_project, scripted_model, status_of, until
from tests.workflows.builds import passes_review, tiny_design
from worker import build_worker
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
    """The page's visible text, its frames' included, once it shows `expect` (or after 30 s).
    Markdown (current details, summaries) is rendered in sandboxed frames, after the page."""
    page = await browser.new_page(viewport={"width": 1600, "height": 2000})
    try:
        await page.goto(url)
        deadline = time.monotonic() + 30
        while True:
            texts = [await page.inner_text("body")]
            for frame in page.frames[1:]:
                try:
                    texts.append(await frame.inner_text("body"))
                except PlaywrightError:
                    continue
            text = "\n".join(texts)
            if expect in text or time.monotonic() > deadline:
                return text
            await page.wait_for_timeout(500)
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
    interrupted_demos: InterruptedDemos,
) -> None:
    ui = temporal_server.ui_url + "/namespaces/default/workflows"
    design_id = f"design-ui-{task_queue.removeprefix('test-')}"
    # A design of one subplan that every reviewer passes: it stops at the approval gate.
    with scripted_model({"rules": [passes_review()]}, monkeypatch):
        design_source = tiny_design(tmp_path / "src", {"a": []})
        repo = make_project(tmp_path / "p", design_source=design_source)
        async with build_worker(client, task_queue):
            design = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id=design_id,
                task_queue=task_queue,
            )

            async def gate() -> bool:
                return (await status_of(design, DesignStatus)).phase == "awaiting-approval"

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

    # The demo's loops, as a person who ran `orchestrator demo` finds them in the UI.
    assert interrupted_demos.rerun.returncode == 0, interrupted_demos.rerun.stdout[-3000:]
    build_id = "build-link-shortener"
    listing = await text_of(browser, ui, build_id + "-05-cli")
    for workflow_id in ("design-link-shortener", build_id, *(f"{build_id}-{n}" for n in (
        "01-models", "02-storage", "03-codec", "04-service", "05-cli"))):  # fmt: skip
        assert workflow_id in listing, workflow_id
    assert "DesignReviewWorkflow" in listing and "SubtaskWorkflow" in listing

    child = client.get_workflow_handle(f"{build_id}-03-codec")
    child_run = (await child.describe()).run_id
    # Following its PR makes a long history: every event on one page (the UI's largest).
    history = await text_of(
        browser, f"{ui}/{build_id}-03-codec/{child_run}/history?per-page=500", "review 03-codec"
    )
    for summary in (
        "review 03-codec · code-correctness",
        "review 03-codec · code-performance",
        "gates 03-codec · round 2",
        "pull request feat/03-codec",
    ):
        assert summary in history, summary

    build = await client.get_workflow_handle(build_id).describe()
    relations = await text_of(
        browser, f"{ui}/{build_id}/{build.run_id}/relationships", f"{build_id}-04-service"
    )
    assert f"{build_id}-04-service" in relations  # the subtask children, by id
    # The current details are a query the UI sends, which a worker of the loop's queue answers:
    # the demo's own while it runs (the CLI's `status` serves the queue itself afterwards).
    async with build_worker(client, build.task_queue):
        status = await text_of(
            browser, f"{ui}/{build_id}/{build.run_id}/user-metadata", "05-cli (batch 4): mergeable"
        )
    assert "01-models (batch 1): mergeable" in status
    assert "05-cli (batch 4): mergeable" in status
    # Once it has ended: its result and report stay, and the summary set at its start.
    assert f"ended: {ALL_SUBTASKS_MERGEABLE}" in status
    assert "build-reviews/REPORT.md" in status
    assert "build link-shortener in repo: every subtask to a pull request" in status
