"""LAN-sized backoff: fast first retry, doubling, capped, jittered."""

from __future__ import annotations

from itertools import islice

from gambiarra.adapters.retry import backoff


def test_first_retry_within_a_quarter_second_then_doubling_to_the_cap() -> None:
    highest = list(islice(backoff(rand=lambda: 1.0), 8))
    assert highest == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_keeps_at_least_half_of_each_step() -> None:
    lowest = list(islice(backoff(rand=lambda: 0.0), 3))
    assert lowest == [0.125, 0.25, 0.5]


def test_a_new_schedule_starts_over() -> None:
    """After a successful register the transport takes a fresh generator."""
    assert next(backoff(rand=lambda: 1.0)) == 0.25
