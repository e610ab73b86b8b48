"""ShortLink round-trips through JSON-ready dicts; bad URLs never get through."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import shortener
from shortener.models import (
    InvalidCode,
    InvalidURL,
    ShortenerError,
    ShortLink,
    UnknownCode,
    validate_url,
)

CREATED = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "link",
    [
        ShortLink(code="1", url="https://example.com/", created_at=CREATED),
        ShortLink(code="aZ9", url="http://example.com/a?b=c#d", created_at=CREATED, hits=42),
        ShortLink(
            code="10",
            url="https://ex.org/ünïcode",
            created_at=datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_round_trip_through_json(link: ShortLink) -> None:
    data = json.loads(json.dumps(link.to_dict()))
    assert ShortLink.from_dict(data) == link


def test_to_dict_uses_iso_8601() -> None:
    link = ShortLink(code="1", url="https://example.com/", created_at=CREATED, hits=3)
    assert link.to_dict() == {
        "code": "1",
        "url": "https://example.com/",
        "created_at": "2024-05-17T09:30:15.123456+00:00",
        "hits": 3,
    }


def test_from_dict_defaults_hits_to_zero() -> None:
    data = {"code": "1", "url": "https://example.com/", "created_at": "2024-05-17T09:30:15Z"}
    assert ShortLink.from_dict(data).hits == 0


def test_short_link_is_frozen() -> None:
    link = ShortLink(code="1", url="https://example.com/", created_at=CREATED)
    with pytest.raises(AttributeError):
        link.hits = 1  # type: ignore[misc]


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ShortLink(code="1", url="https://example.com/", created_at=datetime(2024, 1, 1))


def test_negative_hits_are_refused() -> None:
    with pytest.raises(ValueError, match="hits"):
        ShortLink(code="1", url="https://example.com/", created_at=CREATED, hits=-1)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "http://",
        "",
        "   ",
        "example.com",
        "//example.com/a",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "https://exa mple.com/",
        "https://example.com/\nx",
        "http://example.com:99999/",
    ],
)
def test_invalid_urls_raise(url: str) -> None:
    with pytest.raises(InvalidURL):
        validate_url(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("  https://example.com/a  ", "https://example.com/a"),
        ("http://example.com", "http://example.com"),
        ("HTTPS://Example.com/Path?q=1", "HTTPS://Example.com/Path?q=1"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("\thttps://[::1]/\n", "https://[::1]/"),
    ],
)
def test_valid_urls_are_stripped_and_kept(url: str, expected: str) -> None:
    assert validate_url(url) == expected


@pytest.mark.parametrize("error", [InvalidURL, InvalidCode, UnknownCode])
def test_every_error_is_a_shortener_error(error: type[Exception]) -> None:
    assert issubclass(error, ShortenerError)
    with pytest.raises(ShortenerError):
        raise error("boom")


def test_package_exports_the_public_names() -> None:
    for name in shortener.__all__:
        assert getattr(shortener, name) is getattr(shortener.models, name)
