"""Read and write `subtasks/NN-name.xml`, and seed a subtask from its subplan.

The XML is the builder's contract, written once after approval and read by the
build loop, so reading is strict: a typo'd element would silently drop part of
the contract, so it is refused with the file and the element named.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from activities.files import atomic_write_text
from activities.plan.design_dir import (
    REPO_PATH_FIX,
    design_file_issue,
    display_path,
    repo_path_problem,
    repository_of,
)
from contracts.plan import PlanError, PlanIssue, SubplanMeta, slug_problem
from contracts.subtask import SubtaskSpec

# field -> (container path under <subtask>, item tag), in document order
LIST_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "scope_in": (("scope", "in"), "item"),
    "scope_out": (("scope", "out"), "item"),
    "dependencies": (("dependencies",), "dependency"),
    "files": (("files",), "file"),
    "implementation_steps": (("implementation",), "step"),
    "tests_to_add": (("tests",), "test"),
    "commands": (("commands",), "command"),
    "acceptance_criteria": (("acceptance_criteria",), "criterion"),
    "safety_notes": (("safety",), "note"),
}
SCALAR_HEAD = ("title", "summary")
SCALAR_TAIL = ("estimated_hours", "complexity", "subplan")
_CONTAINERS = {path[0] for path, _ in LIST_FIELDS.values()}
_ALLOWED = set(SCALAR_HEAD) | set(SCALAR_TAIL) | _CONTAINERS
_REGENERATE = "correct the file, or delete it and run `orchestrator design <dir>` to regenerate it"


# ---------------------------------------------------------------- writing


def _text_element(parent: ET.Element, tag: str, text: str) -> ET.Element:
    elem = ET.SubElement(parent, tag)
    elem.text = text
    return elem


def subtask_to_xml(spec: SubtaskSpec) -> str:
    """Deterministic, indented XML for a spec (same spec, same bytes)."""
    root = ET.Element("subtask", {"id": spec.id})
    _text_element(root, "title", spec.title)
    _text_element(root, "summary", spec.summary)
    containers: dict[tuple[str, ...], ET.Element] = {}
    for name, (path, item_tag) in LIST_FIELDS.items():
        parent = root
        for depth in range(1, len(path) + 1):
            key = path[:depth]
            if key not in containers:
                containers[key] = ET.SubElement(parent, path[depth - 1])
            parent = containers[key]
        for value in getattr(spec, name):
            _text_element(parent, item_tag, value)
    if spec.estimated_hours is not None:
        _text_element(root, "estimated_hours", f"{spec.estimated_hours:g}")
    if spec.complexity is not None:
        _text_element(root, "complexity", spec.complexity)
    _text_element(root, "subplan", spec.subplan)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_subtask(path: str | Path, spec: SubtaskSpec) -> None:
    """Write one subtask XML atomically (temp file + os.replace)."""
    atomic_write_text(path, subtask_to_xml(spec))


# ---------------------------------------------------------------- reading


def _text(elem: ET.Element) -> str:
    return "".join(elem.itertext()).strip()


def _schema_error(shown: str, problem: str, fix: str = _REGENERATE) -> PlanError:
    return PlanError(shown, problem, fix)


def _parse_root(shown: str, data: bytes) -> ET.Element:
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in head:
        # Entity expansion is an attack surface and never needed for a subtask.
        raise _schema_error(shown, "DOCTYPE/ENTITY declarations are not allowed in subtask XML")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise _schema_error(
            shown, f"malformed XML at line {line}, column {column + 1}: {reason}"
        ) from exc


def _single(shown: str, root: ET.Element, tag: str) -> ET.Element | None:
    found = root.findall(tag)
    if len(found) > 1:
        raise _schema_error(shown, f"element <{tag}> appears {len(found)} times in <subtask>")
    return found[0] if found else None


def _items(shown: str, container: ET.Element, item_tag: str) -> list[str]:
    values = []
    stray = [(container.text or "").strip(), *((c.tail or "").strip() for c in container)]
    if any(stray):
        # Text beside the items would be dropped without a word: part of the contract lost.
        raise _schema_error(
            shown,
            f"text {next(s for s in stray if s)[:40]!r} in <{container.tag}> outside its"
            f" <{item_tag}> elements",
            f"put each entry in its own <{item_tag}> element",
        )
    for child in container:
        if child.tag != item_tag:
            raise _schema_error(
                shown,
                f"unexpected element <{child.tag}> in <{container.tag}>"
                f" (it may only contain <{item_tag}> elements)",
            )
        values.append(_text(child))
    return values


def _read_lists(shown: str, root: ET.Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    scope = _single(shown, root, "scope")
    if scope is not None:
        for child in scope:
            if child.tag not in ("in", "out"):
                raise _schema_error(
                    shown, f"unexpected element <{child.tag}> in <scope> (allowed: <in>, <out>)"
                )
    for name, (path, item_tag) in LIST_FIELDS.items():
        container: ET.Element | None = root
        for tag in path:
            container = _single(shown, container, tag) if container is not None else None
        fields[name] = _items(shown, container, item_tag) if container is not None else []
    return fields


def parse_subtask_xml(data: bytes, shown: str, expected_id: str | None = None) -> SubtaskSpec:
    """Parse subtask XML text; `shown` names the file in errors."""
    root = _parse_root(shown, data)
    if root.tag != "subtask":
        raise _schema_error(shown, f"unknown root element <{root.tag}>; expected <subtask>")
    subtask_id = root.get("id")
    if subtask_id is None:
        raise _schema_error(shown, "<subtask> missing attribute id")
    problem = slug_problem(subtask_id)
    if problem:
        raise _schema_error(shown, f"<subtask> attribute id: {problem}")
    if expected_id is not None and subtask_id != expected_id:
        raise _schema_error(
            shown,
            f"<subtask> attribute id {subtask_id!r} does not match the file name {expected_id!r}",
            f'set id="{expected_id}" or rename the file to subtasks/{subtask_id}.xml',
        )
    for child in root:
        if child.tag not in _ALLOWED:
            raise _schema_error(
                shown,
                f"unexpected element <{child.tag}> in <subtask>"
                f" (allowed: {', '.join(f'<{t}>' for t in sorted(_ALLOWED))})",
            )
    title = _single(shown, root, "title")
    if title is None or not _text(title):
        raise _schema_error(shown, "<subtask> missing element <title> (or it is empty)")
    fields: dict[str, Any] = {"id": subtask_id, "title": _text(title)}
    for tag in ("summary", "complexity", "subplan"):
        elem = _single(shown, root, tag)
        if elem is not None:
            fields[tag] = _text(elem)
    hours = _single(shown, root, "estimated_hours")
    if hours is not None and _text(hours):
        try:
            value = float(_text(hours))
            wrong = "" if 0 <= value < float("inf") else "a finite number of hours, 0 or more"
        except ValueError:
            wrong = "a number"
        if wrong:  # nan, inf and negative hours would skew the critical path
            raise _schema_error(
                shown,
                f"<estimated_hours> must be {wrong}, got {_text(hours)!r}",
                f"write hours, e.g. <estimated_hours>6</estimated_hours>; or {_REGENERATE}",
            )
        fields["estimated_hours"] = value
    fields.update(_read_lists(shown, root))
    for name in fields["files"]:
        problem = repo_path_problem(name)
        if problem:
            raise _schema_error(
                shown,
                f"<files> names {name!r}, which {problem}",
                REPO_PATH_FIX,
            )
    try:
        return SubtaskSpec(**fields)
    except ValidationError as exc:  # pragma: no cover - the checks above cover the schema
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _schema_error(shown, f"invalid <{where}>: {first['msg']}") from None


def read_subtask(path: str | Path) -> SubtaskSpec:
    """Read one `subtasks/NN-name.xml`; its id must equal the file stem."""
    path = Path(path)
    shown = str(path)
    issue = design_file_issue(path, shown, repository_of(path.parent))
    if issue is not None:
        raise PlanError.from_issues([issue])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanError(shown, f"cannot be read ({exc.strerror or exc})", _REGENERATE) from exc
    return parse_subtask_xml(data, shown, expected_id=path.stem)


def subtask_paths(design_dir: str) -> list[Path]:
    folder = Path(design_dir) / "subtasks"
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.suffix == ".xml" and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def read_subtasks(design_dir: str) -> list[SubtaskSpec]:
    """Every `subtasks/*.xml`, sorted by id; all broken files reported together."""
    specs: list[SubtaskSpec] = []
    issues: list[PlanIssue] = []
    for path in subtask_paths(design_dir):
        try:
            specs.append(read_subtask(display_path(design_dir, "subtasks", path.name)))
        except PlanError as exc:
            issues.extend(exc.issues)
    if issues:
        raise PlanError.from_issues(issues)
    return sorted(specs, key=lambda s: s.id)


# ---------------------------------------------------------------- seeding from a subplan

_CODE_SPAN = re.compile(r"`([^`]+)`")
_TOOLS = frozenset(
    {
        "pytest",
        "ruff",
        "mypy",
        "python",
        "python3",
        "make",
        "npm",
        "pnpm",
        "yarn",
        "go",
        "cargo",
        "tox",
        "nox",
        "uv",
        "black",
        "flake8",
        "pyright",
        "bash",
        "sh",
        "node",
        "npx",
    }
)


def _commands_from_gates(gates: list[str]) -> list[str]:
    """Backticked shell commands in validation gates (`pytest -q tests/x.py` passes)."""
    commands: list[str] = []
    for gate in gates:
        for span in _CODE_SPAN.findall(gate):
            span = span.strip()
            first = span.split()[0] if span.split() else ""
            if first in _TOOLS or (" " in span and "/" not in first and not first.endswith(".py")):
                commands.append(span)
    return list(dict.fromkeys(commands))


def _is_test_file(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test") for p in parts[:-1])
        or name.startswith("test_")
        or re.search(r"[._]test\.\w+$|_spec\.\w+$", name) is not None
    )


def subtask_from_subplan(meta: SubplanMeta) -> SubtaskSpec:
    """A deterministic subtask seeded from the parsed subplan (no LLM): the fallback
    contract, and the starting point an agent refines."""
    criteria = list(dict.fromkeys([*meta.acceptance_criteria, *meta.validation_gates]))
    return SubtaskSpec(
        id=meta.name,
        title=meta.title,
        summary=meta.goal or meta.title,
        scope_in=meta.scope_in or ([meta.goal] if meta.goal else []),
        scope_out=meta.scope_out,
        dependencies=meta.dependencies,
        files=meta.files_modified,
        implementation_steps=meta.implementation_steps,
        tests_to_add=[f for f in meta.files_modified if _is_test_file(f)],
        commands=_commands_from_gates(meta.validation_gates),
        acceptance_criteria=criteria,
        safety_notes=meta.safety_notes,
        estimated_hours=meta.estimated_hours,
        complexity=meta.complexity,
        subplan=meta.path,
    )
