"""Conditional GETs through PyGithub's requester, with ETags and bodies kept between polls.

GitHub: "Most endpoints return an etag header ... If the data has not changed, you will
receive a 304 Not Modified response. Making a conditional request does not count against
your primary rate limit if a 304 response is returned" (Best practices for using the REST
API, https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
#use-conditional-requests-if-appropriate). PyGithub's lists and objects do not send
If-None-Match, so these requests go through its requester directly. The cache is one small
JSON file per pull request under the worker's state directory: a poll on another worker host
simply downloads again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activities import files

if TYPE_CHECKING:  # a type only: the CLI imports this through the loops, without PyGithub
    from github import Github

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def default_cache_dir() -> str:
    home = os.environ.get("ORCHESTRATOR_HOME") or str(Path.home() / ".orchestrator")
    return os.path.join(home, "forge-cache")


class ConditionalReader:
    """GETs that send the last ETag of their URL and take a 304's body from the cache."""

    def __init__(self, gh: Github, cache_dir: str | None, key: str = "") -> None:
        """`cache_dir` None: remember nothing past this reader (one-off reads)."""
        self.requester = gh.requester
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.path = os.path.join(cache_dir, f"{name}.json") if cache_dir else ""
        self.cache: dict[str, dict[str, Any]] = self._load() if self.path else {}
        self.requests = 0
        self.not_modified = 0
        self.headers: dict[str, Any] = {}

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save(self, used: set[str]) -> None:
        """Keep only the URLs this poll used (an old head's checks are dropped)."""
        if not self.path:
            return
        kept = {url: entry for url, entry in self.cache.items() if url in used}
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        files.atomic_write_text(self.path, json.dumps(kept))

    def get(self, url: str) -> tuple[Any, dict[str, Any]]:
        """(body, headers) of one GET; raises PyGithub's exception for 4xx/5xx."""
        cached = self.cache.get(url)
        headers = {"If-None-Match": cached["etag"]} if cached else {}
        status, answer_headers, output = self.requester.requestJson("GET", url, headers=headers)
        self.requests += 1
        self.headers = answer_headers
        if status == 304 and cached:
            self.not_modified += 1
            return cached["body"], answer_headers
        data = json.loads(output) if output else None
        if status >= 400:
            raise self.requester.createException(status, answer_headers, data or {})
        etag = {k.lower(): v for k, v in answer_headers.items()}.get("etag")
        if etag:
            self.cache[url] = {"etag": etag, "body": data, "links": answer_headers.get("link")}
        return data, answer_headers

    def get_all(self, url: str, items_key: str | None = None) -> tuple[list[Any], set[str]]:
        """Every page of a listing (`items_key`: the list inside an object answer)."""
        found: list[Any] = []
        seen: set[str] = set()
        next_url: str | None = url
        while next_url and next_url not in seen:
            seen.add(next_url)
            body, headers = self.get(next_url)
            cached = self.cache.get(next_url, {})
            link = {k.lower(): v for k, v in headers.items()}.get("link") or cached.get("links")
            found += (body or {}).get(items_key, []) if items_key else (body or [])
            match = _NEXT.search(link or "")
            next_url = match[1] if match else None
        return found, seen

    def rate(self) -> tuple[int | None, int]:
        """(requests left in GitHub's window, seconds until it resets) from the last answer."""
        lowered = {k.lower(): str(v) for k, v in self.headers.items()}
        remaining = lowered.get("x-ratelimit-remaining", "")
        reset = lowered.get("x-ratelimit-reset", "")
        left = int(remaining) if remaining.isdigit() else None
        wait = max(0, int(reset) - int(time.time()) + 1) if reset.isdigit() else 0
        return left, wait
