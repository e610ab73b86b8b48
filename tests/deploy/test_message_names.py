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
import re
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


# docs/commands.md's table of what a person types at the plain `temporal` CLI, by loop.
LOOPS = {
    "design": "DesignReviewWorkflow",
    "build": "BuildWorkflow",
    "release": "ReleaseWorkflow",
    "subtask": "SubtaskWorkflow",
    "integration": "IntegrationWorkflow",
}
# What the loops send each other: registered, and named in the prose under the table.
BETWEEN_LOOPS = {"subtask_progress", "budget_hold", "failure_hold", "outage_retried"}


def registered() -> dict[tuple[str, str], set[str]]:
    """(workflow type, kind) -> the names the worker registers for it."""
    found: dict[tuple[str, str], set[str]] = {}
    for cls in workflows():
        defn: Any = getattr(cls, "__temporal_workflow_definition")
        for kind, names in (
            ("signal", defn.signals),
            ("query", defn.queries),
            ("update", defn.updates),
        ):
            found[defn.name, kind] = {n for n in names if n}
    return found


def documented() -> dict[tuple[str, str], set[str]]:
    """(workflow type, kind) -> the names docs/commands.md's table gives for it."""
    text = (REPO_ROOT / "docs" / "commands.md").read_text()
    table = text.split("| name | kind | input (JSON) | workflows |", 1)[1].split("\n\n", 1)[0]
    found: dict[tuple[str, str], set[str]] = {}
    for row in table.strip().splitlines()[1:]:
        names, kind, _, loops = (cell.strip() for cell in row.strip("|").split("|"))
        # "design, build, release (`status` also on each subtask)", "release: open the ..."
        head = loops.split(":", 1)[0].split("(", 1)[0]
        listed = {name.strip("` ") for name in names.split(",")}
        for word in head.split(","):
            found.setdefault((LOOPS[word.strip()], kind), set()).update(listed)
        for name in re.findall(r"`(\w+)` also on each (\w+)", loops):
            found.setdefault((LOOPS[name[1]], kind), set()).add(name[0])
    return found


def test_every_name_a_person_types_is_registered_where_the_docs_say() -> None:
    """A handler renamed in code keeps its registered name: the names people type (and the
    recorded histories) are the ones docs/commands.md lists, on the loops it lists."""
    have = registered()
    missing = [
        f"{kind} {name!r} on {workflow_type}"
        for (workflow_type, kind), names in documented().items()
        for name in sorted(names - have.get((workflow_type, kind), set()))
    ]
    assert not missing, "documented but not registered (docs/commands.md):\n" + "\n".join(missing)


def test_every_name_a_person_can_send_to_a_loop_is_documented() -> None:
    docs = documented()
    undocumented = [
        f"{kind} {name!r} on {workflow_type}"
        for (workflow_type, kind), names in registered().items()
        if workflow_type in {LOOPS["design"], LOOPS["build"], LOOPS["release"]}
        for name in sorted(names - docs.get((workflow_type, kind), set()) - BETWEEN_LOOPS)
    ]
    assert not undocumented, (
        "registered but missing from docs/commands.md's table of signals, updates and "
        "queries:\n" + "\n".join(undocumented)
    )
