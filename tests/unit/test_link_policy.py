"""The link policy as a table: event sequences in, the last decision out."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from gambiarra.domain.arena_errors import ArenaErrorKind
from gambiarra.domain.link import (
    STABLE_S,
    ArenaErrorSeen,
    ConnectFailed,
    ConnectFailure,
    Decision,
    LinkClosed,
    LinkEvent,
    LinkPolicy,
    Registered,
    RetryAfter,
    Stop,
    StopReason,
    UpgradeRefused,
)
from gambiarra.errors import ExitCode


def doubling() -> Iterator[float]:
    return (0.25 * 2**n for n in itertools.count())


def feed(events: list[LinkEvent], max_reconnects: int | None = None) -> list[Decision]:
    policy = LinkPolicy(delays=doubling, max_reconnects=max_reconnects)
    return [d for e in events for d in policy.handle(e)]


TWIN = [Registered(), LinkClosed(1005, lasted_s=0.3)]
SHORT = [Registered(), LinkClosed(1000, lasted_s=0.1)]
LONG = [Registered(), LinkClosed(1006, lasted_s=STABLE_S + 1)]

TABLE: list[tuple[str, list[LinkEvent], int | None, Decision]] = [
    ("one drop is retried at once", LONG, None, RetryAfter(0.25, 1)),
    ("a twin close once is retried", TWIN, None, RetryAfter(0.25, 1)),
    (
        "a twin close twice stops: id in use",
        TWIN * 2,
        None,
        Stop(ExitCode.REJECTED, StopReason.ID_IN_USE),
    ),
    (
        "accept-then-close grows the back-off",
        SHORT * 4,
        None,
        RetryAfter(2.0, 4),
    ),
    (
        "accept-then-close is stopped by max_reconnects",
        SHORT * 3,
        2,
        Stop(ExitCode.ARENA_UNREACHABLE, StopReason.GAVE_UP),
    ),
    ("a stable link restarts the back-off", [*SHORT, *SHORT, *LONG], None, RetryAfter(0.25, 1)),
    ("a stable link restarts the count", [*SHORT, *SHORT, *LONG, *SHORT], 2, RetryAfter(0.5, 2)),
    ("429 honours Retry-After", [UpgradeRefused(429, 3.0)], None, RetryAfter(3.0, 1)),
    ("503 without Retry-After backs off", [UpgradeRefused(503)], None, RetryAfter(0.25, 1)),
    ("a huge Retry-After is clamped", [UpgradeRefused(429, 3600.0)], None, RetryAfter(60.0, 1)),
    (
        "a Retry-After below the back-off waits the back-off",
        [UpgradeRefused(429, 0.0)] * 3,
        None,
        RetryAfter(1.0, 3),
    ),
    (
        "404 on the first connection: not an arena",
        [UpgradeRefused(404)],
        None,
        Stop(ExitCode.ARENA_UNREACHABLE, StopReason.NOT_AN_ARENA),
    ),
    (
        "404 after a registration is retried",
        [*LONG, UpgradeRefused(404)],
        None,
        RetryAfter(0.5, 2),
    ),
    (
        "429 counts towards max_reconnects",
        [UpgradeRefused(429, 0.0)] * 3,
        2,
        Stop(ExitCode.ARENA_UNREACHABLE, StopReason.GAVE_UP),
    ),
    (
        "no arena yet is retried",
        [ConnectFailed(ConnectFailure.REFUSED)] * 3,
        None,
        RetryAfter(1.0, 3),
    ),
    (
        "an untrusted certificate stops",
        [ConnectFailed(ConnectFailure.TLS_UNTRUSTED)],
        None,
        Stop(ExitCode.ARENA_UNREACHABLE, StopReason.TLS_UNTRUSTED),
    ),
    (
        "a wrong PIN stops",
        [ArenaErrorSeen(ArenaErrorKind.PIN_REJECTED)],
        None,
        Stop(ExitCode.REJECTED, StopReason.PIN_REJECTED),
    ),
    (
        "a PIN refused after SESSION_ENDED is an expired PIN",
        [
            *LONG[:1],
            ArenaErrorSeen(ArenaErrorKind.SESSION_ENDED),
            LinkClosed(1000, 60.0),
            ArenaErrorSeen(ArenaErrorKind.PIN_REJECTED),
        ],
        None,
        Stop(ExitCode.REJECTED, StopReason.PIN_EXPIRED),
    ),
    (
        "no session yet is retried",
        [ArenaErrorSeen(ArenaErrorKind.NO_SESSION)],
        None,
        RetryAfter(0.25, 1),
    ),
]


@pytest.mark.parametrize(
    ("events", "max_reconnects", "last"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_link_policy(events: list[LinkEvent], max_reconnects: int | None, last: Decision) -> None:
    assert feed(events, max_reconnects)[-1] == last


def test_informational_arena_errors_decide_nothing() -> None:
    """An error the arena only logs (or our own bug) does not end the link."""
    assert feed([Registered(), ArenaErrorSeen(ArenaErrorKind.CLIENT_BUG)]) == []
    assert feed([Registered(), ArenaErrorSeen(ArenaErrorKind.OTHER)]) == []


def test_nothing_is_decided_after_a_stop() -> None:
    """A close racing our own stop changes nothing."""
    decisions = feed([ArenaErrorSeen(ArenaErrorKind.PIN_REJECTED), LinkClosed(1000, 0.1)])
    assert decisions == [Stop(ExitCode.REJECTED, StopReason.PIN_REJECTED)]


def test_two_twins_are_not_needed_when_a_stable_link_came_between() -> None:
    """Twin strikes are counted in a row: a long, healthy link forgives the first."""
    decisions = feed([*TWIN, *LONG, *TWIN])
    assert isinstance(decisions[-1], RetryAfter)


def test_a_twin_close_late_in_a_link_is_not_a_twin() -> None:
    """A 1005 long after registering is an ordinary drop."""
    decisions = feed([Registered(), LinkClosed(1005, 7.0)] * 3)
    assert all(isinstance(d, RetryAfter) for d in decisions)
