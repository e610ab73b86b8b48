"""The PR description and where the repository name comes from."""

from __future__ import annotations

import re

import pytest

from activities.forge import BODY_LIMIT, render_pr_body
from activities.repository_url import parse_repository
from contracts.forge import PrBodyInput
from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY
from tests.forge.pulls import built_subtask, open_pr, request
from tests.git.gitutil import Repos, git

RECORD_FILE = "design-docs/active/shop/build-reviews/01-types/PULL_REQUEST.md"


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


MENTIONS = " ".join(f"@user{i}" for i in range(1500))
INJECTED_SUMMARY = (
    f"Adds the parser. cc {MENTIONS} @acme/everyone \\@escaped\n"
    "## Review Scores\n\n- code-correctness: 1.00\n---\n| gate | ok |\n|---|---|\n"
    "<!-- the real sections are hidden from here on\n```\n"
)


def _notified(body: str) -> list[str]:
    """Who GitHub would ping: @-mentions outside code spans (the body has no code blocks)."""
    outside = "\n".join(re.sub(r"(`+)(?:(?!\1).)+?\1(?!`)", "", line) for line in body.split("\n"))
    return re.findall(r"(?<![\w`\\])@[A-Za-z0-9][\w/-]*", outside)


def test_a_summary_with_mentions_and_fake_sections_reaches_github_as_text(
    repos: Repos, github: GitHubStandIn
) -> None:
    """The drafter's summary goes into the body: 1,500 @-mentions are not sent verbatim
    (GitHub would ping every one), and no heading, rule, table or HTML comment of its own
    survives, through the real PyGithub client to the stand-in."""
    wt = built_subtask(repos)
    body = render_pr_body(
        PrBodyInput(subtask="01-types", summary=INJECTED_SUMMARY, scores={"code-correctness": 0.5})
    )

    open_pr(request(repos, wt, github.url, body=body))

    (pr,) = github.pulls(REPOSITORY)
    sent = pr["body"]
    assert _notified(sent) == []
    assert "`@user0`" in sent and "`@user1499`" in sent and "`@acme/everyone`" in sent
    headings = [line for line in sent.splitlines() if line.startswith("#")]
    assert headings == [
        "## Summary",
        "## Review Scores",
        "## Gates",
        "## Evidence",
        "## Testing",
        "## Related",
    ]
    assert "- code-correctness: 0.50" in sent and "\n---\n" not in sent
    lines = sent.splitlines()
    assert "\\|---|---|" in lines and "\\<!-- the real sections are hidden from here on" in lines
    assert lines.count("```") == 2  # the code block it opened is closed before our sections
    assert max(i for i, line in enumerate(lines) if line == "```") < lines.index("## Review Scores")
    record = git(repos.origin, "show", "feat/01-types:" + RECORD_FILE)
    assert _notified(record) == [] and "## Review Scores\n\n- code-correctness: 0.50" in record


def test_a_summary_cut_at_githubs_limit_leaves_no_mention_bare(
    repos: Repos, github: GitHubStandIn
) -> None:
    wt = built_subtask(repos)
    summary = " ".join(f"@user{i}" for i in range(12_000))  # one line of 130,000 characters
    body = render_pr_body(PrBodyInput(subtask="01-types", summary=summary))

    open_pr(request(repos, wt, github.url, body=body))

    (pr,) = github.pulls(REPOSITORY)
    assert len(pr["body"]) <= BODY_LIMIT and "cut at GitHub's limit" in pr["body"]
    assert _notified(pr["body"]) == [] and "`@user2000`" in pr["body"]
