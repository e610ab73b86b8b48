"""Where links and the id sequence live: in memory, or in a JSON file.

`JsonFileStorage` rewrites the whole document after every change through a
temporary file and `os.replace`, so a crash mid-write leaves the previous file
intact. One writer at a time: nothing locks the file between processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shortener.models import ShortenerError, ShortLink, UnknownCode

FIRST_ID = 1


@runtime_checkable
class Storage(Protocol):
    """What the service needs from a store of links."""

    def next_id(self) -> int:
        """A number never returned before by this store."""
        ...

    def get(self, code: str) -> ShortLink | None: ...

    def find_by_url(self, url: str) -> ShortLink | None: ...

    def put(self, link: ShortLink) -> None:
        """Store `link`, replacing any link with the same code."""
        ...

    def increment_hits(self, code: str) -> ShortLink:
        """Count one visit; the updated link, or `UnknownCode`."""
        ...


class InMemoryStorage:
    """Dicts plus a counter: for tests and for embedding without a file."""

    def __init__(self) -> None:
        self._next_id = FIRST_ID
        self._links: dict[str, ShortLink] = {}
        self._codes_by_url: dict[str, str] = {}

    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def get(self, code: str) -> ShortLink | None:
        return self._links.get(code)

    def find_by_url(self, url: str) -> ShortLink | None:
        code = self._codes_by_url.get(url)
        return None if code is None else self._links[code]

    def put(self, link: ShortLink) -> None:
        old = self._links.get(link.code)
        if old is not None and self._codes_by_url.get(old.url) == old.code:
            del self._codes_by_url[old.url]
        self._links[link.code] = link
        self._codes_by_url[link.url] = link.code

    def increment_hits(self, code: str) -> ShortLink:
        link = self._links.get(code)
        if link is None:
            raise UnknownCode(f"no link is stored under code {code!r}")
        updated = dataclasses.replace(link, hits=link.hits + 1)
        self._links[code] = updated
        return updated

    def __len__(self) -> int:
        return len(self._links)


class JsonFileStorage(InMemoryStorage):
    """An `InMemoryStorage` mirrored to `{"next_id": n, "links": [...]}` on disk.

    Each change is applied in memory, written, and rolled back if the write
    fails, so memory and file never disagree.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():  # a missing file is an empty store
            self._load()

    def next_id(self) -> int:
        with self._saving():
            return super().next_id()

    def put(self, link: ShortLink) -> None:
        with self._saving():
            super().put(link)

    def increment_hits(self, code: str) -> ShortLink:
        with self._saving():
            return super().increment_hits(code)

    @contextlib.contextmanager
    def _saving(self) -> Iterator[None]:
        snapshot = (self._next_id, dict(self._links), dict(self._codes_by_url))
        try:
            yield
            self._write(self._document())
        except BaseException:
            self._next_id, self._links, self._codes_by_url = snapshot
            raise

    def _document(self) -> dict[str, Any]:
        return {
            "next_id": self._next_id,
            "links": [link.to_dict() for link in self._links.values()],
        }

    def _write(self, document: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(document, fh, indent=2, ensure_ascii=False)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            next_id = document["next_id"]
            links = [ShortLink.from_dict(item) for item in document["links"]]
            if not isinstance(next_id, int) or next_id < FIRST_ID:
                raise ValueError(f"next_id must be an integer >= {FIRST_ID}, got {next_id!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise ShortenerError(
                f"{self.path} is not a link store ({type(exc).__name__}: {exc}); "
                "fix or move the file away to start empty"
            ) from None
        for link in links:
            super().put(link)
        self._next_id = next_id
