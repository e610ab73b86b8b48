"""Parse and validate a design directory: `overview.md` + `subplans/NN-name.md`.

Structural problems (unreadable files, bad names, duplicates, unknown
dependencies) are all collected and raised together as one `PlanError`, so a
person fixes the directory in one pass. Cycles are the graph's business
(`graph.py`). Nothing here writes.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from pathlib import Path, PurePosixPath

from activities.plan import markdown as md
from contracts.names import ascii_twin, length_problem, with_odd_characters
from contracts.plan import (
    MAX_SUBPLAN_HOURS,
    MAX_SUBPLAN_TOKENS,
    DesignDoc,
    PlanError,
    PlanIssue,
    SubplanMeta,
    slug_problem,
    suggest_slug,
)

_NONE_VALUES = frozenset({"", "none", "-", "—", "–", "n/a", "na", "nothing", "no dependencies"})


def display_path(design_dir: str, *parts: str) -> str:
    """The path as the user would type it: their design-dir spelling plus the parts."""
    return os.path.join(design_dir, *parts)


def feature_name(design_dir: str) -> str:
    """The feature is the design directory's own name (`design-docs/active/<feature>`)."""
    return Path(design_dir).resolve().name


def repository_of(path: str | os.PathLike[str]) -> Path:
    """The checkout holding `path` (its nearest parent with a `.git`), else `path` itself.

    Design files may not lead out of it: whatever they name becomes an agent's
    reading, so a symlink out of the repository would hand the agent the file it
    points to. Pure: no git process runs.
    """
    start = Path(os.path.abspath(path))
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(start))


def design_file_issue(path: Path, shown: str, boundary: Path) -> PlanIssue | None:
    """Why a design file may not be read: a symlink out of `boundary`, or not a regular file."""
    real = Path(os.path.realpath(path))
    if real != boundary and boundary not in real.parents:
        return PlanIssue(
            file=shown,
            problem=f"is a symlink to {real}, outside the repository {boundary}; design files "
            "are read only from the repository",
            fix=f'replace the link with the file itself (`cp --remove-destination "$(readlink -f '
            f'{shown})" {shown}`), or move the file into the repository',
        )
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None  # missing or unreadable: the read says so
    if not stat.S_ISREG(mode):
        return PlanIssue(
            file=shown,
            problem="is not a regular file (a directory, FIFO, socket or device)",
            fix="replace it with a regular UTF-8 markdown file",
        )
    return None


REPO_PATH_FIX = (
    "name files by their path relative to the repository root, inside it and outside .git"
)


def repo_path_problem(value: str) -> str | None:
    """Why a path a design names (Files Modified, `<file>`) is not a path in the repository."""
    text = value.strip().replace("\\", "/")
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", text):
        return "is an absolute path"
    parts = PurePosixPath(text).parts
    if ".." in parts:
        return "uses '..' to leave the repository"
    if ".git" in parts:
        # git's own files (hooks, config) are not the project's: no agent may write them.
        return "is inside .git, git's own directory"
    return None


def _read_text(
    path: Path, shown: str, issues: list[PlanIssue], boundary: Path | None = None
) -> str | None:
    issue = design_file_issue(path, shown, boundary or repository_of(path.parent))
    if issue is not None:
        issues.append(issue)
        return None
    try:
        # A byte-order mark (some Windows editors write one) would hide the first line's
        # title or metadata key: it is read past, as markdown renderers do.
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        issues.append(
            PlanIssue(
                file=shown,
                problem=f"cannot be read as UTF-8 text ({exc.reason} at byte {exc.start})",
                fix="save the file as UTF-8 markdown",
            )
        )
    except OSError as exc:
        issues.append(
            PlanIssue(
                file=shown,
                problem=f"cannot be read ({exc.strerror or exc})",
                fix="check that the file exists and is readable",
            )
        )
    return None


def _first_title(text: str) -> str | None:
    return md.parse_markdown(text).title


# What an estimate may say: `6`, `6h`, `~3`, `4-6 hours`, `1.5 days`, `8 (one day)`. A value
# with digits in any other shape (`-5`, `1e3`, `1,5`) is refused: read loosely, `-5` was 5
# hours and `1e3` was 3, and the critical path silently came out wrong.
_HOURS = re.compile(
    r"^(?:~|≈|about|around|approx\.?|approximately|roughly)?\s*"
    r"(?P<low>[0-9]+(?:\.[0-9]+)?)"
    r"(?:\s*(?:-|–|—|to)\s*(?P<high>[0-9]+(?:\.[0-9]+)?))?"
    r"\s*(?P<unit>h|hrs?|hours?|d|days?)?\.?"
    r"(?:\s+[^0-9\s].*|\s*\(.*)?$",
    re.IGNORECASE,
)


