"""Map Messages API failures to Temporal's retry decisions.

The HTTP client runs with its own retries off: every attempt is a Temporal
attempt, visible in Event History, and the server's `retry-after` becomes the
next attempt's delay. Failures that retrying cannot fix are non-retryable up
front, so a wrong key is reported once instead of retried forever. The server
has the last word, as it has for the SDK's own retries: `x-should-retry: true`
makes any status retryable, `x-should-retry: false` makes any status final.
"""

from __future__ import annotations

import email.utils
import html
import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.exceptions import ApplicationError

if TYPE_CHECKING:  # imported where used (see activities/agents/loop.py)
    import anthropic

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
RETRYABLE_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})

_FIXES: dict[int, str] = {
    400: "the request was malformed; check the model name and the role's tools",
    401: "set ANTHROPIC_API_KEY in the worker's environment to a valid key",
    403: "the API key may not use this model or endpoint; check its permissions",
    404: "check the model name (settings.model or the role's `model`) and ANTHROPIC_BASE_URL",
    413: "the request is too large; narrow the focus files or lower max_tokens_per_turn",
    429: "the API key's rate or spend limit is exhausted; raise it in the Anthropic console "
    "or wait until it resets",
    529: "the API stays overloaded; wait for it to recover or use another model",
}
SHOULD_RETRY_HEADER = "x-should-retry"


def non_retryable(message: str, type: str) -> ApplicationError:
    """A failure that needs a person to change something before trying again."""
    return ApplicationError(message, type=type, non_retryable=True)


def retry_after(headers: Mapping[str, str] | None) -> timedelta | None:
    """The server's requested wait: `retry-after-ms`, else `retry-after` (seconds or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return timedelta(milliseconds=max(0.0, float(ms)))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return timedelta(seconds=max(0.0, when.timestamp() - time.time()))


def should_retry(headers: Mapping[str, str] | None) -> bool | None:
    """The server's explicit verdict (`x-should-retry: true|false`), else None."""
    value = (headers or {}).get(SHOULD_RETRY_HEADER)
    if value is None:
        return None
    value = value.strip().lower()
    return True if value == "true" else False if value == "false" else None


def classify(exc: anthropic.APIError, model: str) -> ApplicationError:
    """Turn an SDK error into a retryable or non-retryable ApplicationError."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return ApplicationError(
            f"Messages API unreachable or too slow ({exc.message}); retrying",
            type="ModelUnavailable",
        )
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        error_type = exc.type or _body_error_type(exc.body)
        detail = exc.api_message or exc.message
        if status == 200:  # an `error` event inside a streamed 200 response
            if error_type in RETRYABLE_STREAM_ERRORS:
                return ApplicationError(
                    f"Messages API stream failed with {error_type}: {detail}; retrying",
                    type="ModelUnavailable",
                )
            return non_retryable(
                f"Messages API stream failed with {error_type}: {detail} (model {model})",
                "ModelRequestRejected",
            )
        page = _foreign_page(exc.response)
        if page is not None:  # not the API's JSON: a proxy or gateway answered
            return _page_error(status, page, exc.response.headers, model)
        verdict = should_retry(exc.response.headers)
        retryable = status in RETRYABLE_STATUS if verdict is None else verdict
        if retryable:
            delay = retry_after(exc.response.headers)
            return ApplicationError(
                f"Messages API answered {status} {error_type or ''}: {detail}; retrying"
                + (f" after {delay.total_seconds():g}s" if delay else ""),
                type="ModelUnavailable",
                next_retry_delay=delay,
            )
        fix = _FIXES.get(status) or (
            "the server failed and said retrying will not help; retry once the Messages API "
            "is healthy again"
            if status >= 500
            else "fix the request; retrying will not help"
        )
        said = " (the server said not to retry)" if verdict is False else ""
        verb = "refused the request with" if status < 500 else "failed with"
        return non_retryable(
            f"Messages API {verb} {status} {error_type or ''}: {detail} "
            f"(model {model}){said}. Fix: {fix}",
            "ModelRequestRejected",
        )
    return non_retryable(
        f"Messages API returned something the client could not use: {exc.message} (model {model})",
        "ModelResponseInvalid",
    )


def incomplete_stream(response: Any, model: str) -> ApplicationError:
    """A streaming request whose reply was not a complete event stream."""
    headers = getattr(response, "headers", None) or {}
    content_type = headers.get("content-type", "")
    if response is not None and "text/event-stream" not in content_type:
        return non_retryable(
            f"the Messages endpoint answered a streaming request with "
            f"{content_type or 'no content-type'} instead of an event stream "
            f"(text/event-stream) (model {model}). Fix: the agents stream every request; point "
            "ANTHROPIC_BASE_URL at an endpoint, or configure the gateway, so that requests with "
            "stream=true are answered with server-sent events",
            "ModelResponseInvalid",
        )
    return ApplicationError(
        "the Messages API stream ended before the message was complete (no message_stop: "
        "the connection was cut mid-message); retrying",
        type="ModelUnavailable",
    )


def _foreign_page(response: Any) -> str | None:
    """What an error page says, when the body is not JSON (e.g. a proxy's HTML); else None."""
    content_type = (getattr(response, "headers", None) or {}).get("content-type", "")
    if "json" in content_type:
        return None
    try:
        text = response.text
    except Exception:
        return ""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title[1]
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).split())[:200]


def _page_error(status: int, page: str, headers: Mapping[str, str], model: str) -> ApplicationError:
    said = f" ({page!r})" if page else ""
    what = (
        f"a proxy or gateway answered {status} with a page that is not the Messages API's "
        f"JSON{said}"
    )
    verdict = should_retry(headers)
    if status in RETRYABLE_STATUS if verdict is None else verdict:
        delay = retry_after(headers)
        return ApplicationError(
            f"Messages API unreachable: {what}; retrying"
            + (f" after {delay.total_seconds():g}s" if delay else ""),
            type="ModelUnavailable",
            next_retry_delay=delay,
        )
    return non_retryable(
        f"Messages API request refused: {what} (model {model}). Fix: check ANTHROPIC_BASE_URL "
        "and any proxy between the worker and the API",
        "ModelRequestRejected",
    )


def _body_error_type(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        if isinstance(kind, str):
            return kind
    return None
