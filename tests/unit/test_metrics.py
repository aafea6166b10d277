"""Pure metrics from timestamps and counts."""

from __future__ import annotations

from gambiarra.domain.metrics import RoundMetrics, ms, summarize, tokens_per_second


def test_summary_of_a_normal_round() -> None:
    metrics = summarize(started=10.0, first_token=10.412, ended=15.21, tokens=187)
    assert metrics == RoundMetrics(
        tokens=187, first_token_ms=412, duration_ms=5210, tokens_per_second=187 / 4.798
    )


def test_no_token_means_no_first_token_and_zero_rate() -> None:
    metrics = summarize(started=1.0, first_token=None, ended=2.5, tokens=0)
    assert (metrics.first_token_ms, metrics.duration_ms, metrics.tokens_per_second) == (
        None,
        1500,
        0.0,
    )


def test_rate_is_zero_when_the_window_is_empty() -> None:
    """A single token that is also the end gives no meaningful rate, not a crash."""
    assert tokens_per_second(1, first_token=3.0, ended=3.0) == 0.0


def test_ms_rounds_and_never_goes_negative() -> None:
    assert ms(0.0004) == 0
    assert ms(0.0015) == 2
    assert ms(-0.5) == 0


def test_ollama_nanoseconds_become_whole_milliseconds() -> None:
    from gambiarra.domain.metrics import ns_to_ms

    assert ns_to_ms(6_934_221_467) == 6934
    assert ns_to_ms(499_999) == 0
    assert ns_to_ms(None) is None