def _parse_hours(value: str) -> float | None:
    """`6`, `6h`, `4-6 hours` (upper bound), `1.5 days` (8h a day); None when not a number.

    Raises ValueError for digits in a shape that is not an estimate (see `_HOURS`).
    """
    text = value.strip().strip("`*_").strip()
    if not re.search(r"[0-9]", text):
        return None
    found = _HOURS.match(text)
    if found is None:
        raise ValueError(text)
    hours = float(found["high"] or found["low"])
    return hours * 8 if (found["unit"] or "").lower().startswith("d") else hours


def _normalise_dep(value: str) -> str:
    value = value.strip().lower()
    for prefix in ("subplans/", "./subplans/", "subtasks/"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    for suffix in (".md", ".xml"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value


def _normalise_file(value: str) -> str:
    value = value.strip().strip("`").replace("\\", "/")
    while value.startswith("./"):
        value = value[2:]
    return value


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def parse_subplan(
    name: str, rel_path: str, shown: str, text: str, issues: list[PlanIssue] | None = None
) -> tuple[SubplanMeta, list[str]]:
    """One subplan's metadata and the warnings it deserves (named by `shown`); what must be
    fixed first goes to `issues` when given (else it is a warning too)."""
    parsed = md.parse_markdown(text)
    sections = parsed.sections
    warnings: list[str] = []

    deps = [_normalise_dep(v) for v in md.section_values(sections.get("dependencies"))]
    deps = _dedupe([d for d in deps if d not in _NONE_VALUES])
    files = [_normalise_file(v) for v in md.section_values(sections.get("files_modified"))]
    files = _dedupe([f for f in files if f.lower() not in _NONE_VALUES])

    hours_text = md.section_scalar(sections.get("estimated_hours"))
    try:
        hours = _parse_hours(hours_text) if hours_text else None
    except ValueError:
        hours = None
        problem = (
            f"Estimated Hours {hours_text!r} is not a number of hours (read loosely, its "
            "digits would give a wrong estimate)"
        )
        fix = "write a positive number, e.g. 4, 4h, 4-6 hours or 1.5 days"
        if issues is None:
            warnings.append(f"{shown}: {problem}. Fix: {fix}")
        else:
            issues.append(PlanIssue(file=shown, problem=problem, fix=fix))
    if hours_text and hours is None and not re.search(r"[0-9]", hours_text):
        warnings.append(
            f"{shown}: Estimated Hours {hours_text!r} is not a number; the critical path counts 1h"
        )
    if hours is not None and hours > MAX_SUBPLAN_HOURS:
        warnings.append(
            f"{shown}: estimated {hours:g}h is more than 1-2 days of work; consider splitting it"
        )

    complexity = md.section_scalar(sections.get("complexity")).strip().strip("`*").lower() or None
    if complexity is not None:
        complexity = complexity.split()[0].strip(".,;")
        if complexity not in {"low", "medium", "high"}:
            warnings.append(f"{shown}: Complexity {complexity!r} is not one of low, medium, high")

    criteria = md.section_items(sections.get("acceptance_criteria"))
    if not criteria:
        warnings.append(
            f"{shown}: no acceptance criteria; add an '## Acceptance Criteria' section"
            " with '- [ ]' items"
        )
    tokens = len(text) // 4
    if tokens > MAX_SUBPLAN_TOKENS:
        warnings.append(
            f"{shown}: about {tokens} tokens, over the {MAX_SUBPLAN_TOKENS // 1000}K-token limit;"
            " split it into smaller subplans"
        )
    title = parsed.title
    if not title:
        warnings.append(f"{shown}: no '# ' title heading; using the name {name!r}")

    meta = SubplanMeta(
        name=name,
        title=title or name,
        path=rel_path,
        goal=md.section_scalar(sections.get("goal")),
        dependencies=deps,
        files_modified=files,
        estimated_hours=hours,
        complexity=complexity,
        implementation_steps=md.section_items(sections.get("implementation_steps")),
        acceptance_criteria=criteria,
        validation_gates=md.section_items(sections.get("validation_gates")),
        scope_in=md.section_items(sections.get("scope_in")),
        scope_out=md.section_items(sections.get("scope_out")),
        safety_notes=md.section_items(sections.get("safety_notes")),
        token_estimate=tokens,
    )
    return meta, warnings


def _subplan_files(subplans_dir: Path) -> list[Path]:
    """Markdown files of `subplans/` (any `.md` case); hidden files are editor droppings."""
    if not subplans_dir.is_dir():
        return []
    return sorted(
        (
            p
            for p in subplans_dir.iterdir()
            if p.suffix.lower() == ".md" and not p.name.startswith(".")
        ),
        key=lambda p: p.name,
    )


def load_design(design_dir: str) -> DesignDoc:
    """Parse and validate a design directory; raise one `PlanError` listing every problem."""
    root = Path(design_dir)
    if not root.exists():
        raise PlanError(
            design_dir,
            "design directory does not exist",
            "pass the path of a directory holding overview.md and subplans/NN-name.md",
        )
    if not root.is_dir():
        raise PlanError(
            design_dir,
            "is not a directory",
            "pass the design directory (the one holding overview.md), not a file",
        )
    overview_shown = display_path(design_dir, "overview.md")
    issues: list[PlanIssue] = []
    boundary = repository_of(root)
    overview = root / "overview.md"
    if not overview.exists():
        raise PlanError(
            overview_shown,
            "overview.md is missing",
            "write the feature's overview in overview.md at the top of the design directory",
        )
    overview_text = _read_text(overview, overview_shown, issues, boundary)
    if overview_text is not None and not overview_text.strip():
        issues.append(
            PlanIssue(
                file=overview_shown,
                problem="overview.md is empty",
                fix="describe the feature in overview.md (a '# ' title, goals, design)",
            )
        )

    if (root / "subplans").exists() and not (root / "subplans").is_dir():
        issues.append(
            PlanIssue(
                file=display_path(design_dir, "subplans"),
                problem="subplans is not a directory",
                fix="make subplans/ a directory holding one NN-name.md file per subtask",
            )
        )
    subplans: list[SubplanMeta] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for path in _subplan_files(root / "subplans"):
        rel = f"subplans/{path.name}"
        shown = display_path(design_dir, "subplans", path.name)
        name = path.name[: -len(path.suffix)]
        problem = slug_problem(name) or length_problem("subtask name", name)
        if problem:
            problem = with_odd_characters(problem, name)
            issues.append(
                PlanIssue(
                    file=shown,
                    problem=problem,
                    fix=f"rename it to subplans/{suggest_slug(name)}.md"
                    " (names become git branches and paths)",
                )
            )
        key = name.casefold()
        if key in seen:
            issues.append(
                PlanIssue(
                    file=shown,
                    problem=f"subtask name {name!r} duplicates {seen[key]}",
                    fix="rename or remove one of the two subplans",
                )
            )
            continue
        seen[key] = rel
        text = _read_text(path, shown, issues, boundary)
        if text is None:
            continue
        if not text.strip():
            issues.append(
                PlanIssue(
                    file=shown,
                    problem="subplan is empty",
                    fix="write the subplan (title, dependencies, acceptance criteria) or delete it",
                )
            )
            continue
        meta, meta_warnings = parse_subplan(name, rel, shown, text, issues)
        issues.extend(
            PlanIssue(
                file=shown,
                problem=f"Files Modified names {f!r}, which {problem}",
                fix=REPO_PATH_FIX,
            )
            for f in meta.files_modified
            if (problem := repo_path_problem(f))
        )
        subplans.append(meta)
        warnings.extend(meta_warnings)

    issues.extend(_unknown_dependencies(design_dir, subplans))
    if issues:
        raise PlanError.from_issues(issues)
    if not subplans:
        warnings.append(
            f"{display_path(design_dir, 'subplans')}: no subplans yet; the design loop's writer"
            " decomposes overview.md into subplans/NN-name.md"
        )
    return DesignDoc(
        feature=feature_name(design_dir),
        design_dir=design_dir,
        title=(_first_title(overview_text or "") or feature_name(design_dir)),
        subplans=subplans,
        warnings=warnings,
    )


def _unknown_dependencies(design_dir: str, subplans: list[SubplanMeta]) -> list[PlanIssue]:
    names = sorted(s.name for s in subplans)
    valid = ", ".join(names) if names else "(no subplans)"
    issues: list[PlanIssue] = []
    for sub in subplans:
        for dep in sub.dependencies:
            if dep in names:
                continue
            twin = ascii_twin(dep)
            close = [twin] if twin in names else difflib.get_close_matches(dep, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if twin != dep and close:
                hint = f" (did you mean {close[0]!r}? The two look alike: retype it in ASCII)"
            issues.append(
                PlanIssue(
                    file=display_path(design_dir, sub.path),
                    problem=with_odd_characters(f"depends on unknown subtask {dep!r}", dep),
                    fix=f"use one of the valid names: {valid}{hint}",
                )
            )
    return issues
