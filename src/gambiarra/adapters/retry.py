"""Reconnection pacing, sized for a LAN: pure, so it is tested without sleeping.

websockets' own default waits up to 5 s before the first retry; on an event
LAN the arena is one hop away, so the first retry comes within 0.25 s and the
delay doubles up to about 10 s. Jitter keeps a room of laptops that lost the
Wi-Fi together from reconnecting in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

__all__ = ["backoff"]


def backoff(
    first: float = 0.25,
    factor: float = 2.0,
    cap: float = 10.0,
    rand: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Yield delays: each in [half, all] of ``first * factor**n``, never above ``cap``."""
    ceiling = first
    while True:
        yield ceiling * (0.5 + rand() / 2)
        ceiling = min(cap, ceiling * factor)
