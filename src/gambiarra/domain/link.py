"""The link policy: what to do after each thing that happens to the arena link.

Rule 1: every decision that could make the client loop, give up or stop lives
here. The shell (``gambiarra.adapters.arena_link``) only reports link events
and carries out the decisions; no socket, no clock, no prose in this module.

Events in::

    Registered()                         the arena accepted our register
    LinkClosed(code, lasted_s, registered)   a connection ended
    UpgradeRefused(status, retry_after)  HTTP status instead of a WebSocket
    ConnectFailed(kind)                  nothing answered, or TLS was untrusted
    ArenaErrorSeen(kind)                 an ``error`` frame from protocol.md's table

A decision to retry after an error frame means "close this socket first";
the shell then does not report that close as a separate ``LinkClosed``.

Decisions out: ``RetryAfter(seconds, attempt)`` or ``Stop(code, reason)``.

The rules, and why:
- Back-off restarts only after a link that stayed up ``STABLE_S``: an arena
  that accepts and then closes at once must not get a tight reconnect loop,
  and ``max_reconnects`` counts every failed or short-lived link.
- protocol.md: when our id registers on a second socket, the arena closes the
  older one with no error frame (1005). Registered-then-1005 within
  ``TWIN_WINDOW_S``, twice in a row, means another client plays as this id:
  stop (exit 3) instead of knocking each other off for ever. Two strikes keep
  the pair under five registrations in all.
- 408, 429 and 503 on the upgrade are a busy proxy or arena: retry after its
  ``Retry-After`` (never sooner than the back-off). Any other 4xx on the very
  first connection means the URL is not an arena (stop); after one successful
  registration it is a hiccup of something in between, retried.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gambiarra.domain.arena_errors import ArenaErrorKind
from gambiarra.errors import ExitCode

__all__ = [
    "STABLE_S",
    "TWIN_WINDOW_S",
    "ArenaErrorSeen",
    "ConnectFailed",
    "ConnectFailure",
    "Decision",
    "LinkClosed",
    "LinkEvent",
    "LinkPolicy",
    "Registered",
    "RetryAfter",
    "Stop",
    "StopReason",
    "UpgradeRefused",
]

# A link that lasted this long was a real link: back-off and counts restart.
STABLE_S = 10.0
# A 1005 close this soon after registering is the arena handing our id to another socket.
TWIN_WINDOW_S = 5.0
TWIN_STRIKES = 2
# Upgrade statuses that mean "busy, come back later", not "wrong address".
BUSY_STATUSES = frozenset({408, 429, 503})
# websockets reports a close frame without a status code as 1005.
NO_STATUS = 1005
# A Retry-After beyond this is clamped: a participant must not wait an hour mid-event.
MAX_RETRY_AFTER_S = 60.0


class ConnectFailure(enum.Enum):
    REFUSED = "refused"  # nothing listens at that port (yet)
    NO_ADDRESS = "no_address"  # the host name does not resolve
    TIMEOUT = "timeout"  # no answer in time
    TLS_UNTRUSTED = "tls_untrusted"  # the certificate is not trusted: retrying cannot help
    OTHER = "other"


class StopReason(enum.Enum):
    PIN_REJECTED = "pin_rejected"
    PIN_EXPIRED = "pin_expired"  # rejected after the organiser opened a new session
    ID_IN_USE = "id_in_use"
    NOT_AN_ARENA = "not_an_arena"
    TLS_UNTRUSTED = "tls_untrusted"
    GAVE_UP = "gave_up"


# ---------------------------------------------------------------- events in


@dataclass(frozen=True, slots=True)
class Registered:
    pass


@dataclass(frozen=True, slots=True)
class LinkClosed:
    """A connection ended. ``lasted_s`` counts from registration when it registered."""

    code: int | None
    lasted_s: float
    registered: bool = True


@dataclass(frozen=True, slots=True)
class UpgradeRefused:
    status: int
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    kind: ConnectFailure


@dataclass(frozen=True, slots=True)
class ArenaErrorSeen:
    kind: ArenaErrorKind


LinkEvent = Registered | LinkClosed | UpgradeRefused | ConnectFailed | ArenaErrorSeen


# ---------------------------------------------------------------- decisions out


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Connect again after ``seconds``; ``attempt`` counts failures in a row."""

    seconds: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Stop:
    code: ExitCode
    reason: StopReason


