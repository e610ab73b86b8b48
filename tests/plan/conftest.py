"""Fixtures that build design directories in tmp dirs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

OVERVIEW = "# Demo feature\n\nA feature used by the plan tests.\n"


def subplan(
    title: str,
    deps: str = "None",
    files: str = "",
    hours: str | None = "1",
    criteria: bool = True,
    extra: str = "",
) -> str:
    """A seed-001 style subplan."""
    lines = [f"# {title}", "", f"**Dependencies**: {deps}"]
    if files:
        lines.append(f"**Files Modified**: {files}")
    if hours is not None:
        lines.append(f"**Estimated Hours**: {hours}")
    lines.append("**Complexity**: low")
    if criteria:
        lines += ["", "## Acceptance Criteria", "", "- [ ] it works"]
    lines += ["", "## Validation Gates", "", "- [ ] `pytest -q` passes", extra]
    return "\n".join(lines) + "\n"


MakeDesign = Callable[..., Path]


@pytest.fixture
def make_design(tmp_path: Path) -> MakeDesign:
    """make_design({"01-a": text, ...}, overview=...) -> the design directory."""
    counter = iter(range(1_000_000))

    def make(
        subplans: dict[str, str | bytes], overview: str | None = OVERVIEW, name: str = "demo"
    ) -> Path:
        root = tmp_path / f"{name}-{next(counter)}" / name
        (root / "subplans").mkdir(parents=True)
        if overview is not None:
            (root / "overview.md").write_text(overview, encoding="utf-8")
        for file_name, text in subplans.items():
            if not file_name.lower().endswith(".md"):
                file_name += ".md"
            path = root / "subplans" / file_name
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")
        return root

    return make
