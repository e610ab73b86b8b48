"""`owner/name` from a GitHub remote URL: apart from the forge's client (PyGithub and
requests take most of a second to import), so that reading a project's configuration
(every CLI verb does) does not load them."""

from __future__ import annotations

import re
import urllib.parse

REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/\\].*)$")


def parse_repository(url: str | None) -> str | None:
    """`owner/name` from a GitHub remote URL (https, ssh, scp-like); None for local paths."""
    if not url:
        return None
    url = url.strip()
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in {"http", "https", "ssh", "git", "git+ssh", "ssh+git"}:
        path = parsed.path
    elif "://" not in url and (m := _SCP_LIKE.match(url)) and len(m["host"]) > 1:
        path = m["path"]
    else:
        return None
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 2:
        return None
    owner, name = parts[-2], parts[-1].removesuffix(".git")
    full = f"{owner}/{name}"
    return full if REPOSITORY.match(full) else None
