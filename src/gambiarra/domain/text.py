"""Text measured the way the arena measures it: in UTF-16 code units.

The TypeScript arena validates lengths with zod on JavaScript strings, so a
character outside the Basic Multilingual Plane (most emoji) counts 2. Python
counts code points, so ``len()`` under-counts and a text that fits here can
be rejected there as "Invalid message format".
"""

from __future__ import annotations

__all__ = ["utf16_len", "utf16_truncate"]

_BMP_LAST = 0xFFFF  # code points above this take a surrogate pair in UTF-16


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as JavaScript's ``.length``."""
    return len(text) + sum(1 for char in text if ord(char) > _BMP_LAST)


def utf16_truncate(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` UTF-16 units long.

    A Python character is a whole code point, so cutting between characters
    never splits a surrogate pair: an emoji that would straddle the limit is
    left out whole.
    """
    if limit <= 0:
        return ""
    if len(text) * 2 <= limit or utf16_len(text) <= limit:
        return text
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > _BMP_LAST else 1
        if used > limit:
            return text[:index]
    return text
