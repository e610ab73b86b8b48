"""`orchestrator webhook`: a real receiver process, real HTTP, deliveries signed as GitHub
signs them, and a real SubtaskWorkflow following a pull request on the test server.

The loop is a SubtaskWorkflow started with the state of one that has opened PR #7 on
`feat/a` of demo/shop; only a worker of workflows polls its queue, so it stays RUNNING
there (waiting for a host) and answers `status` as a following loop does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from cli.webhook_cmd import Follower, followed
from contracts.build import SubtaskInput, SubtaskState
from contracts.config import OrchestratorConfig, ProjectContext
from runtime.server import free_port
from runtime.webhook import (
    Concerned,
    DeliveryLog,
    DeliveryLogBusy,
    concerned,
    signature,
    verified,
)
from runtime.webhook_http import Receiver as WebhookReceiver
from runtime.webhook_http import Reply, RouteUnavailable
from tests.cli.commands import orchestrator
from tests.conftest import REPO_ROOT
from worker import workflows
from workflows.integration import IntegrationWorkflow
from workflows.subtask import SubtaskWorkflow

SECRET = f"whsec-{uuid.uuid4().hex}"
REPO = "demo/shop"

# Shapes of GitHub's documented payloads, trimmed to the fields routing reads
# (docs.github.com/en/webhooks/webhook-events-and-payloads#check_run and
# #pull_request_review: `check_run.head_sha`, `check_run.check_suite.head_branch`,
# `check_run.pull_requests[].number/head.ref`; `pull_request.number/head.ref/head.sha`).
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def check_run(number: int, branch: str, repo: str = REPO) -> dict[str, Any]:
    pull = {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "id": 279147437,
        "number": number,
        "head": {"ref": branch, "sha": HEAD, "repo": {"name": repo.split("/")[1]}},
        "base": {"ref": "main", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"},
    }
    return {
        "action": "completed",
        "check_run": {
            "id": 128620228,
            "head_sha": HEAD,
            "status": "completed",
            "conclusion": "failure",
            "name": "tests",
            "check_suite": {"id": 118578147, "head_branch": branch, "head_sha": HEAD},
            "pull_requests": [pull],
        },
        "repository": {"name": repo.split("/")[1], "full_name": repo},
        "sender": {"login": "Codertocat"},
    }


def pull_request_review(number: int, branch: str) -> dict[str, Any]:
    return {
        "action": "submitted",
        "review": {"id": 237895671, "state": "changes_requested", "body": "please fix"},
        "pull_request": {
            "number": number,
            "state": "open",
            "head": {"ref": branch, "sha": HEAD},
            "base": {"ref": "main"},
        },
        "repository": {"name": "shop", "full_name": REPO},
        "sender": {"login": "Codertocat"},
    }


# ------------------------------------------------------------- no server


def test_the_signature_is_githubs() -> None:
    """The example in GitHub's "Validating webhook deliveries" (docs.github.com)."""
    body = b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature(b"It's a Secret to Everybody", body) == expected
    assert verified(b"It's a Secret to Everybody", body, expected)
    assert not verified(b"It's a Secret to Everybody", body + b" ", expected)
    assert not verified(b"It's a Secret to Everybody", body, None)


def test_a_delivery_names_its_pull_requests() -> None:
    c = concerned("check_run", check_run(7, "feat/a", "Demo/Shop"))
    assert (c.repository, c.numbers, c.branches, c.head_sha) == (
        "demo/shop",
        {7},
        {"feat/a"},
        HEAD,
    )
    c = concerned("pull_request_review", pull_request_review(3, "feat/b"))
    assert (c.numbers, c.branches, c.action) == ({3}, {"feat/b"}, "submitted")
    status = {"sha": HEAD, "branches": [{"name": "feat/c"}], "repository": {"full_name": REPO}}
    assert concerned("status", status).branches == {"feat/c"}
    assert concerned("check_suite", {"check_suite": "odd"}).numbers == frozenset()


def test_the_delivery_log_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "deliveries"
    log = DeliveryLog(path, keep=3)
    with pytest.raises(DeliveryLogBusy, match="another `orchestrator webhook` uses"):
        DeliveryLog(path)  # one receiver per ORCHESTRATOR_HOME
    assert log.take("a") and not log.take("a")
    for d in "bcdefgh":
        assert log.take(d)
    log.forget("h")
    log.close()
    again = DeliveryLog(path, keep=3)
    assert not again.take("g") and again.take("h")
    assert again.take("a")  # older than the newest 3: forgotten
    assert len(path.read_text().splitlines()) <= 6
    again.close()


