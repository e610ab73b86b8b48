"""The stand-in model's standing habits (issue 23): it leaves out a promised file, writes a
marker on the first write of each file and cleans it up when an edit task names the file,
and its integrator blames a subtask of the scenario's choosing. Over HTTP, through the real
anthropic client, as the loops meet them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic

from simulators.messages_api import MessagesStandIn

SUBMIT_EDIT = {
    "name": "submit_edit",
    "description": "submit",
    "input_schema": {"type": "object", "properties": {"summary": {"type": "string"}}},
}
WRITE = {"name": "write_file", "description": "write", "input_schema": {"type": "object"}}
BUILDER = {
    "match": {"role": "builder", "scope": "02-storage"},
    "steps": [
        {"tool": "write_file", "input": {"path": "src/store.py", "content": "X = 1\n"}},
        {"tool": "write_file", "input": {"path": "migrations/001_init.sql", "content": "--\n"}},
        {"tool": "write_file", "input": {"path": "src/index.ts", "content": "export {}"}},
    ],
}
QUIRKS = {
    "omit_files": ["migrations/001_init.sql"],
    "first_write_marker": "TODO: finish this",
    "blame": "01-money-types",
}


def conversation(
    client: anthropic.Anthropic, caller: str, prompt: str, tools: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """Play one agent conversation to its submission: every (tool, input) the model sent."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    calls = []
    for _ in range(10):
        answer = client.messages.create(
            model="sim-model-1",
            max_tokens=1000,
            messages=messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
            metadata={"user_id": caller},
        )
        (call,) = [b for b in answer.content if b.type == "tool_use"]
        calls.append((call.name, dict(call.input)))
        if call.name.startswith("submit_"):
            return calls
        messages += [
            {"role": "assistant", "content": [b.model_dump() for b in answer.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id}]},
        ]
    raise AssertionError(f"no submission: {calls}")


def test_a_promised_file_is_left_out_and_the_first_write_carries_a_marker() -> None:
    with MessagesStandIn({"rules": [BUILDER], "quirks": QUIRKS}) as api:
        client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0)
        caller = "orchestrator:builder:02-storage:0:edit"
        calls = conversation(client, caller, "Implement 02-storage.", [WRITE, SUBMIT_EDIT])
        writes = {c[1]["path"]: c[1]["content"] for c in calls if c[0] == "write_file"}
        assert set(writes) == {"src/store.py", "src/index.ts"}  # the SQL file is left out
        assert writes["src/store.py"] == "X = 1\n# TODO: finish this\n"
        assert writes["src/index.ts"] == "export {}\n// TODO: finish this\n"

        # The same builder asked again (a new conversation): the marker came with the first
        # write only.
        again = conversation(client, caller, "Implement 02-storage again.", [WRITE, SUBMIT_EDIT])
        assert [c[1]["content"] for c in again if c[0] == "write_file"] == ["X = 1\n", "export {}"]

        # A fixer told about the marked file writes it clean first; one not told does nothing.
        fixer = "orchestrator:fixer:02-storage:1:edit"
        told = "Fix: gate `smell: no TODO` failed: src/store.py:2: `TODO` outside tests"
        fixed = conversation(client, fixer, told, [WRITE, SUBMIT_EDIT])
        assert fixed[0] == ("write_file", {"path": "src/store.py", "content": "X = 1\n"})
        elsewhere = conversation(
            client, "orchestrator:fixer:03-codec:1:edit", told, [WRITE, SUBMIT_EDIT]
        )
        assert [c[0] for c in elsewhere] == ["submit_edit"]


def test_the_integrator_blames_the_chosen_subtask_when_it_may_name_one() -> None:
    with MessagesStandIn({"quirks": QUIRKS}) as api:
        client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0)
        caller = "orchestrator:integrator:integration:1:edit"
        culprit = {
            **SUBMIT_EDIT,
            "input_schema": {
                "type": "object",
                "properties": {"summary": {"type": "string"}, "culprit": {"type": "string"}},
            },
        }
        (submitted,) = conversation(client, caller, "The suite fails.", [culprit])
        assert submitted[1]["culprit"] == "01-money-types"
        # Resolving a merge conflict it may name no one: its submission has no culprit.
        (plain,) = conversation(client, caller, "Resolve the conflict.", [SUBMIT_EDIT])
        assert "culprit" not in plain[1]


def test_the_command_line_takes_the_quirks(tmp_path: Path) -> None:
    """What a check outside the project starts: the stand-in with quirks on its command line."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps({"rules": [BUILDER]}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.messages_api",
            "--port",
            "0",
            "--scenario",
            str(scenario),
            "--omit-file",
            "migrations/001_init.sql",
            "--first-write-marker",
            "TODO: finish this",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ")[1].split()[0]
        client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0)
        caller = "orchestrator:builder:02-storage:0:edit"
        calls = conversation(client, caller, "Implement 02-storage.", [WRITE, SUBMIT_EDIT])
        writes = {c[1]["path"]: c[1]["content"] for c in calls if c[0] == "write_file"}
        assert set(writes) == {"src/store.py", "src/index.ts"}
        assert writes["src/store.py"].endswith("# TODO: finish this\n")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
