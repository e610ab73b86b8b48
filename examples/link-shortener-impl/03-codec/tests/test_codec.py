"""Ids and codes convert both ways; anything outside the alphabet is refused."""

import pytest
from shortener.codec import ALPHABET, decode, encode
from shortener.models import InvalidCode, ShortenerError


def test_alphabet_is_digits_then_lower_then_upper() -> None:
    assert ALPHABET == "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("n", "code"),
    [(0, "0"), (9, "9"), (10, "a"), (35, "z"), (36, "A"), (61, "Z"), (62, "10"), (3843, "ZZ")],
)
def test_known_codes(n: int, code: str) -> None:
    assert encode(n) == code
    assert decode(code) == n


def test_round_trip_over_a_range() -> None:
    codes = [encode(n) for n in range(10_000)]
    assert [decode(code) for code in codes] == list(range(10_000))
    assert len(set(codes)) == len(codes)  # distinct ids never share a code


@pytest.mark.parametrize("n", [2**63, 2**63 - 1, 2**64, 10**30])
def test_round_trip_for_large_ids(n: int) -> None:
    assert decode(encode(n)) == n


def test_codes_stay_short() -> None:
    assert len(encode(62**4 - 1)) == 4
    assert len(encode(2**63)) == 11


def test_codes_are_case_sensitive() -> None:
    assert decode("a") != decode("A")


@pytest.mark.parametrize("code", ["", "ab-c", " ", "a b", "abc\n", "é", "_"])
def test_malformed_codes_raise_invalid_code(code: str) -> None:
    with pytest.raises(InvalidCode):
        decode(code)


def test_invalid_code_is_a_shortener_error() -> None:
    with pytest.raises(ShortenerError, match="'-' at position 2"):
        decode("ab-c")


def test_negative_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        encode(-1)
