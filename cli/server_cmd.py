"""`orchestrator server | worker | stop`: the local runtime."""

from __future__ import annotations

import argparse
import sys

from runtime.background import stop_background_worker
from runtime.client import settings_from_env
from runtime.server import (
    ServerError,
    is_listening,
    orchestrator_home,
    split_address,
    start_dev_server,
)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("server", help="run the embedded Temporal dev server in the foreground")
    p.add_argument("--db-file", default=None, help="state file (default: ~/.orchestrator/)")
    p.add_argument("--ui-port", type=int, default=None)
    p.set_defaults(run=run_server, sync=True)

    # Listed for --help; `starter.main` hands `worker ...` to worker.main with its own flags.
    sub.add_parser("worker", help="run a worker (see `orchestrator worker --help`)")

    s = sub.add_parser("stop", help="stop the background worker the CLI started")
    s.set_defaults(run=run_stop, sync=True)


def run_server(args: argparse.Namespace) -> int:
    conn = settings_from_env()
    host, port = split_address(conn.address)
    if is_listening(conn.address):
        print(f"A Temporal server already answers at {conn.address}.", file=sys.stderr)
        return 0
    db = args.db_file or str(orchestrator_home() / "temporal.db")
    try:
        server = start_dev_server(
            port=port,
            ui_port=args.ui_port,
            db_file=__import__("pathlib").Path(db),
            namespace=conn.namespace,
            detach=False,
        )
    except ServerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"Temporal dev server on {host}:{port}, Web UI {server.ui_url}, state in {db} "
        f"(log {server.log_path}). Ctrl-C stops it.",
        file=sys.stderr,
    )
    try:
        assert server.process is not None
        return server.process.wait()
    except KeyboardInterrupt:
        server.stop()
        return 0


def run_stop(args: argparse.Namespace) -> int:
    print("stopped the background worker" if stop_background_worker() else "no background worker")
    return 0
