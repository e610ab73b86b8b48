"""The CLI as scripts use it: results on stdout, one error line, exact exit codes."""

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from shortener.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
URL = "https://example.com/some/long/path?q=1"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "links.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shorten_then_resolve_round_trips(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, err = run(capsys, "--db", db, "shorten", URL)
    assert (code, err) == (0, "")
    short = out.strip()
    assert out == f"{short}\n"  # nothing but the result

    assert run(capsys, "--db", db, "resolve", short) == (0, f"{URL}\n", "")


def test_shorten_is_stable(capsys: pytest.CaptureFixture[str], db: str) -> None:
    first = run(capsys, "--db", db, "shorten", URL)[1]
    assert run(capsys, "--db", db, "shorten", f"  {URL}  ")[1] == first


def test_stats_prints_tab_separated_fields(capsys: pytest.CaptureFixture[str], db: str) -> None:
    short = run(capsys, "--db", db, "shorten", URL)[1].strip()
    run(capsys, "--db", db, "resolve", short)
    run(capsys, "--db", db, "resolve", short)

    code, out, err = run(capsys, "--db", db, "stats", short)
    assert (code, err) == (0, "")
    fields = out.rstrip("\n").split("\t")
    assert fields[:3] == [short, URL, "2"]
    created = datetime.fromisoformat(fields[3])
    assert created.utcoffset() == timedelta(0)
    # stats itself counts nothing
    assert run(capsys, "--db", db, "stats", short)[1].split("\t")[2] == "2"


def test_unknown_code_exits_1(capsys: pytest.CaptureFixture[str], db: str) -> None:
    for command in ("resolve", "stats"):
        code, out, err = run(capsys, "--db", db, command, "zzz")
        assert (code, out) == (1, "")
        assert err.startswith("shortener: ") and err.count("\n") == 1
        assert "'zzz'" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["shorten", "ftp://example.com/"],
        ["shorten", "not a url"],
        ["resolve", "ab-c"],
        ["stats", ""],
        [],
        ["explode"],
        ["shorten"],
        ["resolve", "a", "b"],
        ["--no-such-flag", "stats", "1"],
    ],
)
def test_invalid_input_exits_2_with_one_error_line(
    capsys: pytest.CaptureFixture[str], db: str, argv: list[str]
) -> None:
    code, out, err = run(capsys, "--db", db, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("shortener: ") and err.count("\n") == 1
    assert not Path(db).exists()  # nothing was stored


def test_unreadable_db_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "links.json"
    bad.write_text("not json", encoding="utf-8")
    code, out, err = run(capsys, "--db", str(bad), "stats", "1")
    assert (code, out) == (2, "")
    assert err.startswith("shortener: ") and "links.json" in err


def test_db_defaults_to_env_then_current_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHORTENER_DB", str(tmp_path / "from-env.json"))
    assert run(capsys, "shorten", URL)[0] == 0
    assert (tmp_path / "from-env.json").exists()

    monkeypatch.delenv("SHORTENER_DB")
    assert run(capsys, "shorten", URL)[0] == 0
    assert (tmp_path / "links.json").exists()


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "shorten" in out and "resolve" in out and "stats" in out


def test_python_dash_m_shortener(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SHORTENER_DB": str(tmp_path / "l.json")}

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shortener", *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    shortened = cli("shorten", URL)
    assert (shortened.returncode, shortened.stderr) == (0, "")
    resolved = cli("resolve", shortened.stdout.strip())
    assert (resolved.returncode, resolved.stdout) == (0, f"{URL}\n")
    missing = cli("resolve", "zzz")
    assert missing.returncode == 1
    assert missing.stderr.startswith("shortener: ")
