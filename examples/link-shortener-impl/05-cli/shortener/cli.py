"""`python -m shortener`: shorten, resolve and stats over a JSON file.

Only the result goes to stdout so scripts can capture it; errors are one line
on stderr (`shortener: <message>`). Exit codes: 0 success, 1 unknown code,
2 invalid input (bad URL or code, usage errors).
"""

import argparse
import os
import sys
from typing import NoReturn

from shortener.models import ShortenerError, UnknownCode
from shortener.service import Shortener
from shortener.storage import JsonFileStorage

PROG = "shortener"
DEFAULT_DB = "links.json"
EXIT_OK, EXIT_UNKNOWN, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """A command line argparse refused; reported in our one-line format."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the usage block and exit; we want one line and exit code 2.
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Turn long URLs into short codes and back.")
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=os.environ.get("SHORTENER_DB") or DEFAULT_DB,
        help="JSON file holding the links (default: $SHORTENER_DB or ./links.json)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shorten = commands.add_parser("shorten", help="print the code for URL")
    shorten.add_argument("url", metavar="URL")
    resolve = commands.add_parser("resolve", help="print the URL for CODE and count a visit")
    resolve.add_argument("code", metavar="CODE")
    stats = commands.add_parser("stats", help="print: code, url, hits, created_at (tab-separated)")
    stats.add_argument("code", metavar="CODE")
    return parser


def run(args: argparse.Namespace) -> str:
    """The command's result line."""
    service = Shortener(JsonFileStorage(args.db))
    if args.command == "shorten":
        return service.shorten(args.url).code
    if args.command == "resolve":
        return service.resolve(args.code)
    link = service.stats(args.code)
    return "\t".join([link.code, link.url, str(link.hits), link.created_at.isoformat()])


def main(argv: list[str] | None = None) -> int:
    """Run one command; the process exit code."""
    try:
        print(run(build_parser().parse_args(argv)))
    except SystemExit as exc:  # --help: argparse has printed it and wants to exit
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UnknownCode as exc:
        return _fail(exc, EXIT_UNKNOWN)
    except (UsageError, ShortenerError) as exc:
        return _fail(exc, EXIT_INVALID)
    except OSError as exc:
        return _fail(f"cannot use the link file: {exc}", EXIT_INVALID)
    return EXIT_OK


def _fail(message: object, code: int) -> int:
    text = " ".join(str(message).split())  # always exactly one line
    print(f"{PROG}: {text}", file=sys.stderr)
    return code
