"""One behavioural suite for both stores, plus what only the JSON file must do."""

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shortener.models import ShortenerError, ShortLink, UnknownCode
from shortener.storage import InMemoryStorage, JsonFileStorage, Storage

CREATED = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


def link(code: str, url: str, hits: int = 0) -> ShortLink:
    return ShortLink(code=code, url=url, created_at=CREATED, hits=hits)


@pytest.fixture(params=["memory", "json"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage]:
    """A factory, so JSON tests can also 'restart' by opening the same file again."""
    if request.param == "memory":
        return InMemoryStorage
    return lambda: JsonFileStorage(tmp_path / "links.json")


@pytest.fixture
def store(make_store: Callable[[], Storage]) -> Storage:
    return make_store()


# ------------------------------------------------------------- shared behaviour


def test_is_a_storage(store: Storage) -> None:
    assert isinstance(store, Storage)


def test_empty_store(store: Storage) -> None:
    assert store.get("1") is None
    assert store.find_by_url("https://example.com/") is None


def test_next_id_never_repeats(store: Storage) -> None:
    ids = [store.next_id() for _ in range(50)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_put_then_get_and_find(store: Storage) -> None:
    a, b = link("1", "https://a.example/"), link("2", "https://b.example/")
    store.put(a)
    store.put(b)
    assert store.get("1") == a
    assert store.get("2") == b
    assert store.find_by_url("https://b.example/") == b
    assert store.find_by_url("https://c.example/") is None


def test_put_replaces_the_link_with_the_same_code(store: Storage) -> None:
    store.put(link("1", "https://old.example/"))
    store.put(link("1", "https://new.example/"))
    assert store.get("1") == link("1", "https://new.example/")
    assert store.find_by_url("https://old.example/") is None
    assert store.find_by_url("https://new.example/") == link("1", "https://new.example/")


def test_increment_hits_counts_one_per_call(store: Storage) -> None:
    store.put(link("1", "https://a.example/"))
    assert store.increment_hits("1").hits == 1
    assert store.increment_hits("1").hits == 2
    stored = store.get("1")
    assert stored is not None and stored.hits == 2
    assert store.find_by_url("https://a.example/") == stored


def test_increment_hits_on_unknown_code_raises(store: Storage) -> None:
    store.put(link("1", "https://a.example/"))
    with pytest.raises(UnknownCode, match="'nope'"):
        store.increment_hits("nope")
    assert store.get("nope") is None


# ------------------------------------------------------------- JSON file only


def test_missing_file_is_an_empty_store_and_reading_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    store = JsonFileStorage(path)
    assert store.get("1") is None
    assert not path.exists()


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    first = JsonFileStorage(path)
    used = {first.next_id(), first.next_id()}
    first.put(link("1", "https://a.example/"))
    first.increment_hits("1")

    second = JsonFileStorage(path)
    assert second.get("1") == link("1", "https://a.example/", hits=1)
    assert second.find_by_url("https://a.example/") == second.get("1")
    assert second.next_id() not in used


def test_next_id_is_unique_across_many_reopens(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    ids = [JsonFileStorage(path).next_id() for _ in range(20)]
    assert len(set(ids)) == 20


def test_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    store = JsonFileStorage(path)
    store.next_id()
    store.put(link("1", "https://a.example/"))
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "next_id": 2,
        "links": [link("1", "https://a.example/").to_dict()],
    }


def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "links.json"
    JsonFileStorage(path).put(link("1", "https://a.example/"))
    assert JsonFileStorage(path).get("1") is not None


def test_crash_during_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "links.json"
    store = JsonFileStorage(path)
    store.put(link("1", "https://a.example/"))
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.put(link("2", "https://b.example/"))
    with pytest.raises(OSError, match="simulated crash"):
        store.next_id()
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert json.loads(before)["next_id"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["links.json"]  # no temp files left
    # Memory was rolled back too: the store still agrees with its file.
    assert store.get("2") is None
    assert store.find_by_url("https://b.example/") is None
    assert store.next_id() == 1


def test_unreadable_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "links.json"
    path.write_text('{"next_id": 3, "links": [', encoding="utf-8")
    with pytest.raises(ShortenerError, match=r"links\.json is not a link store"):
        JsonFileStorage(path)
    assert path.read_text(encoding="utf-8") == '{"next_id": 3, "links": ['


@pytest.mark.parametrize(
    "document",
    [{"links": []}, {"next_id": 0, "links": []}, {"next_id": "2", "links": []}, [1, 2]],
)
def test_malformed_document_is_refused(tmp_path: Path, document: object) -> None:
    path = tmp_path / "links.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ShortenerError, match="not a link store"):
        JsonFileStorage(path)
