"""Bad design directories, refused by the plan step every loop runs first.

Each case breaks one thing in a good design (design-docs/active/feat: 01-core,
and 02-api that needs it) and runs the real `plan.design` activity with
`write=True`, as `orchestrator plan --write` and the design loop's last step do:
the refusal names the file and the fix, and not a byte of the tree changes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.plan import plan_design
from activities.plan.design_dir import load_design
from contracts.plan import PlanRequest
from tests.badinput.support import Case, ids, make_repo, refused_untouched, subplan, write

SUB = "{design}/subplans"


def plan_written(design: Path) -> object:
    return ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(design), write=True))


def add(name: str, text: str | bytes) -> object:
    """A third subplan (or any file under subplans/) holding `text`."""
    return lambda root, design: write(design / "subplans" / name, text)


def replace_overview(text: str | bytes) -> object:
    return lambda root, design: write(design / "overview.md", text)


def swap(path: str, make: object) -> object:
    """Replace `path` (relative to the design directory) by what `make(target)` creates."""

    def go(root: Path, design: Path) -> None:
        target = design / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        make(target, root)  # type: ignore[operator]

    return go


def with_hours(hours: str) -> object:
    return add("03-x.md", subplan("X").replace("\n\n", f"\n\n**Estimated Hours**: {hours}\n", 1))


LONG = "03-" + "a" * 230  # 233 characters: `plan` took it, the loop then failed on file names


def outside_link(target: Path, root: Path) -> None:
    elsewhere = root.parent / f"elsewhere-{target.name}"
    elsewhere.write_text(subplan("Elsewhere"))
    target.symlink_to(elsewhere)


CASES = [
    Case(
        "design-dir-missing",
        lambda root, design: shutil.rmtree(design),
        "{design}: design directory does not exist",
        "pass the path of a directory holding overview.md",
    ),
    Case(
        "design-dir-is-a-file",
        lambda root, design: (shutil.rmtree(design), design.write_text("# not a dir\n")),
        "{design}: is not a directory",
        "pass the design directory (the one holding overview.md), not a file",
    ),
    Case(
        "overview-missing",
        lambda root, design: (design / "overview.md").unlink(),
        "{design}/overview.md: overview.md is missing",
        "write the feature's overview in overview.md",
    ),
    Case(
        "overview-empty",
        replace_overview(""),
        "{design}/overview.md: overview.md is empty",
        "describe the feature in overview.md",
    ),
    Case(
        "overview-whitespace",
        replace_overview(" \n\t\n"),
        "{design}/overview.md: overview.md is empty",
        "describe the feature",
    ),
    Case(
        "overview-latin1",
        replace_overview(b"# Caf\xe9\n"),
        "{design}/overview.md: cannot be read as UTF-8 text",
        "save the file as UTF-8 markdown",
    ),
    Case(
        "overview-is-a-directory",
        swap("overview.md", lambda target, root: target.mkdir()),
        "{design}/overview.md: is not a regular file",
        "replace it with a regular UTF-8 markdown file",
    ),
    Case(
        "overview-links-out-of-the-repository",
        swap("overview.md", outside_link),
        "{design}/overview.md: is a symlink to",
        "replace the link with the file itself",
    ),
    Case(
        "subplans-is-a-file",
        swap("subplans", lambda target, root: target.write_text("01-core\n")),
        "{design}/subplans: subplans is not a directory",
        "make subplans/ a directory holding one NN-name.md file per subtask",
    ),
    Case(
        "subplan-empty",
        add("03-x.md", ""),
        f"{SUB}/03-x.md: subplan is empty",
        "write the subplan (title, dependencies, acceptance criteria) or delete it",
    ),
    Case(
        "subplan-utf16",
        add("03-x.md", subplan("X").encode("utf-16")),
        f"{SUB}/03-x.md: cannot be read as UTF-8 text",
        "save the file as UTF-8 markdown",
    ),
    Case(
        "subplan-is-a-directory",
        lambda root, design: (design / "subplans" / "03-x.md").mkdir(),
        f"{SUB}/03-x.md: is not a regular file",
        "replace it with a regular UTF-8 markdown file",
    ),
    Case(
        "subplan-is-a-fifo",
        lambda root, design: os.mkfifo(design / "subplans" / "03-x.md"),
        f"{SUB}/03-x.md: is not a regular file",
        "replace it with a regular UTF-8 markdown file",
    ),
    Case(
        "subplan-links-out-of-the-repository",
        lambda root, design: outside_link(design / "subplans" / "03-x.md", root),
        f"{SUB}/03-x.md: is a symlink to",
        "move the file into the repository",
    ),
    Case(
        "subplan-name-upper-case",
        add("03-Parser.md", subplan("Parser")),
        f"{SUB}/03-Parser.md: subtask name '03-Parser' is not a slug",
        "rename it to subplans/03-parser.md",
    ),
    Case(
        "subplan-name-with-a-space",
        add("03 parser.md", subplan("Parser")),
        f"{SUB}/03 parser.md: subtask name '03 parser' is not a slug",
        "rename it to subplans/03-parser.md",
    ),
    Case(
        "subplan-name-with-dots",
        add("03-a..b.md", subplan("A")),
        f"{SUB}/03-a..b.md: subtask name '03-a..b' contains '..'",
        "rename it to subplans/03-a.b.md",
    ),
    Case(
        "subplan-name-ends-in-lock",
        add("03-x.lock.md", subplan("X")),
        f"{SUB}/03-x.lock.md: subtask name '03-x.lock' cannot end with '.' or '.lock'",
        "rename it to subplans/03-x.md",
    ),
    Case(
        "subplan-name-starts-with-a-dash",
        add("-03-x.md", subplan("X")),
        f"{SUB}/-03-x.md: subtask name '-03-x' is not a slug",
        "rename it to subplans/03-x.md",
    ),
    Case(
        "subplan-names-differ-only-in-case-of-the-extension",
        add("01-core.MD", subplan("Core again")),
        f"{SUB}/01-core.md: subtask name '01-core' duplicates subplans/01-core.MD",
        "rename or remove one of the two subplans",
    ),
    Case(
        "dependency-misspelt",
        add("03-x.md", subplan("X", deps="01-cor")),
        f"{SUB}/03-x.md: depends on unknown subtask '01-cor'",
        "use one of the valid names: 01-core, 02-api, 03-x (did you mean '01-core'?)",
    ),
    Case(
        "dependency-as-a-path-outside",
        add("03-x.md", subplan("X", deps="../02-api")),
        f"{SUB}/03-x.md: depends on unknown subtask '../02-api'",
        "use one of the valid names",
    ),
    Case(
        "dependency-in-prose",
        add("03-x.md", subplan("X", deps="the core one")),
        f"{SUB}/03-x.md: depends on unknown subtask 'the core one'",
        "use one of the valid names: 01-core, 02-api, 03-x",
    ),
    Case(
        "dependency-on-itself",
        add("03-x.md", subplan("X", deps="03-x")),
        f"{SUB}/03-x.md: dependency cycle: 03-x -> 03-x",
        "remove '03-x' from its Dependencies",
    ),
    Case(
        "dependency-cycle",
        add("01-core.md", subplan("Core", deps="02-api", files="src/core.py")),
        f"{SUB}/01-core.md: dependency cycle: 01-core -> 02-api -> 01-core",
        "remove one of these dependencies so the subtasks can be ordered",
    ),
    Case(
        "files-modified-absolute",
        add("03-x.md", subplan("X", files="src/x.py, /etc/passwd")),
        f"{SUB}/03-x.md: Files Modified names '/etc/passwd', which is an absolute path",
        "name files by their path relative to the repository root",
    ),
    Case(
        "files-modified-home",
        add("03-x.md", subplan("X", files="~/.ssh/id_rsa")),
        f"{SUB}/03-x.md: Files Modified names '~/.ssh/id_rsa', which is an absolute path",
        "relative to the repository root",
    ),
    Case(
        "files-modified-windows-drive",
        add("03-x.md", subplan("X", files="C:\\src\\x.py")),
        f"{SUB}/03-x.md: Files Modified names 'C:/src/x.py', which is an absolute path",
        "relative to the repository root",
    ),
    Case(
        "files-modified-leaves-the-repository",
        add("03-x.md", subplan("X", files="src/../../../outside.py")),
        f"{SUB}/03-x.md: Files Modified names 'src/../../../outside.py', which uses '..'",
        "relative to the repository root, inside it",
    ),
    Case(
        "files-modified-inside-dot-git",
        add("03-x.md", subplan("X", files=".git/hooks/pre-commit")),
        f"{SUB}/03-x.md: Files Modified names '.git/hooks/pre-commit', which is inside .git",
        "relative to the repository root, inside it and outside .git",
    ),
    Case(
        "subplan-name-too-long",
        add(f"{LONG}.md", subplan("Long")),
        f"{SUB}/{LONG}.md: subtask name '{LONG[:40]}'... is 233 characters, more than 100",
        f"rename it to subplans/{LONG[:100]}.md",
    ),
    Case(
        "subplan-name-with-a-look-alike-hyphen",
        add("03\u2010x.md", subplan("X")),
        "is not a slug (only lower-case letters, digits, '.', '_', '-', starting with a letter "
        "or digit) (it holds U+2010 HYPHEN where '-' (U+002D) looks the same)",
        "rename it to subplans/03-x.md",
    ),
    Case(
        "dependency-with-a-look-alike-hyphen",
        add("03-x.md", subplan("X", deps="01\u2010core")),
        f"{SUB}/03-x.md: depends on unknown subtask '01\u2010core' (it holds U+2010 HYPHEN where "
        "'-' (U+002D) looks the same)",
        "(did you mean '01-core'? The two look alike: retype it in ASCII)",
    ),
    Case(
        "dependency-with-a-byte-order-mark",
        add("03-x.md", subplan("X", deps="02-api, \ufeff01-core")),
        f"{SUB}/03-x.md: depends on unknown subtask '\\ufeff01-core' (it holds U+FEFF ZERO WIDTH "
        "NO-BREAK SPACE (a byte-order mark), which is invisible)",
        "(did you mean '01-core'?",
    ),
    Case(
        "hours-negative",
        with_hours("-5"),
        f"{SUB}/03-x.md: Estimated Hours '-5' is not a number of hours",
        "write a positive number, e.g. 4, 4h, 4-6 hours or 1.5 days",
    ),
    Case(
        "hours-in-exponent-notation",
        with_hours("1e3"),
        f"{SUB}/03-x.md: Estimated Hours '1e3' is not a number of hours",
        "write a positive number",
    ),
    Case(
        "hours-with-a-decimal-comma",
        with_hours("1,5 days"),
        f"{SUB}/03-x.md: Estimated Hours '1,5 days' is not a number of hours",
        "1.5 days",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_a_bad_design_directory_is_refused_and_nothing_is_written(
    case: Case, tmp_path: Path
) -> None:
    refused_untouched(case, tmp_path, plan_written, ("PlanError",))


def test_a_subplan_saved_with_a_byte_order_mark_keeps_its_title_and_dependencies(
    tmp_path: Path,
) -> None:
    """A BOM before the first line hid `# Title` (or a first-line `**Dependencies**`): the
    title fell back to the name and the dependency was dropped without a word."""
    design = make_repo(tmp_path / "repo")
    write(design / "subplans" / "03-x.md", "\ufeff**Dependencies**: 02-api\n\n# X\n")
    write(design / "subplans" / "04-y.md", "\ufeff" + subplan("Why", deps="01-core"))
    result = ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(design)))
    subplans = {s.name: s for s in result.subtasks}
    assert subplans["03-x"].dependencies == ["02-api"]
    assert (subplans["04-y"].title, subplans["04-y"].dependencies) == ("Why", ["01-core"])


def test_an_estimate_is_read_as_written(tmp_path: Path) -> None:
    design = make_repo(tmp_path / "repo")
    for name, hours in (("03-a", "4-6 hours"), ("04-b", "~3"), ("05-c", "1.5 days")):
        text = subplan(name).replace("\n\n", f"\n\n**Estimated Hours**: {hours}\n", 1)
        write(design / "subplans" / f"{name}.md", text)
    doc = load_design(str(design))
    assert {s.name: s.estimated_hours for s in doc.subplans if s.name[:2] > "02"} == {
        "03-a": 6,
        "04-b": 3,
        "05-c": 12,
    }


def test_the_good_design_these_cases_break_is_planned(tmp_path: Path) -> None:
    """The base is sound: every refusal above is the one thing each case broke."""
    design = make_repo(tmp_path / "repo")
    result = ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(design)))
    assert [s.name for s in result.subtasks] == ["01-core", "02-api"]
