"""The CLI starts without the Messages SDK: it names the loops' messages by method reference,
which imports the workflows, and the SDK (seconds of CPU) is imported only where a model is
called. Every verb a person types, and every CLI process the suite starts, would pay it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def printed(probe: str) -> str:
    """What `probe` prints, run in a fresh interpreter (nothing imported yet)."""
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return found.stdout.strip()


def test_the_cli_and_the_workflows_import_without_the_messages_sdk() -> None:
    probe = (
        "import sys, starter, workflows.build, workflows.design_review, workflows.subtask\n"
        "print(sorted(m for m in sys.modules if m == 'anthropic' or m.startswith('anthropic.')))"
    )
    assert printed(probe) == "[]"


def test_a_cli_verb_starts_without_pygithub_requests_or_networkx() -> None:
    """Each costs a CLI verb tenths of a second of CPU (`orchestrator --help` 1.0 s instead of
    1.4 s with them); only a worker calls GitHub and only `plan` orders a graph. The loops the
    CLI names import their activities' modules, so those import them where they are used."""
    probe = (
        "import sys, starter, workflows.pr_follow, workflows.release, workflows.integration\n"
        "heavy = {'github', 'requests', 'networkx'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    assert printed(probe) == "[]"


def test_a_worker_loads_the_messages_sdk_before_any_activity_runs() -> None:
    """Imported inside the first model call instead, it stalled the worker's event loop for
    seconds, and a live attempt with a short heartbeat timeout was taken for a dead one."""
    probe = (
        "import sys, worker\n"
        "before = 'anthropic' in sys.modules\n"
        "worker.activities()\n"
        "print(before, 'anthropic' in sys.modules)"
    )
    assert printed(probe).split() == ["False", "True"]


def test_help_imports_no_verb_the_temporal_client_or_the_contracts() -> None:
    """`orchestrator --help` lists every verb from cli.verbs: 0.1 s of CPU instead of 1.2 s
    (the suite starts the CLI hundreds of times; a person waits on each)."""
    probe = (
        "import contextlib, io, sys, starter\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    starter.main(['--help'])\n"
        "heavy = {'temporalio', 'pydantic', 'contracts', 'workflows', 'activities', 'worker'}\n"
        "verbs = {m for m in sys.modules if m.startswith('cli.')} - {'cli.common', 'cli.verbs'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy | verbs))"
    )
    assert printed(probe) == "[]"


def test_a_verb_imports_its_own_module_only() -> None:
    probe = (
        "import sys, starter\n"
        "starter.parser(load=['list']).parse_args(['list'])\n"
        "print(sorted(m for m in sys.modules if m.endswith(('_cmd', '_cmds'))))"
    )
    assert printed(probe) == "['cli.list_cmd']"


def test_every_verb_is_added_by_the_module_cli_verbs_names() -> None:
    """The table starter lists `--help` from, and loads a verb's module by, is the truth: each
    verb's module adds it, with its arguments, and no verb is missing from the table."""
    import argparse
    import importlib

    import starter
    from cli.verbs import VERBS

    everything = next(a for a in starter.parser()._actions if a.dest == "command")
    assert list(everything.choices or {}) == list(VERBS)
    for name, verb in VERBS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(verb.module).add_parsers(sub)
        assert name in sub.choices, f"{verb.module} does not add {name}"
        alone = next(a for a in starter.parser(load=[name])._actions if a.dest == "command")
        assert alone.choices is not None and everything.choices is not None
        assert alone.choices[name].format_help() == everything.choices[name].format_help()
