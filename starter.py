"""The `orchestrator` command line.

Every verb takes the design directory, never a workflow id: ids are derived
from it (`design-<feature>`, `build-<feature>`), so nobody types them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Iterable

from cli.common import CliError, fail, feature_of, root_cause
from cli.verbs import VERBS
from runtime.exit import exit_now
from runtime.startup import imports_without_gc


def parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """Every verb with its arguments; with `load`, only those verbs' modules are imported
    (the others are listed by name and help, enough for `--help` and a mistyped verb)."""
    p = argparse.ArgumentParser(
        prog="orchestrator",
        description="Durable design-review and build loops on Temporal.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = set(VERBS if load is None else load)
    modules = list(dict.fromkeys(v.module for name, v in VERBS.items() if name in wanted))
    for name, verb in VERBS.items():
        if name in sub.choices:
            continue  # added by its module
        if verb.module in modules:
            importlib.import_module(verb.module).add_parsers(sub)
        else:
            sub.add_parser(name, help=verb.help)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        # The worker owns its flags (--task-queue, --host, --metrics-port, --no-embedded).
        import worker

        return worker.main(argv[1:])
    # Only the verb being run is imported (see cli.verbs): `--help` imports none of them.
    with imports_without_gc():
        args = parser(load=argv[:1]).parse_args(argv)
    try:
        if getattr(args, "on_design_dir", False):
            feature_of(args.design_dir)  # a mistyped path starts no server, no worker
        if getattr(args, "sync", False):
            return int(args.run(args))
        return int(asyncio.run(args.run(args)))
    except CliError as err:
        return fail(str(err))
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        refused = refusal(err)
        if refused is None:
            raise
        return fail(refused)


def refusal(err: Exception) -> str | None:
    """What to print for a failure the verb could not turn into a CliError itself; None
    for a bug. Its types are imported here: a verb that raised one has imported them."""
    from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError

    from runtime.server import ServerError

    if isinstance(err, (WorkflowFailureError, WorkflowUpdateFailedError)):
        return root_cause(err)
    if isinstance(err, RPCError):
        return f"Temporal: {err}"
    if isinstance(err, ServerError):  # TEMPORAL_ADDRESS, the server, ORCHESTRATOR_HOME
        return str(err)
    if isinstance(err, ApplicationError):  # a check shared with the activities refused it
        return err.message
    return None


def closed_pipe() -> int:
    """The reader of our output went away (`orchestrator plan ... | head -1`): stop quietly,
    as `cat` does, with the status a process ended by SIGPIPE has."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush into the closed pipe
    return 128 + signal.SIGPIPE


def cli() -> None:
    """Console entry point (see runtime.exit for why it skips finalization)."""
    exit_now(main())


if __name__ == "__main__":
    cli()
