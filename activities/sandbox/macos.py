"""The `sandbox-exec` profile for one command on macOS (Seatbelt, SBPL).

Deny by default; read the system and the listed paths, write only the worktree
(never its git directory) and a per-command temporary directory, no network
but the worker's filtering proxy on one loopback port when the project lists
destinations. Not exercised by the test suite (it
runs on Linux); kept small so it can be read whole.
"""

from __future__ import annotations

import json
from pathlib import Path

from activities.sandbox.paths import git_dirs

SYSTEM_READ = (
    "/usr",
    "/bin",
    "/sbin",
    "/System",
    "/Library/Developer",
    "/Library/Frameworks",
    "/private/etc",
    "/private/var/db/timezone",
    "/opt/homebrew",
    "/Applications/Xcode.app",
)


def _q(path: Path | str) -> str:
    return json.dumps(str(path))  # SBPL strings take JSON's escapes


def profile(
    workdir: Path, tmp: Path, *, read_only: list[Path], proxy_port: int | None = None
) -> str:
    readable = [*SYSTEM_READ, *map(str, read_only), str(workdir), str(tmp)]
    locked = git_dirs(workdir)
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-fork process-exec)",
        "(allow signal (target same-sandbox))",
        "(allow sysctl-read)",
        "(allow file-read-metadata)",
        '(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))',
        "(allow file-read* "
        + " ".join(f"(subpath {_q(p)})" for p in readable)
        + ' (literal "/dev/null") (literal "/dev/urandom") (literal "/dev/random")'
        + ' (literal "/dev/zero") (literal "/dev/tty"))',
        '(allow file-write* (literal "/dev/null") (subpath ' + _q(tmp) + "))",
        "(allow file-write* (require-all (subpath "
        + _q(workdir)
        + ")"
        + "".join(f" (require-not (subpath {_q(p)}))" for p in locked)
        + "))",
    ]
    if proxy_port is not None:
        lines.append(
            f'(allow system-socket) (allow network-outbound (remote ip "localhost:{proxy_port}"))'
        )
    return "\n".join(lines) + "\n"
