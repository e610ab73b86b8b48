"""subtasks/NN-name.xml: round trip, strict reading, seeding, consistency with the subplans."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from activities.plan import (
    load_checked_subtasks,
    read_subtask,
    read_subtasks,
    run_plan,
    seed_subtask_files,
    subtask_from_subplan,
    subtask_to_xml,
    write_subtask,
)
from contracts.plan import PlanError
from contracts.subtask import SubtaskSpec
from tests.conftest import EXAMPLE


def full_spec() -> SubtaskSpec:
    return SubtaskSpec(
        id="02-storage",
        title="Storage & <persistence>",
        summary="Keep links in memory or a JSON file.\nSecond line with \"quotes\" and 'ticks'.",
        scope_in=["InMemoryStorage", "JsonFileStorage"],
        scope_out=["locking between processes"],
        dependencies=["01-models"],
        files=["shortener/storage.py", "tests/test_storage.py"],
        implementation_steps=["Define the protocol", "Implement both stores"],
        tests_to_add=["tests/test_storage.py"],
        commands=["pytest -q tests/test_storage.py && echo ok > /dev/null"],
        acceptance_criteria=["next_id() never repeats", "ünïcödé ✓ survives"],
        safety_notes=["never leave half-written JSON"],
        estimated_hours=4.5,
        complexity="medium",
        subplan="subplans/02-storage.md",
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "subtasks" / "02-storage.xml"
    spec = full_spec()
    write_subtask(path, spec)
    assert read_subtask(path) == spec
    assert list((tmp_path / "subtasks").iterdir()) == [path]  # no temp file left


def test_minimal_round_trip(tmp_path: Path) -> None:
    spec = SubtaskSpec(id="01-a", title="A")
    write_subtask(tmp_path / "01-a.xml", spec)
    assert read_subtask(tmp_path / "01-a.xml") == spec


def test_xml_shape_is_deterministic_and_indented() -> None:
    xml = subtask_to_xml(full_spec())
    assert xml == subtask_to_xml(full_spec())
    lines = xml.splitlines()
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1] == '<subtask id="02-storage">'
    assert "  <title>Storage &amp; &lt;persistence&gt;</title>" in lines
    for fragment in [
        "  <scope>\n    <in>\n      <item>InMemoryStorage</item>",
        "    <out>\n      <item>locking between processes</item>",
        "  <dependencies>\n    <dependency>01-models</dependency>\n  </dependencies>",
        "  <files>\n    <file>shortener/storage.py</file>",
        "  <implementation>\n    <step>Define the protocol</step>",
        "  <tests>\n    <test>tests/test_storage.py</test>",
        "  <commands>\n    <command>pytest -q tests/test_storage.py &amp;&amp; echo ok &gt;",
        "  <acceptance_criteria>\n    <criterion>next_id() never repeats</criterion>",
        "  <safety>\n    <note>never leave half-written JSON</note>",
        "  <estimated_hours>4.5</estimated_hours>",
        "  <complexity>medium</complexity>",
        "  <subplan>subplans/02-storage.md</subplan>\n</subtask>\n",
    ]:
        assert fragment in xml, fragment


def test_spec_normalises_text() -> None:
    spec = SubtaskSpec(id="01-a", title="  A\x01 ", dependencies=[" 01-b ", "", "  "])
    assert spec.title == "A"
    assert spec.dependencies == ["01-b"]
    with pytest.raises(ValueError, match=r"contains '\.\.'"):
        SubtaskSpec(id="../etc", title="x")
    with pytest.raises(ValueError, match="not a slug"):
        SubtaskSpec(id="feat/x", title="x")


def write_raw(tmp_path: Path, text: str, name: str = "01-a.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_error(path: Path) -> PlanError:
    with pytest.raises(PlanError) as info:
        read_subtask(path)
    assert info.value.file == str(path)
    assert "orchestrator design" in info.value.fix or "rename the file" in info.value.fix
    return info.value


def test_malformed_xml_reports_line_and_column(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path, '<?xml version="1.0"?>\n<subtask id="01-a">\n  <title>A</titel>\n</subtask>\n'
    )
    err = read_error(path)
    assert err.problem.startswith("malformed XML at line 3, column ")
    assert "mismatched tag" in err.problem
    assert str(err).startswith(f"{path}: malformed XML at line 3")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            '<task id="01-a"><title>A</title></task>',
            "unknown root element <task>; expected <subtask>",
        ),
        ("<subtask><title>A</title></subtask>", "<subtask> missing attribute id"),
        ('<subtask id="01-a"></subtask>', "<subtask> missing element <title> (or it is empty)"),
        ('<subtask id="01-a"><title> </title></subtask>', "<subtask> missing element <title>"),
        (
            '<subtask id="01-a"><title>A</title><titel>B</titel></subtask>',
            "unexpected element <titel> in <subtask>",
        ),
        (
            '<subtask id="01-a"><title>A</title><title>B</title></subtask>',
            "element <title> appears 2 times in <subtask>",
        ),
        (
            '<subtask id="01-a"><title>A</title>'
            "<dependencies><dep>x</dep></dependencies></subtask>",
            "unexpected element <dep> in <dependencies>"
            " (it may only contain <dependency> elements)",
        ),
        (
            '<subtask id="01-a"><title>A</title><scope><inside/></scope></subtask>',
            "unexpected element <inside> in <scope> (allowed: <in>, <out>)",
        ),
        (
            '<subtask id="01-a"><title>A</title><estimated_hours>soon</estimated_hours></subtask>',
            "<estimated_hours> must be a number, got 'soon'",
        ),
        ('<subtask id="01-A"><title>A</title></subtask>', "<subtask> attribute id: subtask name"),
        (
            '<!DOCTYPE x [<!ENTITY a "b">]><subtask id="01-a"><title>&a;</title></subtask>',
            "DOCTYPE/ENTITY declarations are not allowed",
        ),
    ],
)
def test_schema_violations_name_the_element(tmp_path: Path, body: str, problem: str) -> None:
    err = read_error(write_raw(tmp_path, body))
    assert err.problem.startswith(problem), err.problem


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = write_raw(tmp_path, '<subtask id="02-b"><title>B</title></subtask>', "01-a.xml")
    err = read_error(path)
    assert err.problem == "<subtask> attribute id '02-b' does not match the file name '01-a'"
    assert 'set id="01-a"' in err.fix


def test_reader_accepts_any_order_and_nested_markup(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path,
        '<subtask id="01-a" generator="agent"><commands><command>pytest -q</command></commands>'
        "<title>A</title><implementation><step>Run <code>make</code> first</step>"
        "</implementation></subtask>",
    )
    spec = read_subtask(path)
    assert spec.commands == ["pytest -q"]
    assert spec.implementation_steps == ["Run make first"]
    assert spec.dependencies == []


def example_copy(tmp_path: Path) -> Path:
    root = tmp_path / "link-shortener"
    shutil.copytree(EXAMPLE, root)
    return root


def test_subtask_from_subplan_is_a_usable_seed() -> None:
    doc, _plan = run_plan(str(EXAMPLE))
    spec = subtask_from_subplan(doc.by_name()["01-models"])
    assert spec.id == "01-models"
    assert spec.title == "Data models and errors"
    assert spec.summary.startswith("Define the `ShortLink` record")
    assert spec.dependencies == []
    assert spec.files == ["shortener/__init__.py", "shortener/models.py", "tests/test_models.py"]
    assert spec.tests_to_add == ["tests/test_models.py"]
    assert spec.commands == ["pytest -q tests/test_models.py", 'python -c "import shortener"']
    assert "Every error type is a subclass of `ShortenerError`." in spec.acceptance_criteria
    assert spec.scope_out == ["Storage and code generation (02-storage, 03-codec)."]
    assert spec.estimated_hours == 2 and spec.complexity == "low"
    assert spec.subplan == "subplans/01-models.md"
    assert subtask_from_subplan(doc.by_name()["01-models"]) == spec  # deterministic


def test_seed_then_load_checked_subtasks(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    written = seed_subtask_files(str(root))
    assert [Path(p).name for p in written] == [
        "01-models.xml",
        "02-storage.xml",
        "03-codec.xml",
        "04-service.xml",
        "05-cli.xml",
    ]
    specs = load_checked_subtasks(str(root))
    assert [s.id for s in specs] == ["01-models", "02-storage", "03-codec", "04-service", "05-cli"]
    assert specs == read_subtasks(str(root))
    # A second seed keeps what exists (an agent may have refined it).
    (root / "subtasks" / "01-models.xml").write_text(
        '<subtask id="01-models"><title>Refined</title></subtask>'
    )
    assert seed_subtask_files(str(root)) == []
    assert read_subtask(root / "subtasks" / "01-models.xml").title == "Refined"


def test_load_checked_subtasks_requires_xml(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    with pytest.raises(PlanError) as info:
        load_checked_subtasks(str(root))
    assert info.value.file == f"{root}/subtasks"
    assert info.value.problem == "no XML subtasks found"
    assert f"run `orchestrator design {root}` first" in info.value.fix


def test_load_checked_subtasks_reports_every_mismatch(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    seed_subtask_files(str(root))
    (root / "subtasks" / "03-codec.xml").unlink()
    spec = read_subtask(root / "subtasks" / "04-service.xml")
    write_subtask(
        root / "subtasks" / "04-service.xml",
        spec.model_copy(update={"dependencies": ["02-storage"]}),
    )
    write_subtask(root / "subtasks" / "09-stale.xml", SubtaskSpec(id="09-stale", title="old"))
    with pytest.raises(PlanError) as info:
        load_checked_subtasks(str(root))
    issues = info.value.issues
    assert [(i.file, i.problem) for i in issues] == [
        (f"{root}/subtasks/03-codec.xml", "missing: subplans/03-codec.md has no subtask XML"),
        (
            f"{root}/subtasks/04-service.xml",
            "<dependencies> lists ['02-storage'] but subplans/04-service.md declares"
            " ['02-storage', '03-codec']",
        ),
        (f"{root}/subtasks/09-stale.xml", "has no subplan subplans/09-stale.md"),
    ]
    assert "orchestrator design" in issues[0].fix


def test_read_subtasks_reports_all_broken_files(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    (root / "subtasks").mkdir()
    (root / "subtasks" / "01-models.xml").write_text("<subtask")
    (root / "subtasks" / "02-storage.xml").write_text('<subtask id="02-storage"/>')
    with pytest.raises(PlanError) as info:
        read_subtasks(str(root))
    assert [i.file for i in info.value.issues] == [
        f"{root}/subtasks/01-models.xml",
        f"{root}/subtasks/02-storage.xml",
    ]