def test_temporal_down_gives_the_delivery_back(tmp_path: Path) -> None:
    """No loop could be told (503): the id is not kept, so GitHub's Redeliver is taken."""
    answers = [RouteUnavailable("Temporal: unavailable"), Reply(200, "told x")]

    def route(event: str, delivery: str, concerns: Concerned) -> Reply:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    deliveries = DeliveryLog(tmp_path / "deliveries")
    receive = WebhookReceiver(SECRET.encode(), deliveries, route).receive
    body = json.dumps(check_run(7, "feat/a")).encode()
    headers = {
        "x-github-event": "check_run",
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": signature(SECRET.encode(), body),
        "content-type": "application/json",
    }
    assert receive(headers, body).status == 503
    assert receive(headers, body) == Reply(200, "told x")
    assert receive(headers, body).status == 409
    deliveries.close()


def test_a_loop_follows_its_pull_request_by_number_or_branch() -> None:
    integration = SubtaskState(
        branch="integration/shop", pr_number=9, pr_url=f"https://github.com/{REPO}/pull/9"
    )
    assert followed(integration) == (REPO, 9)
    assert followed(SubtaskState(branch="feat/a")) is None  # no pull request yet
    loop = Follower("build-shop-integration", IntegrationWorkflow, REPO, 9, "integration/shop")
    status = {"state": "success", "branches": [{"name": "integration/shop"}]}
    assert loop.follows(concerned("status", {**status, "repository": {"full_name": REPO}}))
    assert not loop.follows(concerned("status", {**status, "repository": {"full_name": "a/b"}}))
    assert loop.follows(concerned("pull_request", pull_request_review(9, "elsewhere")))


async def test_no_secret_no_receiver(tmp_path: Path) -> None:
    env = {**os.environ, "ORCHESTRATOR_HOME": str(tmp_path), "HOOK_SECRET": ""}
    done = await orchestrator(env, "webhook", "--port", "1", "--secret-env", "HOOK_SECRET")
    assert done.returncode == 2
    assert "HOOK_SECRET (--secret-env) is empty" in done.stderr
    assert "export HOOK_SECRET=" in done.stderr


# ------------------------------------------------------------- the receiver


class Receiver:
    """`orchestrator webhook` in its own process, as a person runs it."""

    def __init__(self, env: dict[str, str], task_queue: str, log: Path) -> None:
        self.env, self.task_queue, self.log = env, task_queue, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["webhook", "--port", str(self.port), "--secret-env", "HOOK_SECRET"]
        args += ["--task-queue", self.task_queue, "--no-embedded"]
        listening = self.text().count(f":{self.port}/")  # a restart appends to the same log
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "starter", *args],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while self.text().count(f":{self.port}/") == listening:
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0, self.text()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def post(
        self,
        event: str,
        payload: Any,
        delivery: str | None = None,
        sign: bool = True,
        secret: str = SECRET,
    ) -> tuple[int, str]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "User-Agent": "GitHub-Hookshot/test",
        }
        if sign:
            headers["X-Hub-Signature-256"] = signature(secret.encode(), body)
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


@pytest.fixture
def receiver(temporal_env: dict[str, str], task_queue: str, tmp_path: Path) -> Iterator[Receiver]:
    env = {**temporal_env, "ORCHESTRATOR_HOME": str(tmp_path / "home"), "HOOK_SECRET": SECRET}
    r = Receiver(env, task_queue, tmp_path / "webhook.log")
    r.start()
    yield r
    if r.proc is not None and r.proc.poll() is None:
        r.stop()


@pytest.fixture
async def following(client: Client, task_queue: str) -> AsyncIterator[WorkflowHandle]:
    """A running SubtaskWorkflow whose state follows PR #7 on feat/a of demo/shop."""
    state = SubtaskState(
        status="pr_created",
        phase="following its pull request",
        branch="feat/a",
        pr_number=7,
        pr_url=f"https://github.com/{REPO}/pull/7",
    )
    ctx = ProjectContext(
        repo_root="/nowhere/shop",
        design_dir="/nowhere/shop/design",
        design_rel="design",
        feature="shop",
        branch="main",
        config=OrchestratorConfig(),
    )
    inp = SubtaskInput(
        ctx=ctx, subtask="a", title="a", batch=1, base_branch="main", threshold=0.96, state=state
    )
    async with Worker(client, task_queue=task_queue, workflows=workflows()):
        wid = f"build-shop-{uuid.uuid4().hex[:6]}-a"
        queue = task_queue
        handle = await client.start_workflow(SubtaskWorkflow.run, inp, id=wid, task_queue=queue)
        for _ in range(100):  # listed once visibility has it
            query = f"WorkflowId = '{handle.id}' AND ExecutionStatus = 'Running'"
            if [wf async for wf in client.list_workflows(query)]:
                break
            await asyncio.sleep(0.1)
        yield handle
        await handle.terminate("test done")


