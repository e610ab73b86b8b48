"""The PR description and where the repository name comes from."""

from __future__ import annotations

import pytest

from activities.forge import render_pr_body
from activities.forge_github import parse_repository
from contracts.forge import PrBodyInput


def test_pr_body_has_the_seed_sections_in_order() -> None:
    body = render_pr_body(
        PrBodyInput(
            subtask="02-parser",
            summary="Parse the config file.",
            scores={"correctness": 0.97, "performance": 0.984},
            gates={"pytest -q": True, "ruff check": False},
            reviews_dir="design-docs/active/shop/build-reviews/02-parser/",
            evidence=["design-docs/active/shop/build-reviews/02-parser/2025-01-01-00-00-00_x.md"],
            design_doc="design-docs/active/shop/subtasks/02-parser.xml",
            subplan="design-docs/active/shop/subplans/02-parser.md",
            dependency_prs=["https://github.com/acme/app/pull/1"],
        )
    )

    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Review Scores",
        "## Gates",
        "## Evidence",
        "## Testing",
        "## Related",
    ]
    assert "Parse the config file." in body
    assert "- correctness: 0.97\n- performance: 0.98" in body
    assert "- `pytest -q`: pass\n- `ruff check`: fail" in body
    assert "- Reviews: design-docs/active/shop/build-reviews/02-parser/" in body
    assert "- Design doc: design-docs/active/shop/subtasks/02-parser.xml" in body
    assert "- Subplan: design-docs/active/shop/subplans/02-parser.md" in body
    assert "- Depends on: https://github.com/acme/app/pull/1" in body


def test_pr_body_with_nothing_but_the_name_is_still_complete() -> None:
    body = render_pr_body(PrBodyInput(subtask="01-types"))
    assert "Implements `01-types`." in body
    assert body.count("- (none)") == 4


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/app.git", "acme/app"),
        ("https://github.com/acme/app", "acme/app"),
        ("https://bot:token@github.com/acme/app.git/", "acme/app"),
        ("git@github.com:acme/app.git", "acme/app"),
        ("ssh://git@github.com/acme/app.git", "acme/app"),
        ("ssh://git@ghe.example.com:2222/acme/app", "acme/app"),
        ("https://ghe.example.com/acme/app.git", "acme/app"),
        ("/srv/git/app.git", None),
        ("../origin.git", None),
        ("file:///srv/git/acme/app.git", None),
        ("", None),
    ],
)
def test_repository_is_parsed_from_the_origin_url(url: str, expected: str | None) -> None:
    assert parse_repository(url) == expected
