"""Global ids as a client might send them."""

from __future__ import annotations

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def loose(value: str) -> str:
    """`value` with the unused low bits of its last base64 character set: the same bytes to a
    decoder, another text to a client's cache."""
    body = value.rstrip("=")
    spare = {1: 2, 2: 4}[len(value) - len(body)]  # with "=" 2 bits are unused, with "==" 4
    last = ALPHABET.index(body[-1])
    assert not last & ((1 << spare) - 1), "a key whose id has no spare bits"
    return body[:-1] + ALPHABET[last | 1] + value[len(body) :]
