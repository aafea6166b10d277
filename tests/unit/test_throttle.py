"""Log throttling: a burst passes, the rest is counted and reported later."""

from __future__ import annotations

from gambiarra.adapters.throttle import Throttle


def test_burst_then_suppression_then_report_in_the_next_window() -> None:
    now = [0.0]
    throttle = Throttle(lambda: now[0], burst=2, window=10.0)
    assert [throttle.allow() for _ in range(5)] == [
        (True, 0),
        (True, 0),
        (False, 0),
        (False, 0),
        (False, 0),
    ]
    now[0] = 10.0
    assert throttle.allow() == (True, 3)
