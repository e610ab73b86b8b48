"""`orchestrator server | worker | stop`: the local runtime."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from cli import verbs
from runtime.background import stop_background_worker
from runtime.client import settings_from_env
from runtime.server import (
    ServerError,
    is_listening,
    orchestrator_home,
    server_pid_file,
    split_address,
    start_dev_server,
    stop_process,
)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(sub, "server")
    p.add_argument("--db-file", default=None, help="state file (default: ~/.orchestrator/)")
    p.add_argument(
        "--ui-port", type=int, default=None, help="Web UI port (default: the gRPC port + 1000)"
    )
    p.set_defaults(run=run_server, sync=True)

    # Listed for --help; `starter.main` hands `worker ...` to worker.main with its own flags.
    verbs.add_parser(sub, "worker")

    s = verbs.add_parser(
        sub,
        "stop",
        description="Stop what the CLI started in the background: the worker, and the "
        "embedded Temporal server (its state stays in ~/.orchestrator/temporal.db, so the "
        "loops resume when it starts again). Loops keep their place; nothing is cancelled.",
    )
    s.add_argument(
        "--keep-server", action="store_true", help="stop only the worker; keep the server running"
    )
    s.set_defaults(run=run_stop, sync=True)


class Stop(BaseException):
    """SIGTERM or SIGHUP: stop like Ctrl-C does (a BaseException, so nothing swallows it)."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def run_server(args: argparse.Namespace) -> int:
    conn = settings_from_env()
    host, port = split_address(conn.address)
    if is_listening(conn.address):
        print(f"A Temporal server already answers at {conn.address}.", file=sys.stderr)
        return 0
    db = args.db_file or str(orchestrator_home() / "temporal.db")
    # systemd, a container runtime and a closed terminal stop a service with SIGTERM or
    # SIGHUP, not Ctrl-C: without these handlers this process died at once and left its
    # dev server running, holding the port and the database.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    server = None
    try:
        server = start_dev_server(
            port=port,
            ui_port=args.ui_port,
            db_file=Path(db),
            namespace=conn.namespace,
            detach=False,
        )
        print(
            f"Temporal dev server on {host}:{port}, Web UI {server.ui_url}, state in {db} "
            f"(log {server.log_path}), with the loops' search attributes (`orchestrator list "
            "--waiting`). Ctrl-C (or SIGTERM) stops it.",
            file=sys.stderr,
            flush=True,
        )
        assert server.process is not None
        return server.process.wait()
    except ServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Stop) as why:
        print(f"stopping the dev server ({why or 'interrupt'})", file=sys.stderr, flush=True)
        return 0
    finally:
        # Ignore further stop signals while the child shuts down (a second one is common).
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if server is not None:
            server.stop()


def run_stop(args: argparse.Namespace) -> int:
    worker = stop_background_worker()
    print(f"stopped the background worker (pid {worker})" if worker else "no background worker")
    if args.keep_server:
        return 0
    server = stop_process(server_pid_file(), "start-dev")
    if server:
        print(
            f"stopped the embedded Temporal server (pid {server}); its state stays in "
            f"{orchestrator_home() / 'temporal.db'}"
        )
    else:
        print("no embedded server that the CLI started")
    return 0
