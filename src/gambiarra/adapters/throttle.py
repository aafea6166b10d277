"""Throttle: let a burst of log lines through, then summarise the rest.

A hostile or broken arena can send thousands of bad frames a second; each is
worth knowing about, but not worth a line each.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """At most ``burst`` events per ``window`` seconds pass; the rest are counted."""

    def __init__(self, clock: Callable[[], float], burst: int = 5, window: float = 10.0) -> None:
        self._clock = clock
        self._burst = burst
        self._window = window
        self._started = clock()
        self._passed = 0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """Whether to log this event, and how many were suppressed since the last one logged."""
        now = self._clock()
        if now - self._started >= self._window:
            self._started, self._passed = now, 0
        if self._passed < self._burst:
            self._passed += 1
            suppressed, self.suppressed = self.suppressed, 0
            return True, suppressed
        self.suppressed += 1
        return False, 0
