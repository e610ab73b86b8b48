"""The public API: shorten URLs, resolve codes, report statistics.

Codes are the base62 encoding of the storage's id sequence, so they are
short, unique and never collide. The clock is injected so callers (and tests)
decide what `created_at` says.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from shortener.codec import decode, encode
from shortener.models import ShortLink, UnknownCode, validate_url
from shortener.storage import Storage


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (what `ShortLink.created_at` expects)."""
    return datetime.now(UTC)


class Shortener:
    """Shorten / resolve / stats on top of any `Storage`."""

    def __init__(self, storage: Storage, clock: Callable[[], datetime] = utc_now) -> None:
        self.storage = storage
        self._clock = clock

    def shorten(self, url: str) -> ShortLink:
        """The link for `url`: the existing one when known, else a new code. `InvalidURL`
        is raised before anything is stored."""
        url = validate_url(url)
        existing = self.storage.find_by_url(url)
        if existing is not None:
            return existing
        link = ShortLink(code=encode(self.storage.next_id()), url=url, created_at=self._clock())
        self.storage.put(link)
        return link

    def resolve(self, code: str) -> str:
        """The URL behind `code`, counting one visit."""
        _check(code)
        return self.storage.increment_hits(code).url

    def stats(self, code: str) -> ShortLink:
        """The link with its hit count, without counting a visit."""
        _check(code)
        link = self.storage.get(code)
        if link is None:
            raise UnknownCode(f"no link is stored under code {code!r}")
        return link


def _check(code: str) -> None:
    """`InvalidCode` for a malformed code, before the storage is touched."""
    decode(code)
