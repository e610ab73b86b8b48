"""Every refusal names the file, the problem and the fix, and writes nothing."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from activities.plan import run_plan
from contracts.plan import PlanError
from tests.plan.conftest import MakeDesign, subplan


def plan_error(root: Path | str) -> PlanError:
    with pytest.raises(PlanError) as info:
        run_plan(str(root), write=True)
    assert not (Path(root) / "plan").exists(), "nothing is written when there is an error"
    return info.value


def test_missing_design_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(PlanError) as info:
        run_plan(str(missing), write=True)
    err = info.value
    assert err.file == str(missing)
    assert err.problem == "design directory does not exist"
    assert "overview.md" in err.fix
    assert str(err).startswith(f"{missing}: design directory does not exist. Fix: ")


def test_design_dir_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "overview.md"
    file.write_text("# x\n")
    with pytest.raises(PlanError, match="is not a directory"):
        run_plan(str(file), write=False)


def test_missing_overview(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A")}, overview=None)
    err = plan_error(root)
    assert err.file == f"{root}/overview.md"
    assert err.problem == "overview.md is missing"
    assert "overview.md" in err.fix
    assert str(err) == f"{root}/overview.md: overview.md is missing. Fix: {err.fix}."


def test_empty_overview(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A")}, overview="  \n")
    err = plan_error(root)
    assert (err.file, err.problem) == (f"{root}/overview.md", "overview.md is empty")


def test_empty_subplan(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A"), "02-b": "\n \n"})
    err = plan_error(root)
    assert err.file == f"{root}/subplans/02-b.md"
    assert err.problem == "subplan is empty"
    assert "write the subplan" in err.fix


def test_unreadable_subplan(make_design: MakeDesign) -> None:
    root = make_design({"01-a": b"# A\n\xff\xfe bad bytes\n"})
    err = plan_error(root)
    assert err.file == f"{root}/subplans/01-a.md"
    assert "cannot be read as UTF-8" in err.problem
    assert "UTF-8" in err.fix


def test_subplans_not_a_directory(make_design: MakeDesign) -> None:
    root = make_design({})
    (root / "subplans").rmdir()
    (root / "subplans").write_text("oops")
    err = plan_error(root)
    assert (err.file, err.problem) == (f"{root}/subplans", "subplans is not a directory")


@pytest.mark.parametrize(
    ("file_name", "needle", "suggestion"),
    [
        ("01-Models.md", "is not a slug", "01-models.md"),
        ("01 models.md", "is not a slug", "01-models.md"),
        ("01-a..b.md", "contains '..'", "01-a.b.md"),
        ("-01-a.md", "is not a slug", "01-a.md"),
        ("_private.md", "is not a slug", "private.md"),
        ("01-a.lock.md", "cannot end with '.' or '.lock'", "01-a.md"),
        ("01-a..md", "cannot end with '.'", "01-a.md"),
    ],
)
def test_bad_subtask_names(
    make_design: MakeDesign, file_name: str, needle: str, suggestion: str
) -> None:
    root = make_design({"00-ok": subplan("ok"), file_name: subplan("bad")})
    err = plan_error(root)
    assert err.file == f"{root}/subplans/{file_name}"
    assert needle in err.problem
    assert f"rename it to subplans/{suggestion}" in err.fix


def test_duplicate_names_after_normalisation(make_design: MakeDesign) -> None:
    root = make_design({"01-a.md": subplan("A"), "01-a.MD": subplan("A again")})
    err = plan_error(root)
    assert err.file == f"{root}/subplans/01-a.md"
    assert err.problem == "subtask name '01-a' duplicates subplans/01-a.MD"
    assert "rename or remove one" in err.fix


def test_unknown_dependency_lists_valid_names(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-models": subplan("M"),
            "02-storage": subplan("S", deps="01-models"),
            "03-service": subplan("Svc", deps="02-storag, 01-models"),
        }
    )
    err = plan_error(root)
    assert err.file == f"{root}/subplans/03-service.md"
    assert err.problem == "depends on unknown subtask '02-storag'"
    assert err.fix == (
        "use one of the valid names: 01-models, 02-storage, 03-service (did you mean '02-storage'?)"
    )


def test_self_dependency_is_a_cycle(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A", deps="01-a")})
    err = plan_error(root)
    assert err.file == f"{root}/subplans/01-a.md"
    assert err.problem == "dependency cycle: 01-a -> 01-a"
    assert "cannot depend on itself" in err.fix


def test_cycle_path_is_reported(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "00-root": subplan("R"),
            "01-a": subplan("A", deps="00-root, 03-c"),
            "02-b": subplan("B", deps="01-a"),
            "03-c": subplan("C", deps="02-b"),
            "04-d": subplan("D", deps="03-c"),
        }
    )
    err = plan_error(root)
    # a -> b reads "a depends on b", as in plan/dag.md
    assert err.problem == "dependency cycle: 01-a -> 03-c -> 02-b -> 01-a"
    assert err.file == f"{root}/subplans/01-a.md"
    assert "remove one of these dependencies" in err.fix


def test_every_cycle_is_reported(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan("A", deps="02-b"),
            "02-b": subplan("B", deps="01-a"),
            "03-c": subplan("C", deps="03-c"),
        }
    )
    err = plan_error(root)
    assert [i.problem for i in err.issues] == [
        "dependency cycle: 01-a -> 02-b -> 01-a",
        "dependency cycle: 03-c -> 03-c",
    ]
    assert len(str(err).splitlines()) == 2


def test_all_structural_errors_reported_together(make_design: MakeDesign) -> None:
    root = make_design(
        {
            "01-a": subplan("A", deps="09-missing"),
            "02-B": subplan("B"),
            "03-c": "",
        }
    )
    err = plan_error(root)
    lines = str(err).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{root}/subplans/02-B.md: subtask name '02-B' is not a slug")
    assert lines[1].startswith(f"{root}/subplans/03-c.md: subplan is empty. Fix: ")
    assert lines[2].startswith(f"{root}/subplans/01-a.md: depends on unknown subtask '09-missing'")
    assert all(". Fix: " in line for line in lines)


def test_error_leaves_existing_plan_files_untouched(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A")})
    run_plan(str(root), write=True)
    before = (root / "plan" / "dag.md").read_bytes()
    (root / "subplans" / "02-b.md").write_text(subplan("B", deps="02-b"))
    with pytest.raises(PlanError):
        run_plan(str(root), write=True)
    assert (root / "plan" / "dag.md").read_bytes() == before


def test_plan_error_survives_pickling() -> None:
    err = PlanError("f.md", "bad", "fix it")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) == "f.md: bad. Fix: fix it."
    assert (copy.file, copy.problem, copy.fix) == ("f.md", "bad", "fix it")
