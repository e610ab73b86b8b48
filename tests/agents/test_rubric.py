"""The rubric: a finding counts only when its quote is in the file it names; the score
follows from the worst verified open issue, and only a blocking issue reaches a fixer."""

from __future__ import annotations

from pathlib import Path

from activities.agents.rubric import bands, derive, rubric_text, verify
from contracts.agents import ReviewIssue, Severity

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def workdir(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "calc.py").write_text(CODE)
    (tmp_path.parent / "outside.py").write_text(CODE)
    return tmp_path


def test_a_quote_is_found_as_read_file_showed_it_or_not_at_all(tmp_path: Path) -> None:
    root = workdir(tmp_path)
    assert verify(root, "src/calc.py:2", "return a + b")
    assert verify(root, "src/calc.py", "     2\treturn a  +  b")  # read_file's prefix, spaces
    assert verify(root, "`src/calc.py:1-2`", "def add(a, b):\n    return a + b")
    assert verify(root, "src/calc.py:1", "def add(a, b): ... return a - b")  # elision, in order
    assert not verify(root, "src/calc.py:1", "return a - b ... def add(a, b):")
    assert not verify(root, "src/calc.py:2", "return a * b")  # invented
    assert not verify(root, "src/calc.py:2", "   ")
    assert not verify(root, None, "return a + b")
    assert not verify(root, "src/missing.py:1", "return a + b")
    # Only files inside the working directory, never the orchestrator's git directory.
    assert not verify(root, "../outside.py:1", "def add")
    assert not verify(root, f"{tmp_path.parent}/outside.py:1", "def add")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    assert not verify(root, ".git/config", "[core]")


def issue(severity: Severity, verified: bool = True) -> ReviewIssue:
    return ReviewIssue(severity=severity, description="x", verified=verified)


def test_the_score_follows_the_worst_verified_open_issue() -> None:
    low, medium, high = issue(Severity.low), issue(Severity.medium), issue(Severity.high)
    assert derive(0.5, [low, low], 0.96).score == 0.96  # nits never block
    assert derive(0.99, [], 0.96).score == 0.99
    assert derive(0.99, [medium, low], 0.96).score == 0.95
    assert derive(0.6, [medium], 0.96).score == 0.80
    assert derive(0.9, [high, medium], 0.96).score == 0.79
    assert derive(0.9, [issue(Severity.critical)], 0.96).score == 0.49
    unverified = issue(Severity.critical, verified=False)
    assert derive(0.1, [unverified], 0.96).score == 0.96 and not unverified.blocking
    # The bands move with the run's threshold: the top band always starts there.
    assert derive(0.99, [medium], 0.9).score == 0.89
    assert derive(0.5, [low], 0.9).score == 0.9
    assert [b.worst for b in bands()] == ["none", "medium", "high", "critical"]
    assert [low.blocking, medium.blocking, high.blocking] == [False, True, True]


def test_the_reviewers_prompt_states_severities_verification_and_bands() -> None:
    text = rubric_text(0.96)
    for words in ("critical:", "high:", "medium:", "low:", "never block", "quote", "failure"):
        assert words in text
    assert "0.96-1.00" in text and "0.80-0.95" in text and "0.00-0.49" in text
