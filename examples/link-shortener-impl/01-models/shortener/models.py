"""The `ShortLink` record, the error types and URL validation.

Everything here is pure data: storage, codec and service build on it, so it
imports nothing from the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})


class ShortenerError(Exception):
    """Base of every error the package raises on purpose (callers catch just this)."""


class InvalidURL(ShortenerError):
    """The URL is not an http(s) URL with a host."""


class InvalidCode(ShortenerError):
    """The code is not a well-formed short code."""


class UnknownCode(ShortenerError):
    """The code is well-formed but no link is stored under it."""


@dataclass(frozen=True)
class ShortLink:
    """One shortened URL. Frozen: a hit produces a new record, never a mutation."""

    code: str
    url: str
    created_at: datetime
    hits: int = 0

    def __post_init__(self) -> None:
        # A naive datetime would compare and serialise ambiguously; refuse it early.
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(f"created_at must be timezone-aware, got {self.created_at!r}")
        if self.hits < 0:
            raise ValueError(f"hits must be >= 0, got {self.hits}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; the date is ISO 8601 with its UTC offset."""
        return {
            "code": self.code,
            "url": self.url,
            "created_at": self.created_at.isoformat(),
            "hits": self.hits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShortLink:
        """Inverse of `to_dict`; missing keys raise `KeyError`, bad values `ValueError`."""
        return cls(
            code=str(data["code"]),
            url=str(data["url"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            hits=int(data.get("hits", 0)),
        )


def validate_url(url: str) -> str:
    """The URL without surrounding whitespace, or `InvalidURL` saying what is wrong."""
    candidate = url.strip()
    if not candidate:
        raise InvalidURL("URL is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in candidate):
        raise InvalidURL(f"URL {candidate!r} contains whitespace or control characters")
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidURL(f"URL {candidate!r} is malformed: {exc}") from None
    if parts.scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(f"URL {candidate!r} must start with http:// or https://")
    if not parts.hostname:
        raise InvalidURL(f"URL {candidate!r} has no host")
    return candidate
