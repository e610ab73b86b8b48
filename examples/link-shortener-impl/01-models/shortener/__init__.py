"""Link shortener: turns long URLs into short codes and back.

The package root re-exports the data model and errors, the vocabulary every
other module (storage, codec, service, CLI) speaks.
"""

from shortener.models import (
    InvalidCode,
    InvalidURL,
    ShortenerError,
    ShortLink,
    UnknownCode,
    validate_url,
)

__all__ = [
    "InvalidCode",
    "InvalidURL",
    "ShortLink",
    "ShortenerError",
    "UnknownCode",
    "validate_url",
]
