"""The stand-in's error answers and list pagination, shaped as GitHub's REST API shapes them."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

PULLS_DOCS = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def validation_failed(*errors: Any, docs: str = PULLS_DOCS) -> ApiError:
    """GitHub's 422 "Validation Failed", with its `errors` list."""
    return ApiError(
        422, {"message": "Validation Failed", "errors": list(errors), "documentation_url": docs}
    )


def unprocessable(message: str, docs: str) -> ApiError:
    """A 422 whose `message` says what is wrong (update-branch, reviews, merge methods)."""
    return ApiError(422, {"message": message, "documentation_url": docs})


def not_found() -> ApiError:
    return ApiError(
        404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    )


def bad_json() -> ApiError:
    return ApiError(400, {"message": "Problems parsing JSON"})


def check_enums(query: Mapping[str, str], enums: Mapping[str, Sequence[str]]) -> None:
    """GitHub's OpenAPI description declares these query values as enums: refuse the rest."""
    for name, allowed in enums.items():
        if name in query and query[name] not in allowed:
            raise validation_failed(
                {"resource": "Search", "field": name, "code": "invalid", "value": query[name]}
            )


def paginate(
    items: Sequence[Any], query: Mapping[str, str], url: str
) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` (per_page 1..100, default 30) and GitHub's `Link` header.

    "Using pagination in the REST API":
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    """
    for name, top in (("per_page", 100), ("page", None)):
        value = query.get(name)
        if value is not None and (
            not value.isdigit() or int(value) < 1 or (top is not None and int(value) > top)
        ):
            raise validation_failed(
                {"resource": "Search", "field": name, "code": "invalid", "value": value}
            )
    per_page = int(query.get("per_page", "30"))
    page = int(query.get("page", "1"))
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    headers: dict[str, str] = {}
    if page < last:

        def link(p: int) -> str:
            return (
                f"{url}?{urllib.parse.urlencode(dict(query, page=str(p), per_page=str(per_page)))}"
            )

        headers["Link"] = f'<{link(page + 1)}>; rel="next", <{link(last)}>; rel="last"'
    return chunk, headers
