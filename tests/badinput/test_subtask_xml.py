"""Bad `subtasks/*.xml`, refused by the build's first step before anything is built.

The approved design (01-core, 02-api needing it) is seeded into its XML subtasks;
each case breaks one of them and runs the real `plan.load_subtasks` activity the
build starts with. The refusal names the file (and the element) and the fix,
and nothing is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.plan import load_subtasks
from activities.plan.pipeline import seed_subtask_files
from tests.badinput.support import Case, ids, make_repo, refused_untouched, subplan, write

XML = "{design}/subtasks/01-core.xml"
REGENERATE = "delete it and run `orchestrator design <dir>` to regenerate it"


def edit(old: str, new: str, name: str = "01-core.xml") -> object:
    def go(root: Path, design: Path) -> None:
        path = design / "subtasks" / name
        text = path.read_text()
        assert old in text, (old, text)
        path.write_text(text.replace(old, new, 1))

    return go


def raw(data: bytes) -> object:
    return lambda root, design: write(design / "subtasks" / "01-core.xml", data)


def linked_out(root: Path, design: Path) -> None:
    xml = design / "subtasks" / "01-core.xml"
    outside = root.parent / "01-core.xml"
    outside.write_bytes(xml.read_bytes())
    xml.unlink()
    xml.symlink_to(outside)


def latin1_title(root: Path, design: Path) -> None:
    xml = design / "subtasks" / "01-core.xml"
    xml.write_bytes(xml.read_bytes().replace(b"<title>Core", b"<title>Caf\xe9"))


def a_directory(root: Path, design: Path) -> None:
    (design / "subtasks" / "01-core.xml").unlink()
    (design / "subtasks" / "01-core.xml").mkdir()


CASES = [
    Case(
        "unclosed-element",
        edit("</title>", ""),
        f"{XML}: malformed XML at line",
        REGENERATE,
    ),
    Case("empty-file", raw(b""), f"{XML}: malformed XML at line 1, column 1", REGENERATE),
    Case(
        "latin1-bytes-declared-utf8",
        latin1_title,
        f"{XML}: malformed XML at line 3",
        REGENERATE,
    ),
    Case(
        "wrong-root-element",
        raw(b'<task id="01-core"><title>Core</title></task>'),
        f"{XML}: unknown root element <task>; expected <subtask>",
        REGENERATE,
    ),
    Case(
        "root-in-a-namespace",
        edit('<subtask id="01-core">', '<subtask xmlns="urn:x" id="01-core">'),
        XML + ": unknown root element <{{urn:x}}subtask>",
        REGENERATE,
    ),
    Case(
        "id-missing",
        edit('<subtask id="01-core">', "<subtask>"),
        f"{XML}: <subtask> missing attribute id",
        REGENERATE,
    ),
    Case(
        "id-not-a-slug",
        edit('<subtask id="01-core">', '<subtask id="../01-core">'),
        f"{XML}: <subtask> attribute id: subtask name '../01-core' contains '..'",
        REGENERATE,
    ),
    Case(
        "id-of-another-file",
        edit('<subtask id="01-core">', '<subtask id="02-api">'),
        f"{XML}: <subtask> attribute id '02-api' does not match the file name '01-core'",
        'set id="01-core" or rename the file to subtasks/02-api.xml',
    ),
    Case(
        "doctype-with-entities",
        edit(
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">]>',
        ),
        f"{XML}: DOCTYPE/ENTITY declarations are not allowed",
        REGENERATE,
    ),
    Case(
        "element-misspelt",
        edit("<files>", "<fiels><file>src/x.py</file></fiels><files>"),
        f"{XML}: unexpected element <fiels> in <subtask> (allowed: <acceptance_criteria>,",
        REGENERATE,
    ),
    Case(
        "title-twice",
        edit("<title>Core</title>", "<title>Core</title><title>Other</title>"),
        f"{XML}: element <title> appears 2 times in <subtask>",
        REGENERATE,
    ),
    Case(
        "title-blank",
        edit("<title>Core</title>", "<title>  </title>"),
        f"{XML}: <subtask> missing element <title> (or it is empty)",
        REGENERATE,
    ),
    Case(
        "hours-in-words",
        edit("<subplan>", "<estimated_hours>a day</estimated_hours><subplan>"),
        f"{XML}: <estimated_hours> must be a number, got 'a day'",
        "write hours, e.g. <estimated_hours>6</estimated_hours>",
    ),
    Case(
        "hours-negative",
        edit("<subplan>", "<estimated_hours>-5</estimated_hours><subplan>"),
        f"{XML}: <estimated_hours> must be a finite number of hours, 0 or more, got '-5'",
        "write hours",
    ),
    Case(
        "hours-nan",
        edit("<subplan>", "<estimated_hours>nan</estimated_hours><subplan>"),
        f"{XML}: <estimated_hours> must be a finite number of hours, 0 or more, got 'nan'",
        "write hours",
    ),
    Case(
        "file-absolute",
        edit("<file>src/core.py</file>", "<file>/etc/shadow</file>"),
        f"{XML}: <files> names '/etc/shadow', which is an absolute path",
        "name files by their path relative to the repository root",
    ),
    Case(
        "file-leaves-the-repository",
        edit("<file>src/core.py</file>", "<file>../../../../x.py</file>"),
        f"{XML}: <files> names '../../../../x.py', which uses '..'",
        "relative to the repository root, inside it",
    ),
    Case(
        "file-inside-dot-git",
        edit("<file>src/core.py</file>", "<file>.git/hooks/post-checkout</file>"),
        f"{XML}: <files> names '.git/hooks/post-checkout', which is inside .git",
        "outside .git",
    ),
    Case(
        "item-misnamed",
        edit("<file>src/core.py</file>", "<path>src/core.py</path>"),
        f"{XML}: unexpected element <path> in <files> (it may only contain <file> elements)",
        REGENERATE,
    ),
    Case(
        "scope-with-an-unknown-part",
        edit("<scope>", "<scope><maybe><item>x</item></maybe>"),
        f"{XML}: unexpected element <maybe> in <scope> (allowed: <in>, <out>)",
        REGENERATE,
    ),
    Case(
        "text-beside-the-items",
        edit("<files>", "<files>src/extra.py"),
        f"{XML}: text 'src/extra.py' in <files> outside its <file> elements",
        "put each entry in its own <file> element",
    ),
    Case(
        "dependencies-twice",
        edit("<dependencies />", "<dependencies /><dependencies />"),
        f"{XML}: element <dependencies> appears 2 times in <subtask>",
        REGENERATE,
    ),
    Case(
        "dependencies-disagree-with-the-subplan",
        edit("<dependency>01-core</dependency>", "", "02-api.xml"),
        "{design}/subtasks/02-api.xml: <dependencies> lists none but subplans/02-api.md "
        "declares ['01-core']",
        "make them agree, or re-run `orchestrator design {design}`",
    ),
    Case(
        "a-subtask-without-its-subplan",
        lambda root, design: write(
            design / "subtasks" / "03-old.xml", '<subtask id="03-old"><title>Old</title></subtask>'
        ),
        "{design}/subtasks/03-old.xml: has no subplan subplans/03-old.md",
        "delete the stale XML, or restore its subplan",
    ),
    Case(
        "a-subplan-without-its-subtask",
        lambda root, design: write(design / "subplans" / "03-new.md", subplan("New")),
        "{design}/subtasks/03-new.xml: missing: subplans/03-new.md has no subtask XML",
        "run `orchestrator design {design}` first",
    ),
    Case(
        "no-subtasks-at-all",
        lambda root, design: shutil.rmtree(design / "subtasks"),
        "{design}/subtasks: no XML subtasks found",
        "run `orchestrator design {design}` first",
    ),
    Case(
        "subtasks-is-a-file",
        lambda root, design: (shutil.rmtree(design / "subtasks"), write(design / "subtasks", "")),
        "{design}/subtasks: is not a directory",
        "remove it, then run `orchestrator design {design}`",
    ),
    Case(
        "subtask-links-out-of-the-repository",
        linked_out,
        f"{XML}: is a symlink to",
        "replace the link with the file itself",
    ),
    Case(
        "subtask-is-a-directory",
        a_directory,
        f"{XML}: is not a regular file",
        "replace it with a regular",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_a_bad_subtask_xml_is_refused_and_nothing_is_written(case: Case, tmp_path: Path) -> None:
    refused_untouched(
        case,
        tmp_path,
        lambda design: ActivityEnvironment().run(load_subtasks, str(design)),
        ("PlanError",),
        prepare=lambda design: seed_subtask_files(str(design)),
    )


def test_the_seeded_subtasks_these_cases_break_load(tmp_path: Path) -> None:
    design = make_repo(tmp_path / "repo")
    seed_subtask_files(str(design))
    specs = ActivityEnvironment().run(load_subtasks, str(design))
    assert [s.id for s in specs] == ["01-core", "02-api"]