async def forge_events(handle: WorkflowHandle) -> list[str]:
    """The inputs of every forge_event signal in the loop's history, as JSON text."""
    found = []
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_signaled_event_attributes"):
            attrs = event.workflow_execution_signaled_event_attributes
            if attrs.signal_name == "forge_event":
                found.append(b"".join(p.data for p in attrs.input.payloads).decode())
    return found


async def test_a_signed_delivery_wakes_the_loop_and_a_replay_never(
    client: Client, receiver: Receiver, following: WorkflowHandle
) -> None:
    delivery = str(uuid.uuid4())
    status, text = await asyncio.to_thread(
        receiver.post, "check_run", check_run(7, "feat/a"), delivery
    )
    assert (status, following.id in text) == (200, True), text
    [sent] = await forge_events(following)
    assert json.loads(sent) == {
        "delivery": delivery,
        "event": "check_run",
        "pr_number": 7,
        "head_sha": HEAD,
    }
    # A review on the same PR is found by its number and branch too.
    review = str(uuid.uuid4())
    status, _ = await asyncio.to_thread(
        receiver.post, "pull_request_review", pull_request_review(7, "feat/a"), review
    )
    assert status == 200
    # A commit status names the branch only.
    green = {"sha": HEAD, "state": "success", "branches": [{"name": "feat/a"}]}
    status, _ = await asyncio.to_thread(
        receiver.post, "status", {**green, "repository": {"full_name": REPO}}, str(uuid.uuid4())
    )
    assert status == 200
    # The same delivery again: refused, nothing signalled; also after a restart.
    status, text = await asyncio.to_thread(
        receiver.post, "check_run", check_run(7, "feat/a"), delivery
    )
    assert (status, "replay" in text) == (409, True)
    receiver.stop()
    receiver.start()
    status, _ = await asyncio.to_thread(
        receiver.post, "check_run", check_run(7, "feat/a"), delivery
    )
    assert status == 409
    # Another repository's PR #7, or a PR nobody follows: taken, nobody told.
    for other in (check_run(7, "feat/a", "someone/else"), check_run(8, "feat/b")):
        status, text = await asyncio.to_thread(receiver.post, "check_run", other)
        assert (status, "no running loop follows" in text) == (202, True), text
    # Unsigned and wrongly signed: 401, nothing signalled.
    status, _ = await asyncio.to_thread(
        receiver.post, "check_run", check_run(7, "feat/a"), sign=False
    )
    assert status == 401
    status, _ = await asyncio.to_thread(
        receiver.post, "check_run", check_run(7, "feat/a"), secret="not-it"
    )
    assert status == 401
    signalled = await forge_events(following)
    assert [json.loads(s)["event"] for s in signalled] == [
        "check_run",
        "pull_request_review",
        "status",
    ]
    assert [json.loads(s)["delivery"] for s in signalled][:2] == [delivery, review]
    # The secret is in no log line and nowhere in the loop's history.
    history = (await following.fetch_history()).to_json()
    assert SECRET not in history and SECRET not in receiver.text()
    assert f"delivery={delivery} event=check_run action=completed" in receiver.text()


async def test_what_the_receiver_refuses(receiver: Receiver) -> None:
    post = receiver.post
    assert (await asyncio.to_thread(post, "ping", {"zen": "Keep it logically awesome."}))[0] == 200
    status, text = await asyncio.to_thread(post, "push", {"ref": "refs/heads/main"})
    assert (status, "ignored" in text) == (202, True)
    started = {**check_run(7, "feat/a"), "action": "created"}
    status, text = await asyncio.to_thread(post, "check_run", started)
    assert (status, "not completed yet" in text) == (202, True)
    assert (await asyncio.to_thread(post, "check_run", b"{not json"))[0] == 400
    assert (await asyncio.to_thread(post, "check_run", b"{}", "../../etc"))[0] == 400
    assert (await asyncio.to_thread(post, "ping", {}, sign=False))[0] == 401
    # Over GitHub's 25 MB cap: refused from the header, before a byte of the body is read.
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=30) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: ping\r\n"
            b"Content-Length: 26214401\r\n\r\n{"
        )
        answer = sock.recv(1000).decode()
    assert answer.startswith("HTTP/1.0 413"), answer
    # After all that, it still serves.
    assert (await asyncio.to_thread(post, "ping", {}))[0] == 200
    assert SECRET not in receiver.text()
