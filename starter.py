"""The `orchestrator` command line.

Every verb takes the design directory, never a workflow id: ids are derived
from it (`design-<feature>`, `build-<feature>`), so nobody types them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from cli import (
    budget_cmd,
    change_cmds,
    clean_cmd,
    demo,
    fork_cmd,
    list_cmd,
    loop_cmds,
    pattern_cmd,
    plan_cmd,
    release_cmd,
    say_cmd,
    server_cmd,
    webhook_cmd,
)
from cli.common import CliError, fail, root_cause
from runtime.exit import exit_now
from runtime.server import ServerError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orchestrator",
        description="Durable design-review and build loops on Temporal.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server_cmd.add_parsers(sub)
    plan_cmd.add_parser(sub)
    loop_cmds.add_parsers(sub)
    say_cmd.add_parser(sub)
    release_cmd.add_parser(sub)
    pattern_cmd.add_parsers(sub)
    budget_cmd.add_parsers(sub)
    change_cmds.add_parsers(sub)
    fork_cmd.add_parsers(sub)
    clean_cmd.add_parsers(sub)
    webhook_cmd.add_parsers(sub)
    list_cmd.add_parsers(sub)
    demo.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        # The worker owns its flags (--task-queue, --host, --metrics-port, --no-embedded).
        import worker

        return worker.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        if getattr(args, "sync", False):
            return int(args.run(args))
        return int(asyncio.run(args.run(args)))
    except CliError as err:
        return fail(str(err))
    except (WorkflowFailureError, WorkflowUpdateFailedError) as err:
        return fail(root_cause(err))
    except RPCError as err:
        return fail(f"Temporal: {err}")
    except ServerError as err:  # TEMPORAL_ADDRESS, the server, ORCHESTRATOR_HOME
        return fail(str(err))
    except ApplicationError as err:  # a check shared with the activities refused it
        return fail(err.message)
    except BrokenPipeError:
        return closed_pipe()
    except KeyboardInterrupt:
        return 130


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
