"""Every verb of the `orchestrator` command: its one-line help and the module that runs it.

`starter` lists them all from here and imports only the module of the verb a person runs,
so `orchestrator --help` imports no verb, and each verb only what it uses (the Temporal
client, the loops' classes and contracts cost tenths of a second of CPU a process, and the
suite starts the CLI hundreds of times). Each module adds its own verbs' arguments, with the
help written here (`help_of`).
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple


class Verb(NamedTuple):
    module: str
    help: str


VERBS: dict[str, Verb] = {
    "server": Verb("cli.server_cmd", "run the embedded Temporal dev server in the foreground"),
    "worker": Verb("cli.server_cmd", "run a worker (see `orchestrator worker --help`)"),
    "stop": Verb(
        "cli.server_cmd", "stop the background worker and the embedded server the CLI started"
    ),
    "plan": Verb("cli.plan_cmd", "validate a design directory and print its plan"),
    "design": Verb("cli.loop_cmds", "start (or attach to) the design-review loop"),
    "build": Verb("cli.loop_cmds", "start (or attach to) the build loop"),
    "status": Verb("cli.loop_cmds", "phase, scores, questions and decisions"),
    "metrics": Verb("cli.loop_cmds", "tokens, cost and agent time"),
    "approve": Verb("cli.loop_cmds", "approve the design at the gate (signal `approved`)"),
    "answer": Verb("cli.loop_cmds", "answer a reviewer question"),
    "request-changes": Verb("cli.loop_cmds", "send the design back with feedback"),
    "decide": Verb(
        "cli.loop_cmds", "answer a prompt that waits for a decision (`status` lists them)"
    ),
    "pause": Verb("cli.loop_cmds", "no new agent starts until resume (signal `!pause`)"),
    "resume": Verb("cli.loop_cmds", "resume after pause (signal `!resume`)"),
    "cancel": Verb("cli.loop_cmds", "cancel the running loop(s); branches and worktrees are kept"),
    "say": Verb(
        "cli.say_cmd",
        "tell the running loop(s) what you think; words that sound like a gate "
        '("looks good", "let\'s build") get a hint naming the command to send. '
        "It never advances anything",
    ),
    "release": Verb(
        "cli.release_cmd",
        "start (or attach to) the release loop on the integration branch: !critic, "
        "!security, !verify, each sent by a person",
    ),
    "pattern": Verb(
        "cli.pattern_cmd",
        "the pattern library: keep a finished subtask as PATTERN-NNN, list the library",
    ),
    "budget": Verb(
        "cli.budget_cmd",
        "context fill of each running agent, tokens and cost per role, the budget",
    ),
    "change": Verb("cli.change_cmds", "propose a spec change to a running build (`!change`)"),
    "change-approve": Verb("cli.change_cmds", "apply the pending spec change (`!change-approve`)"),
    "change-cancel": Verb("cli.change_cmds", "discard the pending spec change (`!change-cancel`)"),
    "migration-approve": Verb(
        "cli.change_cmds", "take a held schema change on to its PR (`!migration-approve`)"
    ),
    "migration-cancel": Verb(
        "cli.change_cmds", "revert a held schema change, rework without it (`!migration-cancel`)"
    ),
    "replay": Verb(
        "cli.change_cmds",
        "without a round: `!replay` the build from the checkpoint after a finished subtask; "
        "with one: reset a running subtask to the state after that review round",
    ),
    "fork": Verb("cli.fork_cmd", "build a subtask twice, side by side, then pick (`!fork`)"),
    "merge": Verb(
        "cli.fork_cmd", "pick a fork's winner: it becomes the subtask's branch (`!merge`)"
    ),
    "clean": Verb(
        "cli.clean_cmd", "remove the feature's worktrees and local branches whose work is pushed"
    ),
    "webhook": Verb(
        "cli.webhook_cmd",
        "receive GitHub webhook deliveries and wake the loops that follow the pull "
        "requests they name (polling stays the fallback)",
    ),
    "list": Verb(
        "cli.list_cmd",
        "the running loops on the server, across repositories (--waiting: those waiting for you)",
    ),
    "demo": Verb("cli.demo", "run the design and build loops on the bundled example"),
}


def help_of(name: str) -> str:
    return VERBS[name].help


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **kw: Any
) -> argparse.ArgumentParser:
    """Verb `name`'s parser, its help (and, unless given, its description) from VERBS."""
    kw.setdefault("description", help_of(name))
    return sub.add_parser(name, help=help_of(name), **kw)
