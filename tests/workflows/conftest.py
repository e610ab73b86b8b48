"""Fixtures shared by the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.github_api import GitHubStandIn


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    """The GitHub REST stand-in, one per test."""
    with GitHubStandIn() as standin:
        yield standin
