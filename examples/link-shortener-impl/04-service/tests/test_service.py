"""Shortening is idempotent per URL, resolving counts visits, errors are typed."""

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shortener.codec import decode
from shortener.models import InvalidCode, InvalidURL, ShortLink, UnknownCode
from shortener.service import Shortener, utc_now
from shortener.storage import InMemoryStorage, JsonFileStorage

START = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


class Clock:
    """A clock that advances one second per reading, so each link gets its own time."""

    def __init__(self) -> None:
        self._seconds = itertools.count()

    def __call__(self) -> datetime:
        return START + timedelta(seconds=next(self._seconds))


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.fixture
def service(storage: InMemoryStorage) -> Shortener:
    return Shortener(storage, clock=Clock())


def test_shorten_stores_a_new_link(service: Shortener, storage: InMemoryStorage) -> None:
    link = service.shorten("https://example.com/a")
    assert link == ShortLink(code=link.code, url="https://example.com/a", created_at=START)
    assert storage.get(link.code) == link
    assert decode(link.code) >= 0


def test_same_url_twice_gives_the_same_code_and_one_link(
    service: Shortener, storage: InMemoryStorage
) -> None:
    first = service.shorten("https://example.com/a")
    second = service.shorten("  https://example.com/a ")
    assert second == first
    assert len(storage) == 1


def test_different_urls_get_different_codes(service: Shortener, storage: InMemoryStorage) -> None:
    codes = {service.shorten(f"https://example.com/{i}").code for i in range(100)}
    assert len(codes) == 100
    assert len(storage) == 100


def test_created_at_comes_from_the_clock(service: Shortener) -> None:
    a = service.shorten("https://example.com/a")
    b = service.shorten("https://example.com/b")
    assert (a.created_at, b.created_at) == (START, START + timedelta(seconds=1))


def test_default_clock_is_utc_aware() -> None:
    now = utc_now()
    assert now.utcoffset() == timedelta(0)
    link = Shortener(InMemoryStorage()).shorten("https://example.com/")
    assert abs(link.created_at - now) < timedelta(minutes=1)


def test_resolve_counts_exactly_one_hit_per_call(service: Shortener) -> None:
    code = service.shorten("https://example.com/a").code
    assert service.stats(code).hits == 0
    for expected in (1, 2, 3):
        assert service.resolve(code) == "https://example.com/a"
        assert service.stats(code).hits == expected


def test_stats_does_not_count_a_hit(service: Shortener) -> None:
    code = service.shorten("https://example.com/a").code
    service.resolve(code)
    assert [service.stats(code).hits for _ in range(3)] == [1, 1, 1]


def test_shortening_again_keeps_the_hits(service: Shortener) -> None:
    code = service.shorten("https://example.com/a").code
    service.resolve(code)
    assert service.shorten("https://example.com/a").hits == 1


@pytest.mark.parametrize("url", ["ftp://x", "http://", "", "not a url"])
def test_invalid_url_raises_and_stores_nothing(
    service: Shortener, storage: InMemoryStorage, url: str
) -> None:
    with pytest.raises(InvalidURL):
        service.shorten(url)
    assert len(storage) == 0
    assert storage.next_id() == 1  # no id was consumed either


@pytest.mark.parametrize("code", ["", "ab-c", "a b", "../x"])
def test_malformed_code_raises_invalid_code(service: Shortener, code: str) -> None:
    with pytest.raises(InvalidCode):
        service.resolve(code)
    with pytest.raises(InvalidCode):
        service.stats(code)


def test_unknown_code_raises_unknown_code(service: Shortener) -> None:
    service.shorten("https://example.com/a")
    with pytest.raises(UnknownCode):
        service.resolve("zzz")
    with pytest.raises(UnknownCode):
        service.stats("zzz")


def test_end_to_end_with_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    first = Shortener(JsonFileStorage(path), clock=Clock())
    code = first.shorten("https://example.com/a").code
    other = first.shorten("https://example.com/b").code
    assert first.resolve(code) == "https://example.com/a"

    # A new process: same file, same answers, and no code is ever reused.
    second = Shortener(JsonFileStorage(path), clock=Clock())
    assert second.shorten("https://example.com/a").code == code
    assert second.stats(code).hits == 1
    assert second.resolve(code) == "https://example.com/a"
    assert second.stats(code).hits == 2
    new = second.shorten("https://example.com/c").code
    assert new not in {code, other}
