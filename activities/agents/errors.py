"""Map Messages API failures to Temporal's retry decisions.

The HTTP client runs with its own retries off: every attempt is a Temporal
attempt, visible in Event History, and the server's `retry-after` becomes the
next attempt's delay. Failures that retrying cannot fix are non-retryable up
front, so a wrong key is reported once instead of retried forever.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import timedelta

import anthropic
from temporalio.exceptions import ApplicationError

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
RETRYABLE_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})

_FIXES: dict[int, str] = {
    400: "the request was malformed; check the model name and the role's tools",
    401: "set ANTHROPIC_API_KEY in the worker's environment to a valid key",
    403: "the API key may not use this model or endpoint; check its permissions",
    404: "check the model name (settings.model or the role's `model`) and ANTHROPIC_BASE_URL",
    413: "the request is too large; narrow the focus files or lower max_tokens_per_turn",
}


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


def classify(exc: anthropic.APIError, model: str) -> ApplicationError:
    """Turn an SDK error into a retryable or non-retryable ApplicationError."""
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
        if status in RETRYABLE_STATUS:
            delay = retry_after(exc.response.headers)
            return ApplicationError(
                f"Messages API answered {status} {error_type or ''}: {detail}; retrying"
                + (f" after {delay.total_seconds():g}s" if delay else ""),
                type="ModelUnavailable",
                next_retry_delay=delay,
            )
        fix = _FIXES.get(status, "fix the request; retrying will not help")
        return non_retryable(
            f"Messages API refused the request with {status} {error_type or ''}: {detail} "
            f"(model {model}). Fix: {fix}",
            "ModelRequestRejected",
        )
    return non_retryable(
        f"Messages API returned something the client could not use: {exc.message} (model {model})",
        "ModelResponseInvalid",
    )


def _body_error_type(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return error["type"]
    return None
