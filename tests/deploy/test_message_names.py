"""Python code names the loops' messages and workflows by method reference, never by string.

`handle.signal(BuildWorkflow.pause)` breaks at import time and in the type checker when a
handler is renamed or retyped; `handle.signal("!pause")` breaks in a person's terminal. The
names stay strings only where a person types them: the plain `temporal` CLI (its argv, which
no call here reads) and the `!`-command lines inside the `command` signal's text.

Read from the source with `ast`: a call of `.signal(`, `.query(`, `.execute_update(`,
`.start_update(`, `.start_workflow(`, `.execute_workflow(`, `.start_child_workflow(` or
`.execute_child_workflow(` whose message or workflow is a string literal naming one of the
worker's workflows or their handlers, or a name built at run time (an f-string).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from worker import workflows

CALLS = frozenset(
    {
        "signal",
        "query",
        "execute_update",
        "start_update",
        "start_workflow",
        "execute_workflow",
        "start_child_workflow",
        "execute_child_workflow",
    }
)
# Keyword arguments that name a message (`start_workflow(..., start_signal="decide")`).
NAMING_KEYWORDS = frozenset({"start_signal", "update", "signal", "query", "workflow"})
SKIPPED_DIRS = frozenset({".venv", "node_modules", "__pycache__", ".git", "histories"})

# Files where a name may stay a string, each with why. Empty: the plain CLI's boundary is
# reached through `temporal` argv (tests/support.py temporal_cli) and the `!`-command text.
ALLOWED: dict[str, str] = {}


def known_names() -> set[str]:
    """Every workflow type, signal, query and update name the worker registers."""
    names: set[str] = set()
    for cls in workflows():
        # The SDK keeps the definition on the class; its public API offers no other reader.
        defn: Any = getattr(cls, "__temporal_workflow_definition")
        names.add(defn.name)
        names.update(n for n in (*defn.signals, *defn.queries, *defn.updates) if n)
    return names


def named_by_string(node: ast.AST, names: set[str]) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.Constant) and node.value in names


def string_names(path: Path, source: str, names: set[str]) -> Iterator[str]:
    """Each call in `source` that names a message or workflow by a string."""
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CALLS
        ):
            continue
        first = node.args[:1]
        keywords = [k.value for k in node.keywords if k.arg in NAMING_KEYWORDS]
        if any(named_by_string(arg, names) for arg in [*first, *keywords]):
            yield f"{path}:{node.lineno}: {ast.unparse(node)[:100]}"


def python_files() -> Iterator[Path]:
    for path in sorted(REPO_ROOT.rglob("*.py")):
        relative = path.relative_to(REPO_ROOT)
        if not SKIPPED_DIRS.intersection(relative.parts):
            yield relative


def test_no_message_or_workflow_is_named_by_a_string_outside_the_plain_cli() -> None:
    names = known_names()
    found = [
        hit
        for path in python_files()
        if str(path) not in ALLOWED
        for hit in string_names(path, (REPO_ROOT / path).read_text(), names)
    ]
    assert not found, (
        "name the message by its handler, as a method reference "
        "(`handle.signal(BuildWorkflow.pause)`, `handle.query(BuildWorkflow.status)`, "
        "`client.start_workflow(BuildWorkflow.run, ...)`), or, for a test of what a person "
        "types, send it with the plain `temporal` CLI (tests/support.py temporal_cli):\n"
        + "\n".join(found)
    )


def test_the_names_it_knows_are_the_workers() -> None:
    names = known_names()
    for name in ("BuildWorkflow", "!pause", "subtask_progress", "status", "answer_question"):
        assert name in names, name


def test_every_way_of_naming_a_message_by_a_string_is_seen() -> None:
    names = known_names()
    caught = [
        'await handle.signal("approved")',
        'await handle.signal("command", "!budget")',
        'await h.query("status")',
        'await h.execute_update("answer_question", AnswerInput(question_id="Q2", choice="B"))',
        'await h.start_update("answer_question", a, wait_for_stage=s)',
        'await client.start_workflow("BuildWorkflow", inp, id="x", task_queue="q")',
        'await client.execute_workflow("PlanWorkflow", req, id="x", task_queue="q")',
        'await workflow.get_external_workflow_handle(p).signal("subtask_progress", now)',
        'await workflow.start_child_workflow("SubtaskWorkflow", arg, id="x")',
        'await workflow.execute_child_workflow("IntegrationWorkflow", arg, id="x")',
        'await handle.signal(f"!{verb}")',
        'await client.start_workflow(BuildWorkflow.run, i, id="x", start_signal="decide")',
    ]
    for source in caught:
        assert list(string_names(Path("example.py"), source, names)), source
    allowed = [
        "await handle.signal(BuildWorkflow.pause)",
        'await handle.signal(BuildWorkflow.command, "!budget")',
        "await handle.query(LOOP_CLASSES[kind].status)",
        "await client.start_workflow(BuildWorkflow.run, inp, id='x', task_queue='q')",
        "signal.signal(signal.SIGINT, stop)",
        'temporal_cli(address, "workflow", "signal", "--name", "approved")',
        # Not a name of ours: the SDK's own query, and a type nobody defines (a squatter).
        'await handle.query("__temporal_workflow_metadata")',
        'await client.start_workflow("Squatter", id="x", task_queue="nobody")',
    ]
    for source in allowed:
        assert not list(string_names(Path("example.py"), source, names)), source
