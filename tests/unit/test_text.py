"""UTF-16 lengths, the way the TypeScript arena (zod on JavaScript strings) counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gambiarra.domain.text import utf16_len, utf16_truncate


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("Ana", 3), ("ação", 4), ("😀", 2), ("a😀b", 4), ("👩‍💻", 5), ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", 14)],
)
def test_length_counts_an_astral_character_as_two(text: str, units: int) -> None:
    assert utf16_len(text) == units == len(text.encode("utf-16-le")) // 2


def test_truncate_leaves_out_an_emoji_that_would_straddle_the_limit() -> None:
    assert utf16_truncate("ab😀c", 3) == "ab"
    assert utf16_truncate("ab😀c", 4) == "ab😀"
    assert utf16_truncate("😀" * 3000, 4000) == "😀" * 2000


def test_truncate_keeps_short_text_and_gives_nothing_for_no_room() -> None:
    assert utf16_truncate("Ana", 40) == "Ana"
    assert utf16_truncate("Ana", 3) == "Ana"
    assert utf16_truncate("Ana", 0) == ""
    assert utf16_truncate("Ana", -1) == ""


@given(st.text(), st.integers(min_value=0, max_value=60))
def test_truncate_gives_the_longest_prefix_that_fits(text: str, limit: int) -> None:
    cut = utf16_truncate(text, limit)
    assert text.startswith(cut)
    assert utf16_len(cut) <= limit
    if cut != text:  # one more character would not fit
        assert utf16_len(text[: len(cut) + 1]) > limit
