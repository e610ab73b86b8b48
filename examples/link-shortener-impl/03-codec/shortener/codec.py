"""Base62 codes for integer ids: short, URL-safe and case-sensitive."""

import string

from shortener.models import InvalidCode

ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase
BASE = len(ALPHABET)
_VALUES = {char: value for value, char in enumerate(ALPHABET)}


def encode(n: int) -> str:
    """`n` in base62 (`0-9a-zA-Z`); `encode(0) == "0"`. Negative numbers have no code."""
    if n < 0:
        raise ValueError(f"cannot encode a negative number: {n}")
    digits: list[str] = []
    while True:
        n, rest = divmod(n, BASE)
        digits.append(ALPHABET[rest])
        if n == 0:
            return "".join(reversed(digits))


def decode(code: str) -> int:
    """Inverse of `encode`; `InvalidCode` for an empty code or a character outside the alphabet."""
    if not code:
        raise InvalidCode("code is empty")
    n = 0
    for position, char in enumerate(code):
        value = _VALUES.get(char)
        if value is None:
            raise InvalidCode(
                f"code {code!r} has {char!r} at position {position}; only 0-9, a-z and A-Z are used"
            )
        n = n * BASE + value
    return n