Decision = RetryAfter | Stop


class LinkPolicy:
    """Turns link events into retry or stop decisions; see the module rules.

    Args:
        delays: a fresh back-off schedule (called again after a stable link).
        max_reconnects: failed or short-lived links in a row before giving up
            (None: never give up).
    """

    def __init__(self, delays: Callable[[], Iterator[float]], max_reconnects: int | None) -> None:
        self._fresh = delays
        self._delays = delays()
        self._max = max_reconnects
        self._failures = 0
        self._twins = 0
        self._registered_once = False
        self._session_ended = False
        self._stopped = False

    @property
    def failures(self) -> int:
        """Failed or short-lived links in a row."""
        return self._failures

    def handle(self, event: LinkEvent) -> list[Decision]:
        """Feed one event; return what the shell must do (nothing, retry or stop)."""
        if self._stopped:
            return []  # a close racing our own stop
        match event:
            case Registered():
                self._registered_once, self._session_ended = True, False
                return []
            case LinkClosed():
                return self._closed(event)
            case UpgradeRefused(status=status, retry_after=wait) if status in BUSY_STATUSES:
                return self._retry(None if wait is None else min(wait, MAX_RETRY_AFTER_S))
            case UpgradeRefused(status=status) if 400 <= status < 500:
                if not self._registered_once:
                    return self._stop(ExitCode.ARENA_UNREACHABLE, StopReason.NOT_AN_ARENA)
            case ConnectFailed(kind=ConnectFailure.TLS_UNTRUSTED):
                return self._stop(ExitCode.ARENA_UNREACHABLE, StopReason.TLS_UNTRUSTED)
            case ArenaErrorSeen(kind=ArenaErrorKind.PIN_REJECTED):
                reason = StopReason.PIN_EXPIRED if self._session_ended else StopReason.PIN_REJECTED
                return self._stop(ExitCode.REJECTED, reason)
            case ArenaErrorSeen(kind=ArenaErrorKind.SESSION_ENDED):
                self._session_ended = True
                return []  # the arena closes the socket next; that close is retried
            case ArenaErrorSeen(
                kind=ArenaErrorKind.NO_SESSION | ArenaErrorKind.REGISTRATION_FAILED
            ):
                return self._retry(None)  # the shell closes this socket and waits
            case ArenaErrorSeen():
                return []  # informational: the link goes on
        return self._retry(None)

    # ------------------------------------------------------------ helpers

    def _closed(self, event: LinkClosed) -> list[Decision]:
        if event.registered and event.lasted_s >= STABLE_S:
            self._delays, self._failures, self._twins = self._fresh(), 0, 0
            return self._retry(None)
        twin = event.code == NO_STATUS and event.lasted_s < TWIN_WINDOW_S
        # After SESSION_ENDED the arena closes every socket the same way: not a twin.
        if event.registered and twin and not self._session_ended:
            self._twins += 1
            if self._twins >= TWIN_STRIKES:
                return self._stop(ExitCode.REJECTED, StopReason.ID_IN_USE)
        return self._retry(None)

    def _retry(self, seconds: float | None) -> list[Decision]:
        self._failures += 1
        if self._max is not None and self._failures > self._max:
            return self._stop(ExitCode.ARENA_UNREACHABLE, StopReason.GAVE_UP)
        # Never sooner than the back-off: a proxy answering "Retry-After: 0" to
        # every attempt must not get a reconnect loop with no pause.
        delay = next(self._delays)
        return [RetryAfter(delay if seconds is None else max(seconds, delay), self._failures)]

    def _stop(self, code: ExitCode, reason: StopReason) -> list[Decision]:
        self._stopped = True
        return [Stop(code, reason)]
